package unixfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"

	"github.com/ipfs/go-cid"
)

// The two protobuf messages of a UnixFS file node, encoded and decoded by
// hand. Only the protobuf wire format is involved: a message is a sequence
// of fields, each a tag varint (field number << 3 | wire type) followed by
// a varint (wire type 0) or a length-prefixed byte string (wire type 2).
//
//	message PBLink { optional bytes Hash = 1; optional string Name = 2; optional uint64 Tsize = 3; }
//	message PBNode { repeated PBLink Links = 2; optional bytes Data = 1; }
//
//	message Data {
//		required DataType Type = 1;  // Raw 0, Directory 1, File 2, Metadata 3, Symlink 4, HAMTShard 5
//		optional bytes Data = 2;
//		optional uint64 filesize = 3;
//		repeated uint64 blocksizes = 4;
//		optional uint64 hashType = 5;
//		optional uint64 fanout = 6;
//		optional uint32 mode = 7;
//		optional UnixTime mtime = 8;
//	}
//
// dag-pb's canonical form, which the encoder writes and CIDs depend on,
// puts the Links before Data and each link's fields in the order Hash,
// Name, Tsize. The decoder follows go-codec-dagpb, which kubo uses: the
// PBNode fields must be 1 or 2, both of wire type 2; the links form one
// run and Data appears at most once; a link has its fields in order, each
// at most once, and must have a Hash that is a whole CID. The UnixFS Data
// message is decoded as protobuf allows (unknown fields are skipped, a
// repeated field may come packed), but every length is checked and no
// field may be repeated that is not repeated in the schema.

// UnixFS data types.
const (
	typeRaw       = 0
	typeDirectory = 1
	typeFile      = 2
	typeMetadata  = 3
	typeSymlink   = 4
	typeHAMTShard = 5
)

// Wire types.
const (
	wireVarint = 0
	wireI64    = 1
	wireBytes  = 2
	wireI32    = 5
)

// link is a PBLink.
type link struct {
	cid   cid.Cid
	name  string
	tsize uint64
}

// pbNode is a decoded PBNode. data is nil when the Data field is absent
// and aliases the block otherwise.
type pbNode struct {
	links []link
	data  []byte
}

// fsData is a decoded UnixFS Data message. data aliases the block.
type fsData struct {
	typ        uint64
	data       []byte
	filesize   uint64
	hasSize    bool
	blocksizes []uint64
	hashType   uint64 // a HAMT shard's hash function
	fanout     uint64 // a HAMT shard's width
	mode       uint64 // UnixFS 1.5 mode bits, if hasMode
	hasMode    bool
	mtime      int64 // UnixFS 1.5 mtime in nanoseconds since 1970, if hasMtime
	hasMtime   bool
}

var (
	errTruncated = errors.New("truncated protobuf")
	errOverflow  = errors.New("protobuf varint overflows 64 bits")
)

// uvarint decodes a protobuf varint from b: at most 10 bytes, the tenth
// holding only the top bit of a uint64.
func uvarint(b []byte) (uint64, int, error) {
	var v uint64
	for i := 0; i < len(b); i++ {
		if i == 9 && b[i] > 1 {
			return 0, 0, errOverflow
		}
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return v, i + 1, nil
		}
	}
	if len(b) >= 10 {
		return 0, 0, errOverflow
	}
	return 0, 0, errTruncated
}

// tag decodes a field tag. Field number 0 and numbers above 2^29-1 are
// invalid in protobuf.
func tag(b []byte) (field uint64, wire int, n int, err error) {
	v, n, err := uvarint(b)
	if err != nil {
		return 0, 0, 0, err
	}
	field, wire = v>>3, int(v&7)
	if field == 0 || field > 1<<29-1 {
		return 0, 0, 0, fmt.Errorf("invalid protobuf field number %d", field)
	}
	return field, wire, n, nil
}

// bytesField decodes a length-prefixed byte string.
func bytesField(b []byte) ([]byte, int, error) {
	l, n, err := uvarint(b)
	if err != nil {
		return nil, 0, err
	}
	if l > uint64(len(b)-n) {
		return nil, 0, errTruncated
	}
	return b[n : n+int(l)], n + int(l), nil
}

// skipField skips the value of a field of the given wire type.
func skipField(b []byte, wire int) (int, error) {
	switch wire {
	case wireVarint:
		_, n, err := uvarint(b)
		return n, err
	case wireI64:
		if len(b) < 8 {
			return 0, errTruncated
		}
		return 8, nil
	case wireBytes:
		_, n, err := bytesField(b)
		return n, err
	case wireI32:
		if len(b) < 4 {
			return 0, errTruncated
		}
		return 4, nil
	default: // groups (3, 4) are not used by either message
		return 0, fmt.Errorf("unsupported protobuf wire type %d", wire)
	}
}

// decodePBNode decodes a dag-pb block. The links' CIDs are parsed; the
// caller checks what they point at.
func decodePBNode(b []byte) (pbNode, error) {
	var nd pbNode
	if n := countLinks(b); n > 0 {
		nd.links = make([]link, 0, n)
	}
	haveData, inLinks, haveLinks := false, false, false
	for len(b) > 0 {
		field, wire, n, err := tag(b)
		if err != nil {
			return pbNode{}, err
		}
		b = b[n:]
		if wire != wireBytes {
			return pbNode{}, fmt.Errorf("PBNode field %d has wire type %d, want 2", field, wire)
		}
		val, n, err := bytesField(b)
		if err != nil {
			return pbNode{}, err
		}
		b = b[n:]
		switch field {
		case 1:
			if haveData {
				return pbNode{}, errors.New("PBNode has two Data fields")
			}
			haveData, inLinks = true, false
			nd.data = val
			if nd.data == nil {
				nd.data = []byte{}
			}
		case 2:
			if haveLinks && !inLinks {
				return pbNode{}, errors.New("PBNode links are not contiguous")
			}
			haveLinks, inLinks = true, true
			l, err := decodePBLink(val)
			if err != nil {
				return pbNode{}, err
			}
			nd.links = append(nd.links, l)
		default:
			return pbNode{}, fmt.Errorf("PBNode has unknown field %d", field)
		}
	}
	return nd, nil
}

// countLinks returns the number of Links fields in a dag-pb block, so that
// decodePBNode allocates them at once; it stops quietly at the first
// malformed field, which decodePBNode will report.
func countLinks(b []byte) int {
	n := 0
	for len(b) > 0 {
		field, wire, m, err := tag(b)
		if err != nil || wire != wireBytes {
			break
		}
		_, k, err := bytesField(b[m:])
		if err != nil {
			break
		}
		b = b[m+k:]
		if field == 2 {
			n++
		}
	}
	return n
}

func decodePBLink(b []byte) (link, error) {
	var l link
	last := uint64(0) // the last field seen; fields must increase
	for len(b) > 0 {
		field, wire, n, err := tag(b)
		if err != nil {
			return link{}, err
		}
		b = b[n:]
		if field <= last {
			return link{}, fmt.Errorf("PBLink field %d after field %d", field, last)
		}
		last = field
		switch field {
		case 1, 2:
			if wire != wireBytes {
				return link{}, fmt.Errorf("PBLink field %d has wire type %d, want 2", field, wire)
			}
			val, n, err := bytesField(b)
			if err != nil {
				return link{}, err
			}
			b = b[n:]
			if field == 2 {
				l.name = string(val)
				break
			}
			m, c, err := cid.CidFromBytes(val)
			if err != nil {
				return link{}, fmt.Errorf("PBLink Hash is not a CID: %w", err)
			}
			if m != len(val) {
				return link{}, fmt.Errorf("PBLink Hash has %d bytes after its CID", len(val)-m)
			}
			l.cid = c
		case 3:
			if wire != wireVarint {
				return link{}, fmt.Errorf("PBLink Tsize has wire type %d, want 0", wire)
			}
			v, n, err := uvarint(b)
			if err != nil {
				return link{}, err
			}
			b = b[n:]
			l.tsize = v
		default:
			return link{}, fmt.Errorf("PBLink has unknown field %d", field)
		}
	}
	if !l.cid.Defined() {
		return link{}, errors.New("PBLink has no Hash")
	}
	return l, nil
}

// decodeFSData decodes a UnixFS Data message. It refuses more than
// maxSizes blocksizes.
func decodeFSData(b []byte, maxSizes int) (fsData, error) {
	var d fsData
	seen := uint32(0) // bit i: field i was seen (for the non-repeated ones)
	for len(b) > 0 {
		field, wire, n, err := tag(b)
		if err != nil {
			return fsData{}, err
		}
		b = b[n:]
		if field != 4 && field < 32 {
			if seen&(1<<field) != 0 {
				return fsData{}, fmt.Errorf("UnixFS field %d appears twice", field)
			}
			seen |= 1 << field
		}
		switch {
		case field == 1 || field == 3 || (field == 4 && wire == wireVarint) || field == 5 || field == 6 || field == 7:
			if wire != wireVarint {
				return fsData{}, fmt.Errorf("UnixFS field %d has wire type %d, want 0", field, wire)
			}
			v, n, err := uvarint(b)
			if err != nil {
				return fsData{}, err
			}
			b = b[n:]
			switch field {
			case 1:
				d.typ = v
			case 3:
				d.filesize, d.hasSize = v, true
			case 5:
				d.hashType = v
			case 6:
				d.fanout = v
			case 7:
				d.mode, d.hasMode = v, true
			case 4:
				if len(d.blocksizes) >= maxSizes {
					return fsData{}, fmt.Errorf("UnixFS node has more than %d blocksizes", maxSizes)
				}
				d.blocksizes = append(d.blocksizes, v)
			}
		case field == 8: // mtime: a message of seconds and nanoseconds
			if wire != wireBytes {
				return fsData{}, fmt.Errorf("UnixFS field 8 has wire type %d, want 2", wire)
			}
			val, n, err := bytesField(b)
			if err != nil {
				return fsData{}, err
			}
			b = b[n:]
			if d.mtime, err = decodeMtime(val); err != nil {
				return fsData{}, err
			}
			d.hasMtime = true
		case field == 2 || field == 4: // Data, or packed blocksizes
			if wire != wireBytes {
				return fsData{}, fmt.Errorf("UnixFS field %d has wire type %d, want 2", field, wire)
			}
			val, n, err := bytesField(b)
			if err != nil {
				return fsData{}, err
			}
			b = b[n:]
			if field == 2 {
				d.data = val
				break
			}
			for len(val) > 0 {
				v, n, err := uvarint(val)
				if err != nil {
					return fsData{}, err
				}
				val = val[n:]
				if len(d.blocksizes) >= maxSizes {
					return fsData{}, fmt.Errorf("UnixFS node has more than %d blocksizes", maxSizes)
				}
				d.blocksizes = append(d.blocksizes, v)
			}
		default:
			n, err := skipField(b, wire)
			if err != nil {
				return fsData{}, err
			}
			b = b[n:]
		}
	}
	if seen&(1<<1) == 0 {
		return fsData{}, errors.New("UnixFS node has no Type")
	}
	return d, nil
}

// decodeMtime decodes a UnixFS UnixTime message: Seconds (int64, field
// 1) and FractionalNanoseconds (fixed32, field 2, below 1e9), as
// nanoseconds since 1970, which must fit an int64.
func decodeMtime(b []byte) (int64, error) {
	var sec int64
	var nsec uint32
	for len(b) > 0 {
		field, wire, n, err := tag(b)
		if err != nil {
			return 0, err
		}
		b = b[n:]
		switch {
		case field == 1 && wire == wireVarint:
			v, n, err := uvarint(b)
			if err != nil {
				return 0, err
			}
			b, sec = b[n:], int64(v)
		case field == 2 && wire == wireI32:
			if len(b) < 4 {
				return 0, errTruncated
			}
			nsec, b = binary.LittleEndian.Uint32(b), b[4:]
		default:
			n, err := skipField(b, wire)
			if err != nil {
				return 0, err
			}
			b = b[n:]
		}
	}
	if nsec >= 1e9 || sec > math.MaxInt64/int64(1e9)-1 || sec < math.MinInt64/int64(1e9)+1 {
		return 0, fmt.Errorf("UnixFS mtime %d s %d ns is out of range", sec, nsec)
	}
	return sec*1e9 + int64(nsec), nil
}

// appendUvarint appends v as a protobuf varint.
func appendUvarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// uvarintLen is the length of v as a varint.
func uvarintLen(v uint64) int {
	return (bits.Len64(v|1) + 6) / 7
}

// appendFileNode appends the dag-pb encoding of a UnixFS file node with
// the given children and no data of its own, exactly as boxo's importer
// writes it: each link with its Hash, an empty Name and its Tsize, then a
// Data message of Type File, the filesize and one blocksize per child
// (not packed).
func appendFileNode(b []byte, children []Child) []byte {
	var filesize uint64
	dataLen := 2 // Type
	for _, c := range children {
		filesize += c.FileSize
		dataLen += 1 + uvarintLen(c.FileSize)
	}
	dataLen += 1 + uvarintLen(filesize)

	for _, c := range children {
		h := c.CID.KeyString()
		linkLen := 1 + uvarintLen(uint64(len(h))) + len(h) + 2 + 1 + uvarintLen(c.Tsize)
		b = append(b, 2<<3|wireBytes)
		b = appendUvarint(b, uint64(linkLen))
		b = append(b, 1<<3|wireBytes)
		b = appendUvarint(b, uint64(len(h)))
		b = append(b, h...)
		b = append(b, 2<<3|wireBytes, 0)
		b = append(b, 3<<3|wireVarint)
		b = appendUvarint(b, c.Tsize)
	}
	b = append(b, 1<<3|wireBytes)
	b = appendUvarint(b, uint64(dataLen))
	b = append(b, 1<<3|wireVarint, typeFile)
	b = append(b, 3<<3|wireVarint)
	b = appendUvarint(b, filesize)
	for _, c := range children {
		b = append(b, 4<<3|wireVarint)
		b = appendUvarint(b, c.FileSize)
	}
	return b
}

// addSizes returns a+b, or false if the sum overflows an int64 (the
// largest file size Seek can address).
func addSizes(a, b uint64) (uint64, bool) {
	s, carry := bits.Add64(a, b, 0)
	return s, carry == 0 && s <= math.MaxInt64
}
