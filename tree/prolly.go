package tree

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"math/bits"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

// A directory's tree: its entries sorted by name, cut into leaves by
// content, the leaves' first names and links cut into the nodes of level
// 1 the same way, and so on until a level is one node (see doc.go).

// boundary reports whether a node at level ends after an item of size
// bytes named key, with before bytes of items ahead of it in the node.
//
// The chance grows with the node's size: the item ends the node with
// probability ((before+size)³ − before³) / t³, t the level's target, so
// node sizes cluster near t (few small or large nodes, unlike the
// geometric spread of a fixed chance), and a node ends for sure once it
// reaches maxNodeFactor·t: no choice of names makes a large node. An
// inner node ends after its second child at the earliest, so each level
// has at most half the nodes of the one below and a tree of n leaves has
// at most log₂ n levels above them, however large its names.
// Whether the item is a boundary is read from 8 bytes of the sha2-256 of
// its name, another 8 for each level (so a name ground to end a leaf
// does not end its parent too). Integer arithmetic only: every replica
// must cut in the same places.
func (t *Tree) boundary(level int, key string, before, size int) bool {
	s, e, tg := uint64(before), uint64(size), uint64(t.cfg.LeafTarget)
	if level > 0 {
		if before == 0 {
			return false // an inner node holds two children or more
		}
		tg = uint64(t.cfg.InnerTarget)
	}
	if s+e >= maxNodeFactor*tg {
		return true
	}
	num, den := (s+e)*(s+e)*(s+e)-s*s*s, tg*tg*tg
	if num >= den {
		return true
	}
	q, _ := bits.Div64(num, 0, den) // num/den as a fraction of 2^64
	h := sha256.Sum256([]byte(key))
	return binary.BigEndian.Uint64(h[8*(level%4):]) < q
}

// maxNodeFactor is the size, in targets, at which a node ends whatever
// the hashes say.
const maxNodeFactor = 4

// item is one item of a level: an entry (level 0) or a link to a node of
// the level below, under the node's first name, with the bytes it adds
// to its node's encoding.
type item struct {
	key  string
	size int
	e    schema.Entry // level 0
	enc  []byte       // level 0: e's encoding, if at hand
	link cid.Cid      // above
}

// entryItem is the item of an entry to write: encoded once, to measure
// it and to write it.
func entryItem(e schema.Entry) item {
	enc := schema.EncodeEntry(&e)
	return item{key: e.Name, size: len(enc), e: e, enc: enc}
}

// readItem is the item of an entry read: measured only when a cut is
// to be made or checked (sized), not kept encoded.
func readItem(e schema.Entry) item {
	return item{key: e.Name, e: e}
}

// sized returns the bytes it adds to its node, measuring an entry read
// (readItem) now: a comparison or a lookup never needs it.
func (it *item) sized() int {
	if it.size == 0 {
		if it.link.Defined() {
			it.size = schema.DirChildSize(&schema.DirChild{Name: it.key, Link: it.link})
		} else {
			it.size = schema.EntrySize(&it.e)
		}
	}
	return it.size
}

func childItem(key string, link cid.Cid) item {
	return item{key: key, link: link}
}

// pnode is a node of a directory's tree as read, or the inline entries of
// a directory (the one leaf of a small tree).
type pnode struct {
	level int
	items []item
}

func entryItems(entries []schema.Entry) []item {
	items := make([]item, len(entries))
	for i := range entries {
		items[i] = readItem(entries[i])
	}
	return items
}

func nodeItems(n *schema.DirNode) []item {
	if n.Level == 0 {
		return entryItems(n.Entries)
	}
	items := make([]item, len(n.Children))
	for i, c := range n.Children {
		items[i] = childItem(c.Name, c.Link)
	}
	return items
}

// encodeNode returns the DirNode of level holding items.
func encodeNode(level int, items []item) *schema.DirNode {
	n := &schema.DirNode{Level: level}
	if level == 0 {
		n.Entries = make([]schema.Entry, len(items))
		for i := range items {
			n.Entries[i] = items[i].e
		}
		return n
	}
	n.Children = make([]schema.DirChild, len(items))
	for i, it := range items {
		n.Children[i] = schema.DirChild{Name: it.key, Link: it.link}
	}
	return n
}

// readNode reads the tree node at c, which must be at level.
func (t *Tree) readNode(ctx context.Context, c cid.Cid, level int) (*pnode, error) {
	n, _, err := t.getNode(ctx, c)
	if err != nil {
		return nil, err
	}
	s, ok := n.(*schema.DirNode)
	if !ok {
		return nil, fail(acerr.Integrity, "is %s, not %s", n.Kind().Noun(), schema.KindDirNode.Noun()).WithCID(c.String())
	}
	if s.Level != level {
		return nil, fail(acerr.Integrity, "a directory's tree node of level %d where level %d belongs", s.Level, level).WithCID(c.String())
	}
	return &pnode{level: level, items: nodeItems(s)}, nil
}

// rootNode returns the root of d's tree, which d holds: its entries as
// a leaf, or an inner node's children.
func rootNode(d *schema.Directory) *pnode {
	if len(d.Children) > 0 {
		return &pnode{level: d.Level, items: nodeItems(&schema.DirNode{Level: d.Level, Children: d.Children})}
	}
	return &pnode{items: entryItems(d.Entries)}
}

// chunker cuts a level's items into nodes as they are fed in order.
type chunker struct {
	t      *Tree
	level  int
	cur    []item
	before int
	out    [][]item
}

func (c *chunker) feed(it item) {
	if c.cur == nil {
		c.cur = make([]item, 0, 32)
	}
	size := it.sized()
	c.cur = append(c.cur, it)
	if c.t.boundary(c.level, it.key, c.before, size) {
		c.out, c.cur, c.before = append(c.out, c.cur), nil, 0
	} else {
		c.before += size
	}
}

// flush ends the level: what is left is its last node.
func (c *chunker) flush() [][]item {
	if len(c.cur) > 0 {
		c.out, c.cur = append(c.out, c.cur), nil
	}
	return c.out
}

// pending holds the nodes a change made, by CID, until it is known which
// of them the new tree keeps: a node that a later step of the same
// change replaces is never stored.
type pending map[cid.Cid]pendingNode

type pendingNode struct {
	n    *schema.DirNode
	data []byte
}

// add encodes the node of level holding items and returns its item in
// the level above.
func (p pending) add(level int, items []item) (item, error) {
	n := encodeNode(level, items)
	var c cid.Cid
	var data []byte
	if level == 0 {
		encs := make([][]byte, len(items))
		for i := range items {
			if encs[i] = items[i].enc; encs[i] == nil {
				encs[i] = schema.EncodeEntry(&items[i].e)
			}
		}
		c, data = schema.BlockWithEntries(n, encs)
	} else {
		c, data = schema.Block(n)
	}
	if len(data) > schema.MaxBlockSize {
		return item{}, fail(acerr.TooLarge, "a directory's tree node of %d bytes exceeds %d", len(data), schema.MaxBlockSize)
	}
	p[c] = pendingNode{n, data}
	return childItem(items[0].key, c), nil
}

// store writes the pending nodes that root reaches.
func (t *Tree) storePending(ctx context.Context, p pending, root cid.Cid) error {
	pn, ok := p[root]
	if !ok {
		return nil
	}
	delete(p, root) // each once
	for _, ch := range pn.n.Children {
		if err := t.storePending(ctx, p, ch.Link); err != nil {
			return err
		}
	}
	return t.store.Put(ctx, root, pn.data)
}

// getPending reads node c at level, pending or stored.
func (t *Tree) getPending(ctx context.Context, p pending, c cid.Cid, level int) (*pnode, error) {
	if pn, ok := p[c]; ok {
		return &pnode{level: pn.n.Level, items: nodeItems(pn.n)}, nil
	}
	return t.readNode(ctx, c, level)
}

// finish makes the directory of d's header whose tree's top level, at
// level, holds the nodes tops, levels above built as needed, holding
// the root: a single leaf's entries, or an inner node's children (two
// or more). It stores the pending nodes the result keeps.
func (t *Tree) finish(ctx context.Context, d *schema.Directory, p pending, level int, tops [][]item) (*schema.Directory, error) {
	nd := *d
	nd.Level, nd.Entries, nd.Children, nd.Sig = 0, nil, nil, nil
	for len(tops) > 1 {
		if level == schema.MaxLevel {
			return nil, fail(acerr.TooLarge, "a directory's tree passes %d levels", schema.MaxLevel)
		}
		up := &chunker{t: t, level: level + 1}
		for _, items := range tops {
			it, err := p.add(level, items)
			if err != nil {
				return nil, err
			}
			up.feed(it)
		}
		tops, level = up.flush(), level+1
	}
	if len(tops) == 0 {
		return &nd, nil
	}
	top := tops[0]
	// An inner node with one child is not a root: its child's level is
	// one node, and so on down.
	for level > 0 && len(top) == 1 {
		n, err := t.getPending(ctx, p, top[0].link, level-1)
		if err != nil {
			return nil, err
		}
		top, level = n.items, level-1
	}
	if level == 0 {
		nd.Entries = make([]schema.Entry, len(top))
		for i := range top {
			nd.Entries[i] = top[i].e
		}
		return &nd, nil
	}
	root := encodeNode(level, top)
	for _, ch := range root.Children {
		if err := t.storePending(ctx, p, ch.Link); err != nil {
			return nil, err
		}
	}
	nd.Level, nd.Children = level, root.Children
	return &nd, nil
}

// build returns d's header with the tree of entries (sorted by name,
// unique), made from scratch. Large directories are measured and
// encoded on every CPU.
func (t *Tree) build(ctx context.Context, d *schema.Directory, entries []schema.Entry) (*schema.Directory, error) {
	n := len(entries)
	items := make([]item, n)
	workers := min(runtime.GOMAXPROCS(0), max(1, n/parallelMin))
	spread(workers, func(w int) {
		for i := w * n / workers; i < (w+1)*n/workers; i++ {
			items[i] = entryItem(entries[i])
		}
	})
	c := &chunker{t: t}
	for _, it := range items {
		c.feed(it)
	}
	leaves := c.flush()
	if len(leaves) <= 1 || len(leaves) < parallelMin/16 {
		return t.finish(ctx, d, pending{}, 0, leaves)
	}
	// Encode and hash the leaves on every CPU; the levels above are small.
	p := pending{}
	var mu sync.Mutex
	ups := make([]item, len(leaves))
	errs := make([]error, workers)
	spread(workers, func(w int) {
		local := pending{}
		for i := w * len(leaves) / workers; i < (w+1)*len(leaves)/workers && errs[w] == nil; i++ {
			ups[i], errs[w] = local.add(0, leaves[i])
		}
		mu.Lock()
		for c, n := range local {
			p[c] = n
		}
		mu.Unlock()
	})
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	up := &chunker{t: t, level: 1}
	for _, it := range ups {
		up.feed(it)
	}
	return t.finish(ctx, d, p, 1, up.flush())
}

// parallelMin is the least work, in entries, worth spreading over CPUs.
const parallelMin = 4096

// spread runs fn(0), ..., fn(workers-1) concurrently and waits for them.
func spread(workers int, fn func(w int)) {
	if workers <= 1 {
		fn(0)
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { fn(w) })
	}
	wg.Wait()
}

// frame is a node on a path from a tree's root, with the index of the
// child the path takes.
type frame struct {
	n *pnode
	i int
}

// seek returns the path from root to the node at level where key is or
// would be: at each level the last child whose first name is at most
// key, or the first child.
func (t *Tree) seek(ctx context.Context, root *pnode, key string, level int) ([]frame, error) {
	path := []frame{{n: root}}
	for n := root; n.level > level; {
		i, found := slices.BinarySearchFunc(n.items, key, func(it item, k string) int { return strings.Compare(it.key, k) })
		if !found && i > 0 {
			i--
		}
		path[len(path)-1].i = i
		child, err := t.readNode(ctx, n.items[i].link, n.level-1)
		if err != nil {
			return nil, err
		}
		path = append(path, frame{n: child})
		n = child
	}
	return path, nil
}

// nextKey returns the first name of the node after path's last node at
// its level, read from the path alone; false at the end of the level.
func nextKey(path []frame) (string, bool) {
	for j := len(path) - 2; j >= 0; j-- {
		if f := path[j]; f.i+1 < len(f.n.items) {
			return f.n.items[f.i+1].key, true
		}
	}
	return "", false
}

// next moves path to the next node of its last node's level, reporting
// false at the end of the level.
func (t *Tree) next(ctx context.Context, path []frame) (bool, error) {
	j := len(path) - 1
	for j > 0 && path[j-1].i+1 == len(path[j-1].n.items) {
		j--
	}
	if j == 0 {
		return false, nil
	}
	path[j-1].i++
	for ; j < len(path); j++ {
		f := path[j-1]
		n, err := t.readNode(ctx, f.n.items[f.i].link, f.n.level-1)
		if err != nil {
			return false, err
		}
		path[j] = frame{n: n}
	}
	return true, nil
}

// lookupNode finds name in the tree of root, reading the nodes on the
// path to its leaf.
func (t *Tree) lookupNode(ctx context.Context, root *pnode, name string) (*schema.Entry, error) {
	path, err := t.seek(ctx, root, name, 0)
	if err != nil {
		return nil, err
	}
	leaf := path[len(path)-1].n
	if i, ok := slices.BinarySearchFunc(leaf.items, name, func(it item, k string) int { return strings.Compare(it.key, k) }); ok {
		return &leaf.items[i].e, nil
	}
	return nil, nil
}

// eachEntry calls fn for every entry of the tree of root in name order,
// holding one path of nodes at a time.
func (t *Tree) eachEntry(ctx context.Context, root *pnode, fn func(e *schema.Entry) error) error {
	path, err := t.seek(ctx, root, "", 0)
	if err != nil {
		return err
	}
	for {
		for i := range path[len(path)-1].n.items {
			if err := fn(&path[len(path)-1].n.items[i].e); err != nil {
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		more, err := t.next(ctx, path)
		if err != nil || !more {
			return err
		}
	}
}

// edit is a change to one item of a level: set (replacing the item of
// the same key, or inserted) or, with del, removed.
type edit struct {
	it  item
	del bool
}

// setEntries returns d with entries set (replacing the entry of each
// name, or inserted), in one pass over its tree: at each level, from the
// leaves up, the nodes the changes fall in are cut again from their start
// and onwards until a new cut falls where an old node ended; the nodes
// replaced and made are the changes of the level above. So a change
// reads and writes the nodes on the paths to the names it changes and
// little more, and gives the tree a build from scratch gives.
func (t *Tree) setEntries(ctx context.Context, d *schema.Directory, entries []schema.Entry) (*schema.Directory, error) {
	if len(entries) == 0 {
		return d, nil
	}
	root := rootNode(d)
	edits := make([]edit, len(entries))
	for i := range entries {
		edits[i] = edit{it: entryItem(entries[i])}
	}
	slices.SortStableFunc(edits, func(a, b edit) int { return strings.Compare(a.it.key, b.it.key) })
	p := pending{}
	for level := 0; ; level++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		made, gone, err := t.editLevel(ctx, root, level, edits, p)
		if err != nil {
			return nil, err
		}
		if level == root.level {
			return t.finish(ctx, d, p, level, made)
		}
		// The level above: the replaced nodes go, the made ones come.
		edits = edits[:0:0]
		for _, g := range gone {
			edits = append(edits, edit{it: g, del: true})
		}
		for _, items := range made {
			it, err := p.add(level, items)
			if err != nil {
				return nil, err
			}
			edits = append(edits, edit{it: it})
		}
		slices.SortStableFunc(edits, func(a, b edit) int { return strings.Compare(a.it.key, b.it.key) })
		edits = cancelEdits(edits)
		if len(edits) == 0 {
			return d, nil // cannot happen: a set entry changes its leaf
		}
	}
}

// cancelEdits folds edits sorted by key (stably: removals of a key
// before its set) into one per key: a set wins over a removal, and a
// removal and a set of the same item cancel out.
func cancelEdits(edits []edit) []edit {
	out := edits[:0]
	for i := 0; i < len(edits); {
		j := i
		for j < len(edits) && edits[j].it.key == edits[i].it.key {
			j++
		}
		last := edits[j-1]
		if !last.del && slices.ContainsFunc(edits[i:j-1], func(e edit) bool { return e.del && e.it.link.Equals(last.it.link) }) {
			i = j
			continue
		}
		out = append(out, last)
		i = j
	}
	return out
}

// editLevel applies edits (sorted by key, one per key) to the level of
// the tree of root, and returns the nodes it made and the items (in the
// level above) of the old nodes they replace.
func (t *Tree) editLevel(ctx context.Context, root *pnode, level int, edits []edit, p pending) ([][]item, []item, error) {
	var made [][]item
	var gone []item
	for len(edits) > 0 {
		path, err := t.seek(ctx, root, edits[0].it.key, level)
		if err != nil {
			return nil, nil, err
		}
		c := &chunker{t: t, level: level}
		for {
			j := len(path) - 1
			if j > 0 {
				f := path[j-1]
				gone = append(gone, f.n.items[f.i])
			}
			hi, bounded := nextKey(path)
			k := 0
			if bounded {
				k, _ = slices.BinarySearchFunc(edits, hi, func(e edit, key string) int { return strings.Compare(e.it.key, key) })
			} else {
				k = len(edits)
			}
			mergeItems(path[j].n.items, edits[:k], c.feed)
			edits = edits[k:]
			if len(c.cur) == 0 {
				break // a new cut where an old node ended: the rest is as it was
			}
			more, err := t.next(ctx, path)
			if err != nil {
				return nil, nil, err
			}
			if !more {
				break
			}
		}
		made = append(made, c.flush()...)
	}
	return made, gone, nil
}

// mergeItems feeds the items of old (sorted by key) with edits applied.
func mergeItems(old []item, edits []edit, feed func(item)) {
	for len(old) > 0 || len(edits) > 0 {
		switch {
		case len(edits) == 0 || len(old) > 0 && old[0].key < edits[0].it.key:
			feed(old[0])
			old = old[1:]
		default:
			if len(old) > 0 && old[0].key == edits[0].it.key {
				old = old[1:]
			}
			if !edits[0].del {
				feed(edits[0].it)
			}
			edits = edits[1:]
		}
	}
}

// elem is the next thing a stream of a tree gives: an entry, or a
// subtree not yet read.
type elem struct {
	key   string        // the entry's name, or the subtree's first name
	e     *schema.Entry // an entry; nil for a subtree
	link  cid.Cid       // a subtree's root
	level int           // a subtree root's level
	// hi is the first name after the element in the whole tree, when
	// bounded: a subtree's names are below it. An unbounded subtree is
	// the last of its level.
	hi      string
	bounded bool
}

// stream reads a tree in name order, a node at a time.
type stream []elem // the next element is last

// push puts the items of n, which is bounded by hi, in front.
func (s *stream) push(n *pnode, hi string, bounded bool) {
	for i := len(n.items) - 1; i >= 0; i-- {
		it := &n.items[i]
		el := elem{key: it.key, hi: hi, bounded: bounded}
		if i+1 < len(n.items) {
			el.hi, el.bounded = n.items[i+1].key, true
		}
		if n.level == 0 {
			el.e = &it.e
		} else {
			el.link, el.level = it.link, n.level-1
		}
		*s = append(*s, el)
	}
}

func (s stream) head() *elem {
	if len(s) == 0 {
		return nil
	}
	return &s[len(s)-1]
}

func (s *stream) pop() elem {
	h := (*s)[len(*s)-1]
	*s = (*s)[:len(*s)-1]
	return h
}

// zipTrees walks the trees of roots x and y together in name order and
// calls fn for every name either holds, with its entry on each side (nil
// where one lacks it). Subtrees for which same reports true are skipped
// unread on both sides; every other subtree is read, once, when the
// other side's next element begins at or before it. readX, when not nil,
// reads x's subtrees in place of the tree (a Check's reading checks).
func (t *Tree) zipTrees(ctx context.Context, x, y *pnode, same func(x, y *elem) bool,
	readX func(ctx context.Context, el *elem) (*pnode, error), fn func(x, y *schema.Entry) error) error {
	if readX == nil {
		readX = func(ctx context.Context, el *elem) (*pnode, error) { return t.readNode(ctx, el.link, el.level) }
	}
	read := [2]func(context.Context, *elem) (*pnode, error){readX,
		func(ctx context.Context, el *elem) (*pnode, error) { return t.readNode(ctx, el.link, el.level) }}
	var s [2]stream
	s[0].push(x, "", false)
	s[1].push(y, "", false)
	// take takes the next element of side i: an entry only it holds, or
	// a subtree to read.
	take := func(i int) error {
		h := s[i].pop()
		if h.e == nil {
			n, err := read[i](ctx, &h)
			if err != nil {
				return err
			}
			s[i].push(n, h.hi, h.bounded)
			return ctx.Err()
		}
		if i == 0 {
			return fn(h.e, nil)
		}
		return fn(nil, h.e)
	}
	for {
		hx, hy := s[0].head(), s[1].head()
		var err error
		switch {
		case hx == nil && hy == nil:
			return nil
		case hy == nil:
			err = take(0)
		case hx == nil:
			err = take(1)
		case hx.e == nil && hy.e == nil && same(hx, hy):
			s[0].pop()
			s[1].pop()
		case hx.e != nil && hy.e != nil && hx.key == hy.key:
			a, b := s[0].pop(), s[1].pop()
			err = fn(a.e, b.e)
		case hx.key < hy.key:
			err = take(0)
		case hy.key < hx.key:
			err = take(1)
		case hx.e == nil && (hy.e != nil || hx.level >= hy.level):
			err = take(0) // one key: read the higher subtree first
		default:
			err = take(1)
		}
		if err != nil {
			return err
		}
	}
}
