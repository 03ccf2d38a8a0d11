package tree

import (
	"context"
	"slices"
	"strings"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

// Checking a tree that comes from outside.
//
// A friend's root is hostile until checked: before a merge links any of
// it into my tree, a Check reads every block of it that my tree does not
// already hold at the same place, and checks each once, however many
// paths lead to it. The structure is checked here: every directory and
// shard block is present, hashes to its CID and decodes strictly; shards
// sit at their depth and prefix and hold the sizes their parents claim;
// directories and shards have the canonical shape the limits give (inline
// only when small enough, a leaf only when it fits); every entry is valid
// (schema.ValidName, kinds, version vectors, canonical conflicts); no
// directory is nested deeper than MaxDepth. What structure cannot decide
// (signatures, who is trusted, what a file's root block says) a Checker
// decides, called once per distinct directory block and once per entry
// version read.
//
// Cost follows the difference. What the trusted tree holds at the same
// place (an equal directory, an equal shard subtree, an equal entry or
// version) is skipped unread: my tree verified when it was made, so its
// blocks are trusted wherever they occur. Every other block is read once
// per Check, so a tree whose directories share children (a DAG with
// exponentially many paths) costs its distinct blocks, not its paths.

// MaxDepth is how deeply nested directories may be: as deep as a path of
// MaxPathLen bytes reaches. The root is at depth 0.
const MaxDepth = MaxPathLen / 2

// Linked is what a Checker learns of the directory an entry version links.
type Linked struct {
	Owner cid.Cid // undefined for a shared directory
	Seq   uint64  // an owned directory's seq
	Empty bool    // it has no entries
}

// A Checker decides, for a Check, what the structure of a tree cannot.
// Its methods are called once for each distinct directory block read, and
// once for each entry version in the blocks read that the trusted tree
// does not hold at the same place. A Checker's errors are passed on with
// the path where the Check met the block or entry.
type Checker interface {
	// CheckDirectory checks the directory node d, whose block is c: for
	// an owned one, its signature and its owner.
	CheckDirectory(ctx context.Context, c cid.Cid, d *schema.Directory) error
	// CheckEntry checks version v of an entry. target describes the
	// directory v links; it is nil unless v is a directory with a target.
	CheckEntry(ctx context.Context, v *schema.Entry, target *Linked) error
}

// A Check checks directory trees from outside against a Checker. It
// remembers what it has checked, so one Check serves every tree of one
// merge (several friends' roots share most blocks). It is not safe for
// concurrent use.
type Check struct {
	t       *Tree
	chk     Checker
	dirs    map[cid.Cid]checked
	shards  map[cid.Cid]checkedShard
	heights map[cid.Cid]int // exact heights of blocks, computed only when needed
	blocks  map[cid.Cid]struct{}
}

// checked is what a Check knows of a directory it has checked or trusts.
type checked struct {
	height int  // directory levels below it: exact, or (trusted parts) an upper bound
	exact  bool // height is exact
	linked Linked
}

// checkedShard is what a Check knows of a shard subtree it has checked.
type checkedShard struct {
	prefix string // the hash prefix it was checked under
	total  uint64 // the entry bytes below it
	height int    // as checked.height, counted from the directory it belongs to
	exact  bool
}

// NewCheck returns a Check that reads through t and asks chk.
func (t *Tree) NewCheck(chk Checker) *Check {
	return &Check{
		t:       t,
		chk:     chk,
		dirs:    map[cid.Cid]checked{},
		shards:  map[cid.Cid]checkedShard{},
		heights: map[cid.Cid]int{},
		blocks:  map[cid.Cid]struct{}{},
	}
}

// Blocks returns how many distinct blocks the Check has read.
func (k *Check) Blocks() int { return len(k.blocks) }

// Dir checks the directory at c, which is to take the place of trusted
// (the directory my tree holds there; undefined for none, and then all of
// c is read). Errors name the path below c where the fault is, and the
// block.
func (k *Check) Dir(ctx context.Context, trusted, c cid.Cid) error {
	_, err := k.dir(ctx, "", trusted, c, 0)
	return err
}

// fail names the path and the block c in err: filled in, if err was made
// by this package's fail, else around it.
func (k *Check) fail(path string, c cid.Cid, err error) error {
	e, ok := err.(*acerr.Error)
	if ok && e.Op == "" && e.Path == "" {
		out := *e
		out.Op, out.Path = "tree.Check", shortPath(path)
		if out.CID == "" && c.Defined() {
			out.CID = c.String()
		}
		return &out
	}
	out := acerr.E("tree.Check", shortPath(path), acerr.KindOf(err), err)
	if c.Defined() && (!ok || e.CID != c.String()) {
		out.CID = c.String()
	}
	return out
}

// shortPath is path as an error names it: "." for the root, and a path
// too long to read (a hostile tree's) cut in its middle.
func shortPath(path string) string {
	const keep = 120
	switch {
	case path == "":
		return "."
	case len(path) <= 2*keep:
		return path
	}
	head, tail := path[:keep], path[len(path)-keep:]
	if i := strings.LastIndexByte(head, '/'); i > 0 {
		head = head[:i]
	}
	if i := strings.IndexByte(tail, '/'); i >= 0 {
		tail = tail[i+1:]
	}
	return head + "/.../" + tail
}

// tooDeep is the error of a directory nested deeper than MaxDepth.
func tooDeep() *acerr.Error {
	return fail(acerr.TooLarge, "directories nested deeper than %d", MaxDepth)
}

// readDir reads directory block c for the Check.
func (k *Check) readDir(ctx context.Context, c cid.Cid) (*schema.Directory, uint64, error) {
	k.blocks[c] = struct{}{}
	d, total, err := k.t.readDirectory(ctx, c)
	if err != nil && acerr.Is(acerr.NotExist, err) {
		return nil, 0, fail(acerr.NotExist, "directory block not held")
	}
	return d, total, err
}

func linkedOf(d *schema.Directory) Linked {
	return Linked{Owner: d.Owner, Seq: d.Seq, Empty: len(d.Entries) == 0 && !d.Shard.Defined()}
}

// dir checks the directory c, met at path and depth, in the place where
// the trusted tree holds trusted.
func (k *Check) dir(ctx context.Context, path string, trusted, c cid.Cid, depth int) (checked, error) {
	if depth > MaxDepth {
		return checked{}, k.fail(path, c, tooDeep())
	}
	if err := ctx.Err(); err != nil {
		return checked{}, err
	}
	m, ok := k.dirs[c]
	if ok {
		var err error
		if m.height, m.exact, err = k.fit(ctx, c, depth, m.height, m.exact, k.exactHeight); err != nil {
			return checked{}, k.fail(path, c, err)
		}
		k.dirs[c] = m
		return m, nil
	}
	if c.Equals(trusted) {
		// Held at the same place: trusted, and its height fits there.
		d, _, err := k.readDir(ctx, c)
		if err != nil {
			return checked{}, k.fail(path, c, err)
		}
		m = checked{height: MaxDepth - depth, linked: linkedOf(d)}
		k.dirs[c] = m
		return m, nil
	}
	d, total, err := k.readDir(ctx, c)
	if err != nil {
		return checked{}, k.fail(path, c, err)
	}
	if err := k.chk.CheckDirectory(ctx, c, d); err != nil {
		return checked{}, k.fail(path, c, err)
	}
	var td *schema.Directory
	if trusted.Defined() {
		if x, _, err := k.t.readDirectory(ctx, trusted); err == nil {
			td = x
		} else if !acerr.Is(acerr.NotDir, err) {
			return checked{}, k.fail(path, trusted, err)
		}
	}
	look := func(name string) (*schema.Entry, error) {
		if td == nil {
			return nil, nil
		}
		if !td.Shard.Defined() {
			if i, ok := findEntry(td.Entries, name); ok {
				return &td.Entries[i], nil
			}
			return nil, nil
		}
		return k.t.lookupIn(ctx, trusted, name)
	}
	m = checked{exact: true, linked: linkedOf(d)}
	switch {
	case d.Shard.Defined() && td != nil && td.Shard.Equals(d.Shard):
		// The trusted directory's own entries, under another header.
		m.height, m.exact = MaxDepth-depth, false
	case d.Shard.Defined():
		var tn *shardNode
		if td != nil && td.Shard.Defined() {
			if tn, err = k.t.readShard(ctx, td.Shard, 0, nil, 0, false); err != nil {
				return checked{}, k.fail(path, td.Shard, err)
			}
		}
		var prefix [32]byte
		s, err := k.shard(ctx, path, look, tn, schema.ShardChild{Link: d.Shard}, 0, &prefix, false, depth)
		if err != nil {
			return checked{}, err
		}
		if s.total <= uint64(k.t.cfg.InlineLimit) {
			return checked{}, k.fail(path, c, fail(acerr.Integrity, "sharded directory of %d entry bytes, which fit inline (limit %d)", s.total, k.t.cfg.InlineLimit))
		}
		m.height, m.exact = s.height, s.exact
	default:
		if total > uint64(k.t.cfg.InlineLimit) {
			return checked{}, k.fail(path, c, fail(acerr.Integrity, "inline entries of %d bytes pass the inline limit %d", total, k.t.cfg.InlineLimit))
		}
		for i := range d.Entries {
			te, err := look(d.Entries[i].Name)
			if err != nil {
				return checked{}, k.fail(path, trusted, err)
			}
			h, exact, err := k.entry(ctx, path, &d.Entries[i], te, depth)
			if err != nil {
				return checked{}, err
			}
			m.height, m.exact = max(m.height, h), m.exact && exact
		}
	}
	k.dirs[c] = m
	return m, nil
}

// entry checks entry e of the directory at dir (depth), where the trusted
// directory holds te (nil: none), and returns the height it adds to its
// directory.
func (k *Check) entry(ctx context.Context, dir string, e, te *schema.Entry, depth int) (int, bool, error) {
	hasDir := func(e *schema.Entry) bool {
		return slices.ContainsFunc(e.Versions(), func(v schema.Entry) bool {
			return v.Kind == schema.KindDirectory && v.Target.Defined()
		})
	}
	if te != nil && schema.SameEntry(e, te) {
		if hasDir(e) {
			return MaxDepth - depth, false, nil
		}
		return 0, true, nil
	}
	path := JoinPath(dir, e.Name)
	if err := schema.ValidEntry(e); err != nil {
		return 0, false, k.fail(path, cid.Undef, err)
	}
	var tvs []schema.Entry
	if te != nil {
		tvs = te.Versions()
	}
	height, exact := 0, true
	for _, v := range e.Versions() {
		isDir := v.Kind == schema.KindDirectory && v.Target.Defined()
		if slices.ContainsFunc(tvs, func(t schema.Entry) bool { return schema.SameEntry(&t, &v) }) {
			if isDir {
				height, exact = max(height, MaxDepth-depth), false
			}
			continue
		}
		var linked *Linked
		if isDir {
			m, err := k.dir(ctx, path, counterpart(tvs, &v), v.Target, depth+1)
			if err != nil {
				return 0, false, err
			}
			linked = &m.linked
			height, exact = max(height, m.height+1), exact && m.exact
		}
		if err := k.chk.CheckEntry(ctx, &v, linked); err != nil {
			return 0, false, k.fail(path, v.Target, err)
		}
	}
	return height, exact, nil
}

// counterpart returns the target of the trusted version that v most
// likely continues: a directory of the same owner, else any directory.
func counterpart(tvs []schema.Entry, v *schema.Entry) cid.Cid {
	best := cid.Undef
	for _, t := range tvs {
		if t.Kind != schema.KindDirectory || !t.Target.Defined() {
			continue
		}
		if t.Owner.Equals(v.Owner) {
			return t.Target
		}
		if !best.Defined() {
			best = t.Target
		}
	}
	return best
}

// shardResult is what checking a shard subtree gives its parent.
type shardResult struct {
	total  uint64
	height int
	exact  bool
}

// shard checks the shard subtree that link ch points at, at shard depth
// sd under prefix (prefix[:sd]), in the directory at path and depth;
// checkWant says whether ch.Bytes is a claim to check (a parent's). tn is
// the trusted trie's node at the same place (nil: none), look finds the
// trusted directory's entries by name.
func (k *Check) shard(ctx context.Context, path string, look func(string) (*schema.Entry, error), tn *shardNode,
	ch schema.ShardChild, sd int, prefix *[32]byte, checkWant bool, depth int) (shardResult, error) {
	if err := ctx.Err(); err != nil {
		return shardResult{}, err
	}
	c := ch.Link
	if m, ok := k.shards[c]; ok && m.prefix == string(prefix[:sd]) && (!checkWant || m.total == ch.Bytes) {
		var err error
		if m.height, m.exact, err = k.fit(ctx, c, depth, m.height, m.exact, k.exactShardHeight); err != nil {
			return shardResult{}, k.fail(path, c, err)
		}
		k.shards[c] = m
		return shardResult{m.total, m.height, m.exact}, nil
	}
	k.blocks[c] = struct{}{}
	n, err := k.t.readShard(ctx, c, sd, prefix[:sd], ch.Bytes, checkWant)
	if err != nil {
		if acerr.Is(acerr.NotExist, err) {
			err = fail(acerr.NotExist, "shard block not held")
		}
		return shardResult{}, k.fail(path, c, err)
	}
	limit := uint64(k.t.cfg.LeafLimit)
	switch {
	case n.leaf() && n.total > limit && sd < maxShardDepth:
		return shardResult{}, k.fail(path, c, fail(acerr.Integrity, "shard leaf of %d entry bytes passes the leaf limit %d", n.total, limit))
	case !n.leaf() && n.total <= limit:
		return shardResult{}, k.fail(path, c, fail(acerr.Integrity, "inner shard of %d entry bytes, which fit one leaf (limit %d)", n.total, limit))
	}
	r := shardResult{total: n.total, exact: true}
	add := func(h int, exact bool) { r.height, r.exact = max(r.height, h), r.exact && exact }
	if n.leaf() {
		if tn != nil && tn.leaf() {
			// The trusted trie's leaf at the same place holds every
			// trusted entry that could share a name with these.
			look = func(name string) (*schema.Entry, error) {
				if i, ok := findEntry(tn.s.Entries, name); ok {
					return &tn.s.Entries[i], nil
				}
				return nil, nil
			}
		}
		for i := range n.s.Entries {
			e := &n.s.Entries[i]
			te, err := look(e.Name)
			if err != nil {
				return shardResult{}, k.fail(path, cid.Undef, err)
			}
			h, exact, err := k.entry(ctx, path, e, te, depth)
			if err != nil {
				return shardResult{}, err
			}
			add(h, exact)
		}
	} else {
		for _, x := range n.s.Children {
			var tc *schema.ShardChild
			if tn != nil && !tn.leaf() {
				if i, ok := findChild(tn.s.Children, byte(x.Index)); ok {
					tc = &tn.s.Children[i]
				}
			}
			if tc != nil && tc.Link.Equals(x.Link) && tc.Bytes == x.Bytes {
				add(MaxDepth-depth, false) // the trusted trie's own subtree
				continue
			}
			var tchild *shardNode
			if tc != nil {
				prefix[sd] = byte(tc.Index)
				if tchild, err = k.t.readShard(ctx, tc.Link, sd+1, prefix[:sd+1], tc.Bytes, true); err != nil {
					return shardResult{}, k.fail(path, tc.Link, err)
				}
			}
			prefix[sd] = byte(x.Index)
			s, err := k.shard(ctx, path, look, tchild, x, sd+1, prefix, true, depth)
			if err != nil {
				return shardResult{}, err
			}
			add(s.height, s.exact)
		}
	}
	k.shards[c] = checkedShard{prefix: string(prefix[:sd]), total: r.total, height: r.height, exact: r.exact}
	return r, nil
}

// fit returns the height of block c, already checked, where it is met
// again at depth, given what the check recorded (height, and whether it
// is exact), or an error if it is too deep there. A recorded bound that
// does not fit is replaced by the exact height, which measure reads.
func (k *Check) fit(ctx context.Context, c cid.Cid, depth, height int, exact bool,
	measure func(context.Context, cid.Cid, int) (int, error)) (int, bool, error) {
	if depth+height <= MaxDepth {
		return height, exact, nil
	}
	if !exact {
		h, err := measure(ctx, c, depth)
		if err != nil {
			return 0, false, err
		}
		if depth+h <= MaxDepth {
			return h, true, nil
		}
	}
	return 0, false, tooDeep()
}

// exactHeight returns the height of the directory c, met at depth,
// reading everything below it once (it is needed only when a directory
// that holds trusted parts is met deeper than where it was checked).
func (k *Check) exactHeight(ctx context.Context, c cid.Cid, depth int) (int, error) {
	if h, ok := k.heights[c]; ok {
		return h, nil
	}
	if depth > MaxDepth {
		return 0, tooDeep()
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	k.blocks[c] = struct{}{}
	d, _, err := k.t.readDirectory(ctx, c)
	if err != nil {
		return 0, err
	}
	h := 0
	if d.Shard.Defined() {
		if h, err = k.exactShardHeight(ctx, d.Shard, depth); err != nil {
			return 0, err
		}
	} else if h, err = k.entriesHeight(ctx, d.Entries, depth); err != nil {
		return 0, err
	}
	k.heights[c] = h
	return h, nil
}

// exactShardHeight is exactHeight for the shard subtree c of a directory
// at depth.
func (k *Check) exactShardHeight(ctx context.Context, c cid.Cid, depth int) (int, error) {
	if h, ok := k.heights[c]; ok {
		return h, nil
	}
	k.blocks[c] = struct{}{}
	n, _, err := k.t.getNode(ctx, c)
	if err != nil {
		return 0, err
	}
	s, ok := n.(*schema.Shard)
	if !ok {
		return 0, fail(acerr.Integrity, "is %s, not %s", n.Kind().Noun(), schema.KindShard.Noun()).WithCID(c.String())
	}
	h := 0
	if len(s.Children) == 0 {
		if h, err = k.entriesHeight(ctx, s.Entries, depth); err != nil {
			return 0, err
		}
	}
	for _, ch := range s.Children {
		x, err := k.exactShardHeight(ctx, ch.Link, depth)
		if err != nil {
			return 0, err
		}
		h = max(h, x)
	}
	k.heights[c] = h
	return h, nil
}

func (k *Check) entriesHeight(ctx context.Context, entries []schema.Entry, depth int) (int, error) {
	h := 0
	for i := range entries {
		for _, v := range entries[i].Versions() {
			if v.Kind != schema.KindDirectory || !v.Target.Defined() {
				continue
			}
			x, err := k.exactHeight(ctx, v.Target, depth+1)
			if err != nil {
				return 0, err
			}
			h = max(h, x+1)
		}
	}
	if depth+h > MaxDepth {
		return 0, tooDeep()
	}
	return h, nil
}
