package ipfsstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore/kuborpc"
	"github.com/archivecache/archivecache/ipfsstore/unixfs"
	"github.com/archivecache/archivecache/progress"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// Kubo is a Store backed by a running kubo daemon, reached through its RPC
// API with the kuborpc client. Blocks live in the daemon's repo, and
// bitswap fetches those it lacks from its peers.
//
//   - Has answers from the daemon's local blockstore only (offline); it
//     never asks the network.
//   - Blocks whose bytes their CID gives (an identity multihash, the
//     empty block that is an empty file, the empty UnixFS file node) are
//     answered by Get, Has and BlockSize without the daemon: a daemon
//     need not hold them, and no peer may send them.
//   - Get looks locally first and then asks the network, for as long as
//     the caller's context allows or, without a deadline, FetchTimeout;
//     a block that has not arrived by then does not exist (kind
//     acerr.NotExist, cause *NotReceived).
//   - Put sends the block with its codec and hash function and checks that
//     the daemon filed it under the same CID. Blocks are not pinned: Keep
//     (the Collector interface) keeps a root in the daemon's files API,
//     which its garbage collector keeps without fetching.
//   - AddFile is the daemon's own `ipfs add` with the same parameters as
//     the embedded store (CIDv1, raw leaves, size-262144, balanced, 174
//     links), so the two give the same CIDs.
//   - OpenFile fetches the root block like Get and reads the file's type
//     and size from it. A file of one block is then read from memory.
//     Larger files are read two ways. Read streams with `ipfs cat`: a
//     short forward seek reads through the stream, anything else reissues
//     `cat` with an offset; Seek itself only records the position, and the
//     request happens at the next Read; a stream that sends nothing for
//     FetchTimeout (when the file's context has no deadline) fails as a
//     Get of a block not received does, and the bytes it sends count as
//     fetched (Config.Fetched) if the file's root was. ReadAt walks the file's blocks
//     with Get, as the other stores do, so a missing block fails like Get
//     (after FetchTimeout, or when the call's context ends).
//
// Config.Fetched, if set, counts what Get asks of the daemon's peers: a
// total of one for each block asked, and one and its bytes for each that
// came.
//
// Every error that comes from the daemon or from failing to reach it is one
// line of kind acerr.IO naming the API address.
type Kubo struct {
	c            *kuborpc.Client
	addr         string // as configured, for errors
	fetchTimeout time.Duration
	keepDir      string // where Keep keeps roots in the daemon's files API
	fetched      *progress.Counter
	closed       atomic.Bool
}

var (
	_ Store     = (*Kubo)(nil)
	_ Collector = (*Kubo)(nil)
	_ Sizer     = (*Kubo)(nil)
)

// OpenKubo connects to the kubo daemon at cfg.API and checks that it
// answers.
func OpenKubo(ctx context.Context, cfg Config) (*Kubo, error) {
	c, err := kuborpc.New(cfg.API)
	if err != nil {
		// The address is the store's configuration: report it as such.
		var ae *acerr.Error
		if errors.As(err, &ae) {
			err = ae.Err
		}
		return nil, acerr.E("ipfsstore.Open", cfg.API, acerr.Invalid, err)
	}
	name := cfg.KeepName
	if name == "" {
		name = "default"
	}
	k := &Kubo{c: c, addr: cfg.API, fetchTimeout: cfg.FetchTimeout, keepDir: KeepDir + "/" + name, fetched: cfg.Fetched}
	if k.fetchTimeout <= 0 {
		k.fetchTimeout = DefaultFetchTimeout
	}
	pctx := ctx
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		pctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	if _, err := c.Version(pctx); err != nil {
		c.Close()
		return nil, as("ipfsstore.Open", err)
	}
	return k, nil
}

// as reports an error of the kuborpc client under the store's operation
// op, so that both stores name the same operations; the address, CID,
// kind and cause stay as the client gave them.
func as(op string, err error) error {
	var ae *acerr.Error
	if errors.As(err, &ae) && strings.HasPrefix(ae.Op, "kuborpc.") {
		return &acerr.Error{Op: op, Path: ae.Path, CID: ae.CID, Kind: ae.Kind, Err: ae.Err}
	}
	return err
}

func (k *Kubo) checkOpen(op string, c cid.Cid) error {
	if k.closed.Load() {
		e := acerr.E(op, k.addr, acerr.IO, errClosed)
		if c.Defined() {
			e = e.WithCID(c.String())
		}
		return e
	}
	return nil
}

// Get returns block c from the daemon, fetching it from peers if needed.
// kuborpc checks its hash.
func (k *Kubo) Get(ctx context.Context, c cid.Cid) ([]byte, error) {
	data, _, err := k.get(ctx, c)
	return data, err
}

// get is Get, and reports whether the block came from the daemon's peers.
func (k *Kubo) get(ctx context.Context, c cid.Cid) ([]byte, bool, error) {
	const op = "ipfsstore.Get"
	if err := checkCID(op, c); err != nil {
		return nil, false, err
	}
	if err := k.checkOpen(op, c); err != nil {
		return nil, false, err
	}
	if data, ok := inline(c); ok {
		return data, false, nil
	}
	data, err := k.c.BlockGet(ctx, c, true)
	fetched := false
	if acerr.Is(acerr.NotExist, err) {
		fetched = true
		k.fetched.AddTotal(1, 0) // asked of the peers
		fctx, cancel := k.fetchContext(ctx)
		data, err = k.c.BlockGet(fctx, c, false)
		fetchExpired := fctx.Err() != nil && ctx.Err() == nil
		cancel()
		if err != nil && fetchExpired {
			return nil, true, acerr.E(op, k.addr, acerr.NotExist, &NotReceived{Within: k.fetchTimeout}).WithCID(c.String())
		}
	}
	if err != nil {
		return nil, fetched, as(op, err)
	}
	if len(data) > schema.MaxBlockSize {
		return nil, fetched, acerr.E(op, k.addr, acerr.TooLarge,
			fmt.Errorf("daemon sent %d bytes, limit %d", len(data), schema.MaxBlockSize)).WithCID(c.String())
	}
	if fetched {
		k.fetched.Add(1, int64(len(data)))
	}
	return data, fetched, nil
}

// NotReceived is the cause of the kubo store's error, of kind
// acerr.NotExist, for a block the daemon did not hold and its peers did
// not send within the fetch timeout (Config.FetchTimeout): so that a
// command can say whose node it was waiting for, and for how long.
type NotReceived struct {
	Within time.Duration // the fetch timeout
}

func (e *NotReceived) Error() string {
	return fmt.Sprintf("not held and not received from peers within %v", e.Within)
}

// fetchContext bounds a network fetch by FetchTimeout unless ctx has a
// deadline of its own.
func (k *Kubo) fetchContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, k.fetchTimeout)
}

// Has reports whether the daemon holds block c locally.
func (k *Kubo) Has(ctx context.Context, c cid.Cid) (bool, error) {
	const op = "ipfsstore.Has"
	if err := checkCID(op, c); err != nil {
		return false, err
	}
	if err := k.checkOpen(op, c); err != nil {
		return false, err
	}
	if _, ok := inline(c); ok {
		return true, nil
	}
	_, err := k.c.BlockStat(ctx, c, true)
	switch {
	case err == nil:
		return true, nil
	case acerr.Is(acerr.NotExist, err):
		return false, nil
	default:
		return false, as(op, err)
	}
}

// BlockSize returns the length of block c if the daemon holds it, without
// asking its peers (Sizer): so a file's size is checked where it is
// local, and a friend's file that is not is never fetched to check it.
func (k *Kubo) BlockSize(ctx context.Context, c cid.Cid) (int, error) {
	const op = "ipfsstore.BlockSize"
	if err := checkCID(op, c); err != nil {
		return 0, err
	}
	if err := k.checkOpen(op, c); err != nil {
		return 0, err
	}
	if data, ok := inline(c); ok {
		return len(data), nil
	}
	n, err := k.c.BlockStat(ctx, c, true)
	return n, as(op, err)
}

// Put checks data against c and sends it to the daemon under c's codec and
// hash function.
func (k *Kubo) Put(ctx context.Context, c cid.Cid, data []byte) error {
	const op = "ipfsstore.Put"
	if err := k.checkOpen(op, c); err != nil {
		return err
	}
	if err := checkBlock(op, c, data); err != nil {
		return err
	}
	return as(op, k.c.BlockPut(ctx, c, data))
}

// AddFile has the daemon import r (`ipfs add --cid-version=1`, not
// pinned) and returns the root CID and the number of bytes read.
func (k *Kubo) AddFile(ctx context.Context, r io.Reader) (cid.Cid, uint64, error) {
	const op = "ipfsstore.AddFile"
	if err := k.checkOpen(op, cid.Undef); err != nil {
		return cid.Undef, 0, err
	}
	c, n, err := k.c.Add(ctx, r)
	return c, n, as(op, err)
}

// OpenFile opens the UnixFS file rooted at c. Reads use ctx.
func (k *Kubo) OpenFile(ctx context.Context, c cid.Cid) (File, error) {
	const op = "ipfsstore.OpenFile"
	if err := checkCID(op, c); err != nil {
		return nil, err
	}
	if err := k.checkOpen(op, c); err != nil {
		return nil, err
	}
	// Fetching the root first gives a missing file the same NotExist as
	// Get, bounded by FetchTimeout, instead of a request that hangs.
	root, fetched, err := k.get(ctx, c)
	if err != nil {
		return nil, err
	}
	get := func(ctx context.Context, b cid.Cid) ([]byte, error) {
		if b.Equals(c) {
			return root, nil
		}
		return k.Get(ctx, b)
	}
	blocks, err := unixfs.Open(ctx, get, c)
	if err != nil || c.Type() == cid.Raw {
		return blocks, err
	}
	_, deadline := ctx.Deadline()
	return &kuboFile{k: k, ctx: ctx, cid: c, size: int64(blocks.Size()), blocks: blocks, fetched: fetched, watch: !deadline}, nil
}

// Close releases the client's idle connections. The daemon keeps running.
func (k *Kubo) Close() error {
	if k.closed.Swap(true) {
		return nil
	}
	k.c.Close()
	return nil
}

// readThrough is the longest forward seek kuboFile reads through instead
// of starting a new `cat`.
const readThrough = 64 << 10

// kuboFile is a File whose Read is over `cat` streams and whose ReadAt
// reads blocks.
type kuboFile struct {
	k      *Kubo
	ctx    context.Context
	cid    cid.Cid
	size   int64
	blocks *unixfs.File  // for ReadAt
	pos    int64         // position seen by the caller
	rc     io.ReadCloser // the current stream, or nil
	rpos   int64         // position of rc
	closed bool

	fetched bool               // the root came from the daemon's peers: so do the bytes streamed, counted
	watch   bool               // a stream that sends nothing for FetchTimeout fails (the caller's context has no deadline)
	cancel  context.CancelFunc // ends rc
	stall   *time.Timer        // ends rc once it has sent nothing for FetchTimeout
	stalled atomic.Bool        // stall ended it
}

func (f *kuboFile) Size() uint64 { return uint64(f.size) }

func (f *kuboFile) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	return f.blocks.ReadAt(ctx, p, off)
}

func (f *kuboFile) Read(p []byte) (int, error) {
	const op = "ipfsstore.File.Read"
	if f.closed {
		return 0, acerr.E(op, "", acerr.Invalid, os.ErrClosed).WithCID(f.cid.String())
	}
	if f.pos >= f.size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if f.rc != nil && f.pos != f.rpos {
		skip := f.pos - f.rpos
		if skip < 0 || skip > readThrough {
			f.stop()
		} else if n, err := io.CopyN(io.Discard, f.rc, skip); err != nil {
			f.stop()
		} else {
			f.rpos += n
		}
	}
	if f.rc == nil {
		sctx, cancel := context.WithCancel(f.ctx)
		f.cancel = cancel
		f.watching()
		rc, err := f.k.c.Cat(sctx, f.cid, f.pos, -1)
		if err != nil {
			return 0, f.streamError(op, err)
		}
		f.rc, f.rpos = rc, f.pos
		if !f.waited() {
			return 0, f.streamError(op, context.Canceled)
		}
	}
	if rem := f.size - f.pos; int64(len(p)) > rem {
		p = p[:rem]
	}
	f.watching()
	n, err := f.rc.Read(p)
	if !f.waited() && err == nil {
		f.stop() // ended just as it sent: the next Read asks again from here
	}
	f.pos += int64(n)
	f.rpos = f.pos
	if f.fetched {
		f.k.fetched.Add(0, int64(n))
	}
	switch {
	case err == io.EOF && f.pos < f.size:
		f.stop()
		return n, acerr.E(op, f.k.addr, acerr.IO, io.ErrUnexpectedEOF).WithCID(f.cid.String())
	case err == io.EOF:
		f.stop()
		if n > 0 {
			return n, nil
		}
		return 0, io.EOF
	case err != nil:
		return n, f.streamError(op, err)
	}
	return n, nil
}

// watching gives the stream FetchTimeout from now to send something
// before stall ends it.
func (f *kuboFile) watching() {
	if !f.watch {
		return
	}
	if f.stall == nil {
		cancel := f.cancel
		f.stall = time.AfterFunc(f.k.fetchTimeout, func() {
			f.stalled.Store(true)
			cancel()
		})
		return
	}
	f.stall.Reset(f.k.fetchTimeout)
}

// waited stops the watch while the caller has what it read, however
// slowly it takes it: it reports false if the watch ended the stream
// meanwhile.
func (f *kuboFile) waited() bool {
	return f.stall == nil || f.stall.Stop()
}

// streamError ends the stream that failed with err and reports it: as
// NotReceived if it had sent nothing for FetchTimeout.
func (f *kuboFile) streamError(op string, err error) error {
	stalled := f.stalled.Load()
	f.stop()
	if stalled && f.ctx.Err() == nil {
		return acerr.E(op, f.k.addr, acerr.NotExist, &NotReceived{Within: f.k.fetchTimeout}).WithCID(f.cid.String())
	}
	return as(op, err)
}

// stop closes the current stream.
func (f *kuboFile) stop() {
	if f.stall != nil {
		f.stall.Stop()
		f.stall = nil
	}
	f.stalled.Store(false)
	if f.cancel != nil {
		f.cancel()
		f.cancel = nil
	}
	if f.rc != nil {
		f.rc.Close()
		f.rc = nil
	}
}

func (f *kuboFile) Seek(offset int64, whence int) (int64, error) {
	return seekPos(f.closed, f.cid, &f.pos, f.size, offset, whence)
}

func (f *kuboFile) Close() error {
	if !f.closed {
		f.closed = true
		f.stop()
		f.blocks.Close()
	}
	return nil
}

// seekPos implements io.Seeker's arithmetic for kuboFile: it sets *pos,
// refusing a negative result and an unknown whence.
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

// KeepDir is the directory of the daemon's files API (MFS) under which
// the kubo store keeps the roots of homes, one directory a home
// (Config.KeepName), one entry a root.
const KeepDir = "/archivecache"

// Keep keeps what root reaches, as far as the daemon holds it: it puts
// a UnixFS directory of one entry linking root and copies it into the
// daemon's files API as KeepDir/NAME/ROOT. kubo's garbage collector
// keeps everything local that the files API's root reaches (its "best
// effort" roots) and, unlike a recursive pin, never fetches what is not
// local, so a friend's file contents that were never read stay where
// they are.
func (k *Kubo) Keep(ctx context.Context, root cid.Cid) error {
	const op = "ipfsstore.Keep"
	if err := checkCID(op, root); err != nil {
		return err
	}
	if err := k.checkOpen(op, root); err != nil {
		return err
	}
	w, data, err := keepNode(root)
	if err != nil {
		return acerr.E(op, "", acerr.Invalid, err).WithCID(root.String())
	}
	if err := k.c.BlockPut(ctx, w, data); err != nil {
		return as(op, err)
	}
	return as(op, k.c.FilesCp(ctx, "/ipfs/"+w.String(), k.keepDir+"/"+root.String()))
}

// keepNode is the UnixFS directory whose one entry, "root", links root:
// the files API takes only UnixFS, and its walks follow any link.
func keepNode(root cid.Cid) (cid.Cid, []byte, error) {
	rb := root.Bytes()
	var link []byte
	link = append(link, 0x0a) // Hash
	link = binary.AppendUvarint(link, uint64(len(rb)))
	link = append(link, rb...)
	link = append(link, 0x12, 4, 'r', 'o', 'o', 't', 0x18, 0) // Name, Tsize
	var b []byte
	b = append(b, 0x12) // Links, before Data as dag-pb orders them
	b = binary.AppendUvarint(b, uint64(len(link)))
	b = append(b, link...)
	b = append(b, 0x0a, 2, 0x08, 0x01) // Data: a UnixFS directory
	c, err := cid.V1Builder{Codec: cid.DagProtobuf, MhType: multihash.SHA2_256}.Sum(b)
	return c, b, err
}

// Collect makes the roots that k.Roots returns the ones the daemon keeps
// for this home: it keeps those not kept yet and releases the others;
// the daemon's own garbage collection (ipfs repo gc) then frees what
// only released roots reached. Roots and Released count them; sizes are the
// daemon's to tell.
func (k *Kubo) Collect(ctx context.Context, keep Keep) (Collected, error) {
	const op = "ipfsstore.Collect"
	if err := k.checkOpen(op, cid.Undef); err != nil {
		return Collected{}, err
	}
	roots, err := keep.Roots(ctx)
	if err != nil {
		return Collected{}, err
	}
	kept, err := k.c.FilesLs(ctx, k.keepDir)
	if err != nil {
		return Collected{}, as(op, err)
	}
	want := make(map[string]bool, len(roots))
	for _, r := range roots {
		want[r.String()] = true
	}
	has := make(map[string]bool, len(kept))
	var res Collected
	for _, name := range kept {
		has[name] = true
		if want[name] {
			continue
		}
		res.Released++
		if !keep.DryRun {
			if err := k.c.FilesRm(ctx, k.keepDir+"/"+name); err != nil {
				return res, as(op, err)
			}
		}
	}
	for _, r := range roots {
		res.Roots++
		if !has[r.String()] && !keep.DryRun {
			if err := k.Keep(ctx, r); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}
