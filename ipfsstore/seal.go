package ipfsstore

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/archivecache/archivecache/internal/atomicfile"
)

// Writers, seals, and what failed or dead writers leave behind.
//
// A process writing a pack holds an exclusive lock (flock) on it and keeps
// an empty <id>.unsealed file beside it, created after the lock was
// taken. Close seals the pack (removes the marker) once everything in it
// is indexed and durable. So a marker whose pack nobody has locked
// belongs to a writer that died: its pack holds, past the blocks its
// index records, bytes nothing will ever index, and its index may end in
// a torn record.
//
//   - A write that fails (ENOSPC, EIO) makes the store refuse every later
//     write and Sync; at Close the writer gives back all it wrote since its
//     last successful Sync: its pack and index are cut back to what synced
//     records cover, or removed if they cover nothing.
//   - A writer that dies without closing (kill -9, power loss) leaves its
//     marker. The next process to write to the store (at its first Put)
//     takes the lock of each pack whose marker it saw at its last scan; if
//     it gets one, it cuts that pack back to the blocks its index records
//     and the index back to its last whole record, or removes both if no
//     record was synced, and writes the table of what is left (removing
//     any its writer left half-written). Only marked packs are looked at,
//     so the cost is one open and one flock per dead writer, not a read
//     of every pack.
//
// Blocks a dead writer had synced stay, and a later write of the same data
// finds them. Packs written before markers existed are never cut.

// sealLocked seals this process's packs: everything in them is indexed
// and durable. It writes each pack's table first (table.go); a table that
// cannot be written costs readers speed, not blocks, and the pack is
// sealed without one. Close calls it after a successful Sync; e.mu must
// be held.
func (e *Embedded) sealLocked() error {
	var first error
	for _, p := range e.packs {
		if p.w == nil || p.w.sealed {
			continue
		}
		_ = e.writeTable(p.name)
		if err := os.Remove(e.path(p.name, ".unsealed")); err != nil && !errors.Is(err, fs.ErrNotExist) && first == nil {
			first = err
		}
	}
	return first
}

// writeTable writes the table of pack name from its index, which must be
// whole: a sealed pack's.
func (e *Embedded) writeTable(name string) error {
	idx, err := os.ReadFile(e.path(name, ".idx"))
	if err != nil {
		return err
	}
	if len(idx) < len(idxMagic) || string(idx[:len(idxMagic)]) != idxMagic {
		return errors.New("not an index of this version")
	}
	ip := parseIndex(idx[len(idxMagic):], false)
	if len(ip.damage) > 0 || ip.tail > 0 {
		return errors.New("the index is damaged")
	}
	entries := make([]tableEntry, 0, len(ip.records))
	for _, r := range ip.records {
		if mh, ok := multihashOf(r.CID); ok {
			entries = append(entries, tableEntry{key: string(mh), off: r.Offset, length: r.Length, sum: r.Sum})
		}
	}
	tbl, err := encodeTable(entries)
	if err != nil {
		return err
	}
	return atomicfile.Create(e.path(name, ".tbl"), tbl, 0o644)
}

// giveBackLocked cuts each of this process's packs and indexes back to
// what synced records cover, removing those with none, and seals what is
// left. Close calls it after a write failed, once the write goroutine has
// ended; e.mu must be held.
func (e *Embedded) giveBackLocked() error {
	var first error
	keep := func(err error) {
		if err != nil && first == nil && !errors.Is(err, fs.ErrNotExist) {
			first = err
		}
	}
	for _, p := range e.packs {
		w := p.w
		if w == nil || w.sealed {
			continue // not this process's, or rolled and sealed: whole
		}
		if w.durable == 0 {
			keep(os.Remove(e.path(p.name, ".idx")))
			keep(os.Remove(e.path(p.name, ".pack")))
		} else {
			keep(os.Truncate(e.path(p.name, ".idx"), w.idxDurable))
			keep(os.Truncate(e.path(p.name, ".pack"), w.durable))
		}
		keep(os.Remove(e.path(p.name, ".unsealed")))
	}
	return first
}

// reclaimDeadLocked cuts back the packs of dead writers among those seen
// unsealed at the last scan. It is a best effort: a pack it cannot deal
// with now is left for the next writer. e.mu must be held.
func (e *Embedded) reclaimDeadLocked() {
	for _, name := range e.unsealed {
		e.reclaim(name)
	}
	e.unsealed = nil
}

// reclaim cuts back the pack name if its writer died without sealing it.
func (e *Embedded) reclaim(name string) {
	marker := e.path(name, ".unsealed")
	f, err := os.OpenFile(e.path(name, ".pack"), os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		// The pack went before its marker: a reclaim or a give-back that
		// stopped half-way.
		os.Remove(marker)
		return
	}
	if err != nil {
		return
	}
	defer f.Close() // releases the lock
	if free, err := probeLock(f); err != nil || !free {
		return // its writer is alive
	}
	if _, err := os.Stat(marker); err != nil {
		return // sealed since the scan
	}
	// A table its writer was writing when it died.
	if tmps, err := filepath.Glob(filepath.Join(e.dir, ".tmp-"+name+".tbl-*")); err == nil {
		for _, tmp := range tmps {
			os.Remove(tmp)
		}
	}
	idxPath := e.path(name, ".idx")
	idx, err := os.ReadFile(idxPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return
	}
	var ip indexParse
	switch {
	case len(idx) < len(idxMagic):
	case string(idx[:len(idxMagic)]) == idxMagic:
		ip = parseIndex(idx[len(idxMagic):], false)
	default:
		return // not an index this version writes: leave it alone
	}
	if len(ip.damage) > 0 {
		return // damage, reported by reads; cut nothing
	}
	if len(ip.records) == 0 {
		if err := os.Remove(idxPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return
		}
		if os.Remove(e.path(name, ".pack")) != nil {
			return
		}
	} else {
		var end int64
		for _, r := range ip.records {
			end = max(end, r.Offset+int64(r.Length))
		}
		if os.Truncate(idxPath, int64(len(idxMagic)+ip.used)) != nil {
			return
		}
		if st, err := f.Stat(); err != nil || (st.Size() > end && f.Truncate(end) != nil) {
			return
		}
		// Cut back, the pack is whole: it is sealed as its writer would
		// have sealed it, with a table.
		_ = e.writeTable(name)
	}
	os.Remove(marker)
}

// createEmpty creates the empty file path, which must not exist.
func createEmpty(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}
