package ipfsstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/internal/atomicfile"
	"github.com/ipfs/go-cid"
)

// Garbage collection of the embedded store.
//
// Every open store holds a shared flock on the packs directory for as
// long as it is open; Collect converts its own to an exclusive one,
// without waiting, so it runs only where no other process has the store
// open (waiting, until its context ends, for the others to close it:
// acerr.Locked), and a store opened while it runs waits for it. That is what makes it safe: a command that found
// a block held (and so did not write it again) is not running while the
// block's pack goes, and no reader holds a table of a pack about to go.
//
// Under that lock Collect asks the caller what to keep (Keep.Roots and
// Keep.Reach: the caller walks the DAGs, this package does not know
// node formats) and then, for every pack, reads its index from the file
// and sorts its records into live (reached, and the copy a read would
// take: the newest) and dead. A pack all live stays as it is; one all
// dead goes; the live blocks of the others are copied, checked, into new
// packs written as any writer writes them (pack, index, sync, table,
// seal), and only once those are sealed and durable do the old packs go,
// each .pack first, so that what a crash leaves half-removed is a pack
// no reader sees. Multi-pack tables that list a pack that went are
// removed; the packs' own tables hold what they held. Then the
// directory is synced.
//
// A kill at any moment therefore leaves every live block in a sealed
// pack: before the new packs are sealed the old ones are whole, and an
// unsealed new pack is a dead writer's, cut back by the next writer;
// after, both copies may be there, and reads take either. Files of
// failed or interrupted writers are reclaimed too: an unsealed pack
// (under the exclusive lock its writer is dead) is cut back first, and
// an index or table without its pack, a pack without its index and a
// table's temporary file are removed.

// Keep does nothing: the embedded store gives nothing back but in a
// Collect.
func (e *Embedded) Keep(ctx context.Context, root cid.Cid) error { return nil }

// lockWait is how often an open that finds the store collected tries again.
const lockWait = 20 * time.Millisecond

// lockShared takes the store's shared lock, waiting while a Collect holds
// it exclusively, until ctx ends. A directory that cannot be opened (no
// permission) goes unlocked.
func (e *Embedded) lockShared(ctx context.Context) error {
	f, err := os.Open(e.dir)
	if err != nil {
		return nil
	}
	for {
		ok, err := flockNB(f, false)
		if err != nil {
			f.Close()
			return nil // a file system without locks
		}
		if ok {
			e.lockf = f
			return nil
		}
		select {
		case <-ctx.Done():
			f.Close()
			return acerr.E("", "", acerr.Locked, fmt.Errorf("the store is being collected (ac-gc): %w", ctx.Err()))
		case <-time.After(lockWait):
		}
	}
}

// lockExclusive converts the store's shared lock into an exclusive one,
// waiting, until ctx ends, for every other process to close the store.
func (e *Embedded) lockExclusive(ctx context.Context) error {
	for {
		ok, err := flockNB(e.lockf, true)
		if err != nil {
			return acerr.E("", "", acerr.IO, err)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return acerr.E("", "", acerr.Locked, errors.New("another process kept the store open"))
		case <-time.After(lockWait):
		}
	}
}

// unlock releases the store's lock.
func (e *Embedded) unlock() {
	if e.lockf != nil {
		e.lockf.Close()
		e.lockf = nil
	}
}

// gcPack is what Collect learnt of one pack.
type gcPack struct {
	name  string
	files int64 // bytes of its files (pack, index, table)
	v1    bool
	live  []indexRecord // the copies to keep
	dead  int           // records not kept
	keep  bool          // leave it as it is: all live, or not safe to touch
}

// Collect keeps the blocks k reaches and gives back the space of every
// other block, as the comment at the top of gc.go describes. With
// k.DryRun it only says what it would free, under the shared lock. The
// store reads as before afterwards (it scans the packs again). A store
// this process has written to is refused: Collect runs on a fresh Open.
func (e *Embedded) Collect(ctx context.Context, k Keep) (Collected, error) {
	const op = "ipfsstore.Collect"
	e.mu.Lock()
	wrote := slices.ContainsFunc(e.packs, func(p *packFile) bool { return p.w != nil })
	e.mu.Unlock()
	if wrote {
		return Collected{}, acerr.E(op, e.dir, acerr.Invalid, errors.New("the store was written to by this process"))
	}
	if !k.DryRun && e.lockf != nil {
		lctx := ctx
		if k.Wait > 0 {
			var cancel context.CancelFunc
			lctx, cancel = context.WithTimeout(ctx, k.Wait)
			defer cancel()
		}
		if err := e.lockExclusive(lctx); err != nil {
			return Collected{}, acerr.E(op, e.dir, acerr.KindOf(err), err)
		}
		defer flockNB(e.lockf, false)
	}
	roots, err := k.Roots(ctx)
	if err != nil {
		return Collected{}, err
	}
	reached, err := k.Reach(ctx, roots)
	if err != nil {
		return Collected{}, err
	}
	res, err := e.collect(ctx, k, reached)
	if err != nil {
		var ae *acerr.Error
		if errors.As(err, &ae) {
			return res, err
		}
		return res, acerr.E(op, e.dir, acerr.IO, err)
	}
	return res, nil
}

func (e *Embedded) collect(ctx context.Context, k Keep, reached func(cid.Cid) bool) (Collected, error) {
	var res Collected
	if !k.DryRun {
		// Under the exclusive lock every unsealed pack's writer is dead.
		if err := e.rescan(); err != nil {
			return res, err
		}
		e.mu.Lock()
		e.reclaimDeadLocked()
		e.mu.Unlock()
	}
	ents, err := readDir(e.dir)
	if err != nil {
		return res, err
	}
	byName := map[string]map[string]int64{} // pack name → extension → size
	var multis, temps []string
	for _, ent := range ents {
		name := ent.Name()
		info, err := ent.Info()
		if err != nil {
			continue // gone since the listing
		}
		res.Before += info.Size()
		if strings.HasPrefix(name, ".tmp-") {
			temps = append(temps, name)
			res.OrphanBytes += info.Size()
			continue
		}
		if strings.HasSuffix(name, ".mtbl") {
			multis = append(multis, name)
			continue
		}
		i := strings.LastIndexByte(name, '.')
		if i <= 0 {
			continue
		}
		base, ext := name[:i], name[i:]
		switch ext {
		case ".pack", ".idx", ".tbl", ".unsealed":
			if byName[base] == nil {
				byName[base] = map[string]int64{}
			}
			byName[base][ext] = info.Size()
		}
	}
	var packs []*gcPack
	var orphans []string // files of no pack that reads
	for name, exts := range byName {
		_, hasPack := exts[".pack"]
		_, hasIdx := exts[".idx"]
		_, unsealed := exts[".unsealed"]
		switch {
		case unsealed:
			// A live writer's (in a dry run) or one that could not be cut back.
			continue
		case !hasPack || !hasIdx:
			for ext, n := range exts {
				orphans = append(orphans, name+ext)
				res.OrphanBytes += n
			}
			continue
		}
		p := &gcPack{name: name, files: exts[".pack"] + exts[".idx"] + exts[".tbl"]}
		packs = append(packs, p)
	}
	// Newest first: the copy a read takes is the one in the newest pack,
	// and within a pack the last record.
	slices.SortFunc(packs, func(a, b *gcPack) int { return strings.Compare(b.name, a.name) })
	chosen := map[string]bool{}
	for _, p := range packs {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if err := e.sortRecords(p, reached, chosen); err != nil {
			return res, err
		}
	}
	removed := map[string]bool{}
	var rewrite []*gcPack
	for _, p := range packs {
		res.Packs++
		switch {
		case p.keep || p.dead == 0:
			p.keep = true
		case len(p.live) == 0:
			removed[p.name] = true
			res.PacksRemoved++
		default:
			removed[p.name] = true
			rewrite = append(rewrite, p)
			res.PacksRewritten++
		}
		if p.keep {
			res.Blocks += len(p.live)
		} else {
			res.FreedBlocks += p.dead
		}
	}
	var dropMultis []string
	for _, name := range multis {
		t, err := openTable(e.path(strings.TrimSuffix(name, ".mtbl"), ".mtbl"))
		if err != nil {
			dropMultis = append(dropMultis, name) // damaged: its packs' tables hold what it lists
			continue
		}
		if slices.ContainsFunc(t.packs, func(tp tablePack) bool { return removed[tp.name] || byName[tp.name] == nil }) {
			dropMultis = append(dropMultis, name)
		}
		t.close()
	}
	var copyBytes int64
	for _, p := range rewrite {
		for _, r := range p.live {
			copyBytes += int64(packRecordHeader+len(r.CID)) + int64(r.Length) + int64(indexRecordSize(r)) + tableEntrySize
		}
	}
	if k.DryRun {
		after := res.Before - res.OrphanBytes + copyBytes
		for _, p := range packs {
			if removed[p.name] {
				after -= p.files
			}
		}
		res.After = after
		return res, nil
	}
	if len(rewrite) > 0 {
		n, err := e.copyLive(ctx, k, rewrite, copyBytes)
		res.Blocks += n
		if err != nil {
			return res, err
		}
	}
	// The new packs are sealed and durable: what they replace may go.
	for _, p := range packs {
		if removed[p.name] {
			if err := removeAll(e.path(p.name, ".pack"), e.path(p.name, ".tbl"), e.path(p.name, ".idx")); err != nil {
				return res, err
			}
		}
	}
	for _, name := range dropMultis {
		if err := removeAll(e.path(strings.TrimSuffix(name, ".mtbl"), ".mtbl")); err != nil {
			return res, err
		}
	}
	// A pack goes before its index, so orphans are indexes and tables,
	// or packs whose writer died before writing an index.
	for _, name := range append(orphans, temps...) {
		if err := removeAll(e.path(name, "")); err != nil {
			return res, err
		}
	}
	res.Orphans = len(orphans) + len(temps)
	if err := atomicfile.SyncDir(e.dir); err != nil {
		return res, err
	}
	if err := e.reload(); err != nil {
		return res, err
	}
	after, err := dirSize(e.dir)
	if err != nil {
		return res, err
	}
	res.After = after
	return res, nil
}

// tableEntrySize is about what a block costs in a table, for estimates.
const tableEntrySize = 48

// indexRecordSize is the length of r's record in an index.
func indexRecordSize(r indexRecord) int { return len(appendIndexRecord(nil, r)) }

// sortRecords reads the index of pack p and sorts its records into the
// live copies, those of reached blocks that no newer record has taken
// (chosen), and the dead. A pack whose index is damaged, or not of a
// version this store writes, is kept whole.
func (e *Embedded) sortRecords(p *gcPack, reached func(cid.Cid) bool, chosen map[string]bool) error {
	idx, err := os.ReadFile(e.path(p.name, ".idx"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			p.keep = true
			return nil
		}
		return err
	}
	var ip indexParse
	switch {
	case len(idx) >= len(idxMagic) && (string(idx[:len(idxMagic)]) == idxMagic || string(idx[:len(idxMagic)]) == idxMagicV2):
		ip = parseIndex(idx[len(idxMagic):], false)
	case len(idx) >= len(idxMagic) && string(idx[:len(idxMagic)]) == idxMagicV1:
		p.v1 = true
		ip = parseIndex(idx[len(idxMagic):], true)
	default:
		p.keep = true
		return nil
	}
	if len(ip.damage) > 0 || ip.tail > 0 {
		p.keep = true
	}
	for i := len(ip.records) - 1; i >= 0; i-- {
		r := ip.records[i]
		c, err := cid.Cast(r.CID)
		mh, ok := multihashOf(r.CID)
		if err != nil || !ok {
			p.dead++
			continue
		}
		key := string(mh)
		if chosen[key] || !reached(c) {
			p.dead++
			continue
		}
		chosen[key] = true
		p.live = append(p.live, r.indexRecord)
	}
	return nil
}

// copyLive copies the live blocks of the packs rewrite into new packs,
// each checked as a read checks it, and seals them. A block whose copy
// fails its check stops the Collect before anything is removed.
func (e *Embedded) copyLive(ctx context.Context, k Keep, rewrite []*gcPack, total int64) (int, error) {
	w, err := openEmbeddedLocked(ctx, filepath.Dir(e.dir), e.rollSize, false)
	if err != nil {
		return 0, err
	}
	w.noMerge = true
	n := 0
	var done int64
	buf := make([]byte, 0, 1<<20)
	for _, p := range rewrite {
		f, err := os.Open(e.path(p.name, ".pack"))
		if err != nil {
			w.Close()
			return n, err
		}
		for _, r := range p.live {
			if err := ctx.Err(); err != nil {
				f.Close()
				w.Close()
				return n, err
			}
			c, _ := cid.Cast(r.CID)
			buf = slices.Grow(buf[:0], int(r.Length))[:r.Length]
			if _, err := f.ReadAt(buf, r.Offset); err != nil {
				if err == io.EOF {
					err = &damage{file: f.Name(), err: fmt.Errorf("pack is truncated: it ends inside the block at offset %d", r.Offset)}
				}
				f.Close()
				w.Close()
				return n, readError("ipfsstore.Collect", c, err)
			}
			if err := checkCopy(c, buf, r.Sum, p.v1, f.Name()); err != nil {
				f.Close()
				w.Close()
				return n, readError("ipfsstore.Collect", c, err).(*acerr.Error).
					WithHint("nothing was removed; repair the block with ac-verify --repair, or ac-import a CAR that holds it")
			}
			if err := w.put("ipfsstore.Collect", c, buf, true); err != nil {
				f.Close()
				w.Close()
				return n, err
			}
			n++
			done += int64(packRecordHeader+len(r.CID)) + int64(r.Length) + int64(indexRecordSize(r)) + tableEntrySize
			if k.Progress != nil {
				k.Progress(done, total)
			}
		}
		f.Close()
	}
	return n, w.Close()
}

// checkCopy checks data, the stored copy of block c in pack, against the
// sum its record keeps or, for an index that keeps none, c's hash.
func checkCopy(c cid.Cid, data []byte, sum uint32, v1 bool, pack string) error {
	if !v1 {
		if dataSum(data) != sum {
			return &damage{file: pack, err: errors.New("stored data does not match its checksum")}
		}
		return nil
	}
	ok, err := hashMatches(c, data)
	if err != nil {
		return fmt.Errorf("%w: %w", errCannotHash, err)
	}
	if !ok {
		return &damage{file: pack, err: errors.New("stored data does not hash to the CID")}
	}
	return nil
}

// removeAll removes the files paths, those that are there.
func removeAll(paths ...string) error {
	for _, p := range paths {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// dirSize is the size of the files in dir.
func dirSize(dir string) (int64, error) {
	ents, err := readDir(dir)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, ent := range ents {
		if info, err := ent.Info(); err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
	}
	return n, nil
}

// reload forgets every pack and scans the directory again, as an Open
// would. The store must have no writer of its own.
func (e *Embedded) reload() error {
	e.scanMu.Lock()
	e.mu.Lock()
	e.closeFiles()
	e.index = make(map[string]blockLoc)
	e.alt = make(map[string][]blockLoc)
	e.damaged = make(map[string]*damage)
	e.tables, e.multis, e.badTables, e.lost, e.unsealed, e.packs = nil, nil, nil, nil, nil, nil
	e.seenMulti = make(map[string]bool)
	e.mu.Unlock()
	e.scanMu.Unlock()
	return e.rescan()
}
