package tree

import (
	"context"
	"slices"

	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

// ReadDirectory reads and checks the directory node at c (its entries,
// or the link to its shard trie). The undefined CID reads as the empty
// shared directory.
func (t *Tree) ReadDirectory(ctx context.Context, c cid.Cid) (*schema.Directory, error) {
	d, _, err := t.readDirectory(ctx, c)
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

// Diff calls fn, in no set order, for every name whose entry differs
// between the directories a and b (tombstones and conflicts count; nil
// where a directory lacks the name). Equal directories, and equal
// subtrees of two shard tries, are skipped without being read, so the
// blocks read are those on the paths to the differences.
func (t *Tree) Diff(ctx context.Context, a, b cid.Cid, fn func(name string, ea, eb *schema.Entry) error) error {
	const op = "tree.Diff"
	if a.Equals(b) {
		return nil
	}
	da, _, err := t.readDirectory(ctx, a)
	if err != nil {
		return wrap(op, "", err)
	}
	db, _, err := t.readDirectory(ctx, b)
	if err != nil {
		return wrap(op, "", err)
	}
	switch {
	case da.Shard.Defined() && db.Shard.Defined():
		if da.Shard.Equals(db.Shard) {
			return nil
		}
		na, err := t.readShard(ctx, da.Shard, 0, nil, 0, false)
		if err != nil {
			return wrap(op, "", err)
		}
		nb, err := t.readShard(ctx, db.Shard, 0, nil, 0, false)
		if err != nil {
			return wrap(op, "", err)
		}
		var prefix [32]byte
		if err := t.diffShards(ctx, na, nb, 0, &prefix, fn); err != nil {
			return wrap(op, "", err)
		}
		return nil
	}
	ea, err := t.dirEntries(ctx, da)
	if err != nil {
		return wrap(op, "", err)
	}
	eb, err := t.dirEntries(ctx, db)
	if err != nil {
		return wrap(op, "", err)
	}
	return diffSorted(ea, eb, fn)
}

// dirEntries returns every entry of d, sorted by name.
func (t *Tree) dirEntries(ctx context.Context, d *schema.Directory) ([]schema.Entry, error) {
	if !d.Shard.Defined() {
		return d.Entries, nil
	}
	return t.readShardEntries(ctx, d.Shard)
}

// diffShards compares two shard nodes at the same depth and prefix.
func (t *Tree) diffShards(ctx context.Context, a, b *shardNode, depth int, prefix *[32]byte,
	fn func(name string, ea, eb *schema.Entry) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if a.leaf() || b.leaf() {
		ea, err := t.gather(ctx, a, depth, prefix, nil)
		if err != nil {
			return err
		}
		eb, err := t.gather(ctx, b, depth, prefix, nil)
		if err != nil {
			return err
		}
		schema.SortEntries(ea)
		schema.SortEntries(eb)
		return diffSorted(ea, eb, fn)
	}
	ca, cb := a.s.Children, b.s.Children
	for len(ca) > 0 || len(cb) > 0 {
		var x, y *schema.ShardChild
		switch {
		case len(cb) == 0 || len(ca) > 0 && ca[0].Index < cb[0].Index:
			x, ca = &ca[0], ca[1:]
		case len(ca) == 0 || cb[0].Index < ca[0].Index:
			y, cb = &cb[0], cb[1:]
		default:
			x, y, ca, cb = &ca[0], &cb[0], ca[1:], cb[1:]
		}
		if x != nil && y != nil && x.Link.Equals(y.Link) {
			continue
		}
		var err error
		na, nb := &shardNode{s: &schema.Shard{Depth: depth + 1}}, &shardNode{s: &schema.Shard{Depth: depth + 1}}
		if x != nil {
			prefix[depth] = byte(x.Index)
			if na, err = t.readShard(ctx, x.Link, depth+1, prefix[:depth+1], x.Bytes, true); err != nil {
				return err
			}
		}
		if y != nil {
			prefix[depth] = byte(y.Index)
			if nb, err = t.readShard(ctx, y.Link, depth+1, prefix[:depth+1], y.Bytes, true); err != nil {
				return err
			}
		}
		if err := t.diffShards(ctx, na, nb, depth+1, prefix, fn); err != nil {
			return err
		}
	}
	return nil
}

// diffSorted calls fn for the names whose entries differ in two lists
// sorted by name.
func diffSorted(a, b []schema.Entry, fn func(name string, ea, eb *schema.Entry) error) error {
	return zipByName(a, b, func(x, y *schema.Entry) error {
		switch {
		case x == nil:
			return fn(y.Name, nil, y)
		case y == nil || !schema.SameEntry(x, y):
			return fn(x.Name, x, y)
		}
		return nil
	})
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
// caller signs an owned result before PutDirectory. Shard nodes are
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
	d, _, err := t.readDirectory(ctx, dir)
	if err != nil {
		return nil, wrap(op, "", err)
	}
	if d, err = t.setEntries(ctx, d, entries); err != nil {
		return nil, wrap(op, "", err)
	}
	return d, nil
}

// setEntries returns d with entries set, as WithEntries. A sharded
// directory is changed in one pass over the trie, reading and rewriting
// only the nodes on the hash paths of the entries.
func (t *Tree) setEntries(ctx context.Context, d *schema.Directory, entries []schema.Entry) (*schema.Directory, error) {
	if len(entries) == 0 {
		return d, nil
	}
	if !d.Shard.Defined() {
		return t.layout(ctx, d, mergeSorted(d.Entries, entries))
	}
	root, err := t.readShard(ctx, d.Shard, 0, nil, 0, false)
	if err != nil {
		return nil, err
	}
	items, _ := itemsByHash(entries)
	var prefix [32]byte
	c, total, err := t.setInShard(ctx, root, 0, &prefix, items)
	if err != nil {
		return nil, err
	}
	nd := *d
	nd.Entries, nd.Shard, nd.Sig = nil, c, nil
	if total <= uint64(t.cfg.InlineLimit) {
		// Small enough to go back inline.
		n, err := t.readShard(ctx, c, 0, nil, total, true)
		if err != nil {
			return nil, err
		}
		all, err := t.gather(ctx, n, 0, &prefix, nil)
		if err != nil {
			return nil, err
		}
		schema.SortEntries(all)
		nd.Shard, nd.Entries = cid.Undef, all
	}
	return &nd, nil
}

// setInShard sets items (sorted by hash, names unique) in the subtree n,
// which sits at depth under prefix, and returns the new subtree and the
// summed size of its entries. The result is the canonical subtree of the
// changed set: leaves split when they pass the leaf limit, and a node
// whose entries come to fit in one leaf collapses into it.
func (t *Tree) setInShard(ctx context.Context, n *shardNode, depth int, prefix *[32]byte, items []item) (cid.Cid, uint64, error) {
	if err := ctx.Err(); err != nil {
		return cid.Undef, 0, err
	}
	if n.leaf() {
		entries := n.s.Entries
		set := make([]schema.Entry, len(items))
		for i := range items {
			set[i] = items[i].e
		}
		all, total := itemsByHash(mergeSorted(entries, set))
		c, err := t.buildShard(ctx, all, depth, total)
		return c, total, err
	}
	children := slices.Clone(n.s.Children)
	for i := 0; i < len(items); {
		b := items[i].h[depth]
		j := i
		for j < len(items) && items[j].h[depth] == b {
			j++
		}
		group := items[i:j]
		i = j
		prefix[depth] = b
		k, ok := findChild(children, b)
		var c cid.Cid
		var size uint64
		if ok {
			child, err := t.readShard(ctx, children[k].Link, depth+1, prefix[:depth+1], children[k].Bytes, true)
			if err != nil {
				return cid.Undef, 0, err
			}
			if c, size, err = t.setInShard(ctx, child, depth+1, prefix, group); err != nil {
				return cid.Undef, 0, err
			}
			children[k].Link, children[k].Bytes = c, size
			continue
		}
		for _, it := range group {
			size += it.size
		}
		var err error
		if c, err = t.buildShard(ctx, group, depth+1, size); err != nil {
			return cid.Undef, 0, err
		}
		children = slices.Insert(children, k, schema.ShardChild{Index: int(b), Link: c, Bytes: size})
	}
	var total uint64
	for _, ch := range children {
		total += ch.Bytes
	}
	inner := &shardNode{s: &schema.Shard{Depth: depth, Children: children}, total: total}
	if total <= uint64(t.cfg.LeafLimit) {
		all, err := t.gather(ctx, inner, depth, prefix, nil)
		if err != nil {
			return cid.Undef, 0, err
		}
		schema.SortEntries(all)
		c, err := t.putNode(ctx, &schema.Shard{Depth: depth, Entries: all})
		return c, total, err
	}
	c, err := t.putNode(ctx, inner.s)
	return c, total, err
}

// layout returns d's header with entries (sorted, unique) laid out inline
// or in a new shard trie, as their size requires.
func (t *Tree) layout(ctx context.Context, d *schema.Directory, entries []schema.Entry) (*schema.Directory, error) {
	nd := *d
	nd.Entries, nd.Shard, nd.Sig = nil, cid.Undef, nil
	items, total := itemsByHash(entries)
	if total <= uint64(t.cfg.InlineLimit) {
		nd.Entries = entries
		return &nd, nil
	}
	c, err := t.buildShard(ctx, items, 0, total)
	if err != nil {
		return nil, err
	}
	nd.Shard = c
	return &nd, nil
}

// mergeSorted returns the sorted entries of old with each of set in place
// of the entry of the same name, or inserted.
func mergeSorted(old, set []schema.Entry) []schema.Entry {
	s := append([]schema.Entry(nil), set...)
	schema.SortEntries(s)
	out := make([]schema.Entry, 0, len(old)+len(s))
	for len(old) > 0 || len(s) > 0 {
		switch {
		case len(s) == 0 || len(old) > 0 && old[0].Name < s[0].Name:
			out, old = append(out, old[0]), old[1:]
		case len(old) == 0 || s[0].Name < old[0].Name:
			out, s = append(out, s[0]), s[1:]
		default:
			out, old, s = append(out, s[0]), old[1:], s[1:]
		}
	}
	return out
}
