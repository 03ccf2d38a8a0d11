package home

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strconv"
	"sync"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/ipfsstore/car"
	"github.com/archivecache/archivecache/ipfsstore/unixfs"
	"github.com/archivecache/archivecache/progress"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// Exported says what Export wrote.
type Exported struct {
	Root   cid.Cid
	Blocks int
	Bytes  int64
}

// Export writes the entry at p (usually "node", my published node) to w
// as a CAR v1 file whose one root is the entry's CID, holding every block
// reachable from it, each once: for a node, the node block, its owner's
// identity, its earlier versions and its whole filesystem (every
// directory and shard block, every file's UnixFS blocks, the targets of
// conflicting versions and of tombstones). Identity blocks (owner, by)
// and earlier versions (prev) that the store does not hold are left out;
// any other missing block is an error naming its CID, and the output is
// then incomplete.
//
// o.Since, when defined, is what the receiver holds: usually the node or
// root sent last time, so that an update carries only what changed
// since. The export walks the two trees side by side, place by place (a
// node's root, a directory's entries by name, a shard's children by
// index, a file's blocks by position; schema.Link.Place), and leaves out
// since itself, every subtree where both hold the same block, and every
// block that a block of since it read there links. So its cost follows
// the difference, not the size of the tree; a block that since holds only
// at another place (a file moved to another directory) is sent again, as
// git's sparse push does. A block of since that the store lacks is left
// out itself, and nothing is paired below it.
func (h *Home) Export(ctx context.Context, w io.Writer, p string, o ExportOptions) (Exported, error) {
	head, err := h.Get()
	if err != nil {
		return Exported{}, err
	}
	t := h.Tree(cid.Undef)
	ent, err := t.Lookup(ctx, head, p)
	if err != nil {
		return Exported{}, err
	}
	if o.Progress != nil && !o.Since.Defined() {
		// The walk that counts the totals goes on beside the export,
		// which waits for it (it is the cheaper of the two).
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var wg sync.WaitGroup
		defer wg.Wait()
		wg.Go(func() { t.CountFiles(cctx, head, p, ent, o.Progress) })
	}
	return WriteCAR(ctx, w, h.Store, p, ent.Target, ent.Kind, o)
}

// ExportOptions say what an export leaves out and how it reports.
type ExportOptions struct {
	// Since, when defined, is what the receiver holds (see Export).
	Since cid.Cid
	// Progress, if not nil, counts the files written and the bytes of
	// their content (not of the CAR: a CAR of many small files is
	// mostly names), of the totals a walk beside counts when there is no
	// Since. A file whose content is written already counts at once.
	Progress *progress.Counter
}

// WriteCAR writes the DAG under root, a block of kind (a node kind, or
// schema.KindFile for a file's UnixFS root), from store to w as Export
// does; name names root in errors.
func WriteCAR(ctx context.Context, w io.Writer, store ipfsstore.Store, name string, root cid.Cid, kind schema.Kind, o ExportOptions) (Exported, error) {
	x := &dagExport{ctx: ctx, store: store, path: name, tree: tree.New(store, tree.Config{NodeCache: 1024}), progress: o.Progress}
	since := o.Since
	if err := x.write(w, dagLink{c: root, kind: kind}, since); err != nil {
		return Exported{}, err
	}
	return Exported{Root: root, Blocks: x.blocks, Bytes: x.bytes}, nil
}

// Import reads a CAR file (v1, or v2: the v1 inside it) from r, checks
// every block's bytes against its CID, stores the blocks, and returns the
// CAR's roots. Blocks under an identity CID are checked and not stored:
// their CID holds them. It trusts
// nothing and changes nothing (HEAD, friends and nodes stay as they
// are), so it works on a damaged home too: Open the store alone with
// OpenStore. Bad input is refused at the first bad section; the blocks
// before it stay stored, unreferenced. A root that is neither in the CAR
// nor already in the store is an error.
func Import(ctx context.Context, st ipfsstore.Store, r io.Reader) ([]cid.Cid, error) {
	cr, err := car.NewReader(r)
	if err != nil {
		return nil, err
	}
	for {
		c, data, err := cr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if _, inline := unixfs.Inline(c); inline {
			continue
		}
		if c.Type() == cid.DagCBOR && schema.OldFormat(data) {
			_, err := schema.Decode(data)
			return nil, acerr.E("import", "", acerr.Invalid, err).WithCID(c.String())
		}
		if err := st.Put(ctx, c, data); err != nil {
			return nil, err
		}
	}
	if s, ok := st.(ipfsstore.Syncer); ok {
		if err := s.Sync(ctx); err != nil {
			return nil, err
		}
	}
	roots := cr.Roots()
	for _, r := range roots {
		if _, inline := unixfs.Inline(r); inline {
			continue
		}
		held, err := st.Has(ctx, r)
		if err != nil {
			return nil, err
		}
		if !held {
			return nil, acerr.E("import", "", acerr.NotExist, errors.New("root is neither in the CAR nor in the store")).WithCID(r.String())
		}
	}
	return roots, nil
}

// dagLink is one link to follow: the CID, what the block must be (a node
// kind; schema.KindFile for a block of a UnixFS file; "" for anything),
// whether it may be absent, and the block that links it.
type dagLink struct {
	c        cid.Cid
	kind     schema.Kind
	optional bool
	from     cid.Cid
	place    string // schema.Link.Place, or a UnixFS link's index
	size     uint64 // a file's, linked from its entry: schema.Link.Size
	chunk    bool   // a block inside a UnixFS file, not its root
}

// dagExport walks the DAG under a root and writes it as a CAR, leaving
// out what an older root holds at the same places.
type dagExport struct {
	ctx   context.Context
	store ipfsstore.Store
	path  string // for errors

	old  blockSet   // blocks of --since: those read, and what they link
	seen blockSet   // blocks written
	tree *tree.Tree // reads the directories of --since

	// The last entry of --since looked up by name (entryPartner).
	lastDir  cid.Cid
	lastName string
	lastOld  map[string]cid.Cid

	blocks   int
	bytes    int64
	progress *progress.Counter
}

func (x *dagExport) fail(err error) error { return acerr.E("export", x.path, acerr.Other, err) }

// A blockSet is a set of CIDs that holds the usual one (a sha2-256
// multihash under a codec below 256) in 33 bytes of a flat table, with
// no allocation and no pointer of its own, so that an export of a
// million blocks remembers them in about 45 MiB that the garbage
// collector does not scan; any other CID is kept whole in a map.
//
// The flat table is split by the digest's first byte into parts, each an
// open-addressing table (linear probing) grown by half when it is 7/8
// full: growing copies one part, so the set never holds two copies of
// itself, as a growing map does.
type blockSet struct {
	sha   *[256]shortPart
	other map[string]struct{}
}

// shortPart is one part of a blockSet: slots of a codec byte and a
// digest, and a bit for each slot that is used.
type shortPart struct {
	slots []byte
	used  []uint64
	n     int
}

const shortKey = 33

func newBlockSet() blockSet {
	return blockSet{sha: new([256]shortPart), other: map[string]struct{}{}}
}

// short is c's codec and sha2-256 digest, if it has them.
func (s blockSet) short(c cid.Cid) ([33]byte, bool) {
	var k [33]byte
	p := c.Prefix()
	b := c.KeyString()
	if p.Version != 1 || p.Codec > 0xff || p.MhType != multihash.SHA2_256 || p.MhLength != 32 || len(b) < 32 {
		return k, false
	}
	k[0] = byte(p.Codec)
	copy(k[1:], b[len(b)-32:])
	return k, true
}

// find returns the slot of k in the part, or the free slot where it
// would go; capacity must be above zero.
func (p *shortPart) find(k *[33]byte) (int, bool) {
	nslots := uint64(len(p.used)) * 64
	hi, _ := bits.Mul64(binary.LittleEndian.Uint64(k[2:10]), nslots) // the digest is uniform
	for i := hi; ; i++ {
		if i == nslots {
			i = 0
		}
		if p.used[i/64]&(1<<(i%64)) == 0 {
			return int(i), false
		}
		if [33]byte(p.slots[i*shortKey:(i+1)*shortKey]) == *k {
			return int(i), true
		}
	}
}

func (p *shortPart) has(k *[33]byte) bool {
	if p.n == 0 {
		return false
	}
	_, in := p.find(k)
	return in
}

func (p *shortPart) add(k *[33]byte) {
	if (p.n+1)*8 > len(p.used)*64*7 {
		p.grow()
	}
	i, in := p.find(k)
	if in {
		return
	}
	copy(p.slots[i*shortKey:], k[:])
	p.used[i/64] |= 1 << (i % 64)
	p.n++
}

// grow makes the part half as big again and puts its keys back.
func (p *shortPart) grow() {
	old, oldUsed := p.slots, p.used
	words := max(1, len(oldUsed)+(len(oldUsed)+1)/2)
	p.slots, p.used, p.n = make([]byte, words*64*shortKey), make([]uint64, words), 0
	for w, bitsOf := range oldUsed {
		for bitsOf != 0 {
			i := w*64 + bits.TrailingZeros64(bitsOf)
			bitsOf &= bitsOf - 1
			p.add((*[33]byte)(old[i*shortKey : (i+1)*shortKey]))
		}
	}
}

func (s blockSet) add(c cid.Cid) {
	if k, ok := s.short(c); ok {
		s.sha[k[1]].add(&k)
	} else {
		s.other[c.KeyString()] = struct{}{}
	}
}

func (s blockSet) has(c cid.Cid) bool {
	if k, ok := s.short(c); ok {
		return s.sha[k[1]].has(&k)
	}
	_, in := s.other[c.KeyString()]
	return in
}

// shortLen is the number of CIDs held in 33 bytes.
func (s blockSet) shortLen() int {
	n := 0
	for i := range s.sha {
		n += s.sha[i].n
	}
	return n
}

// pending is a block to write, the block of --since at its place, and
// for a node of a directory's tree the directory of --since at its place,
// in which its entries are found by name: the two trees may be cut
// differently (one inline, the other not), so their entries need not
// sit at the same places.
type pending struct {
	l      dagLink
	old    cid.Cid
	oldDir cid.Cid
}

// write writes the CAR rooted at root to w: the blocks in depth-first
// order, each once, none that since holds at the same place.
func (x *dagExport) write(w io.Writer, root dagLink, since cid.Cid) error {
	cw, err := car.NewWriter(w, []cid.Cid{root.c})
	if err != nil {
		return x.fail(err)
	}
	x.seen, x.old = newBlockSet(), newBlockSet()
	if since.Defined() {
		x.old.add(since)
	}
	absent := make(map[string]struct{}) // optional blocks found missing
	stack := []pending{{l: root, old: since}}
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		l := p.l
		key := l.c.KeyString()
		if x.seen.has(l.c) {
			x.countFile(l, nil)
			continue
		}
		if x.old.has(l.c) {
			continue
		}
		if err := x.ctx.Err(); err != nil {
			return x.fail(err)
		}
		if _, ok := absent[key]; ok && l.optional {
			continue
		}
		if l.optional {
			held, err := x.store.Has(x.ctx, l.c)
			if err != nil {
				return x.fail(err)
			}
			if !held {
				// Not seen: a link that requires it still fails.
				absent[key] = struct{}{}
				continue
			}
		}
		x.seen.add(l.c)
		data, err := x.store.Get(x.ctx, l.c)
		if err != nil {
			if l.from.Defined() {
				err = fmt.Errorf("block linked from %s: %w", l.from, err)
			}
			return x.fail(err)
		}
		links, err := blockLinks(l, data)
		if err != nil {
			return x.fail(err)
		}
		if err := cw.Put(l.c, data); err != nil {
			return x.fail(err)
		}
		x.blocks++
		x.countFile(l, data)
		var partner map[string]cid.Cid
		if p.old.Defined() {
			if partner, err = x.partner(l, p.old); err != nil {
				return x.fail(err)
			}
		}
		var dir cid.Cid // the directory of --since where this block's entries are
		switch l.kind {
		case schema.KindDirectory:
			dir = p.old
		case schema.KindDirNode:
			dir = p.oldDir
		}
		for i := len(links) - 1; i >= 0; i-- {
			ln := links[i]
			if x.seen.has(ln.c) {
				x.countFile(ln, nil)
				continue
			}
			old := partner[ln.place]
			if !old.Defined() && dir.Defined() && ln.kind != schema.KindDirNode {
				if old, err = x.entryPartner(dir, ln.place); err != nil {
					return x.fail(err)
				}
			}
			next := pending{l: ln, old: old}
			if ln.kind == schema.KindDirNode {
				next.oldDir = dir
			}
			stack = append(stack, next)
		}
	}
	if err := cw.Flush(); err != nil {
		return x.fail(err)
	}
	x.bytes = cw.Size()
	return nil
}

// countFile counts into the progress counter the block of l, written
// with data or written before (data nil): a file's root is a file done,
// written before with the size its entry states; a raw block written is
// its bytes of content.
func (x *dagExport) countFile(l dagLink, data []byte) {
	if x.progress == nil || l.kind != schema.KindFile {
		return
	}
	if !l.chunk {
		x.progress.Add(1, 0)
		if data == nil {
			x.progress.Add(0, int64(l.size))
		}
	}
	if data != nil && l.c.Type() == cid.Raw {
		x.progress.Add(0, int64(len(data)))
	}
}

// partner reads old, the block of --since at the place of l, notes it
// and what it links as held by the receiver, and returns its links by
// place. A node paired with a directory (a node exported since a root)
// pairs its root with it. A block of --since that the store lacks pairs
// nothing.
func (x *dagExport) partner(l dagLink, old cid.Cid) (map[string]cid.Cid, error) {
	x.old.add(old)
	if old.Type() == cid.Raw {
		return nil, nil
	}
	data, err := x.store.Get(x.ctx, old)
	if acerr.Is(acerr.NotExist, err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	links, err := blockLinks(dagLink{c: old}, data)
	if err != nil {
		return nil, err
	}
	out := make(map[string]cid.Cid, len(links))
	for _, ol := range links {
		x.old.add(ol.c)
		out[ol.place] = ol.c
	}
	if l.kind == schema.KindNode && old.Type() == cid.DagCBOR {
		if n, err := schema.Decode(data); err == nil && n.Kind() == schema.KindDirectory {
			return map[string]cid.Cid{"root": old}, nil
		}
	}
	return out, nil
}

// entryPartner returns the link at place (an entry's, schema.Link.Place)
// of the entry of the same name in dir, a directory of --since, and
// notes it as held by the receiver; undefined if there is none.
func (x *dagExport) entryPartner(dir cid.Cid, place string) (cid.Cid, error) {
	name, ok := schema.PlaceName(place)
	if !ok {
		return cid.Undef, nil
	}
	if !dir.Equals(x.lastDir) || name != x.lastName {
		e, err := x.tree.DirEntry(x.ctx, dir, name)
		if acerr.Is(acerr.NotExist, err) || acerr.Is(acerr.NotDir, err) {
			e, err = nil, nil
		}
		if err != nil {
			return cid.Undef, err
		}
		x.lastDir, x.lastName, x.lastOld = dir, name, map[string]cid.Cid{}
		if e != nil {
			for _, ol := range schema.Links(&schema.Directory{Entries: []schema.Entry{*e}}) {
				x.lastOld[ol.Place] = ol.CID
			}
		}
	}
	old := x.lastOld[place]
	if old.Defined() {
		x.old.add(old)
	}
	return old, nil
}

// blockLinks decodes data, the block l leads to, checks that it is what
// l says, and returns its links in order.
func blockLinks(l dagLink, data []byte) ([]dagLink, error) {
	linkedAs := func() string {
		if l.from.Defined() {
			return fmt.Sprintf(" (linked from %s as %s)", l.from, l.kind)
		}
		return ""
	}
	switch l.c.Type() {
	case cid.DagCBOR:
		if l.kind == schema.KindFile {
			return nil, acerr.E("", "", acerr.Invalid, fmt.Errorf("block %s%s is dag-cbor, not part of a UnixFS file", l.c, linkedAs()))
		}
		n, err := schema.Decode(data)
		if err != nil {
			return nil, fmt.Errorf("block %s%s: %w", l.c, linkedAs(), err)
		}
		if l.kind != "" && n.Kind() != l.kind {
			return nil, acerr.E("", "", acerr.Invalid, fmt.Errorf("block %s%s is %s", l.c, linkedAs(), n.Kind().Noun()))
		}
		return nodeLinks(n, l.c), nil
	case cid.Raw, cid.DagProtobuf:
		if l.kind != "" && l.kind != schema.KindFile {
			return nil, acerr.E("", "", acerr.Invalid, fmt.Errorf("block %s%s is part of a UnixFS file", l.c, linkedAs()))
		}
		cs, err := unixfs.Links(l.c, data)
		if err != nil {
			return nil, err
		}
		out := make([]dagLink, len(cs))
		for i, c := range cs {
			out[i] = dagLink{c: c, kind: schema.KindFile, from: l.c, place: strconv.Itoa(i), chunk: true}
		}
		return out, nil
	}
	return nil, acerr.E("", "", acerr.Invalid, fmt.Errorf("block %s%s has codec 0x%x, not one of ArchiveCache's", l.c, linkedAs(), l.c.Type()))
}

// nodeLinks returns the links of node n, whose CID is from, in the order
// an export writes them (schema.Links): links to identities (owner, by)
// and to earlier versions (prev) are optional.
func nodeLinks(n schema.Object, from cid.Cid) []dagLink {
	ls := schema.Links(n)
	out := make([]dagLink, len(ls))
	for i, l := range ls {
		out[i] = dagLink{c: l.CID, kind: l.Kind, optional: l.Role == schema.LinkIdentity || l.Role == schema.LinkHistory, from: from, place: l.Place, size: l.Size}
	}
	return out
}
