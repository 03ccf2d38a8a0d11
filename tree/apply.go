package tree

import (
	"context"
	"errors"
	"math"
	"strings"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

// OpKind says what an Op does.
type OpKind uint8

const (
	// OpPut sets the entry at Path to Entry, as Put does.
	OpPut OpKind = iota
	// OpDelete replaces the entry at Path by a tombstone, as Delete does.
	OpDelete
	// OpMkdir makes sure a directory is at Path, keeping what it holds,
	// with Entry.Mode as its mode and, when Entry.Mtime is not zero, that
	// mtime: a directory made again where one was deleted starts from the
	// tombstones of what it held, so nothing deleted comes back. A
	// directory already there with that mode (and mtime) is no change at
	// all.
	OpMkdir
)

func (k OpKind) op() string {
	switch k {
	case OpDelete:
		return "tree.Delete"
	case OpMkdir:
		return "tree.Mkdir"
	}
	return "tree.Put"
}

// An Op is one change of a batch (Apply).
type Op struct {
	Kind  OpKind
	Path  string
	Entry schema.Entry // OpPut: the entry to set; OpMkdir: its Mode and Mtime
}

// Apply applies ops to the tree at root, in order, and returns the new
// root. The result is what applying them one by one with Put, Delete and
// Mkdir would give, but for the version vectors and mtimes of the
// directories on the paths, which are bumped once for the batch rather
// than once per op. An op that fails makes Apply fail with that op's
// error (named by its kind, "tree.Put", and path), and nothing changes.
// No ops, or ops that change nothing (an OpMkdir of a directory that is
// there), give root back, having written and signed nothing.
//
// The cost is that of the directories the ops touch, not of the ops:
//
//   - every directory and tree node on the paths of the ops is read
//     from the store once: the batch keeps what it reads there until it
//     returns (and only that: the subtrees a deletion walks go through a
//     bounded cache);
//   - every directory touched is written once, and every touched owned
//     directory signed once, however many ops reach it and in whatever
//     order; the exception is a directory whose own name an OpPut or
//     OpDelete changes between ops below it, which is written (and
//     signed) once for each run of ops below it that such an op
//     divides (an OpMkdir of it divides nothing);
//   - of a directory's tree only the nodes on the paths to the names
//     that change are read and rewritten, with the nodes after them
//     that a new cut reaches (see setEntries).
func (t *Tree) Apply(ctx context.Context, root cid.Cid, ops []Op) (cid.Cid, error) {
	if len(ops) == 0 {
		return root, nil
	}
	rel := make([]relOp, len(ops))
	for i := range ops {
		comps, err := t.mutablePath(ops[i].Path)
		if err != nil {
			return cid.Undef, wrap(ops[i].Kind.op(), ops[i].Path, err)
		}
		rel[i] = relOp{op: &ops[i], comps: comps}
	}
	c, err := newBatch(t).dir(ctx, root, 0, rel)
	if err != nil {
		var oe *opError
		if errors.As(err, &oe) {
			return cid.Undef, oe.err
		}
		return cid.Undef, err
	}
	return c, nil
}

// relOp is an op of a batch with its path split.
type relOp struct {
	op    *Op
	comps []string
}

// opError is the error of one op, already named by the op and its path.
type opError struct{ err error }

func (e *opError) Error() string { return e.err.Error() }
func (e *opError) Unwrap() error { return e.err }

func failOp(r relOp, err error) error {
	var oe *opError
	if errors.As(err, &oe) {
		return err
	}
	return &opError{wrap(r.op.Kind.op(), r.op.Path, err)}
}

// batch is one Apply in progress.
type batch struct {
	// t reads through a cache of the batch's own that keeps every node
	// it reads: the directories and tree nodes on the paths of the
	// ops, which a batch reads twice (once to find the entries, once to
	// set them), with what a name's ops look up beside it.
	t *Tree
	// walk reads the directories that deleting one walks, through a
	// bounded cache (the Tree's own, if it has one): a deleted subtree
	// can be any size, and each of its blocks is needed once.
	walk *Tree
	now  int64
}

// walkCache is how many nodes the cache of a batch's deletion walks
// keeps.
const walkCache = 4096

func newBatch(t *Tree) *batch {
	b := &batch{now: t.cfg.Now().UnixNano()}
	// Unbounded: what it holds is bounded by the paths of the ops, the
	// part of the tree that the batch rewrites.
	bt := *t
	bt.cache = &nodeCache{max: math.MaxInt, nodes: map[cid.Cid]cachedNode{}}
	b.t = &bt
	b.walk = t
	if t.cache == nil {
		wt := *t
		wt.cache = &nodeCache{max: walkCache, nodes: map[cid.Cid]cachedNode{}}
		b.walk = &wt
	}
	return b
}

// dir rewrites the directory at dir, which ops reach at component i
// (each op has more components), and returns its new CID, or dir itself
// if nothing changed.
func (b *batch) dir(ctx context.Context, dir cid.Cid, i int, ops []relOp) (cid.Cid, error) {
	t := b.t
	if err := ctx.Err(); err != nil {
		return cid.Undef, err
	}
	d, err := t.readDirectory(ctx, dir)
	if err != nil {
		return cid.Undef, failOp(ops[0], err)
	}
	if d.Owned() && t.cfg.Signer == nil {
		where := strings.Join(ops[0].comps[:i], "/")
		if where == "" {
			where = "the root"
		}
		return cid.Undef, failOp(ops[0], fail(acerr.Permission, "%s is owned by %s and no signer is configured", where, d.Owner))
	}
	// The ops of each name, in order; a deletion of a conflict copy is an
	// op on the name the copy belongs to.
	type group struct {
		name string
		slot *slot
		ops  []nameOp
	}
	var groups []*group
	byName := map[string]*group{}
	for _, r := range ops {
		name, copyOf := r.comps[i], (*schema.Entry)(nil)
		s, err := t.slotIn(ctx, d, name)
		if err != nil {
			return cid.Undef, failOp(r, err)
		}
		if s.old == nil && mayBeConflictName(name) {
			base, v, err := t.conflictIn(ctx, dir, name)
			switch {
			case err != nil:
				return cid.Undef, failOp(r, err)
			case v == nil:
			case i < len(r.comps)-1 || r.op.Kind != OpDelete:
				return cid.Undef, failOp(r, errConflictCopy(strings.Join(r.comps[:i+1], "/")))
			default:
				name, copyOf = base.Name, v
			}
		}
		g := byName[name]
		if g == nil {
			if copyOf != nil {
				if s, err = t.slotIn(ctx, d, name); err != nil {
					return cid.Undef, failOp(r, err)
				}
			}
			g = &group{name: name, slot: s}
			byName[name] = g
			groups = append(groups, g)
		}
		g.ops = append(g.ops, nameOp{relOp: r, copyOf: copyOf})
	}
	var set []schema.Entry
	for _, g := range groups {
		ne, copies, changed, err := b.name(ctx, dir, i, g.slot.old, g.ops)
		if err != nil {
			return cid.Undef, err
		}
		if !changed {
			continue
		}
		set = append(set, ne)
		set = append(set, copies...)
	}
	if len(set) == 0 {
		return dir, nil
	}
	nd, err := t.setEntries(ctx, d, dedupeNames(set))
	if err != nil {
		return cid.Undef, failOp(ops[0], err)
	}
	if nd.Owned() {
		nd.Seq, nd.Prev, nd.Sig = d.Seq+1, dir, nil
		if err := t.cfg.Signer.SignDirectory(ctx, nd); err != nil {
			return cid.Undef, failOp(ops[0], err)
		}
	}
	c, err := t.putNode(ctx, nd)
	if err != nil {
		return cid.Undef, failOp(ops[0], err)
	}
	return c, nil
}

// dedupeNames keeps the last entry of each name: a frozen conflict copy
// that another op of the batch then changed.
func dedupeNames(set []schema.Entry) []schema.Entry {
	seen := map[string]int{}
	var out []schema.Entry
	for _, e := range set {
		if j, ok := seen[e.Name]; ok {
			out[j] = e
			continue
		}
		seen[e.Name] = len(out)
		out = append(out, e)
	}
	return out
}

// nameOp is an op of one name of a directory: on the name itself, on
// what lies below it, or (copyOf) the deletion of one of its conflict
// copies.
type nameOp struct {
	relOp
	copyOf *schema.Entry
}

// name folds ops over old, the entry of one name in the directory at dir
// (component i of their paths), and returns its new entry, the conflict
// copies the changes froze into entries of their own, and whether
// anything changed.
func (b *batch) name(ctx context.Context, dir cid.Cid, i int, old *schema.Entry, ops []nameOp) (schema.Entry, []schema.Entry, bool, error) {
	t := b.t
	cur := old
	var copies []schema.Entry
	var below []relOp // ops below the name not yet applied
	// The mkdirs of the name met after an op below it, not yet applied:
	// they change only the name's entry, so the ops below it on both
	// sides of them are applied together, and the directory is written
	// once. The first followed of them came before an op below.
	var mkdirs []relOp
	followed := 0
	changed := false
	// commit makes ne, a change to cur, the current entry: the conflict
	// copies of cur it supersedes (but skip) become entries of their
	// own, and the versions it does not supersede stay beside it.
	commit := func(r relOp, ne schema.Entry, skip *schema.Entry) error {
		fc, err := t.frozenCopies(ctx, dir, cur, &ne, skip)
		if err != nil {
			return failOp(r, err)
		}
		copies = append(copies, fc...)
		ne = changedEntry(cur, ne)
		cur, changed = &ne, true
		return nil
	}
	flush := func() error {
		if len(below) == 0 {
			return nil
		}
		r := below[0]
		here := strings.Join(r.comps[:i+1], "/")
		create := false
		for _, x := range below {
			create = create || x.op.Kind != OpDelete
		}
		var child cid.Cid
		var err error
		switch {
		case cur == nil || cur.Deleted:
			if !create {
				return failOp(r, missing(here, r.op.Path))
			}
			if child, err = t.deletedContents(ctx, cur); err != nil {
				return failOp(r, err)
			}
		case cur.Kind == schema.KindDirectory:
			child = cur.Target
		case cur.Kind == schema.KindNode:
			return failOp(r, fail(acerr.Permission, "%s is a published node; its contents change only by a new signed node", here))
		default:
			return failOp(r, fail(acerr.NotDir, "%s is %s", here, cur.Kind.Noun()))
		}
		nc, err := b.dir(ctx, child, i+1, below)
		below = nil
		if err != nil {
			return err
		}
		moved := cur == nil || cur.Deleted || !nc.Equals(child)
		if moved {
			ne := schema.Entry{Name: r.comps[i], Kind: schema.KindDirectory}
			if cur != nil && !cur.Deleted {
				ne = *cur
			}
			ne.Target, ne.Mtime, ne.VV, ne.By, ne.Conflicts = nc, b.now, t.bump(cur), t.cfg.By, nil
			if err := commit(r, ne, nil); err != nil {
				return err
			}
		}
		// The directory is there now. A mkdir that an op below followed
		// sets its mode, and the mtime is the batch's, as for every
		// directory on the paths; one that came last sets both.
		for j, m := range mkdirs {
			if moved && j < followed {
				err = b.mode(m, cur, commit)
			} else {
				err = b.mkdir(ctx, m, cur, commit)
			}
			if err != nil {
				return err
			}
		}
		mkdirs, followed = nil, 0
		return nil
	}
	for _, o := range ops {
		if len(o.comps) > i+1 {
			below = append(below, o.relOp)
			followed = len(mkdirs)
			continue
		}
		if o.op.Kind == OpMkdir && o.copyOf == nil && len(below) > 0 {
			mkdirs = append(mkdirs, o.relOp)
			continue
		}
		if err := flush(); err != nil {
			return schema.Entry{}, nil, false, err
		}
		var err error
		switch {
		case o.copyOf != nil:
			err = b.deleteCopy(ctx, o, cur, commit)
		case o.op.Kind == OpPut:
			err = b.put(ctx, o.relOp, cur, commit)
		case o.op.Kind == OpDelete:
			err = b.delete(ctx, o.relOp, cur, commit)
		default:
			err = b.mkdir(ctx, o.relOp, cur, commit)
		}
		if err != nil {
			return schema.Entry{}, nil, false, err
		}
	}
	if err := flush(); err != nil {
		return schema.Entry{}, nil, false, err
	}
	if !changed {
		return schema.Entry{}, nil, false, nil
	}
	if cur.Kind == schema.KindDirectory && !cur.Deleted && !cur.Target.Defined() {
		// Made by a mkdir and left empty.
		c, err := t.putNode(ctx, &schema.Directory{})
		if err != nil {
			return schema.Entry{}, nil, false, failOp(ops[0].relOp, err)
		}
		cur.Target = c
	}
	return *cur, copies, true, nil
}

// ownerOf returns the owner of the directory at c: what an entry linking
// it must name.
func (b *batch) ownerOf(ctx context.Context, c cid.Cid) (cid.Cid, error) {
	d, err := b.t.readDirectory(ctx, c)
	if err != nil {
		return cid.Undef, err
	}
	return d.Owner, nil
}

type commitFunc func(r relOp, ne schema.Entry, skip *schema.Entry) error

// put sets the name to r's entry. The stored entry is the op's with: VV
// the old entry's version vector (a tombstone's included) with the
// replica's counter incremented; By the configured By when that is set;
// Mtime now when the op's is zero; the Owner of the directory it links.
// A live directory is not replaced by something else (acerr.IsDir), nor
// anything else by a directory (acerr.NotDir).
func (b *batch) put(ctx context.Context, r relOp, cur *schema.Entry, commit commitFunc) error {
	t := b.t
	ne := r.op.Entry
	ne.Name = r.comps[len(r.comps)-1]
	if cur != nil && !cur.Deleted {
		switch {
		case cur.Kind == schema.KindDirectory && ne.Kind != schema.KindDirectory:
			return failOp(r, fail(acerr.IsDir, "%s is a directory; delete it first", r.op.Path))
		case cur.Kind != schema.KindDirectory && ne.Kind == schema.KindDirectory:
			return failOp(r, fail(acerr.NotDir, "%s is %s; delete it first", r.op.Path, cur.Kind.Noun()))
		}
	}
	ne.VV = t.bump(cur)
	if t.cfg.By.Defined() {
		ne.By = t.cfg.By
	}
	if ne.Mtime == 0 {
		ne.Mtime = b.now
	}
	ne.Conflicts, ne.Owner = nil, cid.Undef
	if ne.Kind == schema.KindDirectory {
		var err error
		if ne.Owner, err = b.ownerOf(ctx, ne.Target); err != nil {
			return failOp(r, err)
		}
	}
	if err := schema.ValidEntry(&ne); err != nil {
		return failOp(r, err)
	}
	return commit(r, ne, nil)
}

// delete replaces the name by a tombstone: same name and kind, Deleted,
// version vector bumped, Mtime now; a directory's tombstone links what
// deletedDir gives.
func (b *batch) delete(ctx context.Context, r relOp, cur *schema.Entry, commit commitFunc) error {
	t := b.t
	if cur == nil || cur.Deleted {
		return failOp(r, missing(r.op.Path, r.op.Path))
	}
	ts := schema.Entry{Name: cur.Name, Kind: cur.Kind, Mtime: b.now, VV: t.bump(cur), Deleted: true, By: t.cfg.By}
	if cur.Kind == schema.KindDirectory {
		var err error
		if ts.Target, ts.Owner, err = b.walk.deletedDir(ctx, cur.Target, b.now, 0, nil); err != nil {
			return failOp(r, err)
		}
	}
	return commit(r, ts, nil)
}

// deleteCopy resolves the conflict of one copy: the version shown under
// the name stays, as a change that supersedes the copy.
func (b *batch) deleteCopy(_ context.Context, o nameOp, cur *schema.Entry, commit commitFunc) error {
	t := b.t
	ne := *cur
	ne.Conflicts, ne.VV, ne.By = nil, t.bump(cur), t.cfg.By
	if !schema.Supersedes(&ne, o.copyOf) {
		return failOp(o.relOp, fail(acerr.Permission, "%s is a copy of a directory owned by %s: only its owner deletes it", o.op.Path, o.copyOf.Owner))
	}
	return commit(o.relOp, ne, o.copyOf)
}

// mode sets the mode of the live directory cur to the mode of r, a
// mkdir, keeping its mtime.
func (b *batch) mode(r relOp, cur *schema.Entry, commit commitFunc) error {
	if cur.Mode == r.op.Entry.Mode {
		return nil
	}
	ne := *cur
	ne.Mode, ne.VV, ne.By, ne.Conflicts = r.op.Entry.Mode, b.t.bump(cur), b.t.cfg.By, nil
	return commit(r, ne, nil)
}

// mkdir makes sure the name is a live directory with the op's mode (and
// mtime).
func (b *batch) mkdir(ctx context.Context, r relOp, cur *schema.Entry, commit commitFunc) error {
	t := b.t
	mode, mtime := r.op.Entry.Mode, r.op.Entry.Mtime
	if mtime == 0 {
		mtime = b.now
	}
	if cur != nil && !cur.Deleted {
		if cur.Kind != schema.KindDirectory {
			return failOp(r, fail(acerr.NotDir, "%s is %s; delete it first", r.op.Path, cur.Kind.Noun()))
		}
		if cur.Mode == mode && (r.op.Entry.Mtime == 0 || cur.Mtime == mtime) {
			return nil
		}
		ne := *cur
		ne.Mode, ne.Mtime, ne.VV, ne.By, ne.Conflicts = mode, mtime, t.bump(cur), t.cfg.By, nil
		return commit(r, ne, nil)
	}
	// Where nothing was deleted, the new directory is empty: its block is
	// written once the batch has put into it what it puts (name).
	child, err := t.deletedContents(ctx, cur)
	if err != nil {
		return failOp(r, err)
	}
	ne := schema.Entry{Name: r.comps[len(r.comps)-1], Kind: schema.KindDirectory, Target: child, Mode: mode,
		Mtime: mtime, VV: t.bump(cur), By: t.cfg.By}
	return commit(r, ne, nil)
}
