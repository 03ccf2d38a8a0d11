package tree

import (
	"context"
	"slices"
	"strings"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

// A Source is a file or a directory to put into the tree with PutTree: a
// local directory being added, or an old version being restored.
type Source struct {
	// Entry is what to put: for a file (or any other non-directory) its
	// Name, Kind, Target, Size, Mode and Mtime; for a directory its Name,
	// Kind and Mode (its Target is ignored).
	Entry schema.Entry
	// Children are a directory's files and directories, with distinct
	// names.
	Children []*Source
	// Made says a directory was made whole already (Fold): Entry is the
	// entry PutTree would make of it where nothing is stored, its
	// Target the directory, and Children are not kept.
	Made bool
}

// Fold makes the directory src whole, as PutTree makes one where
// nothing is stored (every entry a first version), and returns a Source
// that stands for it and holds no children. PutTree takes it where src
// would go: where nothing is stored it puts the directory as it is; where
// something is, it reads the directory's entries back and changes what
// is there file by file, as for src. So a large tree can be put a
// directory at a time, with the entries of the directories being made
// in memory, not those of the tree; it pays where nothing is stored.
func (t *Tree) Fold(ctx context.Context, src *Source) (*Source, error) {
	e, err := t.made(ctx, src.Entry.Name, src)
	if err != nil {
		return nil, err
	}
	return &Source{Entry: e, Made: true}, nil
}

// unfold returns the directory src made (Fold) as a Source of its
// entries, each directory among them made as well.
func (t *Tree) unfold(ctx context.Context, src *Source) (*Source, error) {
	entries, err := t.readDir(ctx, src.Entry.Target)
	if err != nil {
		return nil, err
	}
	out := &Source{Entry: src.Entry, Children: make([]*Source, len(entries))}
	for i, e := range entries {
		out.Children[i] = &Source{Entry: e, Made: e.Kind == schema.KindDirectory}
	}
	return out, nil
}

// Fresh reports whether PutTree of a directory at path in the tree at
// root would make it whole: nothing is stored there, not even a
// tombstone, and every directory on the way is there. Fold pays then.
func (t *Tree) Fresh(ctx context.Context, root cid.Cid, path string) bool {
	if _, err := t.Lookup(ctx, root, path); !acerr.Is(acerr.NotExist, err) {
		return false
	}
	return !t.stored(ctx, root, path)
}

// PutTree makes the entry at path what src is, with the changes that
// putting, deleting and making each file and directory one by one would
// make: a file that differs from what the name shows (target, kind, mode
// or mtime) is put, as a new version superseding every version of it
// this replica holds, conflict copies included; a file that does not
// differ keeps its entry, and no new version is made of it; a directory
// is made where there is none (where one was deleted, it starts from the
// tombstones of what it held, so nothing deleted comes back) and kept
// where there is one, with src's mode and, if set, mtime. With prune,
// what the tree holds under path and src does not is deleted, with
// tombstones, and a file that src has as a directory (or the other way
// round) is deleted and made again; without, it stays. Conflict copies
// src lacks always stay: they are other replicas' concurrent versions,
// which src never held; a change to their name supersedes them (and
// keeps each as a file of its own), deleting the copy resolves it. A
// name src holds where the tree shows a conflict copy is put only if it
// differs from the copy, which is refused (delete the copy first). The
// changes are applied as one batch (Apply); if src holds what the tree
// holds, root comes back unchanged.
//
// At path itself a kind is not changed: a directory src where a file is,
// or the other way round, is refused as Put refuses it.
func (t *Tree) PutTree(ctx context.Context, root cid.Cid, path string, src *Source, prune bool) (cid.Cid, error) {
	ops, err := t.treeOps(ctx, root, path, src, prune)
	if err != nil {
		return cid.Undef, err
	}
	return t.Apply(ctx, root, ops)
}

// Move moves the entry at src to dst, where nothing is shown, as one
// batch of the file-by-file changes: a file is put at dst with its
// content, mode and mtime, a directory is put there as PutTree would put
// a copy of it, and src is deleted. The versions at dst continue what dst
// held (a tombstone, say), so a move is what a user moving the files one
// by one would make; a concurrent edit of the old place by another
// replica stays there, as an edit beats a delete.
func (t *Tree) Move(ctx context.Context, root cid.Cid, src, dst string) (cid.Cid, error) {
	ops, err := t.relocation(ctx, "tree.Move", "move", root, src, dst)
	if err != nil {
		return cid.Undef, err
	}
	return t.Apply(ctx, root, append(ops, Op{Kind: OpDelete, Path: src}))
}

// Copy puts a copy of the entry at src at dst, where nothing is shown,
// as one batch: a file is put with its content, mode and mtime, a
// directory as PutTree puts a copy of it. The copy shares every block
// with the original; src stays as it is. The versions at dst continue
// what dst held (a tombstone, say), as Move's do.
func (t *Tree) Copy(ctx context.Context, root cid.Cid, src, dst string) (cid.Cid, error) {
	ops, err := t.relocation(ctx, "tree.Copy", "be copied", root, src, dst)
	if err != nil {
		return cid.Undef, err
	}
	return t.Apply(ctx, root, ops)
}

// relocation returns the ops that put what src shows at dst, where
// nothing is shown, for Move and Copy (op names them in errors; what
// says what src cannot do into itself).
func (t *Tree) relocation(ctx context.Context, op, what string, root cid.Cid, src, dst string) ([]Op, error) {
	if src == dst || strings.HasPrefix(dst+"/", src+"/") {
		return nil, wrap(op, src, fail(acerr.Invalid, "%s cannot %s into itself", src, what))
	}
	if _, err := t.Lookup(ctx, root, dst); err == nil {
		return nil, wrap(op, dst, fail(acerr.Exist, "%s is there already", dst))
	} else if !acerr.Is(acerr.NotExist, err) {
		return nil, err
	}
	s, err := t.SourceOf(ctx, root, src)
	if err != nil {
		return nil, err
	}
	s.Entry.Name = dst[strings.LastIndexByte(dst, '/')+1:]
	return t.treeOps(ctx, root, dst, s, true)
}

// treeOps returns the ops that make the entry at path what src is.
func (t *Tree) treeOps(ctx context.Context, root cid.Cid, path string, src *Source, prune bool) ([]Op, error) {
	const op = "tree.PutTree"
	if _, err := t.mutablePath(path); err != nil {
		return nil, wrap(op, path, err)
	}
	var ops []Op
	cur, err := t.Lookup(ctx, root, path)
	switch k := acerr.KindOf(err); {
	case err == nil:
		ops, err = t.sourceOps(ctx, ops, path, &cur, src, prune)
	case k == acerr.NotExist && src.Entry.Kind == schema.KindDirectory && !t.stored(ctx, root, path):
		// Nothing there, not even a tombstone: made whole.
		ops, err = t.fresh(ctx, ops, path, src)
	case k == acerr.NotExist || k == acerr.NotDir || k == acerr.Permission:
		// Nothing shown there, or a path Apply refuses as Put does.
		ops, err = t.sourceOps(ctx, ops, path, nil, src, prune)
	default:
		return nil, err
	}
	return ops, err
}

// sourceOps appends to ops the changes that make the entry at path, cur
// (nil: none shown), what src is.
func (t *Tree) sourceOps(ctx context.Context, ops []Op, path string, cur *schema.Entry, src *Source, prune bool) ([]Op, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if src.Made {
		var err error
		if src, err = t.unfold(ctx, src); err != nil {
			return nil, wrap("tree.PutTree", path, err)
		}
	}
	e := src.Entry
	if e.Kind != schema.KindDirectory {
		if cur != nil && sameFile(cur, &e) {
			return ops, nil
		}
		return append(ops, Op{Kind: OpPut, Path: path, Entry: e}), nil
	}
	var shown []schema.Entry
	stored := map[string]bool{}
	// Only in a live directory do its stored names say what a name held:
	// one deleted, or missing, is made again from tombstones (Mkdir).
	live := cur != nil && cur.Kind == schema.KindDirectory
	if live {
		entries, err := t.readDir(ctx, cur.Target)
		if err != nil {
			return nil, wrap("tree.PutTree", path, err)
		}
		for i := range entries {
			stored[entries[i].Name] = true
		}
		shown = visible(entries)
	}
	children := slices.Clone(src.Children)
	slices.SortFunc(children, func(a, b *Source) int { return strings.Compare(a.Entry.Name, b.Entry.Name) })
	for i := 1; i < len(children); i++ {
		if children[i].Entry.Name == children[i-1].Entry.Name {
			return nil, wrap("tree.PutTree", JoinPath(path, children[i].Entry.Name), fail(acerr.Invalid, "two sources of one name"))
		}
	}
	for len(shown) > 0 || len(children) > 0 {
		var x *schema.Entry
		var s *Source
		switch {
		case len(children) == 0 || len(shown) > 0 && shown[0].Name < children[0].Entry.Name:
			x, shown = &shown[0], shown[1:]
		case len(shown) == 0 || children[0].Entry.Name < shown[0].Name:
			s, children = children[0], children[1:]
		default:
			x, s, shown, children = &shown[0], children[0], shown[1:], children[1:]
		}
		p := JoinPath(path, entryName(x, s))
		var err error
		switch {
		case x == nil && live && !stored[s.Entry.Name] && s.Entry.Kind == schema.KindDirectory:
			ops, err = t.fresh(ctx, ops, p, s)
		case s == nil:
			if prune && stored[x.Name] {
				ops = append(ops, Op{Kind: OpDelete, Path: p})
			}
		case x != nil && (x.Kind == schema.KindDirectory) != (s.Entry.Kind == schema.KindDirectory):
			if !prune {
				continue
			}
			ops = append(ops, Op{Kind: OpDelete, Path: p})
			ops, err = t.sourceOps(ctx, ops, p, nil, s, prune)
		default:
			ops, err = t.sourceOps(ctx, ops, p, x, s, prune)
		}
		if err != nil {
			return nil, err
		}
	}
	// The directory's own mode and mtime last: the changes inside it set
	// its mtime to now, as a directory's changes do.
	return append(ops, Op{Kind: OpMkdir, Path: path, Entry: schema.Entry{Mode: e.Mode, Mtime: e.Mtime}}), nil
}

// fresh appends the op that puts src, a directory, at path, where the
// directory holds no entry of that name, not even a tombstone: the
// directory built whole (MakeDir), every entry in it a first version, as
// making each file and directory there one by one would give, at a
// fraction of the cost.
func (t *Tree) fresh(ctx context.Context, ops []Op, path string, src *Source) ([]Op, error) {
	e, err := t.made(ctx, path, src)
	if err != nil {
		return nil, err
	}
	return append(ops, Op{Kind: OpPut, Path: path, Entry: e}), nil
}

func (t *Tree) made(ctx context.Context, path string, src *Source) (schema.Entry, error) {
	if err := ctx.Err(); err != nil {
		return schema.Entry{}, err
	}
	if src.Made {
		return src.Entry, nil
	}
	e := src.Entry
	e.VV, e.Conflicts, e.Owner, e.Deleted = schema.VV{t.cfg.Replica: 1}, nil, cid.Undef, false
	if t.cfg.By.Defined() {
		e.By = t.cfg.By
	}
	if e.Mtime == 0 {
		e.Mtime = t.cfg.Now().UnixNano()
	}
	if e.Kind != schema.KindDirectory {
		return e, nil
	}
	entries := make([]schema.Entry, len(src.Children))
	for i, c := range src.Children {
		var err error
		if entries[i], err = t.made(ctx, JoinPath(path, c.Entry.Name), c); err != nil {
			return schema.Entry{}, err
		}
	}
	var err error
	if e.Target, err = t.MakeDir(ctx, entries); err != nil {
		return schema.Entry{}, wrap("tree.PutTree", path, err)
	}
	return e, nil
}

// stored reports whether path may hold something a put there must
// supersede: an entry of its name (live or a tombstone) in its directory,
// or a directory on the way that is not there live (deleted, it is made
// again from the tombstones of what it held).
func (t *Tree) stored(ctx context.Context, root cid.Cid, path string) bool {
	dir, name := "", path
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		dir, name = path[:i], path[i+1:]
	}
	d, err := t.Lookup(ctx, root, dir)
	if err != nil || d.Kind != schema.KindDirectory {
		return true
	}
	e, err := t.lookupIn(ctx, d.Target, name)
	return err != nil || e != nil
}

func entryName(x *schema.Entry, s *Source) string {
	if x != nil {
		return x.Name
	}
	return s.Entry.Name
}

// sameFile reports whether the entry a shows what b would put: the same
// kind, content, mode and mtime (any mtime, where b sets none).
func sameFile(a, b *schema.Entry) bool {
	return a.Kind == b.Kind && a.Target.Equals(b.Target) && a.Mode == b.Mode && (b.Mtime == 0 || a.Mtime == b.Mtime)
}

// SourceOf returns what the tree at root shows at path, as a Source: to
// put an old version back with PutTree (a restore). Conflict copies are
// files of their own, under the names a listing gives them.
func (t *Tree) SourceOf(ctx context.Context, root cid.Cid, path string) (*Source, error) {
	e, err := t.Lookup(ctx, root, path)
	if err != nil {
		return nil, err
	}
	e.Name = path[strings.LastIndexByte(path, '/')+1:]
	src := &Source{Entry: e}
	if e.Kind != schema.KindDirectory {
		return src, nil
	}
	err = t.Walk(ctx, root, path, func(p string, e schema.Entry) error {
		// Walk visits a directory before what it holds: find the parent.
		dir := src
		rel := strings.Split(strings.TrimPrefix(p, path+"/"), "/")
		for _, c := range rel[:len(rel)-1] {
			i := slices.IndexFunc(dir.Children, func(s *Source) bool { return s.Entry.Name == c })
			dir = dir.Children[i]
		}
		dir.Children = append(dir.Children, &Source{Entry: e})
		return nil
	})
	return src, err
}
