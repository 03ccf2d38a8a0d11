package unixfs

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync/atomic"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// GetFunc returns the bytes of block c, which the caller may keep. They
// must already be known to hash to c: the reader does not hash them again.
// A missing block is the GetFunc's own error, passed on as it is. A
// GetFunc returns promptly once ctx is done, however long the block would
// take to arrive. A File calls its GetFunc from several goroutines at once
// when it reads ahead or serves concurrent ReadAt calls.
type GetFunc func(ctx context.Context, c cid.Cid) ([]byte, error)

// readAhead is how many blocks a File fetches ahead of a sequential
// reader, in parallel: their fetches (a store's Get reads and hashes each
// block) overlap each other and the reader.
const readAhead = 4

// node is one block of a file, decoded: a raw leaf (data is the whole
// block, no links) or a dag-pb file node (its own data, then the children
// whose file sizes are sizes). size is the number of file bytes under it.
type node struct {
	data  []byte
	links []link
	sizes []uint64
	size  uint64
}

// decodeNode decodes block b of CID c as part of a file. It checks
// everything one block can show: the codec, the encoding, the UnixFS type,
// one blocksize per link and a filesize that is the sum of the parts.
// Errors are of kind Invalid (not a file's block, or malformed), IsDir,
// TooLarge (b exceeds schema.MaxForeignBlockSize) or Integrity (sizes that do not add
// up), named by op and c.
func decodeNode(op string, c cid.Cid, b []byte) (node, error) {
	fail := func(kind acerr.Kind, format string, args ...any) (node, error) {
		return node{}, acerr.E(op, "", kind, fmt.Errorf(format, args...)).WithCID(c.String())
	}
	if len(b) > schema.MaxForeignBlockSize {
		return fail(acerr.TooLarge, "block is %d bytes, limit %d", len(b), schema.MaxForeignBlockSize)
	}
	switch c.Type() {
	case cid.Raw:
		return node{data: b, size: uint64(len(b))}, nil
	case cid.DagProtobuf:
	default:
		return fail(acerr.Invalid, "codec 0x%x is not part of a UnixFS file", c.Type())
	}
	pn, err := decodePBNode(b)
	if err != nil {
		return fail(acerr.Invalid, "dag-pb: %v", err)
	}
	if pn.data == nil {
		return fail(acerr.Invalid, "dag-pb node has no UnixFS data")
	}
	fd, err := decodeFSData(pn.data, len(pn.links))
	if err != nil {
		return fail(acerr.Invalid, "UnixFS data: %v", err)
	}
	switch fd.typ {
	case typeFile, typeRaw:
	case typeDirectory, typeHAMTShard:
		return node{}, acerr.E(op, "", acerr.IsDir, nil).WithCID(c.String())
	case typeSymlink:
		return fail(acerr.Invalid, "a symlink, not a file")
	case typeMetadata:
		return fail(acerr.Invalid, "a metadata node, not a file")
	default:
		return fail(acerr.Invalid, "unknown UnixFS type %d", fd.typ)
	}
	if len(fd.blocksizes) != len(pn.links) {
		return fail(acerr.Integrity, "%d links but %d blocksizes", len(pn.links), len(fd.blocksizes))
	}
	size := uint64(len(fd.data))
	for _, s := range fd.blocksizes {
		var ok bool
		if size, ok = addSizes(size, s); !ok {
			return fail(acerr.Integrity, "blocksizes add up to more than %d bytes", int64(math.MaxInt64))
		}
	}
	if fd.hasSize && fd.filesize != size {
		return fail(acerr.Integrity, "filesize %d, but data and blocksizes add up to %d", fd.filesize, size)
	}
	return node{data: fd.data, links: pn.links, sizes: fd.blocksizes, size: size}, nil
}

// FileSize returns the size of the file whose root block, b, has CID c.
// It fails like Open: kind IsDir for a directory, Invalid for anything
// else that is not a UnixFS file.
func FileSize(c cid.Cid, b []byte) (uint64, error) {
	nd, err := decodeNode("unixfs.FileSize", c, b)
	return nd.size, err
}

// Links returns the CIDs of the children of block b, with CID c, of a
// UnixFS file, in order: none for a raw leaf. It decodes b as Open does
// and fails the same way for a block that is not part of a file.
func Links(c cid.Cid, b []byte) ([]cid.Cid, error) {
	nd, err := decodeNode("unixfs.Links", c, b)
	if err != nil {
		return nil, err
	}
	out := make([]cid.Cid, len(nd.links))
	for i, l := range nd.links {
		out[i] = l.cid
	}
	return out, nil
}

// File is an open UnixFS file, read in two ways:
//
//   - ReadAt reads the bytes at an offset with a context of its own. It
//     fetches only the blocks under the range, walking down from the root
//     by the blocksizes, and keeps nothing between calls, so any number of
//     goroutines may call it at once, alongside each other and alongside
//     the methods below. Cancelling its context ends it as soon as the
//     fetch under way returns, and a GetFunc returns at once when its
//     context is done (a fetch from the network included); the error then
//     is the context's.
//   - Read, WriteTo and Seek share a position and are not safe for
//     concurrent use. Blocks are fetched as reading reaches them, using
//     the context given to Open; while the reads are sequential, the next
//     few blocks under the same node are fetched ahead, in parallel.
//
// Seek never fails for a position >= 0, including past the end, where Read
// returns io.EOF; a negative position or an unknown whence is refused and
// the position kept. Seeking only records the position: the next Read
// finds the leaf under it, walking down from the lowest node already
// fetched that covers it and using the blocksizes to choose each child.
type File struct {
	ctx    context.Context
	cancel context.CancelFunc // ends the fetches ahead, at Close
	get    GetFunc
	root   cid.Cid
	top    node // the root block, decoded
	size   uint64
	closed atomic.Bool
	// The state of Read, WriteTo and Seek:
	pos    int64
	path   []frame // the nodes from the root down to the current segment
	seg    []byte  // the current segment: a leaf or a node's own data
	segOff uint64  // file offset of seg[0]
}

// frame is a node on the path to the current segment.
type frame struct {
	node
	off   uint64   // file offset of the node's first byte
	next  int      // the child ahead[0] fetches
	ahead []*fetch // fetches of the children from next on
}

// fetch is a block being fetched ahead.
type fetch struct {
	done chan struct{} // closed when data and err are set
	data []byte
	err  error
}

// take returns the fetch of child i started ahead, if there is one, and
// forgets those before it.
func (fr *frame) take(i int) *fetch {
	for len(fr.ahead) > 0 && fr.next < i {
		fr.ahead, fr.next = fr.ahead[1:], fr.next+1
	}
	if len(fr.ahead) == 0 || fr.next != i {
		fr.ahead, fr.next = nil, i+1
		return nil
	}
	p := fr.ahead[0]
	fr.ahead, fr.next = fr.ahead[1:], fr.next+1
	return p
}

// fetchAhead starts fetching the children after the one last taken, up to
// readAhead of them.
func (f *File) fetchAhead(fr *frame) {
	for len(fr.ahead) < readAhead && fr.next+len(fr.ahead) < len(fr.links) {
		p := &fetch{done: make(chan struct{})}
		c := fr.links[fr.next+len(fr.ahead)].cid
		go func() {
			defer close(p.done)
			p.data, p.err = f.get(f.ctx, c)
		}()
		fr.ahead = append(fr.ahead, p)
	}
}

// Inline returns the block an identity CID holds in its digest (`ipfs add
// --inline`), and whether c is one.
func Inline(c cid.Cid) ([]byte, bool) {
	mh := c.Hash()
	if len(mh) < 2 || mh[0] != multihash.IDENTITY {
		return nil, false
	}
	n, k := binary.Uvarint(mh[1:])
	if k <= 0 || n != uint64(len(mh)-1-k) {
		return nil, false
	}
	return mh[1+k:], true
}

// WithInline returns a GetFunc that answers for identity CIDs itself,
// with the block in the CID, and asks get for the others: a store need
// not hold inlined blocks.
func WithInline(get GetFunc) GetFunc {
	return func(ctx context.Context, c cid.Cid) ([]byte, error) {
		if b, ok := Inline(c); ok {
			return b, nil
		}
		return get(ctx, c)
	}
}

// Open opens the UnixFS file rooted at root, fetching its root block with
// get. A directory gives kind IsDir; a block that is not part of a UnixFS
// file gives kind Invalid.
func Open(ctx context.Context, get GetFunc, root cid.Cid) (*File, error) {
	const op = "unixfs.Open"
	if !root.Defined() {
		return nil, acerr.E(op, "", acerr.Invalid, errors.New("undefined CID"))
	}
	get = WithInline(get)
	b, err := get(ctx, root)
	if err != nil {
		return nil, getError(op, root, err)
	}
	nd, err := decodeNode(op, root, b)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	return &File{ctx: ctx, cancel: cancel, get: get, root: root, top: nd, size: nd.size, path: []frame{{node: nd}}}, nil
}

// Size is the file's length in bytes.
func (f *File) Size() uint64 { return f.size }

// Read reads up to len(p) bytes from the current position.
func (f *File) Read(p []byte) (int, error) {
	const op = "unixfs.Read"
	if err := f.check(op); err != nil {
		return 0, err
	}
	n := 0
	for n < len(p) && uint64(f.pos) < f.size {
		if err := f.locate(op); err != nil {
			return n, err
		}
		m := copy(p[n:], f.seg[uint64(f.pos)-f.segOff:])
		n += m
		f.pos += int64(m)
	}
	if n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

// WriteTo writes the rest of the file to w; io.Copy uses it.
func (f *File) WriteTo(w io.Writer) (int64, error) {
	const op = "unixfs.Read"
	if err := f.check(op); err != nil {
		return 0, err
	}
	var n int64
	for uint64(f.pos) < f.size {
		if err := f.locate(op); err != nil {
			return n, err
		}
		seg := f.seg[uint64(f.pos)-f.segOff:]
		m, err := w.Write(seg)
		n += int64(m)
		f.pos += int64(m)
		if err == nil && m < len(seg) {
			err = io.ErrShortWrite
		}
		if err != nil {
			return n, err
		}
		if err := f.ctx.Err(); err != nil {
			return n, acerr.E(op, "", acerr.Other, err).WithCID(f.root.String())
		}
	}
	return n, nil
}

// ReadAt reads len(p) bytes from offset off into p, as io.ReaderAt does:
// fewer only with an error, io.EOF where the file ends before p is full
// (at or past the end: 0, io.EOF). It fetches the blocks under the range
// with ctx and no others.
func (f *File) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	const op = "unixfs.ReadAt"
	if f.closed.Load() {
		return 0, f.closedError(op)
	}
	if off < 0 {
		return 0, acerr.E(op, "", acerr.Invalid, fmt.Errorf("negative offset %d", off)).WithCID(f.root.String())
	}
	if uint64(off) >= f.size {
		return 0, io.EOF
	}
	if err := ctx.Err(); err != nil {
		return 0, acerr.E(op, "", acerr.Other, err).WithCID(f.root.String())
	}
	want := p[:min(uint64(len(p)), f.size-uint64(off))]
	n, err := f.readAt(ctx, op, &f.top, 0, want, uint64(off))
	if err != nil {
		// Whatever the fetch made of it, a cancelled read says so.
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = acerr.E(op, "", acerr.Other, cerr).WithCID(f.root.String())
		}
		return n, err
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// readAt fills p with the bytes of nd, which is depth blocks below the
// root, from rel (an offset into nd's bytes) on; p must end within nd.
func (f *File) readAt(ctx context.Context, op string, nd *node, depth int, p []byte, rel uint64) (int, error) {
	n := 0
	if rel < uint64(len(nd.data)) {
		n = copy(p, nd.data[rel:])
		rel = uint64(len(nd.data))
	}
	for i, in := nd.childAt(rel); n < len(p); i, in = i+1, 0 {
		if i == len(nd.links) {
			return n, noChild(op, f.root, rel)
		}
		c := nd.links[i].cid
		if depth+1 >= MaxDepth {
			return n, tooDeep(op, c)
		}
		b, err := f.get(ctx, c)
		child, err := decodeChild(op, nd, i, b, err)
		if err != nil {
			return n, err
		}
		m, err := f.readAt(ctx, op, &child, depth+1, p[n:n+int(min(uint64(len(p)-n), nd.sizes[i]-in))], in)
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Seek sets the position for the next Read.
func (f *File) Seek(offset int64, whence int) (int64, error) {
	const op = "unixfs.Seek"
	if f.closed.Load() {
		return 0, f.closedError(op)
	}
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = f.pos + offset
	case io.SeekEnd:
		abs = int64(f.size) + offset
	default:
		return 0, acerr.E(op, "", acerr.Invalid, fmt.Errorf("invalid whence %d", whence)).WithCID(f.root.String())
	}
	if abs < 0 {
		return 0, acerr.E(op, "", acerr.Invalid, fmt.Errorf("negative position %d", abs)).WithCID(f.root.String())
	}
	f.pos = abs
	return abs, nil
}

// Close releases the file's blocks. Later reads fail; Close itself may be
// called again.
func (f *File) Close() error {
	f.closed.Store(true)
	f.path, f.seg = nil, nil
	f.cancel()
	return nil
}

func (f *File) check(op string) error {
	if f.closed.Load() {
		return f.closedError(op)
	}
	if err := f.ctx.Err(); err != nil {
		return acerr.E(op, "", acerr.Other, err).WithCID(f.root.String())
	}
	return nil
}

// locate makes f.seg the segment under f.pos, which is before the end.
func (f *File) locate(op string) error {
	pos := uint64(f.pos)
	if pos >= f.segOff && pos-f.segOff < uint64(len(f.seg)) {
		return nil
	}
	sequential := pos == f.segOff+uint64(len(f.seg))
	// Climb to the lowest node that covers pos; the root covers it all.
	for len(f.path) > 1 {
		top := &f.path[len(f.path)-1]
		if pos >= top.off && pos-top.off < top.size {
			break
		}
		f.path = f.path[:len(f.path)-1]
	}
	for {
		top := &f.path[len(f.path)-1]
		off := top.off
		if pos-off < uint64(len(top.data)) {
			f.seg, f.segOff = top.data, off
			return nil
		}
		i, in := top.childAt(pos - off)
		off = pos - in
		if i == len(top.links) {
			return noChild(op, f.root, pos)
		}
		if len(f.path) >= MaxDepth {
			return tooDeep(op, top.links[i].cid)
		}
		var b []byte
		var err error
		if p := top.take(i); p != nil {
			<-p.done
			b, err = p.data, p.err
		} else {
			b, err = f.get(f.ctx, top.links[i].cid)
		}
		nd, err := decodeChild(op, &top.node, i, b, err)
		if err != nil {
			return err
		}
		if len(nd.links) == 0 {
			// A leaf: the whole node is one segment. Its siblings are
			// likely leaves too, and a sequential reader wants them next.
			if sequential {
				f.fetchAhead(top)
			}
			f.path = append(f.path, frame{node: nd, off: off})
			f.seg, f.segOff = nd.data, off
			return nil
		}
		f.path = append(f.path, frame{node: nd, off: off})
	}
}

// childAt returns the child of nd that holds byte rel of nd, which is past
// nd's own data, and the offset of that byte in the child; len(nd.links)
// if none does.
func (nd *node) childAt(rel uint64) (int, uint64) {
	rel -= uint64(len(nd.data))
	for i, s := range nd.sizes {
		if rel < s {
			return i, rel
		}
		rel -= s
	}
	return len(nd.sizes), rel
}

// decodeChild decodes b, fetched with error err as child i of parent, and
// checks that it holds the file bytes parent's blocksize says.
func decodeChild(op string, parent *node, i int, b []byte, err error) (node, error) {
	c := parent.links[i].cid
	if err != nil {
		return node{}, getError(op, c, err)
	}
	nd, err := decodeNode(op, c, b)
	if err != nil {
		if acerr.Is(acerr.IsDir, err) {
			return node{}, acerr.E(op, "", acerr.Integrity, errors.New("a directory inside a file")).WithCID(c.String())
		}
		return node{}, err
	}
	if nd.size != parent.sizes[i] {
		return node{}, acerr.E(op, "", acerr.Integrity,
			fmt.Errorf("block holds %d file bytes, its parent says %d", nd.size, parent.sizes[i])).WithCID(c.String())
	}
	return nd, nil
}

// noChild is the error of a node none of whose children covers an offset,
// which decodeNode's check that the sizes add up rules out.
func noChild(op string, root cid.Cid, off uint64) error {
	return acerr.E(op, "", acerr.Integrity, fmt.Errorf("no child covers offset %d", off)).WithCID(root.String())
}

// tooDeep is the error of a child more than MaxDepth blocks below the root.
func tooDeep(op string, c cid.Cid) error {
	return acerr.E(op, "", acerr.Integrity, fmt.Errorf("DAG is deeper than %d levels (a cycle?)", MaxDepth)).WithCID(c.String())
}

func (f *File) closedError(op string) error {
	return acerr.E(op, "", acerr.Invalid, os.ErrClosed).WithCID(f.root.String())
}

// getError passes on an *acerr.Error from a GetFunc; anything else is of
// kind IO, except the end of a context.
func getError(op string, c cid.Cid, err error) error {
	var ae *acerr.Error
	if errors.As(err, &ae) {
		return err
	}
	kind := acerr.IO
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		kind = acerr.Other
	}
	return acerr.E(op, "", kind, err).WithCID(c.String())
}
