package dirbench

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
	"strings"

	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

// Prolly is a prolly tree over a directory's entries sorted by name:
// content-defined chunking of the sorted list into leaves, then of the
// leaves' (first name, link) pairs into inner nodes, level by level, until
// one node is left, the root.
//
// Whether a node ends after an item depends only on the item's name and
// on the bytes of the items before it in the node (boundary), so the
// chunking of a sorted list is a function of the list: the same entries
// give the same nodes in any insertion order, and a change moves the
// boundaries after it only until the new chunking meets an old boundary
// again, usually within the node it is in. Names are hashed with
// sha2-256, so the boundaries cannot be steered without grinding names,
// and a node is cut at MaxNode bytes whatever the names say.
//
// Leaves are the Codec's leaf encoding; inner nodes are
// {"level": L, "children": [[first name, link], ...]}.
type Prolly struct {
	Codec  Codec
	Target int // the scale of leaf sizes in bytes: leaves average about 0.9 of it
	// Inner is Target for inner nodes. An inner node's item, a name and a
	// link, is about 55 bytes, so an inner node of Target bytes has many
	// children and a change rewrites all of them; a smaller Inner trades
	// that for more levels. Zero means Target.
	Inner int
}

func (p Prolly) target(level int) uint64 {
	if level > 0 && p.Inner > 0 {
		return uint64(p.Inner)
	}
	return uint64(p.Target)
}

// MaxNode is the size at which a prolly node is cut whatever the hashes
// say, as a multiple of the level's target.
const MaxNode = 4

func (p Prolly) Name() string {
	return fmt.Sprintf("prolly tree, %s leaves, %s inner, %s", kib(p.Target), kib(int(p.target(1))), p.Codec.Name())
}

// boundary reports whether a node at level ends after an item of size
// bytes named key, with before bytes of items ahead of it in the node.
//
// The chance of a boundary grows with the node's size: the item ends the
// node with probability ((before+size)³ − before³) / t³, t the level's
// target (Target or Inner), so node
// sizes follow roughly a Weibull distribution of shape 3 (few small or
// large nodes) rather than the geometric one of a fixed chance (many
// tiny nodes and a long tail). Integer arithmetic only: every replica
// must cut in the same places.
func (p Prolly) boundary(level int, key string, before, size int) bool {
	s, e, t := uint64(before), uint64(size), p.target(level)
	if s+e >= MaxNode*t {
		return true
	}
	num, den := (s+e)*(s+e)*(s+e)-s*s*s, t*t*t
	if num >= den {
		return true
	}
	q, _ := bits.Div64(num, 0, den) // num/den as a fraction of 2^64
	h := sha256.Sum256([]byte(key))
	return binary.BigEndian.Uint64(h[8*(level%4):]) < q
}

// item is an entry (level 0) or a link to a child node (above), with the
// bytes it adds to its node.
type item struct {
	key  string
	size int
	e    schema.Entry
	link cid.Cid
}

type pnode struct {
	level int
	items []item
	size  int // encoded bytes
}

func (p Prolly) leafItem(e schema.Entry) item {
	return item{key: e.Name, size: p.Codec.EntrySize(&e), e: e}
}

func childItem(key string, link cid.Cid) item {
	w := &cborWriter{}
	writeChild(w, key, link)
	return item{key: key, size: len(w.buf), link: link}
}

func writeChild(w *cborWriter, key string, link cid.Cid) {
	w.head(majArray, 2)
	w.text(key)
	w.link(link)
}

func (p Prolly) put(ctx context.Context, b Blocks, level int, items []item) (cid.Cid, error) {
	if level == 0 {
		entries := make([]schema.Entry, len(items))
		for i := range items {
			entries[i] = items[i].e
		}
		return putNode(ctx, b, p.Codec.EncodeLeaf(entries))
	}
	w := &cborWriter{}
	w.head(majMap, 2)
	w.text("level")
	w.uint(uint64(level))
	w.text("children")
	w.head(majArray, uint64(len(items)))
	for _, it := range items {
		writeChild(w, it.key, it.link)
	}
	return putNode(ctx, b, w.buf)
}

func (p Prolly) read(ctx context.Context, b Blocks, c cid.Cid) (*pnode, error) {
	data, err := b.Get(ctx, c)
	if err != nil {
		return nil, err
	}
	n := &pnode{size: len(data)}
	r := &cborReader{b: data}
	if r.count(majMap) == 2 && r.peekKey("level") {
		r.key("level")
		n.level = int(r.uint())
		r.key("children")
		n.items = make([]item, r.count(majArray))
		for i := range n.items {
			if r.count(majArray) != 2 && r.err == nil {
				r.fail("child is not a pair")
			}
			key := r.text()
			n.items[i] = childItem(key, r.link())
		}
		if err := r.done(); err != nil || n.level < 1 {
			return nil, fmt.Errorf("prolly node %s: bad inner node: %v", c, err)
		}
		return n, nil
	}
	entries, err := p.Codec.DecodeLeaf(data)
	if err != nil {
		return nil, fmt.Errorf("prolly node %s: %w", c, err)
	}
	n.items = make([]item, len(entries))
	for i, e := range entries {
		n.items[i] = p.leafItem(e)
	}
	return n, nil
}

// chunk cuts items into nodes.
func (p Prolly) chunk(level int, items []item) [][]item {
	var out [][]item
	start, before := 0, 0
	for i, it := range items {
		if p.boundary(level, it.key, before, it.size) {
			out = append(out, items[start:i+1])
			start, before = i+1, 0
		} else {
			before += it.size
		}
	}
	if start < len(items) {
		out = append(out, items[start:])
	}
	return out
}

func (p Prolly) Build(ctx context.Context, b Blocks, entries []schema.Entry) (cid.Cid, error) {
	es := slices.Clone(entries)
	schema.SortEntries(es)
	items := make([]item, len(es))
	for i, e := range es {
		items[i] = p.leafItem(e)
	}
	return p.build(ctx, b, 0, items)
}

// build writes the tree whose level holds items (at least two unless
// level is 0) and returns its root.
func (p Prolly) build(ctx context.Context, b Blocks, level int, items []item) (cid.Cid, error) {
	for {
		chunks := p.chunk(level, items)
		if len(chunks) <= 1 {
			return p.put(ctx, b, level, items)
		}
		next := make([]item, len(chunks))
		for i, ch := range chunks {
			c, err := p.put(ctx, b, level, ch)
			if err != nil {
				return cid.Undef, err
			}
			next[i] = childItem(ch[0].key, c)
		}
		items, level = next, level+1
	}
}

// frame is a node on a path from the root, with the index of the child
// the path takes (or of an item in a leaf).
type frame struct {
	n *pnode
	i int
}

// seek returns the path from the root to the leaf where key is or would be.
func (p Prolly) seek(ctx context.Context, b Blocks, root cid.Cid, key string) ([]frame, error) {
	n, err := p.read(ctx, b, root)
	if err != nil {
		return nil, err
	}
	var path []frame
	for n.level > 0 {
		i, found := slices.BinarySearchFunc(n.items, key, func(it item, k string) int { return strings.Compare(it.key, k) })
		if !found && i > 0 {
			i--
		}
		path = append(path, frame{n, i})
		child, err := p.read(ctx, b, n.items[i].link)
		if err != nil {
			return nil, err
		}
		if child.level != n.level-1 {
			return nil, fmt.Errorf("prolly node %s: level %d under level %d", n.items[i].link, child.level, n.level)
		}
		n = child
	}
	return append(path, frame{n, 0}), nil
}

func (p Prolly) Lookup(ctx context.Context, b Blocks, root cid.Cid, name string) (schema.Entry, bool, error) {
	path, err := p.seek(ctx, b, root, name)
	if err != nil {
		return schema.Entry{}, false, err
	}
	items := path[len(path)-1].n.items
	i, ok := slices.BinarySearchFunc(items, name, func(it item, k string) int { return strings.Compare(it.key, k) })
	if !ok {
		return schema.Entry{}, false, nil
	}
	return items[i].e, true, nil
}

// Set puts e into the tree at root in place of the entry of its name,
// and returns the new root.
func (p Prolly) Set(ctx context.Context, b Blocks, root cid.Cid, e schema.Entry) (cid.Cid, error) {
	return p.edit(ctx, b, root, e.Name, &e)
}

// Remove takes the entry named name out of the tree at root.
func (p Prolly) Remove(ctx context.Context, b Blocks, root cid.Cid, name string) (cid.Cid, error) {
	return p.edit(ctx, b, root, name, nil)
}

// edit rewrites only what a change of one name touches. At each level,
// from the leaf up, it replaces r items at pos of the node on the path
// with the new items x, and chunks again from the start of that node
// (the boundaries before it cannot change), reading the nodes after it
// only until a new boundary falls where an old node ended. The nodes it
// replaced are r items of the level above, the nodes it wrote their new
// items.
func (p Prolly) edit(ctx context.Context, b Blocks, root cid.Cid, name string, e *schema.Entry) (cid.Cid, error) {
	path, err := p.seek(ctx, b, root, name)
	if err != nil {
		return cid.Undef, err
	}
	leaf := path[len(path)-1].n
	pos, found := slices.BinarySearchFunc(leaf.items, name, func(it item, k string) int { return strings.Compare(it.key, k) })
	var x []item
	switch {
	case e != nil:
		x = []item{p.leafItem(*e)}
	case !found:
		return root, nil
	}
	r := btoi(found)
	var last [][]item // the nodes written at the level just done
	for j := len(path) - 1; j >= 0; j-- {
		level := path[j].n.level
		chunks, consumed, err := p.rechunk(ctx, b, slices.Clone(path[:j+1]), pos, r, x)
		if err != nil {
			return cid.Undef, err
		}
		x = x[:0:0]
		for _, ch := range chunks {
			c, err := p.put(ctx, b, level, ch)
			if err != nil {
				return cid.Undef, err
			}
			x = append(x, childItem(ch[0].key, c))
		}
		last = chunks
		if j > 0 {
			pos, r = path[j-1].i, consumed
		}
	}
	top := path[0].n.level
	switch {
	case len(x) == 0:
		return p.put(ctx, b, 0, nil)
	case len(x) > 1:
		return p.build(ctx, b, top+1, x)
	}
	// One node is left at the old root's level: it is the root, unless it
	// is an inner node with one child, which then is.
	root = x[0].link
	for n := (&pnode{level: top, items: last[0]}); n.level > 0 && len(n.items) == 1; {
		root = n.items[0].link
		if n, err = p.read(ctx, b, root); err != nil {
			return cid.Undef, err
		}
	}
	return root, nil
}

// rechunk chunks the level of path's last node again from that node's
// start, with r items at pos replaced by x, and returns the new nodes and
// how many old nodes of the level they replace.
func (p Prolly) rechunk(ctx context.Context, b Blocks, path []frame, pos, r int, x []item) ([][]item, int, error) {
	j := len(path) - 1
	level := path[j].n.level
	var out [][]item
	var cur []item
	before := 0
	feed := func(it item) {
		cur = append(cur, it)
		if p.boundary(level, it.key, before, it.size) {
			out, cur, before = append(out, cur), nil, 0
		} else {
			before += it.size
		}
	}
	old := path[j].n.items
	for _, it := range old[:pos] {
		feed(it)
	}
	for _, it := range x {
		feed(it)
	}
	k, skip, consumed := pos, r, 1
	for {
		for ; skip > 0 && k < len(old); skip-- {
			k++
		}
		if k < len(old) {
			feed(old[k])
			k++
			continue
		}
		if skip == 0 && len(cur) == 0 {
			break // a new boundary where an old node ended: the rest is as it was
		}
		more, err := p.next(ctx, b, path, j)
		if err != nil {
			return nil, 0, err
		}
		if !more {
			break
		}
		old, k, consumed = path[j].n.items, 0, consumed+1
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out, consumed, nil
}

// next moves path[j] to the next node of its level, reporting false at
// the end of the level.
func (p Prolly) next(ctx context.Context, b Blocks, path []frame, j int) (bool, error) {
	if j == 0 {
		return false, nil
	}
	parent := &path[j-1]
	if parent.i++; parent.i == len(parent.n.items) {
		if more, err := p.next(ctx, b, path, j-1); !more || err != nil {
			return false, err
		}
	}
	n, err := p.read(ctx, b, parent.n.items[parent.i].link)
	if err != nil {
		return false, err
	}
	path[j] = frame{n, 0}
	return true, nil
}

// Diff counts the names whose entries differ between the trees at x and
// y. It walks both in name order as two streams of entries and unread
// subtrees: equal subtrees are skipped, and a subtree is read only when
// the other side's next item begins at or before it.
func (p Prolly) Diff(ctx context.Context, b Blocks, x, y cid.Cid) (int, error) {
	if x.Equals(y) {
		return 0, nil
	}
	type elem struct {
		key   string
		level int // of the subtree
		link  cid.Cid
		e     *schema.Entry
	}
	var sx, sy []elem // stacks: the next item is last
	expand := func(s *[]elem, link cid.Cid) error {
		n, err := p.read(ctx, b, link)
		if err != nil {
			return err
		}
		for i := len(n.items) - 1; i >= 0; i-- {
			it := &n.items[i]
			if n.level == 0 {
				*s = append(*s, elem{key: it.key, e: &it.e})
			} else {
				*s = append(*s, elem{key: it.key, level: n.level - 1, link: it.link})
			}
		}
		return nil
	}
	if err := expand(&sx, x); err != nil {
		return 0, err
	}
	if err := expand(&sy, y); err != nil {
		return 0, err
	}
	pop := func(s *[]elem) elem { h := (*s)[len(*s)-1]; *s = (*s)[:len(*s)-1]; return h }
	// one takes the next item of s: an entry only s has, or a subtree to read.
	one := func(s *[]elem) (int, error) {
		if h := pop(s); h.e == nil {
			return 0, expand(s, h.link)
		}
		return 1, nil
	}
	n := 0
	for len(sx) > 0 || len(sy) > 0 {
		var d int
		var err error
		switch {
		case len(sy) == 0:
			d, err = one(&sx)
		case len(sx) == 0:
			d, err = one(&sy)
		default:
			hx, hy := sx[len(sx)-1], sy[len(sy)-1]
			switch {
			case hx.e == nil && hy.e == nil && hx.link.Equals(hy.link):
				pop(&sx)
				pop(&sy)
			case hx.e != nil && hy.e != nil:
				switch c := strings.Compare(hx.key, hy.key); {
				case c < 0:
					d, err = one(&sx)
				case c > 0:
					d, err = one(&sy)
				default:
					pop(&sx)
					pop(&sy)
					d = 1 - btoi(schema.SameEntry(hx.e, hy.e))
				}
			case hx.key < hy.key || (hx.key == hy.key && hx.e == nil && (hy.e != nil || hx.level >= hy.level)):
				d, err = one(&sx)
			default:
				d, err = one(&sy)
			}
		}
		if err != nil {
			return 0, err
		}
		n += d
	}
	return n, nil
}

func (p Prolly) Walk(ctx context.Context, b Blocks, root cid.Cid, fn func(c cid.Cid, size, depth int) bool) error {
	return p.walk(ctx, b, root, 0, fn)
}

func (p Prolly) walk(ctx context.Context, b Blocks, c cid.Cid, depth int, fn func(c cid.Cid, size, depth int) bool) error {
	n, err := p.read(ctx, b, c)
	if err != nil {
		return err
	}
	if !fn(c, n.size, depth) || n.level == 0 {
		return nil
	}
	for _, it := range n.items {
		if err := p.walk(ctx, b, it.link, depth+1, fn); err != nil {
			return err
		}
	}
	return nil
}
