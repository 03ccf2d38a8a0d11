package tree

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

// Checking a tree that comes from outside.
//
// A friend's root is hostile until checked: before a merge links any of
// it into my tree, a Check reads every block of it that my tree does not
// already hold at the same place, and checks each once, however many
// paths lead to it. The structure is checked here: every directory and
// tree node block is present, hashes to its CID and decodes strictly;
// every node of a directory's tree sits at its level, begins with the
// name its parent gives it, holds only names below the next one, and is
// cut exactly where the rule cuts (inline only as one leaf, no cut inside
// a node, a cut at its end unless it is the last of its level), so the
// same entries cannot come under another CID; every entry is valid
// (schema.ValidName, kinds, version vectors, canonical conflicts); no
// directory is nested deeper than MaxDepth. What structure cannot decide
// (signatures, who is trusted, what a file's root block says) a Checker
// decides, called once per distinct directory block and once per entry
// version read.
//
// Cost follows the difference. What the trusted tree holds at the same
// place (an equal directory, an equal subtree of a directory's tree at a
// place where it fits, an equal entry or version) is skipped unread: my tree verified when it was made, so its
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
	nodes   map[cid.Cid]checkedNode
	heights map[cid.Cid]int // exact heights of blocks, computed only when needed
	blocks  map[cid.Cid]struct{}
}

// checked is what a Check knows of a directory it has checked or trusts.
type checked struct {
	height int  // directory levels below it: exact, or (trusted parts) an upper bound
	exact  bool // height is exact
	linked Linked
}

// checkedNode is what a Check knows of a subtree of a directory's tree
// that it has checked: where (its first name and bound) and what it
// found below.
type checkedNode struct {
	place  elem
	height int // as checked.height, counted from the directory it belongs to
	exact  bool
}

// NewCheck returns a Check that reads through t and asks chk.
func (t *Tree) NewCheck(chk Checker) *Check {
	return &Check{
		t:       t,
		chk:     chk,
		dirs:    map[cid.Cid]checked{},
		nodes:   map[cid.Cid]checkedNode{},
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
func (k *Check) readDir(ctx context.Context, c cid.Cid) (*schema.Directory, error) {
	k.blocks[c] = struct{}{}
	d, err := k.t.readDirectory(ctx, c)
	if err != nil && acerr.Is(acerr.NotExist, err) && !notReceived(err) {
		return nil, fail(acerr.NotExist, "directory block not held")
	}
	return d, err
}

// notReceived reports whether err is a block the store's peers did not
// send in time, which stays as the store said it: a command names whose
// node it waited for.
func notReceived(err error) bool {
	_, ok := errors.AsType[*ipfsstore.NotReceived](err)
	return ok
}

func linkedOf(d *schema.Directory) Linked {
	return Linked{Owner: d.Owner, Seq: d.Seq, Empty: len(d.Entries) == 0 && len(d.Children) == 0}
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
		d, err := k.readDir(ctx, c)
		if err != nil {
			return checked{}, k.fail(path, c, err)
		}
		m = checked{height: MaxDepth - depth, linked: linkedOf(d)}
		k.dirs[c] = m
		return m, nil
	}
	d, err := k.readDir(ctx, c)
	if err != nil {
		return checked{}, k.fail(path, c, err)
	}
	if err := k.chk.CheckDirectory(ctx, c, d); err != nil {
		return checked{}, k.fail(path, c, err)
	}
	troot := &pnode{} // the trusted directory's tree
	if trusted.Defined() {
		td, err := k.t.readDirectory(ctx, trusted)
		switch {
		case err == nil:
			troot = rootNode(td)
		case !acerr.Is(acerr.NotDir, err):
			return checked{}, k.fail(path, trusted, err)
		}
	}
	m = checked{exact: true, linked: linkedOf(d)}
	root := rootNode(d)
	if err := k.t.checkCuts(root, false); err != nil {
		return checked{}, k.fail(path, c, err)
	}
	// Walk the tree beside the trusted one: subtrees that the trusted
	// tree holds in a place that fits are skipped unread.
	add := func(h int, exact bool) { m.height, m.exact = max(m.height, h), m.exact && exact }
	same := func(x, y *elem) bool {
		if x.link.Equals(y.link) && fits(y, x) {
			add(MaxDepth-depth, false) // the trusted tree's own subtree
			return true
		}
		return false
	}
	readX := func(ctx context.Context, el *elem) (*pnode, error) {
		if cn, ok := k.nodes[el.link]; ok && fits(&cn.place, el) {
			h, exact, err := k.fit(ctx, el.link, depth, cn.height, cn.exact, k.exactNodeHeight)
			if err != nil {
				return nil, k.fail(path, el.link, err)
			}
			add(h, exact)
			return &pnode{level: el.level}, nil // checked before, in a place that fits this one
		}
		k.blocks[el.link] = struct{}{}
		n, err := k.t.readNode(ctx, el.link, el.level)
		if err == nil {
			err = k.t.checkNode(n, el)
		}
		if err != nil {
			if acerr.Is(acerr.NotExist, err) && !notReceived(err) {
				err = fail(acerr.NotExist, "directory block not held")
			}
			return nil, k.fail(path, el.link, err)
		}
		// What lies below is counted into the directory's height; met
		// again, the node is taken at the bound of the whole directory.
		k.nodes[el.link] = checkedNode{place: *el, height: MaxDepth - depth}
		return n, nil
	}
	err = k.t.zipTrees(ctx, root, troot, same, readX, func(x, y *schema.Entry) error {
		if x == nil {
			return nil
		}
		h, exact, err := k.entry(ctx, path, x, y, depth)
		if err != nil {
			return err
		}
		add(h, exact)
		return nil
	})
	if err != nil {
		return checked{}, err
	}
	k.dirs[c] = m
	return m, nil
}

// fits reports whether a subtree checked (or trusted) at place is
// canonical at el too: the same first name and level, and a bound that
// lets it end where it ends. A subtree that was the last of its level
// may end without a cut, so it fits only as the last again.
func fits(place, el *elem) bool {
	return place.key == el.key && place.level == el.level &&
		(!el.bounded || place.bounded && el.hi >= place.hi)
}

// checkNode checks a node of a directory's tree, read where el links it:
// items in name order, beginning with el's name, below el's bound, and
// cut as the rule cuts them.
func (t *Tree) checkNode(n *pnode, el *elem) error {
	if len(n.items) == 0 {
		return fail(acerr.Integrity, "an empty node in a directory's tree")
	}
	if n.items[0].key != el.key {
		return fail(acerr.Integrity, "a directory's tree node begins with %q, its parent says %q", n.items[0].key, el.key)
	}
	if last := n.items[len(n.items)-1].key; el.bounded && last >= el.hi {
		return fail(acerr.Integrity, "a directory's tree node holds %q, past %q where its place ends", last, el.hi)
	}
	return t.checkCuts(n, el.bounded)
}

// checkCuts checks that the items of n are cut as the rule cuts them: no
// item but the last ends the node, and the last does unless the node is
// the last of its level (bounded false). Otherwise the same entries
// would have another CID.
func (t *Tree) checkCuts(n *pnode, bounded bool) error {
	before := 0
	for i := range n.items {
		it := &n.items[i]
		cut := t.boundary(n.level, it.key, before, it.sized())
		switch {
		case cut && i < len(n.items)-1:
			return fail(acerr.Integrity, "a directory's tree node goes on past a cut (after %q): not in canonical form", it.key)
		case !cut && i == len(n.items)-1 && bounded:
			return fail(acerr.Integrity, "a directory's tree node ends before its cut (at %q): not in canonical form", it.key)
		}
		before += it.size
	}
	return nil
}

// entry checks entry e of the directory at dir (depth), where the trusted
// directory holds te (nil: none), and returns the height it adds to its
// directory.
func (k *Check) entry(ctx context.Context, dir string, e, te *schema.Entry, depth int) (int, bool, error) {
	hasDir := func(e *schema.Entry) bool {
		isDir := func(v *schema.Entry) bool { return v.Kind == schema.KindDirectory && v.Target.Defined() }
		return isDir(e) || slices.ContainsFunc(e.Conflicts, func(v schema.Entry) bool { return isDir(&v) })
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
	d, err := k.t.readDirectory(ctx, c)
	if err != nil {
		return 0, err
	}
	h, err := k.entriesHeight(ctx, d.Entries, depth)
	if err != nil {
		return 0, err
	}
	for _, ch := range d.Children {
		x, err := k.exactNodeHeight(ctx, ch.Link, depth)
		if err != nil {
			return 0, err
		}
		h = max(h, x)
	}
	k.heights[c] = h
	return h, nil
}

// exactNodeHeight is exactHeight for the subtree c of the tree of a
// directory at depth.
func (k *Check) exactNodeHeight(ctx context.Context, c cid.Cid, depth int) (int, error) {
	if h, ok := k.heights[c]; ok {
		return h, nil
	}
	k.blocks[c] = struct{}{}
	n, _, err := k.t.getNode(ctx, c)
	if err != nil {
		return 0, err
	}
	s, ok := n.(*schema.DirNode)
	if !ok {
		return 0, fail(acerr.Integrity, "is %s, not %s", n.Kind().Noun(), schema.KindDirNode.Noun()).WithCID(c.String())
	}
	h := 0
	if s.Level == 0 {
		if h, err = k.entriesHeight(ctx, s.Entries, depth); err != nil {
			return 0, err
		}
	}
	for _, ch := range s.Children {
		x, err := k.exactNodeHeight(ctx, ch.Link, depth)
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
