package ipfsstore

import (
	"bufio"
	"cmp"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/archivecache/archivecache/internal/atomicfile"
)

// Multi-pack tables: the tables of many packs, merged.
//
// Every process that writes seals a pack of its own, so a home used daily
// gathers hundreds of packs, and a lookup that searched each pack's table
// would cost a binary search per pack. A multi-pack table lists the blocks
// of several sealed packs in one sorted table, as git's multi-pack-index
// does for its packs:
//
//	<dir>/packs/<id>.mtbl       the blocks of the packs it lists, sorted
//
// Its layout is a pack's table's (table.go), with a list of the packs it
// covers and a pack number in each entry:
//
//	+----------+-------+-------+-------+-------+-------+------------+
//	| ACMTB001 | W u32 | n u32 | B u32 | P u32 | L u32 | crc32c u32 |
//	+----------+-------+-------+-------+-------+-------+------------+
//	then the list of packs, L bytes, P times:
//	+--------------+------------+---------+
//	| len(name) u8 | name       | size u64|    and crc32c u32 of the list
//	+--------------+------------+---------+
//	then fan [2^B]u32, bucket [2^B]u32, and n entries of W+20 bytes:
//	+--------------------------+------------+------------+---------+---------+
//	| multihash, 0-padded to W | offset u64 | length u32 | sum u32 | pack u32|
//	+--------------------------+------------+------------+---------+---------+
//
// The packs are listed in name order, which is their age; pack is an
// entry's pack's place in that list, and size the pack's size at seal
// (sealed packs do not grow). A block held in several of the packs has an
// entry for each, the newest pack first, so a copy that fails its check
// has the others behind it.
//
// Which tables a reader uses. A reader maps the multi-pack tables it
// finds, largest first, each unless it lists a pack one already mapped
// lists; then the tables of the packs none of those lists, then, as
// before, the index files of the packs without a table. A lookup searches
// every table it maps, and of the copies they list takes the one in the
// newest pack (as it would among the packs' own tables): a block repaired
// by a Put is written again in a newer pack, and that copy wins. Packs'
// own tables stay when a multi-pack table lists them, as git keeps its
// .idx files, so a multi-pack table that fails a check is dropped and
// its packs are read through their own tables.
//
// When tables are merged. A writer that seals its pack (Close) counts the
// tables a reader would map. If there are more than maxTables, it merges
// the smallest of them into one new multi-pack table: as many as break
// the geometric rule (every table at least twice the entries of all the
// tables smaller than it together; git's geometric repack), and at least
// two. Merged tables grow geometrically, so a block is merged again
// O(log n) times over a home's life, and a reader maps at most maxTables
// tables, whatever the number of packs. The merge reads the tables bucket
// by bucket, a k-way merge that holds one bucket of each, and writes the
// new table through a temporary file (atomicfile.CreateWith); then it
// removes the multi-pack tables the new one replaces.
//
// Crashes and concurrency. A merge holds merge.lock (flock, taken without
// waiting: a writer that finds it taken leaves the merge to its holder),
// so two processes never merge at once; it removes temporary files killed
// merges left. A crash at any step leaves either no new table, or the new
// one beside the ones it replaces; the reader's choice above takes the new
// one, and the next merge removes the others. A reader that lists a
// multi-pack table that is gone when it opens it lists the directory
// again. Elsewhere than on Linux there is no lock, and tables are not
// merged.

const (
	multiMagic = "ACMTB001"
	// multiHeader is the size of a multi-pack table's fixed header.
	multiHeader = len(multiMagic) + 6*4
	// multiEntryFixed is the size of its entries without their key.
	multiEntryFixed = tableEntryFixed + 4
	// maxTables is how many tables a writer leaves readers before it
	// merges some.
	maxTables = 8
	// mergeLockName is the lock file of merges, in the packs directory.
	mergeLockName = "merge.lock"
)

// tablePack is a pack a multi-pack table covers.
type tablePack struct {
	name string
	size int64
}

func encodePackList(packs []tablePack) []byte {
	var b []byte
	for _, p := range packs {
		b = append(b, byte(len(p.name)))
		b = append(b, p.name...)
		b = binary.LittleEndian.AppendUint64(b, uint64(p.size))
	}
	return b
}

func decodePackList(b []byte, n int) ([]tablePack, error) {
	packs := make([]tablePack, 0, min(n, len(b)/9))
	for range n {
		if len(b) < 1 || len(b) < 1+int(b[0])+8 {
			return nil, errors.New("its list of packs is cut short")
		}
		l := int(b[0])
		packs = append(packs, tablePack{name: string(b[1 : 1+l]), size: int64(binary.LittleEndian.Uint64(b[1+l:]))})
		b = b[1+l+8:]
	}
	if len(b) != 0 || !slices.IsSortedFunc(packs, func(a, b tablePack) int { return strings.Compare(a.name, b.name) }) {
		return nil, errors.New("its list of packs is not what its header says")
	}
	return packs, nil
}

// chooseMulti returns the multi-pack tables of ts a reader uses, largest
// first, each listing no pack one before it lists, and the others.
func chooseMulti(ts []*table) (use, skip []*table) {
	ts = slices.Clone(ts)
	slices.SortFunc(ts, func(a, b *table) int {
		if c := cmp.Compare(len(b.packs), len(a.packs)); c != 0 {
			return c
		}
		return strings.Compare(b.path, a.path)
	})
	covered := make(map[string]bool)
	for _, t := range ts {
		if slices.ContainsFunc(t.packs, func(p tablePack) bool { return covered[p.name] }) {
			skip = append(skip, t)
			continue
		}
		for _, p := range t.packs {
			covered[p.name] = true
		}
		use = append(use, t)
	}
	return use, skip
}

// geometricSplit returns how many of the tables of sizes, sorted
// smallest first, to merge so that each table left is at least twice the
// entries of all smaller ones together.
func geometricSplit(sizes []int) int {
	m, sum := 0, 0
	for i, n := range sizes {
		if n < 2*sum {
			m = i + 1
		}
		sum += n
	}
	return m
}

// mergeUnit is a table a merge reads: a pack's own (packs holds its one
// pack) or a multi-pack table.
type mergeUnit struct {
	t     *table
	packs []tablePack
}

// mergeTables merges the smallest tables of the store into a multi-pack
// table when readers would map more than maxTables (see above). It is a
// best effort: what it does not do costs readers speed, not blocks.
// e.mergeHook, if not nil, is called after each step, and a merge stops
// where it returns an error, as if its process had died there. A damaged
// table it meets is replaced (replaceDamaged), and the merge left to the
// next writer.
func (e *Embedded) mergeTables() error {
	dir, hook := e.dir, e.mergeHook
	lf, err := os.OpenFile(filepath.Join(dir, mergeLockName), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer lf.Close()
	if free, err := probeLock(lf); err != nil || !free {
		return err
	}
	ents, err := readDir(dir)
	if err != nil {
		return err
	}
	var opened []*table
	defer func() {
		for _, t := range opened {
			t.close()
		}
	}()
	var multis []*table
	tables, packs := make(map[string]bool), make(map[string]bool)
	for _, ent := range ents {
		name := ent.Name()
		switch {
		case strings.HasPrefix(name, ".tmp-") && strings.Contains(name, ".mtbl-"):
			os.Remove(filepath.Join(dir, name)) // a killed merge's; no merge runs but this one
		case strings.HasSuffix(name, ".mtbl"):
			t, err := openTable(filepath.Join(dir, name))
			var d *damage
			if errors.As(err, &d) {
				e.replaceDamaged(d)
				continue
			}
			if err != nil {
				return err
			}
			opened = append(opened, t)
			multis = append(multis, t)
		case strings.HasSuffix(name, ".tbl"):
			tables[strings.TrimSuffix(name, ".tbl")] = true
		case strings.HasSuffix(name, ".pack"):
			packs[strings.TrimSuffix(name, ".pack")] = true
		}
	}
	use, skip := chooseMulti(multis)
	covered := make(map[string]bool)
	var units []mergeUnit
	for _, t := range use {
		units = append(units, mergeUnit{t, t.packs})
		for _, p := range t.packs {
			covered[p.name] = true
		}
	}
	for name := range tables {
		if !packs[name] || covered[name] {
			continue
		}
		st, err := os.Stat(filepath.Join(dir, name+".pack"))
		if err != nil {
			continue
		}
		t, err := openTable(filepath.Join(dir, name+".tbl"))
		var d *damage
		if errors.As(err, &d) {
			e.replaceDamaged(d)
		}
		if err != nil {
			continue // read from its index, as readers do
		}
		opened = append(opened, t)
		units = append(units, mergeUnit{t, []tablePack{{name, st.Size()}}})
	}
	var stale []*table
	if len(units) > maxTables {
		slices.SortFunc(units, func(a, b mergeUnit) int {
			if c := cmp.Compare(a.t.n, b.t.n); c != 0 {
				return c
			}
			return strings.Compare(a.t.path, b.t.path)
		})
		sizes := make([]int, len(units))
		for i, u := range units {
			sizes[i] = u.t.n
		}
		m := max(geometricSplit(sizes), 2)
		if err := e.writeMerged(units[:m]); err != nil {
			return err
		}
		for _, u := range units[:m] {
			if u.t.packs != nil {
				stale = append(stale, u.t)
			}
		}
	}
	for _, t := range append(stale, skip...) {
		if err := os.Remove(t.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := callHook(hook, "removed"); err != nil {
			return err
		}
	}
	return nil
}

func callHook(hook func(string) error, step string) error {
	if hook == nil {
		return nil
	}
	return hook(step)
}

// writeMerged writes the multi-pack table of units. A table of units
// found damaged is replaced (replaceDamaged) and the merge given up.
func (e *Embedded) writeMerged(units []mergeUnit) error {
	dir := e.dir
	var packs []tablePack
	n, w := 0, 0
	for _, u := range units {
		packs = append(packs, u.packs...)
		n += u.t.n
		w = max(w, u.t.keyWidth)
	}
	slices.SortFunc(packs, func(a, b tablePack) int { return strings.Compare(a.name, b.name) })
	number := make(map[string]uint32, len(packs))
	for i, p := range packs {
		number[p.name] = uint32(i)
	}
	name, err := newPackName()
	if err != nil {
		return err
	}
	path := filepath.Join(dir, name+".mtbl")
	err = atomicfile.CreateWith(path, 0o644, func(f *os.File) error {
		bw := bufio.NewWriterSize(f, 1<<20)
		tw := newTableWriter(bw, n, w, packs)
		if _, err := bw.Write(make([]byte, tw.headSize())); err != nil {
			return err
		}
		var h mergeHeap
		for _, u := range units {
			c := &mergeCursor{u: u, fanBits: tw.fanBits, number: make([]uint32, len(u.packs))}
			for i, p := range u.packs {
				c.number[i] = number[p.name]
			}
			if err := c.fill(); err != nil {
				return err
			}
			if len(c.es) > 0 {
				h = append(h, c)
			}
		}
		heap.Init(&h)
		for len(h) > 0 {
			c := h[0]
			if err := tw.add(c.es[0].tableEntry, c.es[0].bucket); err != nil {
				return err
			}
			if c.es = c.es[1:]; len(c.es) == 0 {
				if err := c.fill(); err != nil {
					return err
				}
			}
			if len(c.es) == 0 {
				heap.Pop(&h)
			} else {
				heap.Fix(&h, 0)
			}
		}
		head, err := tw.head()
		if err == nil {
			err = bw.Flush()
		}
		if err == nil {
			_, err = f.WriteAt(head, 0)
		}
		return err
	})
	var d *damage
	if errors.As(err, &d) {
		e.replaceDamaged(d)
	}
	if err != nil {
		return fmt.Errorf("merging tables: %w", err)
	}
	return callHook(e.mergeHook, "written")
}

// replaceDamaged removes the damaged table d names, derived data: a
// multi-pack table's packs keep their own tables, and a pack's own table
// is written again from the pack's index.
func (e *Embedded) replaceDamaged(d *damage) {
	if os.Remove(d.file) != nil {
		return
	}
	if name, ok := strings.CutSuffix(filepath.Base(d.file), ".tbl"); ok {
		_ = e.writeTable(name)
	}
}

// mergeEntry is an entry on its way into a merged table: its pack
// numbered in the new table's list, its bucket the new table's.
type mergeEntry struct {
	tableEntry
	bucket int
}

func compareMerge(a, b mergeEntry) int {
	if c := cmp.Compare(a.bucket, b.bucket); c != 0 {
		return c
	}
	if c := strings.Compare(a.key, b.key); c != 0 {
		return c
	}
	return cmp.Compare(b.pack, a.pack) // the newest pack first
}

// mergeCursor reads one table of a merge, a bucket at a time, in the
// order of the new table: its buckets are at least as fine as the input's,
// so each input bucket holds whole buckets of the output, to be sorted.
type mergeCursor struct {
	u       mergeUnit
	fanBits int      // the new table's
	number  []uint32 // the new number of each of u's packs
	next    int      // the next bucket of u to read
	es      []mergeEntry
	buf     []mergeEntry
	// released is how far into u's mapped table the pages of the entries
	// read have been given back: a merge reads every page of its tables
	// once, and keeping them would add their size to the process's RSS.
	released int
}

// fill reads the next bucket of u that holds entries into es.
func (c *mergeCursor) fill() error {
	t := c.u.t
	for c.next < 1<<t.fanBits {
		lo, hi, err := t.bucket(c.next)
		if err != nil {
			return err
		}
		c.next++
		if lo == hi {
			continue
		}
		c.buf = c.buf[:0]
		for i := lo; i < hi; i++ {
			padded, e := t.entry(i)
			if int(e.pack) >= len(c.number) {
				return t.damaged(fmt.Sprintf("entry %d names pack %d of %d", i, e.pack, len(c.number)))
			}
			e.key, e.pack = unpad(padded), c.number[e.pack]
			c.buf = append(c.buf, mergeEntry{e, bucketOf(e.key, c.fanBits)})
		}
		slices.SortFunc(c.buf, compareMerge)
		c.es = c.buf
		c.release(t.entries + lo*t.width)
		return nil
	}
	return nil
}

// release gives back the mapped pages of c's table before offset upto,
// by the MiB, from where its entries start.
func (c *mergeCursor) release(upto int) {
	t := c.u.t
	page := os.Getpagesize()
	if c.released == 0 {
		c.released = (t.entries + page - 1) &^ (page - 1)
	}
	if end := upto &^ (page - 1); end-c.released >= 1<<20 {
		releaseMapped(t.data[c.released:end])
		c.released = end
	}
}

// mergeHeap orders the cursors of a merge by their next entry.
type mergeHeap []*mergeCursor

func (h mergeHeap) Len() int           { return len(h) }
func (h mergeHeap) Less(i, j int) bool { return compareMerge(h[i].es[0], h[j].es[0]) < 0 }
func (h mergeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *mergeHeap) Push(x any)        { *h = append(*h, x.(*mergeCursor)) }
func (h *mergeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
