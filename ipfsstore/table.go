package ipfsstore

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
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
// table (unsealed, left by a writer that died and not yet cut back, or
// written by earlier versions) are read the old way too: their index records are scanned into
// a map, from where the last scan stopped. The tables of small packs are
// merged into multi-pack tables of the same layout (multitable.go).

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
	pack   uint32 // in a multi-pack table, the number of the block's pack in its list
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
func encodeTable(entries []tableEntry) ([]byte, error) {
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

	var b bytes.Buffer
	tw := newTableWriter(&b, len(s), w, nil)
	b.Write(make([]byte, tw.headSize()))
	for _, e := range s {
		tw.add(e.tableEntry, e.bucket)
	}
	head, err := tw.head()
	if err != nil {
		return nil, err
	}
	out := b.Bytes()
	copy(out, head)
	return out, nil
}

// tableWriter writes the entries of a table, given in table order, to w;
// head then returns what goes before them: the header, the pack list of a
// multi-pack table (packs not nil) and the fan-out. It keeps the fan-out
// and no entry, so a table of any size is written in bounded memory.
type tableWriter struct {
	w        io.Writer
	keyWidth int
	n        int
	fanBits  int
	packs    []tablePack
	fan      []uint32 // fan-out words, then bucket checksums
	bucket   int      // of the entries being added
	crc      uint32   // of the entries of bucket added so far
	added    int
	buf      []byte
	err      error
}

func newTableWriter(w io.Writer, n, keyWidth int, packs []tablePack) *tableWriter {
	fb := fanBits(n)
	return &tableWriter{w: w, keyWidth: keyWidth, n: n, fanBits: fb, packs: packs, fan: make([]uint32, 2<<fb)}
}

// headSize is the length of head.
func (tw *tableWriter) headSize() int {
	if tw.packs == nil {
		return tableHeader + 4*len(tw.fan)
	}
	return multiHeader + len(encodePackList(tw.packs)) + 4 + 4*len(tw.fan)
}

// add writes entry e, of bucket f; entries come in table order. It
// reports the first error of the writer, or of the order.
func (tw *tableWriter) add(e tableEntry, f int) error {
	if tw.err != nil {
		return tw.err
	}
	if f < tw.bucket || tw.added == tw.n || len(e.key) > tw.keyWidth {
		tw.err = errors.New("table entries out of order, too many, or wider than the table's keys")
		return tw.err
	}
	tw.closeBuckets(f)
	b := append(tw.buf[:0], e.key...)
	b = append(b, make([]byte, tw.keyWidth-len(e.key))...)
	b = binary.LittleEndian.AppendUint64(b, uint64(e.off))
	b = binary.LittleEndian.AppendUint32(b, e.length)
	b = binary.LittleEndian.AppendUint32(b, e.sum)
	if tw.packs != nil {
		b = binary.LittleEndian.AppendUint32(b, e.pack)
	}
	tw.buf = b
	tw.crc = crc32.Update(tw.crc, castagnoli, b)
	tw.added++
	_, tw.err = tw.w.Write(b)
	return tw.err
}

// closeBuckets records the fan-out and checksums of the buckets before f.
func (tw *tableWriter) closeBuckets(f int) {
	nb := len(tw.fan) / 2
	for ; tw.bucket < f; tw.bucket++ {
		tw.fan[tw.bucket] = uint32(tw.added)
		tw.fan[nb+tw.bucket] = tw.crc
		tw.crc = 0
	}
}

// head returns what goes before the entries, once they are all added.
func (tw *tableWriter) head() ([]byte, error) {
	if tw.err == nil && tw.added != tw.n {
		tw.err = fmt.Errorf("table of %d entries was given %d", tw.n, tw.added)
	}
	if tw.err != nil {
		return nil, tw.err
	}
	tw.closeBuckets(len(tw.fan) / 2)
	magic, multi := tableMagic, tw.packs != nil
	if multi {
		magic = multiMagic
	}
	b := append([]byte(nil), magic...)
	b = binary.LittleEndian.AppendUint32(b, uint32(tw.keyWidth))
	b = binary.LittleEndian.AppendUint32(b, uint32(tw.n))
	b = binary.LittleEndian.AppendUint32(b, uint32(tw.fanBits))
	var list []byte
	if multi {
		list = encodePackList(tw.packs)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(tw.packs)))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(list)))
	}
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	if multi {
		b = append(b, list...)
		b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(list, castagnoli))
	}
	for _, x := range tw.fan {
		b = binary.LittleEndian.AppendUint32(b, x)
	}
	return b, nil
}

// table is a mapped table file: a pack's own, or a multi-pack table.
type table struct {
	path     string
	data     []byte // the whole file, mapped
	keyWidth int
	width    int // of an entry
	n        int
	fanBits  int
	fan      int         // where the fan-out starts in data
	entries  int         // where the entries start in data
	packs    []tablePack // the packs of a multi-pack table, in name order; nil for a pack's own
}

var errTableDamaged = errors.New("table is damaged")

// openTable maps the table file path, a pack's own or a multi-pack table,
// and checks its header, its pack list and its size. A table that fails
// the check is returned as a *damage.
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
	h := t.data
	switch string(h[:len(tableMagic)]) {
	case tableMagic:
		if crc32.Checksum(h[:20], castagnoli) != binary.LittleEndian.Uint32(h[20:]) {
			return errors.New("its header does not match its checksum")
		}
		t.fan = tableHeader
		t.width = tableEntryFixed
	case multiMagic:
		if len(h) < multiHeader || crc32.Checksum(h[:multiHeader-4], castagnoli) != binary.LittleEndian.Uint32(h[multiHeader-4:]) {
			return errors.New("its header does not match its checksum")
		}
		np, nl := int(binary.LittleEndian.Uint32(h[20:])), int(binary.LittleEndian.Uint32(h[24:]))
		if len(h) < multiHeader+nl+4 {
			return fmt.Errorf("%d bytes, too short for its list of packs", len(h))
		}
		list := h[multiHeader : multiHeader+nl]
		if crc32.Checksum(list, castagnoli) != binary.LittleEndian.Uint32(h[multiHeader+nl:]) {
			return errors.New("its list of packs does not match its checksum")
		}
		packs, err := decodePackList(list, np)
		if err != nil {
			return err
		}
		t.packs = packs
		t.fan = multiHeader + nl + 4
		t.width = multiEntryFixed
	default:
		return errors.New("not a table of this store")
	}
	t.keyWidth = int(binary.LittleEndian.Uint32(h[8:]))
	t.n = int(binary.LittleEndian.Uint32(h[12:]))
	t.fanBits = int(binary.LittleEndian.Uint32(h[16:]))
	t.width += t.keyWidth
	if t.keyWidth > maxCIDLen || t.fanBits < minFanBits || t.fanBits > maxFanBits ||
		int64(len(t.data)) != int64(t.fan)+8<<t.fanBits+int64(t.n)*int64(t.width) {
		return fmt.Errorf("%d bytes, not what its header says", len(t.data))
	}
	t.entries = t.fan + 8<<t.fanBits
	return nil
}

func (t *table) damaged(why string) *damage {
	return &damage{file: t.path, err: fmt.Errorf("%w: %s", errTableDamaged, why)}
}

// bucket returns the range of entries of bucket f, checked.
func (t *table) bucket(f int) (lo, hi int, err error) {
	nb := 1 << t.fanBits
	if f > 0 {
		lo = int(binary.LittleEndian.Uint32(t.data[t.fan+4*(f-1):]))
	}
	hi = int(binary.LittleEndian.Uint32(t.data[t.fan+4*f:]))
	if lo > hi || hi > t.n {
		return 0, 0, t.damaged(fmt.Sprintf("its fan-out is out of order at bucket %d", f))
	}
	want := binary.LittleEndian.Uint32(t.data[t.fan+4*(nb+f):])
	if crc32.Checksum(t.data[t.entries+lo*t.width:t.entries+hi*t.width], castagnoli) != want {
		return 0, 0, t.damaged(fmt.Sprintf("the entries of bucket %d do not match their checksum", f))
	}
	return lo, hi, nil
}

// entry decodes entry i, its key padded.
func (t *table) entry(i int) (padded []byte, e tableEntry) {
	b := t.data[t.entries+i*t.width:][:t.width]
	k := t.keyWidth
	e = tableEntry{off: int64(binary.LittleEndian.Uint64(b[k:])), length: binary.LittleEndian.Uint32(b[k+8:]), sum: binary.LittleEndian.Uint32(b[k+12:])}
	if t.packs != nil {
		e.pack = binary.LittleEndian.Uint32(b[k+16:])
	}
	return b[:k], e
}

// find looks up the block with multihash key: its entries are lo to hi,
// one in a pack's own table, one per pack holding it in a multi-pack
// table, the newest pack first. It returns a *damage if the bucket it
// searched fails its check.
func (t *table) find(key string) (lo, hi int, err error) {
	if len(key) > t.keyWidth {
		return 0, 0, nil
	}
	lo, end, err := t.bucket(bucketOf(key, t.fanBits))
	if err != nil {
		return 0, 0, err
	}
	for hi := end; lo < hi; {
		m := int(uint(lo+hi) >> 1)
		if padded, _ := t.entry(m); compareKey(padded, key) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	hi = lo
	for hi < end {
		if padded, _ := t.entry(hi); compareKey(padded, key) != 0 {
			break
		}
		hi++
	}
	return lo, hi, nil
}

// each calls fn for every entry, checking every bucket; it stops at the
// first bucket that fails its check and returns its damage.
func (t *table) each(fn func(e tableEntry)) error {
	return t.eachBucket(func(_ int, es []tableEntry) {
		for _, e := range es {
			fn(e)
		}
	})
}

// eachBucket calls fn with the entries of each bucket in turn, checking
// every bucket; it stops at the first bucket that fails its check and
// returns its damage. es is reused from one call to the next.
func (t *table) eachBucket(fn func(f int, es []tableEntry)) error {
	next := 0
	var es []tableEntry
	for f := range 1 << t.fanBits {
		lo, hi, err := t.bucket(f)
		if err != nil {
			return err
		}
		if lo != next {
			return t.damaged(fmt.Sprintf("its fan-out is out of order at bucket %d", f))
		}
		es = es[:0]
		for i := lo; i < hi; i++ {
			padded, e := t.entry(i)
			e.key = unpad(padded)
			es = append(es, e)
		}
		fn(f, es)
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
