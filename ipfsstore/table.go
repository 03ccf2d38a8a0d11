package ipfsstore

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"slices"
	"sync/atomic"

	"github.com/multiformats/go-varint"
)

// Tables: the sorted index of a sealed pack.
//
// When a writer seals its pack (Close), it writes beside it a table of
// the pack's blocks, sorted, with fixed-width entries, so that opening the
// store costs nothing per block: a reader maps the table (mmap) and finds
// a block by binary search, reading a few pages, instead of reading every
// index record into a map. git's pack .idx is the model:
//
//	<dir>/packs/<id>.tbl        the blocks of <id>.pack, sorted
//
// A table is written once, whole (atomicfile.Create: a temporary file,
// fsync, a link into place), after the pack and its index are durable and
// before the pack's .unsealed marker goes. It lists what the index lists,
// the last record of a block winning; it is derived from the index and
// never replaces it. Its layout, integers little-endian:
//
//	+----------+---------+---------+--------------+-----------------+-------------+
//	| ACTBL001 | W u32   | n u32   | fan [256]u32 | bucket [256]u32 | crc32c u32  |
//	+----------+---------+---------+--------------+-----------------+-------------+
//	then n entries of W+16 bytes:
//	+--------------------------+------------+------------+---------+
//	| multihash, 0-padded to W | offset u64 | length u32 | sum u32 |
//	+--------------------------+------------+------------+---------+
//
// Entries are sorted by the first byte of the multihash's digest (the
// fan-out byte), then by their padded multihash; fan[b] is the number of
// entries whose fan-out byte is at most b, so the entries of byte b are
// fan[b-1] to fan[b]. A multihash says its own length, so padding makes
// no two equal. bucket[b] is the CRC-32C of the entries of byte b, and the
// header's last field that of the header before it.
//
// Checking. Open checks a table's header and its size; a lookup checks the
// bucket it searches, once per process (a bucket of a million-block table
// is some 200 KB: tens of microseconds, once). A table that fails either
// check is damage: the pack is read the old way, from its index, and
// Check reports the table. Packs without a table (unsealed, left by a
// writer that died, or written by earlier versions) are read the old way
// too: their index records are scanned into a map, from where the last
// scan stopped.

const (
	tableMagic = "ACTBL001"
	// tableHeader is the size of a table's header.
	tableHeader = len(tableMagic) + 4 + 4 + 256*4 + 256*4 + 4
	// tableEntryFixed is the size of a table entry without its key.
	tableEntryFixed = 8 + 4 + 4
	// maxTableKey is the widest key a table holds (a multihash).
	maxTableKey = maxCIDLen
)

// tableEntry is one block of a table.
type tableEntry struct {
	key    string // the block's multihash
	off    int64
	length uint32
	sum    uint32
}

// fanByte is the fan-out byte of multihash mh: the first byte of its
// digest, or 0 if it has none.
func fanByte(mh string) byte {
	_, k, err := varint.FromUvarint([]byte(mh[:min(len(mh), varint.MaxLenUvarint63)]))
	if err != nil {
		return 0
	}
	_, j, err := varint.FromUvarint([]byte(mh[k:min(len(mh), k+varint.MaxLenUvarint63)]))
	if err != nil || k+j >= len(mh) {
		return 0
	}
	return mh[k+j]
}

// compareKey compares the padded key of a table entry with mh, as the
// table orders them.
func compareKey(padded []byte, mh string) int {
	if len(mh) > len(padded) {
		if c := bytes.Compare(padded, []byte(mh[:len(padded)])); c != 0 {
			return c
		}
		return -1
	}
	if c := bytes.Compare(padded[:len(mh)], []byte(mh)); c != 0 {
		return c
	}
	for _, b := range padded[len(mh):] {
		if b != 0 {
			return 1
		}
	}
	return 0
}

// encodeTable returns the table of entries, which are in pack order; of
// the entries of one block the last is kept.
func encodeTable(entries []tableEntry) []byte {
	type sorted struct {
		tableEntry
		fan byte
		pos int
	}
	s := make([]sorted, len(entries))
	w := 0
	for i, e := range entries {
		s[i] = sorted{e, fanByte(e.key), i}
		w = max(w, len(e.key))
	}
	slices.SortFunc(s, func(a, b sorted) int {
		if c := cmp.Compare(a.fan, b.fan); c != 0 {
			return c
		}
		if c := cmp.Compare(a.key, b.key); c != 0 {
			return c
		}
		return cmp.Compare(b.pos, a.pos) // the last record first
	})
	s = slices.CompactFunc(s, func(a, b sorted) bool { return a.key == b.key })

	width := w + tableEntryFixed
	b := make([]byte, tableHeader, tableHeader+len(s)*width)
	copy(b, tableMagic)
	binary.LittleEndian.PutUint32(b[8:], uint32(w))
	binary.LittleEndian.PutUint32(b[12:], uint32(len(s)))
	fan := b[16 : 16+256*4]
	buckets := b[16+256*4 : 16+512*4]
	i := 0
	for f := range 256 {
		start := len(b)
		for ; i < len(s) && int(s[i].fan) == f; i++ {
			b = append(b, s[i].key...)
			b = append(b, make([]byte, w-len(s[i].key))...)
			b = binary.LittleEndian.AppendUint64(b, uint64(s[i].off))
			b = binary.LittleEndian.AppendUint32(b, s[i].length)
			b = binary.LittleEndian.AppendUint32(b, s[i].sum)
		}
		binary.LittleEndian.PutUint32(fan[f*4:], uint32(i))
		binary.LittleEndian.PutUint32(buckets[f*4:], crc32.Checksum(b[start:], castagnoli))
	}
	binary.LittleEndian.PutUint32(b[tableHeader-4:], crc32.Checksum(b[:tableHeader-4], castagnoli))
	return b
}

// table is a mapped table file.
type table struct {
	path     string
	data     []byte // the whole file, mapped
	width    int    // of an entry
	keyWidth int
	n        int
	verified [4]atomic.Uint64 // buckets whose checksum has passed, a bit each
}

var errTableDamaged = errors.New("table is damaged")

// openTable maps the table file path and checks its header and size. A
// table that fails the check is returned as a *damage.
func openTable(path string) (*table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the mapping outlives the descriptor
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() < int64(tableHeader) || st.Size() > 1<<40 {
		return nil, &damage{file: path, err: fmt.Errorf("%w: %d bytes, too short for its header", errTableDamaged, st.Size())}
	}
	data, err := mapFile(f, int(st.Size()))
	if err != nil {
		return nil, err
	}
	t := &table{path: path, data: data}
	if err := t.checkHeader(); err != nil {
		t.close()
		return nil, &damage{file: path, err: fmt.Errorf("%w: %v", errTableDamaged, err)}
	}
	return t, nil
}

func (t *table) checkHeader() error {
	h := t.data[:tableHeader]
	if string(h[:len(tableMagic)]) != tableMagic {
		return errors.New("not a table of this store")
	}
	if crc32.Checksum(h[:tableHeader-4], castagnoli) != binary.LittleEndian.Uint32(h[tableHeader-4:]) {
		return errors.New("its header does not match its checksum")
	}
	t.keyWidth = int(binary.LittleEndian.Uint32(h[8:]))
	t.n = int(binary.LittleEndian.Uint32(h[12:]))
	t.width = t.keyWidth + tableEntryFixed
	if t.keyWidth > maxTableKey || int64(len(t.data)) != int64(tableHeader)+int64(t.n)*int64(t.width) {
		return fmt.Errorf("%d bytes, but its header says %d entries of %d", len(t.data), t.n, t.width)
	}
	prev := 0
	for f := range 256 {
		end := t.fanEnd(f)
		if end < prev || end > t.n {
			return errors.New("its fan-out is not in order")
		}
		prev = end
	}
	if prev != t.n {
		return errors.New("its fan-out does not add up to its entries")
	}
	return nil
}

// fanEnd is the number of entries whose fan-out byte is at most f.
func (t *table) fanEnd(f int) int {
	return int(binary.LittleEndian.Uint32(t.data[16+f*4:]))
}

// bucket returns the range of entries of fan-out byte f, checking them
// the first time.
func (t *table) bucket(f int) (lo, hi int, err error) {
	if f > 0 {
		lo = t.fanEnd(f - 1)
	}
	hi = t.fanEnd(f)
	word, bit := &t.verified[f/64], uint64(1)<<(f%64)
	if word.Load()&bit != 0 {
		return lo, hi, nil
	}
	want := binary.LittleEndian.Uint32(t.data[16+256*4+f*4:])
	if crc32.Checksum(t.data[tableHeader+lo*t.width:tableHeader+hi*t.width], castagnoli) != want {
		return 0, 0, &damage{file: t.path, err: fmt.Errorf("%w: the entries of fan-out byte %#02x do not match their checksum", errTableDamaged, f)}
	}
	word.Or(bit)
	return lo, hi, nil
}

// entry decodes entry i.
func (t *table) entry(i int) (padded []byte, off int64, length, sum uint32) {
	e := t.data[tableHeader+i*t.width:][:t.width]
	k := t.keyWidth
	return e[:k], int64(binary.LittleEndian.Uint64(e[k:])), binary.LittleEndian.Uint32(e[k+8:]), binary.LittleEndian.Uint32(e[k+12:])
}

// find looks up the block with multihash key. It returns a *damage if the
// bucket it searched fails its check.
func (t *table) find(key string) (off int64, length, sum uint32, ok bool, err error) {
	if len(key) > t.keyWidth {
		return 0, 0, 0, false, nil
	}
	lo, end, err := t.bucket(int(fanByte(key)))
	if err != nil {
		return 0, 0, 0, false, err
	}
	for hi := end; lo < hi; {
		m := int(uint(lo+hi) >> 1)
		padded, _, _, _ := t.entry(m)
		if compareKey(padded, key) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < end {
		padded, off, length, sum := t.entry(lo)
		if compareKey(padded, key) == 0 {
			return off, length, sum, true, nil
		}
	}
	return 0, 0, 0, false, nil
}

// each calls fn for every entry, checking every bucket; it stops at the
// first bucket that fails its check and returns its damage.
func (t *table) each(fn func(e tableEntry)) error {
	for f := range 256 {
		lo, hi, err := t.bucket(f)
		if err != nil {
			return err
		}
		for i := lo; i < hi; i++ {
			padded, off, length, sum := t.entry(i)
			fn(tableEntry{key: unpad(padded), off: off, length: length, sum: sum})
		}
	}
	return nil
}

// unpad returns the multihash a padded key holds: as long as its own
// prefix says.
func unpad(padded []byte) string {
	_, k, err := varint.FromUvarint(padded)
	if err != nil {
		return string(padded)
	}
	l, j, err := varint.FromUvarint(padded[k:])
	if err != nil || uint64(len(padded)-k-j) < l {
		return string(padded)
	}
	return string(padded[:k+j+int(l)])
}

func (t *table) close() error { return unmapFile(t.data) }
