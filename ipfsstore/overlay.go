package ipfsstore

import (
	"context"
	"io"

	"github.com/archivecache/archivecache/acerr"
	"github.com/ipfs/go-cid"
)

// Overlay is a Store that reads from a base store and keeps what is put
// into it in memory, leaving the base unchanged: a dry run of a change
// (ac-merge --dry-run) writes its blocks here and drops them at Close.
type Overlay struct {
	base Store
	mem  *Memory
}

var _ Store = (*Overlay)(nil)

// NewOverlay returns an Overlay over base. Closing it does not close base.
func NewOverlay(base Store) *Overlay { return &Overlay{base: base, mem: NewMemory()} }

// Get returns block c from memory, else from the base store.
func (o *Overlay) Get(ctx context.Context, c cid.Cid) ([]byte, error) {
	b, err := o.mem.Get(ctx, c)
	if acerr.Is(acerr.NotExist, err) {
		return o.base.Get(ctx, c)
	}
	return b, err
}

// Has reports whether either store holds c.
func (o *Overlay) Has(ctx context.Context, c cid.Cid) (bool, error) {
	if ok, err := o.mem.Has(ctx, c); ok || err != nil {
		return ok, err
	}
	return o.base.Has(ctx, c)
}

// Put keeps data in memory.
func (o *Overlay) Put(ctx context.Context, c cid.Cid, data []byte) error {
	return o.mem.Put(ctx, c, data)
}

func (o *Overlay) putBuilt(ctx context.Context, c cid.Cid, data []byte) error {
	return o.mem.putBuilt(ctx, c, data)
}

// AddFile imports r into memory.
func (o *Overlay) AddFile(ctx context.Context, r io.Reader) (cid.Cid, uint64, error) {
	return addFile(ctx, o, r, &o.mem.importer)
}

// OpenFile opens the UnixFS file rooted at c, reading from both stores.
func (o *Overlay) OpenFile(ctx context.Context, c cid.Cid) (File, error) {
	if err := checkCID("ipfsstore.OpenFile", c); err != nil {
		return nil, err
	}
	return openFile(ctx, o, c)
}

// Close drops what was put; the base store stays open.
func (o *Overlay) Close() error { return o.mem.Close() }
