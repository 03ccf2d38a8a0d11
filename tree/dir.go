package tree

import (
	"context"

	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

// ReadDirectory reads and checks the directory node at c (its entries,
// or the children of its tree's root). The undefined CID reads as the empty
// shared directory.
func (t *Tree) ReadDirectory(ctx context.Context, c cid.Cid) (*schema.Directory, error) {
	d, err := t.readDirectory(ctx, c)
	if err != nil {
		return nil, wrap("tree.ReadDirectory", "", err)
	}
	return d, nil
}

// PutDirectory writes the directory node d and returns its CID.
func (t *Tree) PutDirectory(ctx context.Context, d *schema.Directory) (cid.Cid, error) {
	c, err := t.putNode(ctx, d)
	if err != nil {
		return cid.Undef, wrap("tree.PutDirectory", "", err)
	}
	return c, nil
}

// Diff calls fn, in name order, for every name whose entry differs
// between the directories a and b (tombstones and conflicts count; nil
// where a directory lacks the name). Equal directories, and equal
// subtrees of their trees, are skipped without being read, so the
// blocks read are those on the paths to the differences.
func (t *Tree) Diff(ctx context.Context, a, b cid.Cid, fn func(name string, ea, eb *schema.Entry) error) error {
	const op = "tree.Diff"
	if a.Equals(b) {
		return nil
	}
	var roots [2]*pnode
	for i, c := range [2]cid.Cid{a, b} {
		d, err := t.readDirectory(ctx, c)
		if err != nil {
			return wrap(op, "", err)
		}
		roots[i] = rootNode(d)
	}
	same := func(x, y *elem) bool { return x.link.Equals(y.link) }
	err := t.zipTrees(ctx, roots[0], roots[1], same, nil, func(x, y *schema.Entry) error {
		switch {
		case x == nil:
			return fn(y.Name, nil, y)
		case y == nil || !schema.SameEntry(x, y):
			return fn(x.Name, x, y)
		}
		return nil
	})
	if err != nil {
		return wrap(op, "", err)
	}
	return nil
}

// zipByName calls fn for every name of two lists sorted by name, in
// order, with the entry of that name in each (nil where a list lacks it).
func zipByName(a, b []schema.Entry, fn func(x, y *schema.Entry) error) error {
	for len(a) > 0 || len(b) > 0 {
		var x, y *schema.Entry
		switch {
		case len(b) == 0 || len(a) > 0 && a[0].Name < b[0].Name:
			x, a = &a[0], a[1:]
		case len(a) == 0 || b[0].Name < a[0].Name:
			y, b = &b[0], b[1:]
		default:
			x, y, a, b = &a[0], &b[0], a[1:], b[1:]
		}
		if err := fn(x, y); err != nil {
			return err
		}
	}
	return nil
}

// WithEntries returns the directory at dir with each of entries set under
// its name, exactly as given: no version vector is bumped and nothing is
// signed. Its owner, seq and prev are kept and its signature dropped; the
// caller signs an owned result before PutDirectory. Tree nodes are
// written as needed, the directory node itself is not. The entries must be
// valid (acerr.Invalid otherwise) and their names unique. The result is
// canonical: the same entries give the same directory whatever the order
// of the changes.
func (t *Tree) WithEntries(ctx context.Context, dir cid.Cid, entries []schema.Entry) (*schema.Directory, error) {
	const op = "tree.WithEntries"
	for i := range entries {
		if err := schema.ValidEntry(&entries[i]); err != nil {
			return nil, wrap(op, entries[i].Name, err)
		}
	}
	d, err := t.readDirectory(ctx, dir)
	if err != nil {
		return nil, wrap(op, "", err)
	}
	if d, err = t.setEntries(ctx, d, entries); err != nil {
		return nil, wrap(op, "", err)
	}
	return d, nil
}
