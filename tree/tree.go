package tree

import (
	"context"
	"errors"
	"io/fs"
	"slices"
	"strings"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/progress"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

// Tree reads and writes directory trees in a Store. It holds no state but
// its store and configuration, and is safe for concurrent use. Nodes are
// immutable: every change writes new blocks and returns a new root CID,
// and old roots stay readable.
type Tree struct {
	store ipfsstore.Store
	cfg   Config
	cache *nodeCache // nil: none
}

// New returns a Tree that keeps its nodes in store.
func New(store ipfsstore.Store, cfg Config) *Tree {
	t := &Tree{store: store, cfg: cfg.normalize()}
	if cfg.NodeCache > 0 {
		t.cache = &nodeCache{max: cfg.NodeCache, nodes: map[cid.Cid]cachedNode{}}
	}
	return t
}

// Config returns the configuration t uses, its defaults filled in.
func (t *Tree) Config() Config { return t.cfg }

// splitPath splits a path into its components. Paths are relative and
// clean: components separated by single slashes, each a valid entry name
// (schema.ValidName). "" is the root. Anything else ("/a", "a/", "a//b",
// "./a", "../a") is refused rather than cleaned, so that every entry has
// exactly one path.
func splitPath(p string) ([]string, error) {
	if p == "" {
		return nil, nil
	}
	if len(p) > MaxPathLen {
		return nil, fail(acerr.Invalid, "path longer than %d bytes", MaxPathLen)
	}
	comps := strings.Split(p, "/")
	for _, c := range comps {
		if c == "" {
			return nil, fail(acerr.Invalid, "empty path component (want a clean relative path like root/a/b)")
		}
		if err := schema.ValidName(c); err != nil {
			return nil, fail(acerr.Invalid, "%v", err)
		}
	}
	return comps, nil
}

// JoinPath returns the path of name inside the directory at path dir:
// dir + "/" + name, or the other one alone when either is "" (the root).
// It is the inverse of splitting a path into its components.
func JoinPath(dir, name string) string {
	switch {
	case dir == "":
		return name
	case name == "":
		return dir
	}
	return dir + "/" + name
}

// rootEntry is the synthetic entry that stands for a root directory.
func rootEntry(root cid.Cid) schema.Entry {
	return schema.Entry{Kind: schema.KindDirectory, Target: root}
}

// nodeRootEntry reads the node_v1 at c and returns the synthetic entry
// "root" that stands for the filesystem it publishes.
func (t *Tree) nodeRootEntry(ctx context.Context, c cid.Cid) (schema.Entry, error) {
	n, _, err := t.getNode(ctx, c)
	if err != nil {
		return schema.Entry{}, err
	}
	nd, ok := n.(*schema.Node)
	if !ok {
		return schema.Entry{}, fail(acerr.Integrity, "is %s, not %s", n.Kind().Noun(), schema.KindNode.Noun()).WithCID(c.String())
	}
	return schema.Entry{
		Name:   "root",
		Kind:   schema.KindDirectory,
		Target: nd.Root,
		Mtime:  nd.Created * 1e9,
		By:     nd.Owner,
	}, nil
}

// DirEntry returns the entry name of the directory at dir as stored:
// tombstones and conflicts included, no conflict copy looked up by its
// shown name; nil if there is none.
func (t *Tree) DirEntry(ctx context.Context, dir cid.Cid, name string) (*schema.Entry, error) {
	e, err := t.lookupIn(ctx, dir, name)
	if err != nil {
		return nil, wrap("tree.DirEntry", name, err)
	}
	return e, nil
}

// lookupIn returns the entry name of the directory at dir, tombstones
// included; nil if there is none.
func (t *Tree) lookupIn(ctx context.Context, dir cid.Cid, name string) (*schema.Entry, error) {
	d, err := t.readDirectory(ctx, dir)
	if err != nil {
		return nil, err
	}
	return t.lookupDir(ctx, d, name)
}

// lookupDir returns the entry name of d, tombstones included; nil if
// there is none.
func (t *Tree) lookupDir(ctx context.Context, d *schema.Directory, name string) (*schema.Entry, error) {
	if len(d.Children) == 0 {
		if i, ok := findEntry(d.Entries, name); ok {
			return &d.Entries[i], nil
		}
		return nil, nil
	}
	return t.lookupNode(ctx, rootNode(d), name)
}

func findEntry(entries []schema.Entry, name string) (int, bool) {
	return slices.BinarySearchFunc(entries, name, func(e schema.Entry, n string) int {
		return strings.Compare(e.Name, n)
	})
}

// resolve walks comps from root. A component under a directory_v1 names
// one of its entries; the component "root" under a node_v1 stands for the
// filesystem the node publishes.
func (t *Tree) resolve(ctx context.Context, root cid.Cid, comps []string) (schema.Entry, error) {
	cur := rootEntry(root)
	if !root.Defined() {
		return cur, fail(acerr.NotExist, "empty tree")
	}
	for i, name := range comps {
		switch cur.Kind {
		case schema.KindDirectory:
			e, err := t.lookupIn(ctx, cur.Target, name)
			if err != nil {
				return cur, err
			}
			if e == nil {
				// Perhaps a conflict copy, shown under a name of its own.
				if _, v, err := t.conflictIn(ctx, cur.Target, name); err != nil {
					return cur, err
				} else if v != nil {
					cv := *v
					cv.Name = name
					e = &cv
				}
			}
			if e == nil || e.Deleted {
				return cur, missing(strings.Join(comps[:i+1], "/"), strings.Join(comps, "/"))
			}
			cur = *e
			cur.Conflicts = nil
		case schema.KindNode:
			if name != "root" {
				return cur, fail(acerr.NotExist, "no %s (a node holds only root)", strings.Join(comps[:i+1], "/"))
			}
			e, err := t.nodeRootEntry(ctx, cur.Target)
			if err != nil {
				return cur, err
			}
			cur = e
		default:
			return cur, fail(acerr.NotDir, "%s is %s", strings.Join(comps[:i], "/"), cur.Kind.Noun())
		}
	}
	return cur, nil
}

// Lookup returns the entry at path under the root directory root. For the
// path "" it returns a synthetic directory entry, without name, whose
// Target is root. A tombstone is reported as acerr.NotExist. A component
// "root" under an entry of kind node_v1 descends into the filesystem that
// node publishes (so "nodes/ID/root/forum" resolves); the result for the
// component itself is a synthetic directory entry named "root".
func (t *Tree) Lookup(ctx context.Context, root cid.Cid, path string) (schema.Entry, error) {
	const op = "tree.Lookup"
	comps, err := splitPath(path)
	if err != nil {
		return schema.Entry{}, wrap(op, path, err)
	}
	e, err := t.resolve(ctx, root, comps)
	if err != nil {
		return schema.Entry{}, wrap(op, path, err)
	}
	return e, nil
}

// ReadDir returns every entry of the directory at dir, tombstones
// included, sorted by name. The undefined CID reads as the empty
// directory.
func (t *Tree) ReadDir(ctx context.Context, dir cid.Cid) ([]schema.Entry, error) {
	entries, err := t.readDir(ctx, dir)
	if err != nil {
		err = wrap("tree.ReadDir", "", err)
		if e, ok := err.(*acerr.Error); ok && e.CID == "" && dir.Defined() {
			e.CID = dir.String()
		}
		return nil, err
	}
	return entries, nil
}

func (t *Tree) readDir(ctx context.Context, dir cid.Cid) ([]schema.Entry, error) {
	d, err := t.readDirectory(ctx, dir)
	if err != nil {
		return nil, err
	}
	return t.dirEntries(ctx, d)
}

// dirEntries returns every entry of d, sorted by name.
func (t *Tree) dirEntries(ctx context.Context, d *schema.Directory) ([]schema.Entry, error) {
	if len(d.Children) == 0 {
		return d.Entries, nil
	}
	var out []schema.Entry
	err := t.eachEntry(ctx, rootNode(d), func(e *schema.Entry) error {
		out = append(out, *e)
		return nil
	})
	return out, err
}

// eachOf calls fn, in name order, for the stored entries of the
// directory-like entry e: a directory's entries (tombstones and
// conflicts included), or for a node_v1 the single entry "root". It
// holds one path of the directory's tree at a time.
func (t *Tree) eachOf(ctx context.Context, e schema.Entry, path string, fn func(*schema.Entry) error) error {
	switch e.Kind {
	case schema.KindDirectory:
		d, err := t.readDirectory(ctx, e.Target)
		if err != nil {
			return err
		}
		if len(d.Children) == 0 {
			for i := range d.Entries {
				if err := fn(&d.Entries[i]); err != nil {
					return err
				}
			}
			return nil
		}
		return t.eachEntry(ctx, rootNode(d), fn)
	case schema.KindNode:
		r, err := t.nodeRootEntry(ctx, e.Target)
		if err != nil {
			return err
		}
		return fn(&r)
	}
	return fail(acerr.NotDir, "%s is %s", path, e.Kind.Noun())
}

// eachVisible calls fn, in name order, for what a listing of the
// directory-like entry e shows (see List).
func (t *Tree) eachVisible(ctx context.Context, e schema.Entry, path string, fn func(schema.Entry) error) error {
	v := viewer{taken: t.takenIn(ctx, e.Target), emit: fn}
	return t.eachOf(ctx, e, path, v.add)
}

// List returns the live entries (tombstones left out) of the directory at
// path in name order, each followed by its live conflicting versions as
// entries of their own under their ConflictNames (so a copy stands beside
// its original, and the list is in name order but for the copies). The
// entries carry no Conflicts. A node_v1 lists as one entry, "root".
func (t *Tree) List(ctx context.Context, root cid.Cid, path string) ([]schema.Entry, error) {
	out := []schema.Entry{}
	err := t.ListFunc(ctx, root, path, func(e schema.Entry) error {
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// fnError carries an error of a caller's function through a listing,
// to be returned unchanged.
type fnError struct{ err error }

func (e *fnError) Error() string { return e.err.Error() }

// ListFunc calls fn for each entry List returns, in the same order, as
// it reads them: a directory of any size is listed holding one path of
// its tree, not its entries. An error from fn stops the listing and is
// returned unchanged.
func (t *Tree) ListFunc(ctx context.Context, root cid.Cid, path string, fn func(schema.Entry) error) error {
	const op = "tree.List"
	comps, err := splitPath(path)
	if err != nil {
		return wrap(op, path, err)
	}
	e, err := t.resolve(ctx, root, comps)
	if err != nil {
		return wrap(op, path, err)
	}
	err = t.eachVisible(ctx, e, path, func(en schema.Entry) error {
		if err := fn(en); err != nil {
			return &fnError{err}
		}
		return nil
	})
	var fe *fnError
	switch {
	case errors.As(err, &fe):
		return fe.err
	case err != nil:
		return wrap(op, path, err)
	}
	return nil
}

// maxWalkDepth bounds how deep Walk descends, so that a hostile tree of
// nested directories cannot exhaust the stack. It is the deepest a path of
// MaxPathLen bytes can reach.
const maxWalkDepth = MaxPathLen / 2

// errSkipRest stops the listing of one directory in Walk.
var errSkipRest = errors.New("skip the rest of the directory")

// CountFiles counts into c, as totals, the files at or under e, the
// entry at path of root, and their sizes (a file once at each place it
// appears), and marks the totals final: the pre-count that lets a long
// walk over the same files show how far it is. It stops quietly when
// ctx ends or a block cannot be read; the work it counts for reports
// that.
func (t *Tree) CountFiles(ctx context.Context, root cid.Cid, path string, e schema.Entry, c *progress.Counter) {
	if e.Kind == schema.KindFile {
		c.AddTotal(1, int64(e.Size))
		c.Final()
		return
	}
	err := t.Walk(ctx, root, path, func(_ string, e schema.Entry) error {
		if e.Kind == schema.KindFile {
			c.AddTotal(1, int64(e.Size))
		}
		return ctx.Err()
	})
	if err == nil {
		c.Final()
	}
}

// Walk calls fn for every entry List shows below the directory at path,
// conflict copies included, depth first, in name order, with the entry's
// path from the root (JoinPath(path, name)). A directory is visited before its
// contents. Walk descends into directory entries only; a node_v1 entry
// is reported but not entered (walk "nodes/ID/root" to export a friend's
// filesystem). As with fs.WalkDir, fn returning fs.SkipDir on a directory
// skips its contents, on any other entry skips the rest of its directory,
// and fs.SkipAll stops the walk; any other error from fn stops the walk
// and is returned unchanged. On the way down it holds one path of each
// directory's tree, not the directories' entries.
func (t *Tree) Walk(ctx context.Context, root cid.Cid, path string, fn func(path string, e schema.Entry) error) error {
	const op = "tree.Walk"
	comps, err := splitPath(path)
	if err != nil {
		return wrap(op, path, err)
	}
	e, err := t.resolve(ctx, root, comps)
	if err != nil {
		return wrap(op, path, err)
	}
	if e.Kind != schema.KindDirectory && e.Kind != schema.KindNode {
		return wrap(op, path, fail(acerr.NotDir, "%s is %s", path, e.Kind.Noun()))
	}
	var walk func(e schema.Entry, dir string, depth int) error
	walk = func(e schema.Entry, dir string, depth int) error {
		if depth > maxWalkDepth {
			return wrap(op, dir, fail(acerr.TooLarge, "directories nested deeper than %d", maxWalkDepth))
		}
		if err := ctx.Err(); err != nil {
			return wrap(op, dir, err)
		}
		err := t.eachVisible(ctx, e, dir, func(c schema.Entry) error {
			p := JoinPath(dir, c.Name)
			err := fn(p, c)
			isDir := c.Kind == schema.KindDirectory
			switch {
			case err == fs.SkipDir && isDir:
				return nil
			case err == fs.SkipDir:
				return errSkipRest
			case err != nil:
				return &fnError{err}
			}
			if !isDir {
				return nil
			}
			// A directory below fails with its own error, named there.
			if err := walk(c, p, depth+1); err != nil && !errors.As(err, new(*fnError)) {
				return &fnError{err}
			} else {
				return err
			}
		})
		switch {
		case err == nil || err == errSkipRest:
			return nil
		case errors.As(err, new(*fnError)):
			return err
		}
		return wrap(op, dir, err)
	}
	err = walk(e, path, len(comps))
	var fe *fnError
	if errors.As(err, &fe) {
		if fe.err == fs.SkipAll {
			return nil
		}
		return fe.err
	}
	return err
}

// MakeDir builds a shared directory holding entries, in one pass, and
// returns its CID. The entries are stored as given (names, version vectors
// and all); they must be valid, and their names unique (acerr.Invalid
// otherwise). The result is canonical: cut into nodes as the targets give,
// and the same CID as any sequence of Puts giving the same entries.
func (t *Tree) MakeDir(ctx context.Context, entries []schema.Entry) (cid.Cid, error) {
	const op = "tree.MakeDir"
	for i := range entries {
		if err := schema.ValidEntry(&entries[i]); err != nil {
			return cid.Undef, wrap(op, "", err)
		}
	}
	sorted := slices.Clone(entries)
	schema.SortEntries(sorted)
	for i := 1; i < len(sorted); i++ {
		if sorted[i].Name == sorted[i-1].Name {
			return cid.Undef, wrap(op, "", fail(acerr.Invalid, "duplicate name %q", sorted[i].Name))
		}
	}
	d, err := t.build(ctx, &schema.Directory{}, sorted)
	if err != nil {
		return cid.Undef, wrap(op, "", err)
	}
	c, err := t.putNode(ctx, d)
	if err != nil {
		return cid.Undef, wrap(op, "", err)
	}
	return c, nil
}

// Put sets the entry at path to e and returns the new root. The entry's
// name is the last component of path (e.Name is ignored). Missing parent
// directories, and parents that are tombstones, are created as empty
// shared directories; only the directories on the path are rewritten.
//
// The stored entry is e with: VV the old entry's version vector (a
// tombstone's included) with Config.Replica incremented; By Config.By when
// that is set; Mtime now when e.Mtime is zero. Each parent's entry gets
// the new Target, its version vector bumped the same way and Mtime now.
// An owned directory on the path is re-signed with Config.Signer.
//
// Put refuses to replace a live directory by something else (acerr.IsDir)
// or anything else by a directory (acerr.NotDir): delete it first. It does
// not change what lies inside a published node_v1 (acerr.Permission).
// An undefined root stands for the empty tree.
func (t *Tree) Put(ctx context.Context, root cid.Cid, path string, e schema.Entry) (cid.Cid, error) {
	return t.Apply(ctx, root, []Op{{Kind: OpPut, Path: path, Entry: e}})
}

// Delete replaces the entry at path by a tombstone (same name and kind,
// Deleted, version vector bumped, Mtime now) and returns the new root. A
// directory's tombstone links what deletedDir gives. Deleting a conflict
// copy keeps the version shown under the name and drops the copy. Deleting what does not exist, or is already deleted, fails
// with acerr.NotExist; deleting "" fails with acerr.Invalid. Tombstones
// stay in their directory, so that merges see the deletion.
func (t *Tree) Delete(ctx context.Context, root cid.Cid, path string) (cid.Cid, error) {
	return t.Apply(ctx, root, []Op{{Kind: OpDelete, Path: path}})
}

// Mkdir makes sure a directory is at path, with mode, keeping what it
// holds; see OpMkdir.
func (t *Tree) Mkdir(ctx context.Context, root cid.Cid, path string, mode uint32) (cid.Cid, error) {
	return t.Apply(ctx, root, []Op{{Kind: OpMkdir, Path: path, Entry: schema.Entry{Mode: mode}}})
}

// mutablePath checks what Put and Delete need: a configured replica and a
// path that names an entry.
func (t *Tree) mutablePath(path string) ([]string, error) {
	if r := t.cfg.Replica; r == "" || len(r) > schema.MaxReplicaLen {
		return nil, fail(acerr.Invalid, "replica id must be 1 to %d bytes (Config.Replica)", schema.MaxReplicaLen)
	}
	comps, err := splitPath(path)
	if err != nil {
		return nil, err
	}
	if len(comps) == 0 {
		return nil, fail(acerr.Invalid, "the root is not an entry")
	}
	return comps, nil
}

// bump returns the version vector of a change to the entry old (nil:
// none): the join of the version vectors of all its versions, with this
// replica's counter incremented, so that the change supersedes every
// version the name had here.
func (t *Tree) bump(old *schema.Entry) schema.VV {
	vv := schema.VV{}
	if old != nil {
		for _, v := range old.Versions() {
			vv = vv.Join(v.VV)
		}
	}
	vv[t.cfg.Replica]++
	return vv
}

// slot is one name in one directory, as found for an update.
type slot struct {
	d   *schema.Directory
	old *schema.Entry // the current entry, nil if none
}

// slotIn finds name in the directory d.
func (t *Tree) slotIn(ctx context.Context, d *schema.Directory, name string) (*slot, error) {
	old, err := t.lookupDir(ctx, d, name)
	if err != nil {
		return nil, err
	}
	return &slot{d: d, old: old}, nil
}
