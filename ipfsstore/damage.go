package ipfsstore

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/archivecache/archivecache/acerr"
	"github.com/ipfs/go-cid"
)

// Damage in the embedded store, and its repair.
//
// What the store holds is checked wherever it is read: block data against
// the checksum its index record keeps (or its hash), index records against
// their own checksums, index records against the size of their pack.
// Whatever fails is reported as damage, acerr.Integrity naming the file,
// never as a block that does not exist, and it hides nothing else: a
// damaged index record is passed over (see parseIndex), and the blocks it
// and its neighbours would have listed are read from the record headers
// of the pack, so that a Get of one of them reports the damage too.
//
// Damage is repaired by writing a good copy: Put of a block whose stored
// copy fails its check, or that a damaged record hides, writes it again,
// and the index names the new copy from then on. Repair fetches the good
// copy from another store.

// damage is something wrong with a file of the store: a block's data
// failing its check, a damaged index record, a truncated pack.
type damage struct {
	file string // the pack or index file, a path on disk
	err  error
}

func (d *damage) Error() string { return d.file + ": " + d.err.Error() }
func (d *damage) Unwrap() error { return d.err }

// missing explains why the block with key is in no index: damage found
// where it is listed, damage that may hide it, or errNotHeld.
func (e *Embedded) missing(key string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if d := e.damaged[key]; d != nil {
		return d
	}
	if len(e.lost) > 0 {
		d := e.lost[0]
		return &damage{file: d.file, err: fmt.Errorf("the block is in no index, and %v: it may have been listed there", d.err)}
	}
	return errNotHeld
}

// Check reads back every block the tables and the index know and checks
// its checksum and its hash, and reports damaged tables and index damage
// that hides blocks. It returns the number of blocks that passed and the
// first failure.
func (e *Embedded) Check(ctx context.Context) (int, error) {
	const op = "ipfsstore.Check"
	// Check every table whole; a damaged one is dropped, and its pack's
	// index read instead.
	e.mu.Lock()
	for _, m := range slices.Clone(e.multis) {
		if err := m.t.each(func(tableEntry) {}); err != nil {
			e.dropMultiLocked(m, err)
		}
	}
	for _, id := range slices.Clone(e.tables) {
		if err := e.packs[id].table.each(func(tableEntry) {}); err != nil {
			e.dropTableLocked(id, err)
		}
	}
	e.mu.Unlock()
	if err := e.rescan(); err != nil {
		return 0, acerr.E(op, e.dir, acerr.IO, err)
	}
	e.mu.Lock()
	keys := make([]string, 0, len(e.index))
	for k := range e.index {
		keys = append(keys, k)
	}
	for _, m := range e.multis {
		m.t.each(func(te tableEntry) {
			if int(te.pack) >= len(m.ids) {
				return // damage, which the Get of a block of its bucket reports
			}
			if id := m.ids[te.pack]; id != noPack && !e.pastEndLocked(e.packs[id], te.key, te.off, te.length) {
				keys = append(keys, te.key)
			}
		})
	}
	for _, id := range e.tables {
		p := e.packs[id]
		p.table.each(func(te tableEntry) {
			if !e.pastEndLocked(p, te.key, te.off, te.length) {
				keys = append(keys, te.key)
			}
		})
	}
	e.mu.Unlock()
	slices.Sort(keys)
	keys = slices.Compact(keys)
	n := 0
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return n, acerr.E(op, "", acerr.Other, err)
		}
		// The index is keyed by multihash; any codec names the same bytes.
		c := cid.NewCidV1(cid.Raw, []byte(k))
		if _, err := e.get(ctx, c, true); err != nil {
			return n, err
		}
		n++
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for k, d := range e.damaged {
		if _, ok := e.locateLocked(k); !ok {
			return n, acerr.E(op, d.file, acerr.Integrity, d.err).WithCID(cid.NewCidV1(cid.Raw, []byte(k)).String())
		}
	}
	if len(e.lost) > 0 {
		return n, acerr.E(op, e.lost[0].file, acerr.Integrity, e.lost[0].err)
	}
	if len(e.badTables) > 0 {
		return n, acerr.E(op, e.badTables[0].file, acerr.Integrity, e.badTables[0].err)
	}
	return n, nil
}

// Repair makes s hold a good copy of block c, fetched from from (a kubo
// store, or a store filled from a CAR file): for a block s holds damaged,
// or does not hold. It relies on Put, which replaces a stored copy that
// fails its check; a store opened with Config.Rehash checks by hash, and
// so also replaces a copy whose checksum was forged with it. Repair reads
// the block back from s before it returns; Sync makes the repair durable.
func Repair(ctx context.Context, s Store, c cid.Cid, from Store) error {
	const op = "ipfsstore.Repair"
	data, err := from.Get(ctx, c)
	if err != nil {
		return acerr.E(op, "", acerr.Other, err).WithCID(c.String())
	}
	if err := s.Put(ctx, c, data); err != nil {
		return acerr.E(op, "", acerr.Other, err).WithCID(c.String())
	}
	if _, err := s.Get(ctx, c); err != nil {
		return acerr.E(op, "", acerr.Other, err).WithCID(c.String())
	}
	return nil
}

// attribute finds the blocks that the damaged runs of ip would have
// listed, in the record headers of the pack between the blocks of the
// records on either side, and records them as damaged; a run whose
// blocks cannot be told apart becomes lost damage, which may hide any
// block. idxStart is the offset of ip's first byte in the index file,
// startEnd the end of the block the record before it locates.
func (s *scanned) attribute(e *Embedded, ip indexParse, idxStart, startEnd, packSize int64) {
	idxPath := e.path(s.name, ".idx")
	pf, err := os.Open(e.path(s.name, ".pack"))
	if err == nil {
		defer pf.Close()
	}
	for _, run := range ip.damage {
		at := idxStart + int64(run.at)
		from, to := startEnd, packSize
		if run.next > 0 {
			prev := ip.records[run.next-1]
			from = prev.Offset + int64(prev.Length)
		}
		if run.next < len(ip.records) {
			next := ip.records[run.next]
			to = next.Offset - int64(packRecordHeader+len(next.CID))
		}
		var keys []string
		ok := false
		if err == nil {
			keys, ok = walkPack(pf, from, to)
		}
		if !ok {
			why := fmt.Errorf("%d bytes at offset %d are damaged", run.n, at)
			if run.n == 0 {
				why = fmt.Errorf("the index ends at offset %d, before the blocks at the end of its pack", at)
			}
			s.lost = append(s.lost, &damage{file: idxPath, err: why})
			continue
		}
		d := &damage{file: idxPath, err: fmt.Errorf("the block's index record, at offset %d, is damaged", at)}
		if run.n == 0 {
			d.err = fmt.Errorf("the index ends at offset %d, without the block's record", at)
		}
		for _, k := range keys {
			s.damaged = append(s.damaged, damagedBlock{k, d})
		}
	}
}

// walkPack returns the keys of the blocks whose records fill the pack f
// from offset from to offset to, read from their record headers. It
// reports false unless the records fill the range exactly.
func walkPack(f *os.File, from, to int64) ([]string, bool) {
	var keys []string
	hdr := make([]byte, packRecordHeader+maxCIDLen)
	pos := from
	for pos < to {
		n, err := f.ReadAt(hdr[:min(int64(len(hdr)), to-pos)], pos)
		if err != nil && err != io.EOF {
			return nil, false
		}
		c, dataLen, hn, ok := decodePackRecordHeader(hdr[:n])
		if !ok {
			return nil, false
		}
		mh, ok := multihashOf(c)
		if !ok {
			return nil, false
		}
		keys = append(keys, string(mh))
		pos += int64(hn) + int64(dataLen)
	}
	return keys, pos == to
}
