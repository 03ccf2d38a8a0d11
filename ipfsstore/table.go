package ipfsstore

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/bits"
	"os"
	"slices"

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
//	+----------+-------+-------+-------+------------+----------------+-----------------+
//	| ACTBL001 | W u32 | n u32 | B u32 | crc32c u32 | fan [2^B]u32   | bucket [2^B]u32 |
//	+----------+-------+-------+-------+------------+----------------+-----------------+
//	then n entries of W+16 bytes:
//	+--------------------------+------------+------------+---------+
//	| multihash, 0-padded to W | offset u64 | length u32 | sum u32 |
//	+--------------------------+------------+------------+---------+
//
// Entries are sorted by the first B bits of the multihash's digest (their
// bucket), then by their padded multihash; fan[f] is the number of entries
// in buckets up to f, so bucket f is entries fan[f-1] to fan[f]. B grows
// with n (from 8 bits up to 24), so that a bucket holds about 8 entries. A
// multihash says its own length, so padding makes no two equal. bucket[f]
// is the CRC-32C of the entries of bucket f, and the crc32c field that of
// the 20 bytes before it.
//
// Checking. Open checks a table's first 24 bytes and its size; a lookup
// checks the fan-out words and the entries of the one bucket it searches
// (some 400 bytes), so that no damage misleads it: a damaged fan-out word
// shifts the bucket's range, and its checksum fails. A table that fails a
// check is damage: the pack is read the old way, from its index, and
// Check, which checks every bucket, reports the table. Packs without a
// table (unsealed, left by a writer that died, or written by earlier
// versions) are read the old way too: their index records are scanned into
// a map, from where the last scan stopped.

const (
	tableMagic = "ACTBL001"
	// tableHeader is the size of a table's fixed header.
	tableHeader = len(tableMagic) + 4 + 4 + 4 + 4
	// tableEntryFixed is the size of a table entry without its key.
	tableEntryFixed = 8 + 4 + 4
	// minFanBits and maxFanBits bound B; tableBucket is the number of
	// entries B aims a bucket at.
	minFanBits, maxFanBits, tableBucket = 8, 24, 8
)

// tableEntry is one block of a table.
type tableEntry struct {
	key    string // the block's multihash
	off    int64
	length uint32
	sum    uint32
}

// fanBits is B for a table of n entries.
func fanBits(n int) int {
	return min(max(bits.Len(uint(n/tableBucket)), minFanBits), maxFanBits)
}

// bucketOf is the bucket of multihash mh in a table of 2^b buckets: the
// first b bits of its digest (zeros past a short digest's end).
func bucketOf(mh string, b int) int {
	_, k, err := varint.FromUvarint([]byte(mh[:min(len(mh), varint.MaxLenUvarint63)]))
	if err != nil {
		return 0
	}
	_, j, err := varint.FromUvarint([]byte(mh[k:min(len(mh), k+varint.MaxLenUvarint63)]))
	if err != nil {
		return 0
	}
	var d [4]byte
	copy(d[:], mh[min(k+j, len(mh)):])
	return int(binary.BigEndian.Uint32(d[:]) >> (32 - b))
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
		bucket int
		pos    int
	}
	fb := fanBits(len(entries))
	s := make([]sorted, len(entries))
	w := 0
	for i, e := range entries {
		s[i] = sorted{e, bucketOf(e.key, fb), i}
		w = max(w, len(e.key))
	}
	slices.SortFunc(s, func(a, b sorted) int {
		if c := cmp.Compare(a.bucket, b.bucket); c != 0 {
			return c
		}
		if c := cmp.Compare(a.key, b.key); c != 0 {
			return c
		}
		return cmp.Compare(b.pos, a.pos) // the last record first
	})
	s = slices.CompactFunc(s, func(a, b sorted) bool { return a.key == b.key })

	nb := 1 << fb
	body := tableHeader + 8*nb
	b := make([]byte, body, body+len(s)*(w+tableEntryFixed))
	copy(b, tableMagic)
	binary.LittleEndian.PutUint32(b[8:], uint32(w))
	binary.LittleEndian.PutUint32(b[12:], uint32(len(s)))
	binary.LittleEndian.PutUint32(b[16:], uint32(fb))
	binary.LittleEndian.PutUint32(b[20:], crc32.Checksum(b[:20], castagnoli))
	i := 0
	for f := range nb {
		start := len(b)
		for ; i < len(s) && s[i].bucket == f; i++ {
			b = append(b, s[i].key...)
			b = append(b, make([]byte, w-len(s[i].key))...)
			b = binary.LittleEndian.AppendUint64(b, uint64(s[i].off))
			b = binary.LittleEndian.AppendUint32(b, s[i].length)
			b = binary.LittleEndian.AppendUint32(b, s[i].sum)
		}
		binary.LittleEndian.PutUint32(b[tableHeader+4*f:], uint32(i))
		binary.LittleEndian.PutUint32(b[tableHeader+4*(nb+f):], crc32.Checksum(b[start:], castagnoli))
	}
	return b
}

// table is a mapped table file.
type table struct {
	path     string
	data     []byte // the whole file, mapped
	keyWidth int
	width    int // of an entry
	n        int
	fanBits  int
	entries  int // where the entries start in data
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
		return nil, t.damaged(err.Error())
	}
	return t, nil
}

func (t *table) checkHeader() error {
	h := t.data[:tableHeader]
	if string(h[:len(tableMagic)]) != tableMagic {
		return errors.New("not a table of this store")
	}
	if crc32.Checksum(h[:20], castagnoli) != binary.LittleEndian.Uint32(h[20:]) {
		return errors.New("its header does not match its checksum")
	}
	t.keyWidth = int(binary.LittleEndian.Uint32(h[8:]))
	t.n = int(binary.LittleEndian.Uint32(h[12:]))
	t.fanBits = int(binary.LittleEndian.Uint32(h[16:]))
	t.width = t.keyWidth + tableEntryFixed
	t.entries = tableHeader + 8<<t.fanBits
	if t.keyWidth > maxCIDLen || t.fanBits < minFanBits || t.fanBits > maxFanBits ||
		int64(len(t.data)) != int64(t.entries)+int64(t.n)*int64(t.width) {
		return fmt.Errorf("%d bytes, not what its header says", len(t.data))
	}
	return nil
}

func (t *table) damaged(why string) *damage {
	return &damage{file: t.path, err: fmt.Errorf("%w: %s", errTableDamaged, why)}
}

// bucket returns the range of entries of bucket f, checked.
func (t *table) bucket(f int) (lo, hi int, err error) {
	nb := 1 << t.fanBits
	if f > 0 {
		lo = int(binary.LittleEndian.Uint32(t.data[tableHeader+4*(f-1):]))
	}
	hi = int(binary.LittleEndian.Uint32(t.data[tableHeader+4*f:]))
	if lo > hi || hi > t.n {
		return 0, 0, t.damaged(fmt.Sprintf("its fan-out is out of order at bucket %d", f))
	}
	want := binary.LittleEndian.Uint32(t.data[tableHeader+4*(nb+f):])
	if crc32.Checksum(t.data[t.entries+lo*t.width:t.entries+hi*t.width], castagnoli) != want {
		return 0, 0, t.damaged(fmt.Sprintf("the entries of bucket %d do not match their checksum", f))
	}
	return lo, hi, nil
}

// entry decodes entry i.
func (t *table) entry(i int) (padded []byte, off int64, length, sum uint32) {
	e := t.data[t.entries+i*t.width:][:t.width]
	k := t.keyWidth
	return e[:k], int64(binary.LittleEndian.Uint64(e[k:])), binary.LittleEndian.Uint32(e[k+8:]), binary.LittleEndian.Uint32(e[k+12:])
}

// find looks up the block with multihash key. It returns a *damage if the
// bucket it searched fails its check.
func (t *table) find(key string) (off int64, length, sum uint32, ok bool, err error) {
	if len(key) > t.keyWidth {
		return 0, 0, 0, false, nil
	}
	lo, end, err := t.bucket(bucketOf(key, t.fanBits))
	if err != nil {
		return 0, 0, 0, false, err
	}
	for hi := end; lo < hi; {
		m := int(uint(lo+hi) >> 1)
		if padded, _, _, _ := t.entry(m); compareKey(padded, key) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < end {
		if padded, off, length, sum := t.entry(lo); compareKey(padded, key) == 0 {
			return off, length, sum, true, nil
		}
	}
	return 0, 0, 0, false, nil
}

// each calls fn for every entry, checking every bucket; it stops at the
// first bucket that fails its check and returns its damage.
func (t *table) each(fn func(e tableEntry)) error {
	next := 0
	for f := range 1 << t.fanBits {
		lo, hi, err := t.bucket(f)
		if err != nil {
			return err
		}
		if lo != next {
			return t.damaged(fmt.Sprintf("its fan-out is out of order at bucket %d", f))
		}
		for i := lo; i < hi; i++ {
			padded, off, length, sum := t.entry(i)
			fn(tableEntry{key: unpad(padded), off: off, length: length, sum: sum})
		}
		next = hi
	}
	if next != t.n {
		return t.damaged("its fan-out does not add up to its entries")
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
