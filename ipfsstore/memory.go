package ipfsstore

import (
	"context"
	"io"
	"sync"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore/unixfs"
	"github.com/ipfs/go-cid"
)

// Memory is a Store that keeps blocks in memory. It is a complete
// implementation, held to the same contract as the others, meant for tests
// of the packages above this one and for short-lived work. Nothing survives
// Close.
type Memory struct {
	mu       sync.RWMutex
	blocks   map[string][]byte // by multihash
	closed   bool
	importer unixfs.Importer
}

var (
	_ Store      = (*Memory)(nil)
	_ Syncer     = (*Memory)(nil)
	_ blockStore = (*Memory)(nil)
)

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{blocks: make(map[string][]byte)}
}

// Get returns a copy of block c.
func (m *Memory) Get(ctx context.Context, c cid.Cid) ([]byte, error) {
	const op = "ipfsstore.Get"
	if err := checkCID(op, c); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, acerr.E(op, "", acerr.Other, err).WithCID(c.String())
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, acerr.E(op, "", acerr.IO, errClosed).WithCID(c.String())
	}
	b, ok := m.blocks[blockKey(c)]
	if !ok {
		return nil, notExist(op, c)
	}
	return append([]byte(nil), b...), nil
}

// Has reports whether block c is held.
func (m *Memory) Has(ctx context.Context, c cid.Cid) (bool, error) {
	const op = "ipfsstore.Has"
	if err := checkCID(op, c); err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, acerr.E(op, "", acerr.Other, err).WithCID(c.String())
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return false, acerr.E(op, "", acerr.IO, errClosed).WithCID(c.String())
	}
	_, ok := m.blocks[blockKey(c)]
	return ok, nil
}

// Put stores a copy of data as block c after checking its hash and size.
func (m *Memory) Put(ctx context.Context, c cid.Cid, data []byte) error {
	const op = "ipfsstore.Put"
	if err := ctx.Err(); err != nil {
		return acerr.E(op, "", acerr.Other, err).WithCID(c.String())
	}
	if err := checkBlock(op, c, data); err != nil {
		return err
	}
	return m.put(op, c, data)
}

// putBuilt stores a block the importer has just built and hashed.
func (m *Memory) putBuilt(ctx context.Context, c cid.Cid, data []byte) error {
	return m.put("ipfsstore.AddFile", c, data)
}

func (m *Memory) put(op string, c cid.Cid, data []byte) error {
	k := blockKey(c)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return acerr.E(op, "", acerr.IO, errClosed).WithCID(c.String())
	}
	if _, ok := m.blocks[k]; !ok {
		m.blocks[k] = append([]byte(nil), data...)
	}
	return nil
}

// AddFile imports r as a UnixFS file.
func (m *Memory) AddFile(ctx context.Context, r io.Reader) (cid.Cid, uint64, error) {
	return addFile(ctx, m, r, &m.importer)
}

// OpenFile opens the UnixFS file rooted at c.
func (m *Memory) OpenFile(ctx context.Context, c cid.Cid) (File, error) {
	if err := checkCID("ipfsstore.OpenFile", c); err != nil {
		return nil, err
	}
	return openFile(ctx, m, c)
}

// Sync does nothing: memory is as durable as it gets.
func (m *Memory) Sync(ctx context.Context) error { return nil }

// Len returns the number of blocks held.
func (m *Memory) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.blocks)
}

// Close drops every block. Later calls fail.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.blocks = nil
	return nil
}
