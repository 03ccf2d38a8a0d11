package ipfsstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/archivecache/archivecache/acerr"
	chunk "github.com/ipfs/boxo/chunker"
	dag "github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/multiformats/go-multihash"
)

// UnixFS import and reading for the stores that hold blocks themselves
// (embedded and memory). The kubo store lets the daemon do both.
//
// Import is boxo's balanced layout over a fixed-size splitter, the layout
// and parameters of `ipfs add --cid-version=1`: 256 KiB chunks as raw
// leaves, at most 174 links per dag-pb node, CIDv1 with sha2-256. Blocks
// reach the store through dagService, a thin ipld.DAGService over the
// store's own methods.

// blockStore is what UnixFS import and reading need from a store.
type blockStore interface {
	Get(ctx context.Context, c cid.Cid) ([]byte, error)
	// putBuilt stores a block that the importer built and hashed in this
	// process a moment ago. The store may skip checking the hash again. It
	// must not keep data: the importer reuses the buffer.
	putBuilt(ctx context.Context, c cid.Cid, data []byte) error
}

// addFile imports r into s as a UnixFS file and returns the root CID and
// the number of bytes read. heads, if not nil, recycles the buffer of the
// first chunk between calls.
//
// A file of at most one chunk is its own raw leaf: the importer would make
// that single block the root. addFile builds it directly, hashing it once and
// without the importer's per-chunk allocation, which is most of the cost
// of importing many small files. Larger files go through boxo's balanced
// importer after the bytes already read.
func addFile(ctx context.Context, s blockStore, r io.Reader, heads *sync.Pool) (cid.Cid, uint64, error) {
	const op = "ipfsstore.AddFile"
	cr := &countingReader{ctx: ctx, r: r}

	var head []byte
	if heads != nil {
		if b, ok := heads.Get().(*[]byte); ok {
			head = *b
			defer heads.Put(b)
		}
	}
	if cap(head) < ChunkSize+1 {
		head = make([]byte, ChunkSize+1)
	}
	head = head[:ChunkSize+1]
	n, err := io.ReadFull(cr, head)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		data := head[:n]
		c, err := cid.V1Builder{Codec: cid.Raw, MhType: multihash.SHA2_256}.Sum(data)
		if err != nil {
			return cid.Undef, 0, acerr.E(op, "", acerr.Other, err)
		}
		if err := s.putBuilt(ctx, c, data); err != nil {
			return cid.Undef, 0, err
		}
		return c, uint64(n), nil
	case err != nil:
		return cid.Undef, 0, acerr.E(op, "", acerr.Other, err)
	}

	spl := &leafSplitter{r: io.MultiReader(bytes.NewReader(head), cr), out: make(map[*byte]bool)}
	params := helpers.DagBuilderParams{
		Maxlinks:   helpers.DefaultLinksPerBlock,
		RawLeaves:  true,
		CidBuilder: cid.V1Builder{Codec: cid.DagProtobuf, MhType: multihash.SHA2_256},
		Dagserv:    &dagService{ctx: ctx, s: s, spl: spl},
	}
	db, err := params.New(spl)
	if err != nil {
		return cid.Undef, 0, acerr.E(op, "", acerr.Other, err)
	}
	nd, err := balanced.Layout(db)
	if err != nil {
		var ae *acerr.Error
		switch {
		case errors.As(err, &ae):
			return cid.Undef, 0, err
		case cr.err != nil:
			// The source failed (or ctx ended); report it as it is.
			return cid.Undef, 0, acerr.E(op, "", acerr.Other, cr.err)
		default:
			return cid.Undef, 0, acerr.E(op, "", acerr.Other, err)
		}
	}
	return nd.Cid(), cr.n, nil
}

// newHeadPool returns a pool of first-chunk buffers for addFile.
func newHeadPool() *sync.Pool {
	return &sync.Pool{New: func() any {
		b := make([]byte, ChunkSize+1)
		return &b
	}}
}

// leafSplitter is the importer's chunker: fixed ChunkSize chunks, the last
// one short, exactly as boxo's size splitter cuts them (so CIDs are the
// same), but into buffers it reuses. A chunk's buffer is handed back by
// dagService.Add once the store has copied the leaf made from it, so a
// large import allocates a few buffers instead of one per chunk, and its
// heap and speed do not depend on how often the GC runs. A buffer that is
// never handed back is simply left to the GC.
type leafSplitter struct {
	r    io.Reader
	free [][]byte       // buffers whose leaves are stored
	out  map[*byte]bool // first bytes of the buffers handed out
	err  error
}

var _ chunk.Splitter = (*leafSplitter)(nil)

func (s *leafSplitter) Reader() io.Reader { return s.r }

func (s *leafSplitter) NextBytes() ([]byte, error) {
	if s.err != nil {
		return nil, s.err
	}
	var buf []byte
	if n := len(s.free); n > 0 {
		buf, s.free = s.free[n-1], s.free[:n-1]
	} else {
		buf = make([]byte, ChunkSize)
	}
	n, err := io.ReadFull(s.r, buf)
	switch {
	case err == nil:
	case err == io.ErrUnexpectedEOF:
		s.err = io.EOF
		buf = buf[:n]
	default: // io.EOF at a chunk boundary, or the reader failed
		s.err = err
		s.free = append(s.free, buf)
		return nil, err
	}
	s.out[&buf[0]] = true
	return buf, nil
}

// release takes back the buffer under data, if it is one of ours.
func (s *leafSplitter) release(data []byte) {
	if len(data) == 0 {
		return
	}
	if p := &data[0]; s.out[p] {
		delete(s.out, p)
		s.free = append(s.free, data[:ChunkSize:ChunkSize])
	}
}

// countingReader counts the bytes read, keeps the first error of the
// underlying reader and stops when ctx ends.
type countingReader struct {
	ctx context.Context
	r   io.Reader
	n   uint64
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		c.err = err
		return 0, err
	}
	n, err := c.r.Read(p)
	c.n += uint64(n)
	if err != nil && err != io.EOF && c.err == nil {
		c.err = err
	}
	return n, err
}

// dagService adapts a blockStore to ipld.DAGService for boxo's importer and
// DagReader. The importer hands it a context.TODO, so it carries the
// caller's context itself.
type dagService struct {
	ctx context.Context
	s   blockStore
	spl *leafSplitter // during import: takes back leaf buffers
}

var _ ipld.DAGService = (*dagService)(nil)

// Add stores n. Raw leaves, which are nearly all of a file's bytes, were
// hashed by the importer when it made their CID and go in unchecked; the few
// dag-pb nodes are checked like any other Put, which also catches a node that
// failed to encode (boxo then reports a nil body).
func (d *dagService) Add(_ context.Context, n ipld.Node) error {
	c, data := n.Cid(), n.RawData()
	if _, raw := n.(*dag.RawNode); !raw {
		if err := checkBlock("ipfsstore.AddFile", c, data); err != nil {
			return err
		}
	} else if len(data) > MaxBlockSize {
		return checkBlock("ipfsstore.AddFile", c, data)
	}
	if err := d.s.putBuilt(d.ctx, c, data); err != nil {
		return err
	}
	if d.spl != nil {
		d.spl.release(data)
	}
	return nil
}

// AddMany stores every node of ns.
func (d *dagService) AddMany(ctx context.Context, ns []ipld.Node) error {
	for _, n := range ns {
		if err := d.Add(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// Get returns block c decoded as a node.
func (d *dagService) Get(ctx context.Context, c cid.Cid) (ipld.Node, error) {
	data, err := d.s.Get(ctx, c)
	if err != nil {
		return nil, err
	}
	return decodeNode(c, data)
}

// GetMany fetches cs in order on a goroutine. The channel closes after the
// last node, the first error, or when ctx ends.
func (d *dagService) GetMany(ctx context.Context, cs []cid.Cid) <-chan *ipld.NodeOption {
	out := make(chan *ipld.NodeOption, len(cs))
	go func() {
		defer close(out)
		for _, c := range cs {
			nd, err := d.Get(ctx, c)
			select {
			case out <- &ipld.NodeOption{Node: nd, Err: err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return out
}

// Remove is not supported: stores are append-only.
func (d *dagService) Remove(context.Context, cid.Cid) error {
	return errors.New("ipfsstore: blocks cannot be removed")
}

// RemoveMany is not supported: stores are append-only.
func (d *dagService) RemoveMany(context.Context, []cid.Cid) error {
	return errors.New("ipfsstore: blocks cannot be removed")
}

// decodeNode decodes a block of a UnixFS DAG: raw or dag-pb. data must
// already be known to hash to c.
func decodeNode(c cid.Cid, data []byte) (ipld.Node, error) {
	const op = "ipfsstore.OpenFile"
	blk, err := blocks.NewBlockWithCid(data, c)
	if err != nil {
		return nil, acerr.E(op, "", acerr.Integrity, err).WithCID(c.String())
	}
	var nd ipld.Node
	switch c.Type() {
	case cid.Raw:
		nd, err = dag.DecodeRawBlock(blk)
	case cid.DagProtobuf:
		nd, err = dag.DecodeProtobufBlock(blk)
	default:
		return nil, acerr.E(op, "", acerr.Invalid,
			fmt.Errorf("codec 0x%x is not part of a UnixFS file", c.Type())).WithCID(c.String())
	}
	if err != nil {
		return nil, acerr.E(op, "", acerr.Invalid, err).WithCID(c.String())
	}
	return nd, nil
}

// openFile opens the UnixFS file rooted at c in s with boxo's DagReader.
func openFile(ctx context.Context, s blockStore, c cid.Cid) (File, error) {
	const op = "ipfsstore.OpenFile"
	ds := &dagService{ctx: ctx, s: s}
	root, err := ds.Get(ctx, c)
	if err != nil {
		return nil, err
	}
	r, err := uio.NewDagReader(ctx, root, ds)
	switch {
	case errors.Is(err, uio.ErrIsDir):
		return nil, acerr.E(op, "", acerr.IsDir, nil).WithCID(c.String())
	case err != nil:
		return nil, acerr.E(op, "", acerr.Invalid, err).WithCID(c.String())
	}
	return &dagFile{r: r, cid: c, size: r.Size()}, nil
}

// dagFile is a File over a DagReader. Seek only records the new position;
// the next Read moves the DagReader there (its Seek walks the DAG from the
// root using the size hints, so it costs one block per level). A position at
// or past the end reads io.EOF without touching the DAG.
type dagFile struct {
	r      uio.DagReader
	cid    cid.Cid
	size   uint64
	pos    int64 // position seen by the caller
	rpos   int64 // position of r
	closed bool
}

func (f *dagFile) Size() uint64 { return f.size }

func (f *dagFile) sync() error {
	if f.closed {
		return acerr.E("ipfsstore.File.Read", "", acerr.Invalid, os.ErrClosed).WithCID(f.cid.String())
	}
	if f.pos == f.rpos {
		return nil
	}
	if _, err := f.r.Seek(f.pos, io.SeekStart); err != nil {
		return wrapReadErr(f.cid, err)
	}
	f.rpos = f.pos
	return nil
}

func (f *dagFile) Read(p []byte) (int, error) {
	if f.closed {
		return 0, acerr.E("ipfsstore.File.Read", "", acerr.Invalid, os.ErrClosed).WithCID(f.cid.String())
	}
	if uint64(f.pos) >= f.size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if err := f.sync(); err != nil {
		return 0, err
	}
	n, err := f.r.Read(p)
	f.pos += int64(n)
	f.rpos = f.pos
	if err != nil && err != io.EOF {
		return n, wrapReadErr(f.cid, err)
	}
	return n, err
}

// WriteTo copies the rest of the file to w; io.Copy uses it.
func (f *dagFile) WriteTo(w io.Writer) (int64, error) {
	if uint64(f.pos) >= f.size && !f.closed {
		return 0, nil
	}
	if err := f.sync(); err != nil {
		return 0, err
	}
	n, err := f.r.WriteTo(w)
	f.pos += n
	f.rpos = f.pos
	if err != nil {
		return n, wrapReadErr(f.cid, err)
	}
	return n, nil
}

func (f *dagFile) Seek(offset int64, whence int) (int64, error) {
	return seekPos(f.closed, f.cid, &f.pos, int64(f.size), offset, whence)
}

func (f *dagFile) Close() error {
	if f.closed {
		return nil
	}
	f.closed = true
	return f.r.Close()
}

// seekPos implements io.Seeker's arithmetic for the File types: it sets
// *pos, refusing a negative result and an unknown whence.
func seekPos(closed bool, c cid.Cid, pos *int64, size, offset int64, whence int) (int64, error) {
	const op = "ipfsstore.File.Seek"
	if closed {
		return 0, acerr.E(op, "", acerr.Invalid, os.ErrClosed).WithCID(c.String())
	}
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = *pos + offset
	case io.SeekEnd:
		abs = size + offset
	default:
		return 0, acerr.E(op, "", acerr.Invalid, fmt.Errorf("invalid whence %d", whence)).WithCID(c.String())
	}
	if abs < 0 {
		return 0, acerr.E(op, "", acerr.Invalid, fmt.Errorf("negative position %d", abs)).WithCID(c.String())
	}
	*pos = abs
	return abs, nil
}

func wrapReadErr(c cid.Cid, err error) error {
	var ae *acerr.Error
	if errors.As(err, &ae) {
		return err
	}
	return acerr.E("ipfsstore.File.Read", "", acerr.Invalid, err).WithCID(c.String())
}
