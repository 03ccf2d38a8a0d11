package ipfsstore

import (
	"encoding/binary"
	"errors"
	"hash/crc32"

	"github.com/archivecache/archivecache/schema"
)

// Pack and index files of the embedded store.
//
// The embedded store keeps blocks in a directory of append-only pack files,
// each with an append-only index file beside it:
//
//	<dir>/packs/<id>.pack       the blocks, one record after another
//	<dir>/packs/<id>.idx        where each block of <id>.pack is
//	<dir>/packs/<id>.unsealed   empty; there while <id>.pack is written
//	<dir>/packs/<id>.tbl        the sorted table of a sealed pack (table.go)
//	<dir>/packs/<id>.mtbl       the tables of several packs, merged (multitable.go)
//	<dir>/packs/merge.lock      held while tables are merged
//
// <id> is the creation time in hex and 64 random bits, so every process
// that writes creates its own pair and two processes never append to the
// same file. A pack is rolled (sealed, with its table, and a new pair
// started) once it holds packRollBlocks blocks or passes packRollSize
// (Embedded.roll); old packs are never rewritten, only cut back when the
// writer that failed or died never indexed their tail (seal.go).
//
// A pack file is an 8-byte magic followed by block records:
//
//	+----------+     +---------------+-------+-----------+--------------+
//	| ACPACK01 | ... | len(data) u32 | L u8  | CID (L B) | data         |
//	+----------+     +---------------+-------+-----------+--------------+
//	  8 bytes          little-endian                       len(data) B
//
// The record header makes a pack self-describing: an index can be rebuilt
// from its pack alone. Readers go through the index; they read record
// headers only to name the blocks a damaged index record hides.
//
// An index file is an 8-byte magic followed by fixed-layout records, one
// per block, each closed by a CRC-32C of the bytes before it:
//
//	+----------+     +------+-----------+------------+------------+-----------+-----------+
//	| ACIDX003 | ... | L u8 | CID (L B) | offset u64 | length u32 | sum u32   | crc32c u32|
//	+----------+     +------+-----------+------------+------------+-----------+-----------+
//
// offset and length locate the block's data inside the pack (not its
// record header); sum is the CRC-32C of that data. All integers are
// little-endian. Records follow their blocks' order in the pack. Index
// files of earlier versions are still read: ACIDX002 has the same records
// but its writers did not seal their packs; ACIDX001 has no sum field, and
// its blocks are checked by hash.
//
// Checking what is read. A block is hash-checked against its CID once, on
// its way into the store (Put), or built and hashed by the importer a
// moment before. What is read back is checked against sum: CRC-32C catches
// the damage a disk or a stray write does (every burst of up to 32 bits,
// and all but one in 2^32 of the rest) at a hundredth of the CPU of
// sha2-256, which had been a third of the time of exporting a tree. Check
// and Config.Rehash hash every block again. Put checks a copy it already
// holds the same way, and writes the block again if the copy fails.
//
// Durability and crashes. Sync writes the buffered pack bytes, fdatasyncs
// the pack, and only then appends the index records of those blocks and
// fdatasyncs the index: an index record is never durable before the data it
// points at. A process killed at any moment leaves, at worst, a pack tail no
// index points to and a torn last index record, in a pack it never
// sealed; the next writer cuts both off (seal.go). Readers take a record
// that is short or fails its checksum at the end of an unsealed pack's
// index for a torn tail.
//
// Damage. Anywhere else, a record that fails its checksum, a record that
// points past the end of its pack, and, in a sealed pack, a torn last
// record or blocks no record locates are damage, and reported as such
// (damage.go). A damaged record hides no record after it: the reader
// looks for the next record that decodes (parseIndex).
//
// Many processes. Each process appends only to the pack it created. The
// multi-pack tables and the tables of other processes' sealed packs are
// mapped, and the index files
// of their packs without a table read, at Open, and again (new tables, and
// index files from where the last read stopped) whenever a Get or Has
// misses, so a block another process has synced becomes visible without
// reopening the store.

const (
	packMagic  = "ACPACK01"
	idxMagic   = "ACIDX003"
	idxMagicV2 = "ACIDX002" // the same records, from before packs were sealed
	idxMagicV1 = "ACIDX001" // records without sum

	// packRecordHeader is the size of a pack record header without the CID.
	packRecordHeader = 4 + 1
	// idxRecordFixed is the size of an index record without the CID;
	// idxRecordFixedV1 that of a first-version record.
	idxRecordFixed   = 1 + 8 + 4 + 4 + 4
	idxRecordFixedV1 = 1 + 8 + 4 + 4
	// maxCIDLen is the longest CID an index record holds.
	maxCIDLen = 255
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// indexRecord is one decoded index record.
type indexRecord struct {
	CID    []byte // binary CID
	Offset int64  // of the block data in the pack
	Length uint32 // of the block data
	Sum    uint32 // CRC-32C of the block data; 0 in a first-version record
}

// dataSum is the checksum an index record keeps of a block's data.
func dataSum(data []byte) uint32 { return crc32.Checksum(data, castagnoli) }

var (
	errShortRecord   = errors.New("index record is truncated")
	errCorruptRecord = errors.New("index record is corrupt")
)

// appendIndexRecord appends the encoding of r to b. r.CID must be 1 to
// maxCIDLen bytes long.
func appendIndexRecord(b []byte, r indexRecord) []byte {
	start := len(b)
	b = append(b, byte(len(r.CID)))
	b = append(b, r.CID...)
	b = binary.LittleEndian.AppendUint64(b, uint64(r.Offset))
	b = binary.LittleEndian.AppendUint32(b, r.Length)
	b = binary.LittleEndian.AppendUint32(b, r.Sum)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

// decodeIndexRecord decodes the record at the start of b, of an index whose
// magic is idxMagic (v1 false) or idxMagicV1 (v1 true), and returns it with
// its encoded length. It returns errShortRecord if b ends inside the record
// and errCorruptRecord if the checksum or a field is wrong. The returned
// CID aliases b.
func decodeIndexRecord(b []byte, v1 bool) (indexRecord, int, error) {
	if len(b) < 1 {
		return indexRecord{}, 0, errShortRecord
	}
	l := int(b[0])
	if l == 0 {
		return indexRecord{}, 0, errCorruptRecord
	}
	n := idxRecordFixed + l
	if v1 {
		n = idxRecordFixedV1 + l
	}
	if len(b) < n {
		return indexRecord{}, 0, errShortRecord
	}
	body := b[:n-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(b[n-4:n]) {
		return indexRecord{}, 0, errCorruptRecord
	}
	r := indexRecord{
		CID:    b[1 : 1+l : 1+l],
		Offset: int64(binary.LittleEndian.Uint64(b[1+l:])),
		Length: binary.LittleEndian.Uint32(b[1+l+8:]),
	}
	if !v1 {
		r.Sum = binary.LittleEndian.Uint32(b[1+l+12:])
	}
	if r.Offset < int64(len(packMagic)) || r.Length > schema.MaxBlockSize || r.Offset > (1<<62) {
		return indexRecord{}, 0, errCorruptRecord
	}
	return r, n, nil
}

// indexParse is what parseIndex found in a run of index records.
type indexParse struct {
	records []parsedRecord
	damage  []damagedRun
	// used is how many bytes the records take, from the start to the end
	// of the last one; what follows it (tail bytes) decodes as no record:
	// a torn last record, or damage.
	used, tail int
}

// parsedRecord is a record parseIndex decoded, and where it starts.
type parsedRecord struct {
	indexRecord
	at int
}

// damagedRun is a run of bytes between two records that decodes as none.
// next is the index in records of the record after it.
type damagedRun struct {
	at, n, next int
}

// parseIndex decodes the index records in b, of an index of the given
// version. A record that does not decode hides none after it: the next
// one is looked for at the length the bad record claims, then at every
// later byte (a record's checksum makes a false match a chance in 2^32).
func parseIndex(b []byte, v1 bool) indexParse {
	var p indexParse
	for pos := 0; pos < len(b); {
		r, n, err := decodeIndexRecord(b[pos:], v1)
		if err == nil {
			p.records = append(p.records, parsedRecord{r, pos})
			pos += n
			p.used = pos
			continue
		}
		next := resync(b, pos, v1)
		if next < 0 {
			break
		}
		p.damage = append(p.damage, damagedRun{at: pos, n: next - pos, next: len(p.records)})
		pos = next
	}
	p.tail = len(b) - p.used
	return p
}

// resync returns the position of the first record after pos that decodes,
// or -1.
func resync(b []byte, pos int, v1 bool) int {
	fixed := idxRecordFixed
	if v1 {
		fixed = idxRecordFixedV1
	}
	if l := int(b[pos]); l > 0 && pos+fixed+l < len(b) {
		if _, _, err := decodeIndexRecord(b[pos+fixed+l:], v1); err == nil {
			return pos + fixed + l
		}
	}
	for q := pos + 1; q < len(b); q++ {
		if _, _, err := decodeIndexRecord(b[q:], v1); err == nil {
			return q
		}
	}
	return -1
}

// appendPackRecordHeader appends the pack record header of a block with the
// given binary CID and data length.
func appendPackRecordHeader(b, c []byte, dataLen int) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(dataLen))
	b = append(b, byte(len(c)))
	return append(b, c...)
}

// decodePackRecordHeader decodes the pack record header at the start of
// b, which must hold at least packRecordHeader+maxCIDLen bytes or reach
// the end of the region it was read from. It returns the binary CID, the
// data length and the header's length, or ok false.
func decodePackRecordHeader(b []byte) (c []byte, dataLen uint32, n int, ok bool) {
	if len(b) < packRecordHeader {
		return nil, 0, 0, false
	}
	dataLen = binary.LittleEndian.Uint32(b)
	l := int(b[4])
	n = packRecordHeader + l
	if l == 0 || len(b) < n || dataLen > schema.MaxBlockSize {
		return nil, 0, 0, false
	}
	return b[packRecordHeader:n:n], dataLen, n, true
}
