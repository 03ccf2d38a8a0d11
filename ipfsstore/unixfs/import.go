package unixfs

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"runtime"
	"sync"

	"github.com/archivecache/archivecache/acerr"
	"github.com/ipfs/go-cid"
)

// PutFunc stores a block the importer has built. c is the CID of data,
// computed from data a moment ago, so the callee need not hash it again.
// data is only valid during the call: the importer reuses the buffer.
type PutFunc func(ctx context.Context, c cid.Cid, data []byte) error

// Importer imports files. The zero value is ready to use. An Importer
// keeps the chunk buffers of past imports for the next ones, which makes
// importing many small files cheap; it is safe for concurrent use.
type Importer struct {
	bufs sync.Pool // *[]byte of ChunkSize bytes
}

// Import imports r with a new Importer; see Importer.Import.
func Import(ctx context.Context, r io.Reader, put PutFunc) (cid.Cid, uint64, error) {
	var im Importer
	return im.Import(ctx, r, put)
}

// Import reads r to its end, stores the blocks of the UnixFS file it makes
// with put, and returns the file's CID and its size (the number of bytes
// read). The CID is the one `ipfs add --cid-version=1` gives: a file of at
// most ChunkSize bytes is a single raw block; larger files are raw leaves
// of ChunkSize bytes under dag-pb nodes of at most MaxLinks links, laid out
// as described in the package documentation.
//
// put is called from the calling goroutine, one block at a time, in file
// order, each node after all of its children, so a store holds a node's
// whole DAG by the time it holds the node. Leaves are hashed in parallel
// while put runs. An error from r or put, or the end of ctx, stops the
// import; blocks already put stay put.
func (im *Importer) Import(ctx context.Context, r io.Reader, put PutFunc) (cid.Cid, uint64, error) {
	first := im.getBuf()
	n, err := readChunk(ctx, r, *first)
	if err != nil && err != io.EOF {
		im.bufs.Put(first)
		return cid.Undef, 0, readError(err)
	}
	if err == nil { // a full chunk: is there more?
		second := im.getBuf()
		m, err := readChunk(ctx, r, *second)
		switch {
		case err != nil && err != io.EOF:
			im.bufs.Put(first)
			im.bufs.Put(second)
			return cid.Undef, 0, readError(err)
		case m > 0:
			return im.importChunks(ctx, r, put, first, second, m, err == io.EOF)
		}
		im.bufs.Put(second)
	}
	defer im.bufs.Put(first)
	data := (*first)[:n]
	sum := sha256.Sum256(data)
	c := sumCID(cid.Raw, &sum)
	if err := put(ctx, c, data); err != nil {
		return cid.Undef, 0, putError(c, err)
	}
	return c, uint64(n), nil
}

func (im *Importer) getBuf() *[]byte {
	if b, ok := im.bufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, ChunkSize)
	return &b
}

// readChunk fills buf from r. It returns nil for a full chunk, io.EOF for
// a short one (the end of the file, possibly with no bytes), or the error
// of r or ctx.
func readChunk(ctx context.Context, r io.Reader, buf []byte) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n, err := io.ReadFull(r, buf)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return n, err
}

// maxHashers bounds the goroutines that hash leaves: beyond a few, the
// store's put, not hashing, is what an import waits for.
const maxHashers = 8

// chunk is a chunk on its way through importChunks' pipeline.
type chunk struct {
	buf  *[]byte // ChunkSize bytes, owned by the chunk until the import ends
	n    int
	sum  [sha256.Size]byte
	done chan struct{} // receives once sum is set
}

// importChunks imports a file of more than one chunk. first and the first
// m bytes of second are its first chunks; last says second is the end.
//
// Three stages overlap: a goroutine reads chunks, workers hash them, and
// the calling goroutine puts the leaves in order and builds the nodes
// above them. A fixed set of chunks circulates between the stages, which
// bounds memory to a few MiB whatever the file's size.
func (im *Importer) importChunks(ctx context.Context, r io.Reader, put PutFunc, first, second *[]byte, m int, last bool) (cid.Cid, uint64, error) {
	workers := min(runtime.GOMAXPROCS(0), maxHashers)
	window := 2*workers + 2
	free := make(chan *chunk, window)
	work := make(chan *chunk, window)
	order := make(chan *chunk, window)
	quit := make(chan struct{})
	for range window {
		free <- &chunk{done: make(chan struct{}, 1)}
	}

	var hashers sync.WaitGroup
	for range workers {
		hashers.Go(func() {
			for c := range work {
				c.sum = sha256.Sum256((*c.buf)[:c.n])
				c.done <- struct{}{}
			}
		})
	}

	// The reader. At most window chunks exist, so its sends to work and
	// order never block; it stops at the end of r, at an error, or when
	// quit is closed. readErr is read after order is closed.
	var (
		readErr  error
		tookBoth bool // second went into a chunk
	)
	go func() {
		defer close(order)
		defer close(work)
		pre := [2]*[]byte{first, second}
		for i := 0; ; i++ {
			select {
			case <-quit:
				return
			default:
			}
			var c *chunk
			select {
			case c = <-free:
			case <-quit:
				return
			}
			if i < 2 {
				if c.buf != nil {
					im.bufs.Put(c.buf)
				}
				c.buf, c.n = pre[i], ChunkSize
				if i == 1 {
					c.n, tookBoth = m, true
				}
			} else {
				if c.buf == nil {
					c.buf = im.getBuf()
				}
				n, err := readChunk(ctx, r, *c.buf)
				if err != nil && err != io.EOF {
					readErr = err
				}
				if n == 0 || readErr != nil {
					free <- c
					return
				}
				c.n, last = n, err == io.EOF
			}
			work <- c
			order <- c
			if i > 0 && last {
				return
			}
		}
	}()

	var (
		l     layout
		total uint64
		err   error
	)
	for c := range order {
		<-c.done
		if err == nil {
			if cerr := ctx.Err(); cerr != nil {
				err = readError(cerr)
			} else {
				data := (*c.buf)[:c.n]
				leaf := sumCID(cid.Raw, &c.sum)
				if perr := put(ctx, leaf, data); perr != nil {
					err = putError(leaf, perr)
				} else {
					err = l.add(ctx, put, 0, Child{leaf, uint64(c.n), uint64(c.n)})
					total += uint64(c.n)
				}
			}
			if err != nil {
				close(quit)
			}
		}
		free <- c
	}
	hashers.Wait()
	if !tookBoth {
		im.bufs.Put(second)
	}
	for range window {
		if c := <-free; c.buf != nil {
			im.bufs.Put(c.buf)
		}
	}

	switch {
	case readErr != nil:
		return cid.Undef, 0, readError(readErr)
	case err != nil:
		return cid.Undef, 0, err
	}
	root, err := l.finish(ctx, put)
	if err != nil {
		return cid.Undef, 0, err
	}
	return root, total, nil
}

// Child is a link of a file node as its parent records it: the child's
// CID, its Tsize (the bytes of all blocks under it) and its file size (the
// file bytes under it, the parent's blocksize for it).
type Child struct {
	CID      cid.Cid
	Tsize    uint64
	FileSize uint64
}

// FileNode returns the block of a file node over children, encoded as
// Import encodes its nodes, and the Child a parent records for it. With it
// a caller lays a file out itself: leaves of any size, in any shape, over
// blocks held anywhere or nowhere.
func FileNode(children []Child) ([]byte, Child) {
	b := appendFileNode(nil, children)
	sum := sha256.Sum256(b)
	return b, parentOf(children, b, &sum)
}

// parentOf returns the Child of the node over children whose block is b,
// with sha2-256 digest sum.
func parentOf(children []Child, b []byte, sum *[sha256.Size]byte) Child {
	nd := Child{CID: sumCID(cid.DagProtobuf, sum), Tsize: uint64(len(b))}
	for _, c := range children {
		nd.Tsize += c.Tsize
		nd.FileSize += c.FileSize
	}
	return nd
}

// layout builds the balanced DAG over a stream of leaves. levels[0] holds
// the leaves not yet under a node, levels[i] the nodes of height i not yet
// under a parent. A level that is full (MaxLinks) when another child
// arrives becomes a node one level up; at the end, finish closes every
// level from the bottom. This gives exactly boxo's balanced layout: every
// subtree is full except those on the path to the last leaf, and a
// partial subtree is still a node of its height, even over one child.
type layout struct {
	levels [][]Child
	buf    []byte // encoding of the node being made
}

// add appends c to level i, first closing the level if it is full.
func (l *layout) add(ctx context.Context, put PutFunc, i int, c Child) error {
	if i == len(l.levels) {
		l.levels = append(l.levels, make([]Child, 0, MaxLinks))
	}
	if len(l.levels[i]) == MaxLinks {
		nd, err := l.node(ctx, put, l.levels[i])
		if err != nil {
			return err
		}
		l.levels[i] = l.levels[i][:0]
		if err := l.add(ctx, put, i+1, nd); err != nil {
			return err
		}
	}
	l.levels[i] = append(l.levels[i], c)
	return nil
}

// finish closes every level and returns the root.
func (l *layout) finish(ctx context.Context, put PutFunc) (cid.Cid, error) {
	for i := 0; ; i++ {
		top := i == len(l.levels)-1
		if top && i == 0 && len(l.levels[0]) == 1 {
			return l.levels[0][0].CID, nil // a single leaf is the file
		}
		nd, err := l.node(ctx, put, l.levels[i])
		if err != nil {
			return cid.Undef, err
		}
		if top {
			return nd.CID, nil
		}
		l.levels[i] = l.levels[i][:0]
		if err := l.add(ctx, put, i+1, nd); err != nil {
			return cid.Undef, err
		}
	}
}

// node makes and puts the file node over children.
func (l *layout) node(ctx context.Context, put PutFunc, children []Child) (Child, error) {
	if err := ctx.Err(); err != nil {
		return Child{}, readError(err)
	}
	l.buf = appendFileNode(l.buf[:0], children)
	sum := sha256.Sum256(l.buf)
	nd := parentOf(children, l.buf, &sum)
	if err := put(ctx, nd.CID, l.buf); err != nil {
		return Child{}, putError(nd.CID, err)
	}
	return nd, nil
}

// sumCID returns the CIDv1 with the given codec and the sha2-256 digest.
func sumCID(codec uint64, digest *[sha256.Size]byte) cid.Cid {
	var mh [2 + sha256.Size]byte
	mh[0], mh[1] = 0x12, sha256.Size // sha2-256, 32 bytes
	copy(mh[2:], digest[:])
	return cid.NewCidV1(codec, mh[:])
}

// readError reports a failure of the source or the end of ctx. Its kind
// is that of the cause, if the cause has one.
func readError(err error) error {
	return acerr.E("unixfs.Import", "", acerr.Other, err)
}

// putError reports a failure of put, as it is if it is already an
// *acerr.Error.
func putError(c cid.Cid, err error) error {
	var ae *acerr.Error
	if errors.As(err, &ae) {
		return err
	}
	return acerr.E("unixfs.Import", "", acerr.IO, err).WithCID(c.String())
}
