package ipfsstore

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/internal/atomicfile"
	"github.com/archivecache/archivecache/ipfsstore/unixfs"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

const (
	// packRollSize is the size past which a process starts a new pack,
	// and packRollBlocks the number of blocks: the in-memory index holds
	// the blocks of the pack being written, so it bounds the heap of an
	// import of many small files (see roll).
	packRollSize   = 1 << 30
	packRollBlocks = 65536
	// writeBufSize is how many pack bytes are gathered before they are
	// handed to the write goroutine.
	writeBufSize = 2 << 20
	// maxInflight is how many full buffers may wait for the write goroutine
	// before Put blocks.
	maxInflight = 4
	// writebackChunk is how many written bytes start a background writeback.
	writebackChunk = 8 << 20
	// packsDir is the directory of pack and index files inside Config.Dir.
	packsDir = "packs"
)

// Embedded is the default Store: blocks in append-only pack files inside a
// directory, no daemon. The file formats and the crash and multi-process
// rules are described at the top of pack.go.
//
// Blocks are found through the tables of sealed packs, mapped and
// searched in place (table.go), most of them merged into multi-pack
// tables (multitable.go), and through an in-memory index (multihash
// → pack, offset, length) of the blocks in packs without one: this
// process's own, and others' unsealed or older packs, read from their
// index files. Put appends to a
// write buffer and does not wait for the disk (only, briefly, for the write
// goroutine when it is several buffers behind); Sync (and Close) make
// everything Put so far durable. Get reads with pread and checks the
// block's checksum (see pack.go).
type Embedded struct {
	dir        string // the packs directory
	rollSize   int64
	rollBlocks int  // a pack holding this many blocks is rolled
	rehash     bool // Get checks hashes too (Config.Rehash)
	// lockf is the packs directory, locked shared for as long as the store
	// is open and exclusively by a Collect (gc.go); nil where it cannot be
	// opened. noMerge keeps Close from merging tables (a Collect's copy).
	lockf   *os.File
	noMerge bool

	scanMu    sync.Mutex      // serialises reads of index files
	seenMulti map[string]bool // under scanMu: the multi-pack tables looked at, used or not
	// mergeHook, if set (by tests), is called at each step of a merge of
	// tables, which stops where it returns an error (mergeTables).
	mergeHook func(step string) error
	syncMu    sync.Mutex // serialises Sync
	closeOnce sync.Once
	closeErr  error
	importer  unixfs.Importer

	// scratch holds schema.MaxBlockSize buffers for checking a held copy in Put.
	scratch sync.Pool

	mu        sync.Mutex
	cond      sync.Cond             // on mu: broadcast when a buffer is queued or written, and on Close
	index     map[string]blockLoc   // of the packs without a table, by multihash
	alt       map[string][]blockLoc // other copies of blocks held more than once, by multihash
	tables    []uint32              // the packs with a table of their own in use, oldest first
	multis    []*multiTable         // the multi-pack tables in use (multitable.go)
	badTables []*damage             // tables found damaged; their packs are read from their index
	damaged   map[string]*damage    // blocks no usable record locates, found damaged by a scan
	lost      []*damage             // index damage that may hide blocks it cannot name
	unsealed  []string              // other processes' unsealed packs at the last scan
	reclaimed bool                  // this process has looked for dead writers' packs
	packs     []*packFile           // by pack id
	cur       *packWriter           // the pack this process appends to; nil until the first Put
	queue     []*flushBuf           // full buffers for the write goroutine, oldest first
	writing   bool                  // the write goroutine has been started
	stopWrite bool                  // the write goroutine is to end once queue is empty
	wdone     chan struct{}         // closed when the write goroutine has ended
	nInflight int                   // buffers queued or being written
	free      [][]byte              // written buffers, for reuse
	failed    error                 // set when a write or sync failed; writes are refused after it
	closed    bool
}

var (
	_ Store      = (*Embedded)(nil)
	_ Syncer     = (*Embedded)(nil)
	_ Sizer      = (*Embedded)(nil)
	_ blockStore = (*Embedded)(nil)
	_ Collector  = (*Embedded)(nil)
)

// blockLoc is where a block's data lies, and how to check it.
type blockLoc struct {
	pack   uint32
	length uint32
	off    int64
	sum    uint32 // CRC-32C of the data, unless its pack's index is of the first version
}

// packFile is a pack known to this process.
type packFile struct {
	name    string      // base name, without extension
	f       *os.File    // read handle; opened at the first read for other processes' packs
	idxOff  int64       // how much of the index has been applied; -1: unusable index
	dataEnd int64       // the end of the last block the applied records locate
	v1      bool        // the index is of the first version, without sums
	seals   bool        // the index is of a version whose writers seal their packs
	table   *table      // the pack's table; nil: its index is read into the map
	covered bool        // a multi-pack table in use lists it: neither its table nor its index is read
	retable bool        // the multi-pack table that listed it was dropped: the next scan maps its table
	size    int64       // of the pack, if it has a table (sealed packs do not grow)
	w       *packWriter // set for the packs this process writes
	bloom   *bloom      // of the keys of a pack this process rolled: a miss skips its table
}

// packWriter appends to one of this process's packs.
//
// Pack bytes go through three stages: gathered in buf by Put; handed, once
// buf is full, to the store's write goroutine (inflight), so that hashing
// the next blocks and copying these into the page cache happen on two
// cores; written (pwrite) to the pack. Reads of a block not yet written are
// served from memory. A record never spans two buffers.
type packWriter struct {
	id        uint32
	f         *os.File    // the pack, opened read-write and locked; also its read handle
	idx       *os.File    // the index, opened for appending
	buf       []byte      // pack bytes from bufOff on, being gathered
	bufOff    int64       // pack offset of buf[0]
	inflight  []*flushBuf // handed to the write goroutine, oldest first
	written   int64       // every pack byte before this has been written
	end       int64       // bufOff + len(buf)
	kicked    int64       // background writeback has been started up to here (write goroutine only)
	pending   []byte      // index records of blocks not yet synced
	blocks    int         // records appended
	bloom     *bloom      // of the keys appended, for the table once the pack is rolled
	sealed    bool        // rolled and sealed: its blocks are found through its table
	dirSynced bool        // the directory entries of f and idx are durable (Sync only)
	// durable and idxDurable are the lengths of the pack and the index
	// that synced index records cover (Sync only): what a failed writer
	// keeps. durable is 0 until a record has been synced.
	durable, idxDurable int64
}

// multiTable is a multi-pack table in use: ids maps the numbers of its
// packs to pack ids, noPack for a pack not in the directory.
type multiTable struct {
	t   *table
	ids []uint32
}

const noPack = ^uint32(0)

// flushBuf is a full buffer on its way to the pack.
type flushBuf struct {
	w    *packWriter
	off  int64
	data []byte
}

// OpenEmbedded opens, creating it if needed, the embedded store in
// cfg.Dir. It maps the tables of sealed packs and reads the index files of
// packs without one; it creates no file until the first Put.
func OpenEmbedded(ctx context.Context, cfg Config) (*Embedded, error) {
	e, err := openEmbedded(ctx, cfg.Dir, packRollSize)
	if err != nil {
		return nil, err
	}
	e.rehash = cfg.Rehash
	return e, nil
}

func openEmbedded(ctx context.Context, dir string, rollSize int64) (*Embedded, error) {
	return openEmbeddedLocked(ctx, dir, rollSize, true)
}

// openEmbeddedLocked is openEmbedded; lock says whether to take the
// store's shared lock (Collect's own copy runs under its exclusive one).
func openEmbeddedLocked(ctx context.Context, dir string, rollSize int64, lock bool) (*Embedded, error) {
	const op = "ipfsstore.Open"
	if dir == "" {
		return nil, acerr.E(op, "", acerr.Invalid, errors.New("no store directory"))
	}
	if err := ctx.Err(); err != nil {
		return nil, acerr.E(op, dir, acerr.Other, err)
	}
	pdir := filepath.Join(dir, packsDir)
	if err := os.MkdirAll(pdir, 0o755); err != nil {
		return nil, acerr.E(op, dir, acerr.IO, err)
	}
	e := &Embedded{
		dir:        pdir,
		rollSize:   rollSize,
		rollBlocks: packRollBlocks,
		index:      make(map[string]blockLoc),
		alt:        make(map[string][]blockLoc),
		damaged:    make(map[string]*damage),
		seenMulti:  make(map[string]bool),
	}
	e.cond.L = &e.mu
	e.scratch.New = func() any { b := make([]byte, schema.MaxBlockSize); return &b }
	if lock {
		if err := e.lockShared(ctx); err != nil {
			return nil, acerr.E(op, dir, acerr.KindOf(err), err)
		}
	}
	if err := e.rescan(); err != nil {
		e.closeFiles()
		e.unlock()
		return nil, acerr.E(op, dir, acerr.IO, err)
	}
	return e, nil
}

// Get returns the bytes of block c, read from its pack and checked against
// the checksum its index record keeps, and against c's hash if the store
// was opened with Config.Rehash. A copy that fails its check is reported
// as damage (kind acerr.Integrity, naming the file), unless the store
// holds another copy of the block that passes. The block of an identity
// CID (an inlined block) is in the CID itself: Get, Has and BlockSize
// answer for it without looking, as kubo's blockstore does, and nothing
// needs storing for it.
func (e *Embedded) Get(ctx context.Context, c cid.Cid) ([]byte, error) {
	return e.get(ctx, c, e.rehash)
}

// get is Get; with rehash it also checks the data against c's hash.
func (e *Embedded) get(ctx context.Context, c cid.Cid, rehash bool) ([]byte, error) {
	const op = "ipfsstore.Get"
	if err := checkCID(op, c); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, acerr.E(op, "", acerr.Other, err).WithCID(c.String())
	}
	if b, ok := unixfs.Inline(c); ok {
		return b, nil
	}
	key := blockKey(c)
	data, err := e.load(c, key, rehash, nil)
	if err == errNotHeld {
		// Another process may have synced it since we last looked.
		if err = e.rescan(); err == nil {
			data, err = e.load(c, key, rehash, nil)
		}
	}
	if err == errNotHeld {
		err = e.missing(key)
	}
	if err != nil {
		return nil, readError(op, c, err)
	}
	return data, nil
}

// errNotHeld is load's answer for a block no index read so far lists.
var errNotHeld = errors.New("block is not held")

// load returns the data of the block with key, checked: the copy the
// index names or, should it fail its check, another copy of the block,
// which the index then names instead. buf, if not nil, receives the data
// and must have room for schema.MaxBlockSize bytes.
func (e *Embedded) load(c cid.Cid, key string, rehash bool, buf []byte) ([]byte, error) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, errClosed
	}
	loc, ok := e.locateLocked(key)
	e.mu.Unlock()
	if !ok {
		return nil, errNotHeld
	}
	data, err := e.readChecked(c, loc, rehash, buf)
	if err == nil {
		return data, nil
	}
	e.mu.Lock()
	alts := e.copiesLocked(key)
	e.mu.Unlock()
	for _, a := range alts {
		if a == loc {
			continue
		}
		if data, aerr := e.readChecked(c, a, rehash, buf); aerr == nil {
			e.mu.Lock()
			if cur, _ := e.locateLocked(key); cur == loc {
				e.index[key] = a
				e.alt[key] = slices.DeleteFunc(e.alt[key], func(x blockLoc) bool { return x == a })
			}
			e.mu.Unlock()
			return data, nil
		}
	}
	return nil, err
}

// locateLocked returns where the block with key is: in the map, which
// holds this process's writes and so its repairs, else, of the copies the
// tables list, the one in the newest pack. A table whose bucket fails its
// check is dropped. e.mu must be held.
func (e *Embedded) locateLocked(key string) (blockLoc, bool) {
	if loc, ok := e.index[key]; ok {
		return loc, true
	}
	var best blockLoc
	found := false
	e.tableCopiesLocked(key, func(loc blockLoc) {
		if !found || e.packs[loc.pack].name > e.packs[best.pack].name {
			best, found = loc, true
		}
	})
	return best, found
}

// copiesLocked returns every location of the block with key that the
// map and the tables know, in the order locateLocked prefers them. e.mu
// must be held.
func (e *Embedded) copiesLocked(key string) []blockLoc {
	var locs []blockLoc
	if loc, ok := e.index[key]; ok {
		locs = append(locs, loc)
	}
	locs = append(locs, e.alt[key]...)
	var listed []blockLoc
	e.tableCopiesLocked(key, func(loc blockLoc) { listed = append(listed, loc) })
	slices.SortStableFunc(listed, func(a, b blockLoc) int { return strings.Compare(e.packs[b.pack].name, e.packs[a.pack].name) })
	return append(locs, listed...)
}

// tableCopiesLocked calls fn with each copy of the block with key that
// the tables in use list: the multi-pack tables, and the packs' own
// tables. A table whose bucket fails its check is dropped
// (dropTableLocked, dropMultiLocked). e.mu must be held.
func (e *Embedded) tableCopiesLocked(key string, fn func(blockLoc)) {
	for i := len(e.multis) - 1; i >= 0; i-- {
		m := e.multis[i]
		lo, hi, err := m.t.find(key)
		for j := lo; j < hi && err == nil; j++ {
			_, te := m.t.entry(j)
			switch {
			case int(te.pack) >= len(m.ids):
				err = m.t.damaged(fmt.Sprintf("entry %d names pack %d of %d", j, te.pack, len(m.ids)))
			case m.ids[te.pack] != noPack && !e.pastEndLocked(e.packs[m.ids[te.pack]], key, te.off, te.length):
				fn(blockLoc{pack: m.ids[te.pack], length: te.length, off: te.off, sum: te.sum})
			}
		}
		if err != nil {
			e.dropMultiLocked(m, err)
		}
	}
	for i := len(e.tables) - 1; i >= 0; i-- {
		if loc, ok := e.findLocked(e.tables[i], key); ok {
			fn(loc)
		}
	}
}

// findLocked looks key up in the table of pack id. e.mu must be held.
func (e *Embedded) findLocked(id uint32, key string) (blockLoc, bool) {
	p := e.packs[id]
	if p.table == nil {
		return blockLoc{}, false // dropped
	}
	if p.bloom != nil && !p.bloom.mayHave(key) {
		return blockLoc{}, false
	}
	lo, hi, err := p.table.find(key)
	if err != nil {
		e.dropTableLocked(id, err)
		return blockLoc{}, false
	}
	if lo == hi {
		return blockLoc{}, false
	}
	_, te := p.table.entry(lo)
	if e.pastEndLocked(p, key, te.off, te.length) {
		return blockLoc{}, false
	}
	return blockLoc{pack: id, length: te.length, off: te.off, sum: te.sum}, true
}

// pastEndLocked reports whether the block with key that the table of p
// locates at off ends past the end of p, and records it as damaged if so,
// as a scan of p's index would have. e.mu must be held.
func (e *Embedded) pastEndLocked(p *packFile, key string, off int64, length uint32) bool {
	if off+int64(length) <= p.size {
		return false
	}
	if _, seen := e.damaged[key]; !seen {
		e.damaged[key] = &damage{file: e.path(p.name, ".pack"),
			err: fmt.Errorf("pack is truncated: it ends at offset %d, before the end of the block at offset %d", p.size, off)}
	}
	return true
}

// dropTableLocked records the damage err of the table of pack id and stops
// using it: the next scan reads the pack's index instead, from its start.
// e.mu must be held.
func (e *Embedded) dropTableLocked(id uint32, err error) {
	p := e.packs[id]
	var d *damage
	if !errors.As(err, &d) {
		d = &damage{file: p.table.path, err: err}
	}
	e.badTables = append(e.badTables, d)
	p.table.close()
	p.table, p.idxOff, p.dataEnd = nil, 0, 0
	e.tables = slices.DeleteFunc(e.tables, func(x uint32) bool { return x == id })
}

// dropMultiLocked records the damage err of the multi-pack table m and
// stops using it: the next scan maps the tables of its packs instead, or
// reads their indexes. e.mu must be held.
func (e *Embedded) dropMultiLocked(m *multiTable, err error) {
	why := err
	var d *damage
	if errors.As(err, &d) {
		why = d.err
	}
	e.badTables = append(e.badTables, &damage{file: m.t.path,
		err: fmt.Errorf("%w; it may be removed: its packs' own tables and indexes hold what it lists", why)})
	m.t.close()
	for _, id := range m.ids {
		if id != noPack {
			e.packs[id].covered, e.packs[id].retable = false, true
		}
	}
	e.multis = slices.DeleteFunc(e.multis, func(x *multiTable) bool { return x == m })
}

// readChecked reads the copy of block c at loc and checks it against the
// sum its record keeps and, with rehash or when its index keeps no sums,
// against c's hash.
func (e *Embedded) readChecked(c cid.Cid, loc blockLoc, rehash bool, buf []byte) ([]byte, error) {
	data, pack, noSum, err := e.read(loc, buf)
	if err != nil {
		return nil, err
	}
	if !noSum && dataSum(data) != loc.sum {
		return nil, &damage{file: pack, err: errors.New("stored data does not match its checksum")}
	}
	if !noSum && !rehash {
		return data, nil
	}
	ok, err := hashMatches(c, data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errCannotHash, err)
	}
	if !ok {
		return nil, &damage{file: pack, err: errors.New("stored data does not hash to the CID")}
	}
	return data, nil
}

// errCannotHash reports a CID whose hash function the store cannot
// compute.
var errCannotHash = errors.New("cannot check the block")

// readError makes an error of load or missing into the *acerr.Error that
// op returns for block c.
func readError(op string, c cid.Cid, err error) error {
	var d *damage
	switch {
	case err == errNotHeld:
		return notExist(op, c)
	case errors.As(err, &d):
		return acerr.E(op, d.file, acerr.Integrity, d.err).WithCID(c.String())
	case errors.Is(err, errCannotHash):
		return acerr.E(op, "", acerr.Invalid, err).WithCID(c.String())
	default:
		return acerr.E(op, "", acerr.IO, err).WithCID(c.String())
	}
}

// read returns the stored bytes at loc, unverified, in buf if it is not
// nil, and the path of their pack; noSum says the pack's index is of the
// first version, which keeps no checksums.
func (e *Embedded) read(loc blockLoc, buf []byte) (data []byte, pack string, noSum bool, err error) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, "", false, errClosed
	}
	p := e.packs[loc.pack]
	pack, noSum = e.path(p.name, ".pack"), p.v1
	if w := p.w; w != nil && loc.off+int64(loc.length) > w.written {
		data = w.fromMemory(loc, buf)
		e.mu.Unlock()
		return data, pack, noSum, nil
	}
	if p.f == nil {
		p.f, err = os.Open(pack)
		if err != nil {
			e.mu.Unlock()
			return nil, pack, noSum, err
		}
	}
	f := p.f
	e.mu.Unlock()

	if buf == nil {
		buf = make([]byte, loc.length)
	}
	data = buf[:loc.length]
	n, err := f.ReadAt(data, loc.off)
	if n == len(data) {
		return data, pack, noSum, nil
	}
	if err == io.EOF {
		err = &damage{file: pack, err: fmt.Errorf("pack is truncated: it ends inside the block at offset %d", loc.off)}
	}
	return nil, pack, noSum, err
}

// path is the path of a file of the pack named name: ext is ".pack",
// ".idx" or ".unsealed".
func (e *Embedded) path(name, ext string) string { return filepath.Join(e.dir, name+ext) }

// Has reports whether block c is held, looking again at other processes'
// index files if it is not.
func (e *Embedded) Has(ctx context.Context, c cid.Cid) (bool, error) {
	const op = "ipfsstore.Has"
	if err := checkCID(op, c); err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, acerr.E(op, "", acerr.Other, err).WithCID(c.String())
	}
	if _, ok := unixfs.Inline(c); ok {
		return true, nil
	}
	key := blockKey(c)
	ok, err := e.has(key)
	if err == nil && !ok {
		if err = e.rescan(); err == nil {
			ok, err = e.has(key)
		}
	}
	if err != nil {
		return false, acerr.E(op, "", acerr.IO, err).WithCID(c.String())
	}
	return ok, nil
}

// BlockSize returns the length of block c from the index, without
// reading the block (Sizer).
func (e *Embedded) BlockSize(ctx context.Context, c cid.Cid) (int, error) {
	const op = "ipfsstore.BlockSize"
	if err := checkCID(op, c); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, acerr.E(op, "", acerr.Other, err).WithCID(c.String())
	}
	if b, ok := unixfs.Inline(c); ok {
		return len(b), nil
	}
	key := blockKey(c)
	n, ok, err := e.size(key)
	if err == nil && !ok {
		if err = e.rescan(); err == nil {
			n, ok, err = e.size(key)
		}
	}
	switch {
	case err != nil:
		return 0, acerr.E(op, "", acerr.IO, err).WithCID(c.String())
	case !ok:
		return 0, notExist(op, c)
	}
	return n, nil
}

func (e *Embedded) size(key string) (int, bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return 0, false, errClosed
	}
	loc, ok := e.locateLocked(key)
	return int(loc.length), ok, nil
}

func (e *Embedded) has(key string) (bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false, errClosed
	}
	_, ok := e.locateLocked(key)
	return ok, nil
}

// Put checks data against c and appends it to this process's pack. A block
// already held is not written again if its stored copy passes its check
// (as Get checks it); a damaged copy is replaced: data is written and the
// index names it from then on. The block is readable at once, and
// durable after the next Sync.
func (e *Embedded) Put(ctx context.Context, c cid.Cid, data []byte) error {
	const op = "ipfsstore.Put"
	if err := ctx.Err(); err != nil {
		return acerr.E(op, "", acerr.Other, err).WithCID(c.String())
	}
	if err := checkBlock(op, c, data); err != nil {
		return err
	}
	return e.put(op, c, data, false)
}

// putBuilt stores a block the importer has just built and hashed.
func (e *Embedded) putBuilt(ctx context.Context, c cid.Cid, data []byte) error {
	return e.put("ipfsstore.AddFile", c, data, false)
}

// put appends block c to this process's pack unless a good copy is held;
// with force (a Collect's copy) it appends it in any case.
func (e *Embedded) put(op string, c cid.Cid, data []byte, force bool) error {
	key := blockKey(c)
	cb := c.Bytes()
	if len(cb) > maxCIDLen {
		return acerr.E(op, "", acerr.TooLarge, fmt.Errorf("CID is %d bytes, limit %d", len(cb), maxCIDLen)).WithCID(c.String())
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	// Check a held copy, and wait while the write goroutine is maxInflight
	// buffers behind. These are the only places that release e.mu: from
	// the end of this loop on put changes the state in one go.
	var bad blockLoc // the held copy found damaged, if damaged is set
	damaged := false
	for {
		if e.closed {
			return acerr.E(op, "", acerr.IO, errClosed).WithCID(c.String())
		}
		if e.failed != nil {
			return acerr.E(op, "", acerr.IO, e.failed).WithCID(c.String())
		}
		if loc, ok := e.locateLocked(key); ok && !force && (!damaged || loc != bad) {
			e.mu.Unlock()
			good := e.holdsGood(c, key)
			e.mu.Lock()
			if good {
				return nil
			}
			bad, damaged = loc, true
			continue
		}
		if w := e.cur; w != nil && (w.blocks >= e.rollBlocks ||
			w.end+int64(packRecordHeader+len(cb)+len(data)) > e.rollSize && w.end > int64(len(packMagic))) {
			e.mu.Unlock()
			err := e.roll(w)
			e.mu.Lock()
			if err != nil {
				return acerr.E(op, "", acerr.IO, err).WithCID(c.String())
			}
			continue
		}
		if e.nInflight < maxInflight {
			break
		}
		e.cond.Wait()
	}
	recLen := int64(packRecordHeader + len(cb) + len(data))
	w := e.cur
	if w == nil {
		if !e.reclaimed {
			e.reclaimed = true
			e.reclaimDeadLocked()
		}
		var err error
		if w, err = e.newWriterLocked(); err != nil {
			return acerr.E(op, "", acerr.IO, e.fail(err)).WithCID(c.String())
		}
		e.cur = w
	}
	w.buf = appendPackRecordHeader(w.buf, cb, len(data))
	off := w.end + packRecordHeader + int64(len(cb))
	w.buf = append(w.buf, data...)
	w.end += recLen
	sum := dataSum(data)
	w.pending = appendIndexRecord(w.pending, indexRecord{CID: cb, Offset: off, Length: uint32(len(data)), Sum: sum})
	w.blocks++
	w.bloom.add(key)
	e.index[key] = blockLoc{pack: w.id, length: uint32(len(data)), off: off, sum: sum}
	if damaged {
		delete(e.alt, key) // holdsGood found every copy damaged
	}
	delete(e.damaged, key)
	if len(w.buf) >= writeBufSize {
		e.enqueue(w)
	}
	return nil
}

// holdsGood reports whether a copy of block c that the store holds passes
// its check. A copy that cannot be read counts as damaged.
func (e *Embedded) holdsGood(c cid.Cid, key string) bool {
	bp := e.scratch.Get().(*[]byte)
	defer e.scratch.Put(bp)
	_, err := e.load(c, key, e.rehash, *bp)
	return err == nil
}

// fail records err, if any, as the store's write failure and returns it.
// e.mu must be held.
func (e *Embedded) fail(err error) error {
	if err != nil && e.failed == nil {
		e.failed = err
	}
	return err
}

// newWriterLocked creates this process's next pack and index. e.mu must be
// held.
func (e *Embedded) newWriterLocked() (*packWriter, error) {
	name, err := newPackName()
	if err != nil {
		return nil, err
	}
	// The pack is locked before its .unsealed marker exists, so whoever
	// finds the marker and gets the lock knows its writer is gone.
	f, err := os.OpenFile(e.path(name, ".pack"), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	var idx *os.File
	err = lockPack(f)
	if err == nil {
		err = createEmpty(e.path(name, ".unsealed"))
	}
	if err == nil {
		idx, err = os.OpenFile(e.path(name, ".idx"), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	}
	if err != nil {
		f.Close()
		os.Remove(e.path(name, ".unsealed"))
		os.Remove(e.path(name, ".pack"))
		return nil, err
	}
	if !e.writing {
		e.writing = true
		e.wdone = make(chan struct{})
		go e.writeLoop()
	}
	id := uint32(len(e.packs))
	w := &packWriter{
		id:      id,
		f:       f,
		idx:     idx,
		buf:     append(e.newBufLocked(), packMagic...),
		end:     int64(len(packMagic)),
		pending: []byte(idxMagic),
		bloom:   newBloom(e.rollBlocks),
	}
	e.packs = append(e.packs, &packFile{name: name, f: f, w: w})
	return w, nil
}

// newBufLocked returns an empty buffer that holds writeBufSize bytes plus
// the largest record. e.mu must be held.
func (e *Embedded) newBufLocked() []byte {
	if n := len(e.free); n > 0 {
		b := e.free[n-1]
		e.free = e.free[:n-1]
		return b
	}
	return make([]byte, 0, writeBufSize+packRecordHeader+maxCIDLen+schema.MaxBlockSize)
}

// enqueue hands w's buffer to the write goroutine. It never waits; Put
// keeps the queue short by waiting before it appends. e.mu must be held.
func (e *Embedded) enqueue(w *packWriter) {
	if len(w.buf) == 0 {
		return
	}
	fb := &flushBuf{w: w, off: w.bufOff, data: w.buf}
	w.inflight = append(w.inflight, fb)
	w.bufOff += int64(len(w.buf))
	w.buf = e.newBufLocked()
	e.queue = append(e.queue, fb)
	e.nInflight++
	e.cond.Broadcast()
}

// writeLoop is the write goroutine: it writes each queued buffer to its
// pack, starts background writeback now and then, and recycles the buffer.
// It ends when Close asks and the queue is empty.
func (e *Embedded) writeLoop() {
	defer close(e.wdone)
	e.mu.Lock()
	defer e.mu.Unlock()
	for {
		for len(e.queue) == 0 && !e.stopWrite {
			e.cond.Wait()
		}
		if len(e.queue) == 0 {
			return
		}
		fb := e.queue[0]
		e.queue[0] = nil
		e.queue = e.queue[1:]
		e.mu.Unlock()

		w := fb.w
		_, err := w.f.WriteAt(fb.data, fb.off)
		end := fb.off + int64(len(fb.data))
		if err == nil && end-w.kicked >= writebackChunk {
			startWriteback(w.f, w.kicked, end-w.kicked)
			w.kicked = end
		}

		e.mu.Lock()
		if err != nil {
			// Keep fb in w.inflight: reads of its blocks are still
			// served from memory, while the store refuses writes.
			e.fail(err)
		} else {
			w.written = end
			for i, x := range w.inflight {
				if x == fb {
					w.inflight = append(w.inflight[:i], w.inflight[i+1:]...)
					break
				}
			}
			e.free = append(e.free, fb.data[:0])
		}
		e.nInflight--
		e.cond.Broadcast()
	}
}

// fromMemory copies a block that has not reached the pack yet out of the
// buffer holding it, into buf if it is not nil. The caller holds e.mu.
func (w *packWriter) fromMemory(loc blockLoc, buf []byte) []byte {
	src := w.buf
	off := w.bufOff
	if loc.off < w.bufOff {
		for _, fb := range w.inflight {
			if loc.off >= fb.off && loc.off < fb.off+int64(len(fb.data)) {
				src, off = fb.data, fb.off
				break
			}
		}
	}
	start := loc.off - off
	return append(buf[:0], src[start:start+int64(loc.length)]...)
}

// newPackName returns a fresh pack base name: the time, so names sort by
// age, and 64 random bits, so no two processes pick the same one.
func newPackName() (string, error) {
	var r [8]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", err
	}
	var t [8]byte
	binary.BigEndian.PutUint64(t[:], uint64(time.Now().UnixNano()))
	return hex.EncodeToString(t[:]) + "-" + hex.EncodeToString(r[:]), nil
}

// Sync makes every block Put so far durable: for each pack written to, it
// writes out the buffer, fdatasyncs the pack, and only then appends the
// index records of those blocks and fdatasyncs the index. After Sync other
// processes find the blocks.
func (e *Embedded) Sync(ctx context.Context) error {
	const op = "ipfsstore.Sync"
	if err := ctx.Err(); err != nil {
		return acerr.E(op, "", acerr.Other, err)
	}
	if err := e.sync(); err != nil {
		return acerr.E(op, e.dir, acerr.IO, err)
	}
	return nil
}

func (e *Embedded) sync() error {
	e.syncMu.Lock()
	defer e.syncMu.Unlock()

	type job struct {
		w       *packWriter
		upto    int64 // pack bytes that must be written before the records count
		records []byte
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return errClosed
	}
	if e.failed != nil {
		e.mu.Unlock()
		return e.failed
	}
	var jobs []job
	if e.cur != nil {
		jobs = append(jobs, job{w: e.cur})
	}
	for i := range jobs {
		w := jobs[i].w
		e.enqueue(w)
		jobs[i].upto = w.bufOff
		jobs[i].records = w.pending
		w.pending = nil
	}
	// Wait for the write goroutine to write what was handed off so far;
	// later Puts do not hold this Sync up.
	for _, j := range jobs {
		for j.w.written < j.upto && e.failed == nil && !e.closed {
			e.cond.Wait()
		}
	}
	if err := e.failed; err != nil {
		e.mu.Unlock()
		return err
	}
	e.mu.Unlock()

	for _, j := range jobs {
		if err := j.w.sync(e.dir, j.upto, j.records); err != nil {
			e.mu.Lock()
			e.fail(err)
			e.mu.Unlock()
			return err
		}
	}
	return nil
}

// roll ends w, this process's current pack, once it holds rollBlocks
// blocks or rollSize bytes, and seals it as Close would: its last buffer
// written, the pack fdatasynced, then its index records appended and
// fdatasynced, its table written and mapped, its .unsealed marker
// removed. Its blocks then leave the in-memory index and are found
// through the table (and the Bloom filter built while they were put, so
// that the lookup of a new block skips the table), which bounds the
// heap of an import by the size of one pack's index, whatever the size
// of the import. The next Put starts a new pack.
//
// A kill at any step leaves what a kill during Close leaves: a pack whose
// marker the next writer finds, or a sealed one. Should the table not be
// written, the pack stays this process's, its blocks in the map, and
// Close seals it. Put calls roll without e.mu; it takes syncMu, as Sync
// does.
func (e *Embedded) roll(w *packWriter) error {
	e.syncMu.Lock()
	defer e.syncMu.Unlock()
	e.mu.Lock()
	if e.cur != w || e.closed || e.failed != nil {
		e.mu.Unlock()
		return nil // rolled by another Put, or Put's loop reports why not
	}
	e.cur = nil
	e.enqueue(w)
	e.free = append(e.free, w.buf) // nothing more is gathered for w
	w.buf = nil
	upto, records := w.bufOff, w.pending
	w.pending = nil
	for w.written < upto && e.failed == nil && !e.closed {
		e.cond.Wait()
	}
	if err := e.failed; err != nil {
		e.mu.Unlock()
		return err
	}
	p := e.packs[w.id]
	e.mu.Unlock()

	if err := w.sync(e.dir, upto, records); err != nil {
		e.mu.Lock()
		e.fail(err)
		e.mu.Unlock()
		return err
	}
	// The table is made from the map, which holds this pack's blocks:
	// reading back the index would cost its size again in the heap.
	e.mu.Lock()
	entries := make([]tableEntry, 0, w.blocks)
	for k, loc := range e.index {
		if loc.pack == w.id {
			entries = append(entries, tableEntry{key: k, off: loc.off, length: loc.length, sum: loc.sum})
		}
	}
	e.mu.Unlock()
	tbl, err := encodeTable(entries)
	entries = nil
	if err == nil {
		err = atomicfile.Create(e.path(p.name, ".tbl"), tbl, 0o644)
	}
	tbl = nil
	if err != nil {
		return nil // Close seals it, as it seals any pack it could not table
	}
	t, err := openTable(e.path(p.name, ".tbl"))
	if err != nil {
		return nil
	}
	if err := os.Remove(e.path(p.name, ".unsealed")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.close()
		return nil
	}
	_ = w.idx.Close() // synced; nothing more is appended

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		t.close()
		return nil
	}
	w.sealed = true
	p.table, p.size, p.bloom = t, upto, w.bloom
	w.bloom = nil
	e.tables = append(e.tables, w.id)
	for k, loc := range e.index {
		if loc.pack == w.id {
			delete(e.index, k)
		}
	}
	return nil
}

// sync makes the pack durable, then appends records, which locate blocks
// before upto, to the index and makes that durable. Only Sync calls it,
// under syncMu.
func (w *packWriter) sync(dir string, upto int64, records []byte) error {
	if len(records) == 0 {
		return nil
	}
	if err := datasync(w.f); err != nil {
		return err
	}
	if !w.dirSynced {
		// The new files' names must survive a power loss before the index
		// says anything.
		if err := atomicfile.SyncDir(dir); err != nil {
			return err
		}
		w.dirSynced = true
	}
	if _, err := w.idx.Write(records); err != nil {
		return err
	}
	if err := datasync(w.idx); err != nil {
		return err
	}
	w.durable, w.idxDurable = upto, w.idxDurable+int64(len(records))
	return nil
}

// AddFile imports r as a UnixFS file, as `ipfs add --cid-version=1` would.
// Call Sync to make the file durable.
func (e *Embedded) AddFile(ctx context.Context, r io.Reader) (cid.Cid, uint64, error) {
	return addFile(ctx, e, r, &e.importer)
}

// OpenFile opens the UnixFS file rooted at c. Reads use ctx.
func (e *Embedded) OpenFile(ctx context.Context, c cid.Cid) (File, error) {
	if err := checkCID("ipfsstore.OpenFile", c); err != nil {
		return nil, err
	}
	return openFile(ctx, e, c)
}

// Close syncs and releases the store's files. Closing again returns the
// first Close's result.
func (e *Embedded) Close() error {
	e.closeOnce.Do(func() { e.closeErr = e.close() })
	return e.closeErr
}

func (e *Embedded) close() error {
	err := e.sync()
	e.mu.Lock()
	e.closed = true
	e.stopWrite = true
	e.cond.Broadcast()
	writing := e.writing
	e.mu.Unlock()
	if writing {
		<-e.wdone
	}
	e.mu.Lock()
	var serr error
	sealed := e.failed == nil && slices.ContainsFunc(e.packs, func(p *packFile) bool { return p.w != nil })
	if e.failed != nil {
		serr = e.giveBackLocked()
	} else {
		serr = e.sealLocked()
	}
	cerr := e.closeFiles()
	e.mu.Unlock()
	if sealed && serr == nil && !e.noMerge {
		// Best effort, as a table is: it costs readers speed, not blocks.
		_ = e.mergeTables()
	}
	if err == nil {
		err = serr
	}
	if err == nil {
		err = cerr
	}
	e.unlock()
	if err != nil {
		return acerr.E("ipfsstore.Close", e.dir, acerr.IO, err)
	}
	return nil
}

// closeFiles closes every open file. e.mu must be held (or e unshared).
func (e *Embedded) closeFiles() error {
	var first error
	keep := func(err error) {
		if err != nil && first == nil && !errors.Is(err, os.ErrClosed) {
			first = err
		}
	}
	for _, p := range e.packs {
		if p.f != nil {
			keep(p.f.Close())
		}
		if p.table != nil {
			keep(p.table.close())
			p.table = nil
		}
		if p.w != nil {
			keep(p.w.idx.Close())
		}
	}
	for _, m := range e.multis {
		keep(m.t.close())
	}
	e.multis = nil
	return first
}

// scanned is what a scan learnt about one index file of another process.
type scanned struct {
	name     string
	id       uint32 // pack id if known
	known    bool
	bad      bool // the file is not an index of this store; ignore the pack
	newOff   int64
	dataEnd  int64
	v1       bool    // the index is of the first version, without sums
	seals    bool    // the index is of a version whose writers seal their packs
	table    *table  // the pack's table, mapped; its index is not read
	size     int64   // the pack's, when it has a table
	badTable *damage // the pack's table, found damaged; its index is read instead
	records  []scannedRecord
	damaged  []damagedBlock
	lost     []*damage
}

// scannedRecord is an index record ready for the map.
type scannedRecord struct {
	key    string // the block's multihash
	off    int64
	length uint32
	sum    uint32
}

// damagedBlock is a block a scan found listed by a damaged record, or
// beyond the end of its pack.
type damagedBlock struct {
	key string
	d   *damage
}

// rescan looks for the packs of other processes. It maps the new
// multi-pack tables that list no pack it knows (multitable.go) and the
// table of a new pack that has one and none of those lists; it reads the
// index files of the others, new ones whole and known ones from where
// the last scan stopped, and the blocks they list join the map.
func (e *Embedded) rescan() (err error) {
	e.scanMu.Lock()
	defer e.scanMu.Unlock()

	type seen struct {
		id      uint32
		idxOff  int64
		dataEnd int64
		own     bool
		v1      bool
		seals   bool
		table   bool
		covered bool
		retable bool
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return errClosed
	}
	known := make(map[string]seen, len(e.packs))
	for id, p := range e.packs {
		known[p.name] = seen{id: uint32(id), idxOff: p.idxOff, dataEnd: p.dataEnd, own: p.w != nil, v1: p.v1, seals: p.seals,
			table: p.table != nil, covered: p.covered, retable: p.retable}
	}
	listedWith := make(map[string][]tablePack) // by pack: the packs of the multi-pack table in use that lists it
	for _, m := range e.multis {
		for _, tp := range m.t.packs {
			listedWith[tp.name] = m.t.packs
		}
	}
	e.mu.Unlock()

	ents, multis, badMultis, err := e.listPacks()
	if err != nil {
		return err
	}
	present := make(map[string]bool, len(ents)/3)
	tables := make(map[string]bool, len(ents)/3)
	var indexes []os.DirEntry // and markers, oldest first
	for _, ent := range ents {
		name := ent.Name()
		switch {
		case strings.HasSuffix(name, ".tbl") && ent.Type().IsRegular():
			tables[name[:len(name)-4]] = true
		case strings.HasSuffix(name, ".pack"):
			present[name[:len(name)-5]] = true
		case strings.HasSuffix(name, ".idx"), strings.HasSuffix(name, ".unsealed"):
			indexes = append(indexes, ent)
		}
	}
	slices.SortFunc(indexes, func(a, b os.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	use, skip := chooseMulti(multis)
	// A new multi-pack table replaces the tables this process uses for the
	// packs it lists (a merge since the last scan), unless it lists a pack
	// read otherwise, or only some of the packs of a multi-pack table in
	// use.
	use = slices.DeleteFunc(use, func(t *table) bool {
		var in map[string]bool // t's packs, made at the first known one
		for _, p := range t.packs {
			k, ok := known[p.name]
			if ok && in == nil {
				in = make(map[string]bool, len(t.packs))
				for _, p := range t.packs {
					in[p.name] = true
				}
			}
			if ok && (k.own || !k.table && !k.covered && !k.retable ||
				slices.ContainsFunc(listedWith[p.name], func(q tablePack) bool { return !in[q.name] })) {
				skip = append(skip, t)
				return true
			}
		}
		return false
	})
	for _, t := range skip {
		t.close()
	}
	covered := make(map[string]bool, len(present))
	for _, t := range use {
		for _, p := range t.packs {
			covered[p.name] = true
		}
	}
	var found []scanned
	defer func() {
		if err != nil {
			for _, s := range found {
				if s.table != nil {
					s.table.close()
				}
			}
			for _, t := range use {
				t.close()
			}
		}
	}()
	var unsealed []string
	for _, ent := range indexes {
		if name, ok := strings.CutSuffix(ent.Name(), ".unsealed"); ok {
			if k, isKnown := known[name]; !isKnown || !k.own {
				unsealed = append(unsealed, name)
			}
			continue
		}
		name, ok := strings.CutSuffix(ent.Name(), ".idx")
		if !ok || !ent.Type().IsRegular() {
			continue
		}
		k, isKnown := known[name]
		if covered[name] || isKnown && (k.own || k.idxOff < 0 || k.table || k.covered) {
			continue
		}
		var badTable *damage
		if (!isKnown || k.retable) && tables[name] {
			pst, err := os.Stat(e.path(name, ".pack"))
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return err
			}
			t, err := openTable(e.path(name, ".tbl"))
			if err == nil {
				found = append(found, scanned{name: name, id: k.id, known: isKnown, table: t, size: pst.Size()})
				continue
			}
			if !errors.As(err, &badTable) {
				return err
			}
		}
		s, changed, err := e.scanIndex(name, k.idxOff, k.dataEnd, k.v1, k.seals, false)
		if err != nil {
			return err
		}
		if !changed && badTable == nil {
			continue
		}
		s.id, s.known, s.badTable = k.id, isKnown, badTable
		found = append(found, s)
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return errClosed
	}
	e.unsealed = unsealed
	e.badTables = append(e.badTables, badMultis...)
	if len(use) > 0 {
		e.useMultisLocked(use, present)
	}
	if len(found) == 0 {
		return nil
	}
	if len(e.index) == 0 {
		n := 0
		for _, s := range found {
			n += len(s.records)
		}
		e.index = make(map[string]blockLoc, n)
	}
	for _, s := range found {
		id := s.id
		if !s.known {
			id = uint32(len(e.packs))
			e.packs = append(e.packs, &packFile{name: s.name})
		}
		p := e.packs[id]
		p.retable = false
		if s.badTable != nil {
			e.badTables = append(e.badTables, s.badTable)
		}
		if s.table != nil {
			p.table, p.size = s.table, s.size
			e.tables = append(e.tables, id)
			continue
		}
		if s.bad {
			p.idxOff = -1
			continue
		}
		p.idxOff, p.dataEnd, p.v1, p.seals = s.newOff, s.dataEnd, s.v1, s.seals
		for _, r := range s.records {
			loc := blockLoc{pack: id, length: r.length, off: r.off, sum: r.sum}
			if _, ok := e.index[r.key]; !ok {
				e.index[r.key] = loc
			} else {
				e.alt[r.key] = append(e.alt[r.key], loc)
			}
		}
		for _, b := range s.damaged {
			if _, ok := e.damaged[b.key]; !ok {
				e.damaged[b.key] = b.d
			}
		}
		e.lost = append(e.lost, s.lost...)
	}
	return nil
}

// useMultisLocked starts using the multi-pack tables use, in place of the
// tables of the packs they list that this process uses (rescan checked
// that they may replace them). present holds the packs in the directory.
// e.mu must be held.
func (e *Embedded) useMultisLocked(use []*table, present map[string]bool) {
	ids := make(map[string]uint32, len(e.packs))
	for id, p := range e.packs {
		ids[p.name] = uint32(id)
	}
	for _, t := range use {
		m := &multiTable{t: t, ids: make([]uint32, len(t.packs))}
		listed := make(map[string]bool, len(t.packs))
		for i, tp := range t.packs {
			listed[tp.name] = true
			id, known := ids[tp.name]
			switch {
			case known:
				p := e.packs[id]
				if p.table != nil {
					p.table.close()
					p.table = nil
					e.tables = slices.DeleteFunc(e.tables, func(x uint32) bool { return x == id })
				}
				p.covered, p.retable = true, false
			case present[tp.name]:
				id = uint32(len(e.packs))
				e.packs = append(e.packs, &packFile{name: tp.name, size: tp.size, covered: true})
			default:
				id = noPack
			}
			m.ids[i] = id
		}
		e.multis = slices.DeleteFunc(e.multis, func(x *multiTable) bool {
			if slices.ContainsFunc(x.t.packs, func(tp tablePack) bool { return !listed[tp.name] }) {
				return false
			}
			x.t.close()
			return true
		})
		e.multis = append(e.multis, m)
	}
}

// readDir lists the directory dir, in no order: os.ReadDir's sort of
// every entry would cost more than the listing.
func readDir(dir string) ([]os.DirEntry, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.ReadDir(-1)
}

// listPacks lists the packs directory and maps the multi-pack tables in
// it that no scan has looked at, returning those found damaged apart. A
// multi-pack table that is gone when it is opened was replaced by a merge
// since the listing: the directory is listed again. e.scanMu must be held.
func (e *Embedded) listPacks() (ents []os.DirEntry, multis []*table, bad []*damage, err error) {
	for attempt := 0; ; attempt++ {
		ents, err = readDir(e.dir)
		if err != nil {
			return nil, nil, nil, err
		}
		multis, bad = multis[:0], bad[:0]
		gone := false
		for _, ent := range ents {
			if !strings.HasSuffix(ent.Name(), ".mtbl") || !ent.Type().IsRegular() {
				continue
			}
			path := filepath.Join(e.dir, ent.Name())
			if e.seenMulti[path] {
				continue
			}
			t, err := openTable(path)
			var d *damage
			switch {
			case err == nil:
				multis = append(multis, t)
			case errors.As(err, &d):
				bad = append(bad, d)
			case errors.Is(err, fs.ErrNotExist) && attempt < 3:
				gone = true
			case !errors.Is(err, fs.ErrNotExist):
				for _, t := range multis {
					t.close()
				}
				return nil, nil, nil, err
			}
		}
		if !gone {
			break
		}
		for _, t := range multis {
			t.close()
		}
	}
	for _, t := range multis {
		e.seenMulti[t.path] = true
	}
	for _, d := range bad {
		e.seenMulti[d.file] = true
	}
	return ents, multis, bad, nil
}

// scanIndex reads the index file of pack name from off, where the last
// scan stopped, dataEnd being the end of the last block it located. It
// reports changed=false when there is nothing new to apply.
//
// Bytes after the last record that decodes, and blocks in the pack past
// the last one a record locates, are what a writer leaves while it works
// or if it dies: its pack is unsealed. Once a pack is sealed they are
// damage (in packs of the versions whose writers seal them). sealed says
// the caller found the pack sealed before reading it; otherwise
// scanIndex looks when it needs to.
func (e *Embedded) scanIndex(name string, off, dataEnd int64, v1, seals, sealed bool) (s scanned, changed bool, err error) {
	s = scanned{name: name, newOff: off, dataEnd: dataEnd, v1: v1, seals: seals}
	idxPath := e.path(name, ".idx")
	f, err := os.Open(idxPath)
	if errors.Is(err, fs.ErrNotExist) {
		return s, false, nil
	}
	if err != nil {
		return s, false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return s, false, err
	}
	size := st.Size()
	if size <= off {
		return s, false, nil
	}
	buf := make([]byte, size-off)
	if _, err := io.ReadFull(io.NewSectionReader(f, off, size-off), buf); err != nil {
		return s, false, err
	}
	// Read the pack's size only after the index: the writer makes pack
	// data durable before the index records that point at it.
	packPath := e.path(name, ".pack")
	pst, err := os.Stat(packPath)
	if errors.Is(err, fs.ErrNotExist) {
		return s, false, nil
	}
	if err != nil {
		return s, false, err
	}
	packSize := pst.Size()

	// The map keys are substrings of one string holding the whole read, so
	// loading costs one allocation, not one per block.
	all := string(buf)
	base := 0 // where the records start in buf
	if off == 0 {
		if len(buf) < len(idxMagic) {
			return s, false, nil // the writer has not finished the header yet
		}
		switch string(buf[:len(idxMagic)]) {
		case idxMagic:
			s.seals = true
		case idxMagicV2:
		case idxMagicV1:
			s.v1 = true
		default:
			s.bad = true
			return s, true, nil
		}
		base = len(idxMagic)
		s.newOff = int64(base)
		s.dataEnd = int64(len(packMagic))
	}
	startEnd := s.dataEnd
	ip := parseIndex(buf[base:], s.v1)
	lastEnd := startEnd // of the block the last record locates
	if n := len(ip.records); n > 0 {
		lastEnd = ip.records[n-1].Offset + int64(ip.records[n-1].Length)
	}
	// A torn last record, or blocks past the last record, are what a live
	// or dead writer leaves; in a sealed pack they are damage.
	leftover := s.seals && (ip.tail > 0 || packSize > lastEnd)
	if leftover && !sealed {
		if _, err := os.Stat(e.path(name, ".unsealed")); errors.Is(err, fs.ErrNotExist) {
			// Sealed: the index is whole. Read it again, in case it was
			// sealed after the read above.
			return e.scanIndex(name, off, dataEnd, v1, seals, true)
		}
	}
	if leftover && sealed {
		ip.damage = append(ip.damage, damagedRun{at: ip.used, n: ip.tail, next: len(ip.records)})
		ip.used += ip.tail
	}

	s.records = make([]scannedRecord, 0, len(ip.records))
	for _, r := range ip.records {
		mh, ok := multihashOf(r.CID)
		if !ok {
			continue // checksummed but not a CID: written by something else
		}
		at := base + r.at + 1 + len(r.CID) // the end of the CID in buf and all
		key := all[at-len(mh) : at]
		end := r.Offset + int64(r.Length)
		s.dataEnd = max(s.dataEnd, end)
		if end > packSize {
			s.damaged = append(s.damaged, damagedBlock{key, &damage{file: packPath,
				err: fmt.Errorf("pack is truncated: it ends at offset %d, before the end of the block at offset %d", packSize, r.Offset)}})
			continue
		}
		s.records = append(s.records, scannedRecord{key: key, off: r.Offset, length: r.Length, sum: r.Sum})
	}
	if len(ip.damage) > 0 {
		s.attribute(e, ip, off+int64(base), startEnd, packSize)
	}
	s.newOff += int64(ip.used)
	return s, true, nil
}
