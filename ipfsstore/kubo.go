package ipfsstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/archivecache/archivecache/acerr"
	"github.com/ipfs/boxo/files"
	"github.com/ipfs/boxo/path"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/ipfs/kubo/client/rpc"
	iface "github.com/ipfs/kubo/core/coreiface"
	caopts "github.com/ipfs/kubo/core/coreiface/options"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	"github.com/multiformats/go-multicodec"
)

// Kubo is a Store backed by a running kubo daemon, reached through its RPC
// API. Blocks live in the daemon's repo, and bitswap fetches those it lacks
// from its peers.
//
//   - Has answers from the daemon's local blockstore only; it never asks
//     the network.
//   - Get looks locally first and then asks the network, for as long as
//     the caller's context allows or, without a deadline, FetchTimeout;
//     a block that has not arrived by then does not exist.
//   - Put sends the block with its codec and hash function and checks that
//     the daemon filed it under the same CID. Blocks are not pinned: Pin
//     (the Pinner interface) keeps a DAG from the daemon's garbage
//     collector.
//   - AddFile is the daemon's own `ipfs add` with the same parameters as
//     the embedded store (CIDv1, raw leaves, size-262144, balanced), so the
//     two give the same CIDs.
//   - OpenFile streams with `ipfs cat`. Seeking is supported by the RPC
//     client's file: a short forward seek reads through, anything else
//     reissues `cat` with an offset. Seek itself only records the position;
//     the request happens at the next Read.
//
// Every error that comes from the daemon or from failing to reach it is one
// line of kind acerr.IO naming the API address.
type Kubo struct {
	addr         string       // as configured, for errors
	api          *rpc.HttpApi // online requests
	local        iface.CoreAPI
	transport    *http.Transport
	fetchTimeout time.Duration
	closed       atomic.Bool
}

var (
	_ Store  = (*Kubo)(nil)
	_ Pinner = (*Kubo)(nil)
)

// OpenKubo connects to the kubo daemon at cfg.API and checks that it
// answers.
func OpenKubo(ctx context.Context, cfg Config) (*Kubo, error) {
	const op = "ipfsstore.Open"
	k := &Kubo{addr: cfg.API, fetchTimeout: cfg.FetchTimeout}
	if k.fetchTimeout <= 0 {
		k.fetchTimeout = DefaultFetchTimeout
	}
	k.transport = &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     30 * time.Second,
	}
	client := &http.Client{Transport: k.transport}
	var err error
	switch {
	case strings.HasPrefix(cfg.API, "/"):
		var a ma.Multiaddr
		a, err = ma.NewMultiaddr(cfg.API)
		if err != nil {
			return nil, acerr.E(op, cfg.API, acerr.Invalid, err)
		}
		network, address, derr := manet.DialArgs(a)
		if derr != nil {
			return nil, acerr.E(op, cfg.API, acerr.Invalid, derr)
		}
		if network == "unix" {
			k.transport.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", address)
			}
			k.api, err = rpc.NewURLApiWithClient("http://unix", client)
		} else {
			k.api, err = rpc.NewApiWithClient(a, client)
		}
	case strings.HasPrefix(cfg.API, "http://") || strings.HasPrefix(cfg.API, "https://"):
		u, perr := url.Parse(cfg.API)
		if perr != nil || u.Host == "" {
			return nil, acerr.E(op, cfg.API, acerr.Invalid, errors.New("not a multiaddr or http(s) URL"))
		}
		k.api, err = rpc.NewURLApiWithClient(strings.TrimSuffix(cfg.API, "/"), client)
	default:
		return nil, acerr.E(op, cfg.API, acerr.Invalid, errors.New("not a multiaddr or http(s) URL"))
	}
	if err != nil {
		return nil, acerr.E(op, cfg.API, acerr.Invalid, err)
	}
	if k.local, err = k.api.WithOptions(caopts.Api.Offline(true)); err != nil {
		return nil, acerr.E(op, cfg.API, acerr.Invalid, err)
	}

	pctx := ctx
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		pctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	var v struct{ Version string }
	if err := k.api.Request("version").Exec(pctx, &v); err != nil {
		k.transport.CloseIdleConnections()
		return nil, k.wrap(op, cid.Undef, err)
	}
	return k, nil
}

// wrap turns an error from the RPC client into one line of the right kind,
// naming the API address instead of the long request URL.
func (k *Kubo) wrap(op string, c cid.Cid, err error) error {
	kind := acerr.IO
	switch {
	case ipld.IsNotFound(err):
		kind, err = acerr.NotExist, nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		kind = acerr.Other
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = fmt.Errorf("kubo daemon: %w", ue.Err)
	}
	if err != nil && strings.ContainsAny(err.Error(), "\r\n") {
		err = oneLineError{err}
	}
	e := acerr.E(op, k.addr, kind, err)
	if c.Defined() {
		e = e.WithCID(c.String())
	}
	return e
}

// oneLineError prints its cause with line breaks replaced, so a daemon's
// multi-line message still makes a one-line error.
type oneLineError struct{ err error }

func (o oneLineError) Error() string {
	return strings.NewReplacer("\r\n", "; ", "\n", "; ", "\r", "; ").Replace(o.err.Error())
}
func (o oneLineError) Unwrap() error { return o.err }

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

// Get returns block c from the daemon, fetching it from peers if needed,
// and checks its hash.
func (k *Kubo) Get(ctx context.Context, c cid.Cid) ([]byte, error) {
	const op = "ipfsstore.Get"
	if err := checkCID(op, c); err != nil {
		return nil, err
	}
	if err := k.checkOpen(op, c); err != nil {
		return nil, err
	}
	data, err := k.getBlock(ctx, k.local, c)
	if ipld.IsNotFound(err) {
		fctx, cancel := k.fetchContext(ctx)
		data, err = k.getBlock(fctx, k.api, c)
		fetchExpired := fctx.Err() != nil && ctx.Err() == nil
		cancel()
		if err != nil && fetchExpired {
			return nil, acerr.E(op, k.addr, acerr.NotExist,
				fmt.Errorf("not held and not received from peers within %v", k.fetchTimeout)).WithCID(c.String())
		}
	}
	if err != nil {
		return nil, k.wrap(op, c, err)
	}
	if len(data) > MaxBlockSize {
		return nil, acerr.E(op, k.addr, acerr.TooLarge,
			fmt.Errorf("daemon sent %d bytes, limit %d", len(data), MaxBlockSize)).WithCID(c.String())
	}
	ok, err := hashMatches(c, data)
	if err != nil {
		return nil, acerr.E(op, k.addr, acerr.Invalid, err).WithCID(c.String())
	}
	if !ok {
		return nil, acerr.E(op, k.addr, acerr.Integrity, errors.New("daemon sent data that does not hash to the CID")).WithCID(c.String())
	}
	return data, nil
}

// fetchContext bounds a network fetch by FetchTimeout unless ctx has a
// deadline of its own.
func (k *Kubo) fetchContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, k.fetchTimeout)
}

func (k *Kubo) getBlock(ctx context.Context, api iface.CoreAPI, c cid.Cid) ([]byte, error) {
	r, err := api.Block().Get(ctx, path.FromCid(c))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(r, MaxBlockSize+1))
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
	_, err := k.local.Block().Stat(ctx, path.FromCid(c))
	switch {
	case err == nil:
		return true, nil
	case ipld.IsNotFound(err):
		return false, nil
	default:
		return false, k.wrap(op, c, err)
	}
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
	p := c.Prefix()
	opts := []caopts.BlockPutOption{caopts.Block.Hash(p.MhType, p.MhLength), caopts.Block.Pin(false)}
	if p.Version == 0 {
		opts = append(opts, caopts.Block.Format("v0"))
	} else {
		opts = append(opts, caopts.Block.CidCodec(multicodec.Code(p.Codec).String()))
	}
	st, err := k.api.Block().Put(ctx, bytes.NewReader(data), opts...)
	if err != nil {
		return k.wrap(op, c, err)
	}
	if got := st.Path().RootCid(); !got.Equals(c) {
		return acerr.E(op, k.addr, acerr.Integrity, fmt.Errorf("daemon stored the block as %s", got)).WithCID(c.String())
	}
	return nil
}

// AddFile has the daemon import r (`ipfs add --cid-version=1`, not
// pinned) and returns the root CID and the number of bytes read.
func (k *Kubo) AddFile(ctx context.Context, r io.Reader) (cid.Cid, uint64, error) {
	const op = "ipfsstore.AddFile"
	if err := k.checkOpen(op, cid.Undef); err != nil {
		return cid.Undef, 0, err
	}
	cr := &countingReader{ctx: ctx, r: r}
	p, err := k.api.Unixfs().Add(ctx, files.NewReaderFile(cr),
		caopts.Unixfs.CidVersion(1),
		caopts.Unixfs.RawLeaves(true),
		caopts.Unixfs.Chunker(fmt.Sprintf("size-%d", ChunkSize)),
		caopts.Unixfs.Layout(caopts.BalancedLayout),
		caopts.Unixfs.Pin(false, ""),
	)
	if err != nil {
		if cr.err != nil {
			return cid.Undef, 0, acerr.E(op, "", acerr.Other, cr.err)
		}
		return cid.Undef, 0, k.wrap(op, cid.Undef, err)
	}
	return p.RootCid(), cr.n, nil
}

// OpenFile opens the UnixFS file rooted at c for streaming from the daemon.
// Reads use ctx.
func (k *Kubo) OpenFile(ctx context.Context, c cid.Cid) (File, error) {
	const op = "ipfsstore.OpenFile"
	if err := checkCID(op, c); err != nil {
		return nil, err
	}
	if err := k.checkOpen(op, c); err != nil {
		return nil, err
	}
	// Fetch the root first: it gives a missing file the same NotExist as
	// Get, bounded by FetchTimeout, instead of a request that hangs.
	if _, err := k.Get(ctx, c); err != nil {
		return nil, err
	}
	nd, err := k.api.Unixfs().Get(ctx, path.FromCid(c))
	if err != nil {
		return nil, k.wrap(op, c, err)
	}
	f, ok := nd.(files.File)
	if !ok {
		nd.Close()
		if _, dir := nd.(files.Directory); dir {
			return nil, acerr.E(op, k.addr, acerr.IsDir, nil).WithCID(c.String())
		}
		return nil, acerr.E(op, k.addr, acerr.Invalid, errors.New("not a UnixFS file")).WithCID(c.String())
	}
	size, err := f.Size()
	if err != nil || size < 0 {
		f.Close()
		return nil, acerr.E(op, k.addr, acerr.Invalid, errors.New("file has no size")).WithCID(c.String())
	}
	return &kuboFile{k: k, f: f, cid: c, size: size}, nil
}

// Pin pins the DAG under c (recursive) or block c alone in the daemon.
func (k *Kubo) Pin(ctx context.Context, c cid.Cid, recursive bool) error {
	const op = "ipfsstore.Pin"
	if err := checkCID(op, c); err != nil {
		return err
	}
	if err := k.checkOpen(op, c); err != nil {
		return err
	}
	if err := k.api.Pin().Add(ctx, path.FromCid(c), caopts.Pin.Recursive(recursive)); err != nil {
		return k.wrap(op, c, err)
	}
	return nil
}

// Close releases the client's idle connections. The daemon keeps running.
func (k *Kubo) Close() error {
	if k.closed.Swap(true) {
		return nil
	}
	k.transport.CloseIdleConnections()
	return nil
}

// kuboFile is a File over the RPC client's file (a `cat` stream).
type kuboFile struct {
	k      *Kubo
	f      files.File
	cid    cid.Cid
	size   int64
	pos    int64 // position seen by the caller
	rpos   int64 // position of f
	closed bool
}

func (f *kuboFile) Size() uint64 { return uint64(f.size) }

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
	if f.pos != f.rpos {
		if _, err := f.f.Seek(f.pos, io.SeekStart); err != nil {
			return 0, f.k.wrap(op, f.cid, err)
		}
		f.rpos = f.pos
	}
	if rem := f.size - f.pos; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := f.f.Read(p)
	f.pos += int64(n)
	f.rpos = f.pos
	if err != nil && err != io.EOF {
		return n, f.k.wrap(op, f.cid, err)
	}
	if err == io.EOF && f.pos < f.size {
		return n, acerr.E(op, f.k.addr, acerr.IO, io.ErrUnexpectedEOF).WithCID(f.cid.String())
	}
	return n, err
}

func (f *kuboFile) Seek(offset int64, whence int) (int64, error) {
	return seekPos(f.closed, f.cid, &f.pos, f.size, offset, whence)
}

func (f *kuboFile) Close() error {
	if f.closed {
		return nil
	}
	f.closed = true
	return f.f.Close()
}
