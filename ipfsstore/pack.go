package ipfsstore

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// Pack and index files of the embedded store.
//
// The embedded store keeps blocks in a directory of append-only pack files,
// each with an append-only index file beside it:
//
//	<dir>/packs/<id>.pack   the blocks, one record after another
//	<dir>/packs/<id>.idx    where each block of <id>.pack is
//
// <id> is the creation time in hex and 64 random bits, so every process
// that writes creates its own pair and two processes never append to the
// same file. A pack is rolled (a new pair started) once it passes
// packRollSize; old packs are never rewritten.
//
// A pack file is an 8-byte magic followed by block records:
//
//	+----------+     +---------------+-------+-----------+--------------+
//	| ACPACK01 | ... | len(data) u32 | L u8  | CID (L B) | data         |
//	+----------+     +---------------+-------+-----------+--------------+
//	  8 bytes          little-endian                       len(data) B
//
// The record header makes a pack self-describing: an index can be rebuilt
// from its pack alone. Readers never parse it; they go through the index.
//
// An index file is an 8-byte magic followed by fixed-layout records, one
// per block, each closed by a CRC-32C of the bytes before it:
//
//	+----------+     +------+-----------+------------+------------+-----------+-----------+
//	| ACIDX002 | ... | L u8 | CID (L B) | offset u64 | length u32 | sum u32   | crc32c u32|
//	+----------+     +------+-----------+------------+------------+-----------+-----------+
//
// offset and length locate the block's data inside the pack (not its
// record header); sum is the CRC-32C of that data. All integers are
// little-endian. Index files of the first version (ACIDX001) have no sum
// field; they are still read, and their blocks are checked by hash.
//
// Checking what is read. A block is hash-checked against its CID once, on
// its way into the store (Put), or built and hashed by the importer a
// moment before. What is read back is checked against sum: CRC-32C catches
// the damage a disk or a stray write does (every burst of up to 32 bits,
// and all but one in 2^32 of the rest) at a hundredth of the CPU of
// sha2-256, which had been a third of the time of exporting a tree. Check
// (ac-verify --content) hashes every block again.
//
// Durability and crashes. Sync writes the buffered pack bytes, fdatasyncs
// the pack, and only then appends the index records of those blocks and
// fdatasyncs the index: an index record is never durable before the data it
// points at. A process killed at any moment leaves, at worst, a pack tail no
// index points to and a torn last index record. Readers stop at the first
// index record that is short or fails its checksum (a torn tail), and ignore
// records that point past the end of their pack.
//
// Many processes. Each process appends only to the pack it created. The
// index files of other processes are read at Open, and again (from where
// the last read stopped) whenever a Get or Has misses, so a block another
// process has synced becomes visible without reopening the store.

const (
	packMagic  = "ACPACK01"
	idxMagic   = "ACIDX002"
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
	if r.Offset < int64(len(packMagic)) || r.Length > MaxBlockSize || r.Offset > (1<<62) {
		return indexRecord{}, 0, errCorruptRecord
	}
	return r, n, nil
}

// appendPackRecordHeader appends the pack record header of a block with the
// given binary CID and data length.
func appendPackRecordHeader(b, c []byte, dataLen int) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(dataLen))
	b = append(b, byte(len(c)))
	return append(b, c...)
}
