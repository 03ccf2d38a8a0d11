package schema

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"sort"
	"unicode/utf8"

	"github.com/ipfs/go-cid"
)

// This file is a small, strict dag-cbor codec for the subset the schema
// uses: unsigned and negative integers, byte and text strings, arrays,
// maps with text keys, booleans and CIDs (tag 42). Floats, null, undefined,
// indefinite lengths and other tags are rejected. The decoder enforces
// limits on nesting depth, item counts and string lengths so hostile input
// cannot make it allocate without bound.

const (
	majUint   = 0
	majNeg    = 1
	majBytes  = 2
	majText   = 3
	majArray  = 4
	majMap    = 5
	majTag    = 6
	majSimple = 7

	tagCID = 42

	maxDepth = 16 // deepest nesting any kind needs is 5
)

// --- encoding ---

type encoder struct {
	buf []byte
	// rawEntries, when set, is written in place of a node's encoded
	// entries: the bytes they were decoded from, already checked.
	rawEntries []byte
}

func (e *encoder) head(major byte, n uint64) {
	m := major << 5
	switch {
	case n < 24:
		e.buf = append(e.buf, m|byte(n))
	case n <= math.MaxUint8:
		e.buf = append(e.buf, m|24, byte(n))
	case n <= math.MaxUint16:
		e.buf = append(e.buf, m|25)
		e.buf = binary.BigEndian.AppendUint16(e.buf, uint16(n))
	case n <= math.MaxUint32:
		e.buf = append(e.buf, m|26)
		e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(n))
	default:
		e.buf = append(e.buf, m|27)
		e.buf = binary.BigEndian.AppendUint64(e.buf, n)
	}
}

func (e *encoder) uint(n uint64) { e.head(majUint, n) }

func (e *encoder) int(n int64) {
	if n >= 0 {
		e.head(majUint, uint64(n))
	} else {
		e.head(majNeg, uint64(-(n + 1)))
	}
}

func (e *encoder) text(s string) {
	e.head(majText, uint64(len(s)))
	e.buf = append(e.buf, s...)
}

func (e *encoder) bytes(b []byte) {
	e.head(majBytes, uint64(len(b)))
	e.buf = append(e.buf, b...)
}

func (e *encoder) bool(v bool) {
	if v {
		e.buf = append(e.buf, 0xf5)
	} else {
		e.buf = append(e.buf, 0xf4)
	}
}

func (e *encoder) cid(c cid.Cid) {
	e.head(majTag, tagCID)
	b := c.KeyString() // the binary CID, without the copy Bytes makes
	e.head(majBytes, uint64(len(b)+1))
	e.buf = append(e.buf, 0)
	e.buf = append(e.buf, b...)
}

// mapWriter collects the fields of one map and writes them in dag-cbor's
// canonical key order (shorter keys first, then bytewise).
type mapWriter struct {
	e      *encoder
	fields []mapField
}

type mapField struct {
	key   string
	write func(*encoder)
}

func (m *mapWriter) add(key string, write func(*encoder)) {
	m.fields = append(m.fields, mapField{key, write})
}

func (m *mapWriter) finish() {
	sort.Slice(m.fields, func(i, j int) bool { return keyLess(m.fields[i].key, m.fields[j].key) })
	m.e.head(majMap, uint64(len(m.fields)))
	for _, f := range m.fields {
		m.e.text(f.key)
		f.write(m.e)
	}
}

func keyLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// --- decoding ---

// value is a decoded dag-cbor item: one of uint64, int64 (negative only),
// string, []byte, bool, cid.Cid, []value, *cmap, or, for a node's
// "entries", *rawEntries.
type value any

// cmap is a decoded map; keys keep their encoded order.
type cmap struct {
	keys []string
	vals map[string]value
}

type decoder struct {
	data       []byte
	pos        int
	items      int               // items decoded so far, bounded by len(data)
	replicas   map[string]string // the replica ids met, each allocated once
	identities [4]cid.Cid        // identity links met (identityLink), the latest four
	nextID     int               // where the next one goes
}

func (d *decoder) fail(format string, args ...any) error {
	return fmt.Errorf("dag-cbor at byte %d: %s", d.pos, fmt.Sprintf(format, args...))
}

func (d *decoder) head() (major byte, n uint64, err error) {
	if d.pos >= len(d.data) {
		return 0, 0, d.fail("unexpected end of data")
	}
	b := d.data[d.pos]
	d.pos++
	major, info := b>>5, b&0x1f
	var size int
	switch {
	case info < 24:
		return major, uint64(info), nil
	case info == 24:
		size = 1
	case info == 25:
		size = 2
	case info == 26:
		size = 4
	case info == 27:
		size = 8
	default:
		return 0, 0, d.fail("unsupported additional information %d", info)
	}
	if len(d.data)-d.pos < size {
		return 0, 0, d.fail("unexpected end of data")
	}
	for i := 0; i < size; i++ {
		n = n<<8 | uint64(d.data[d.pos+i])
	}
	d.pos += size
	// Minimal encoding is required by dag-cbor.
	minimal := (size == 1 && n >= 24) || (size == 2 && n > math.MaxUint8) ||
		(size == 4 && n > math.MaxUint16) || (size == 8 && n > math.MaxUint32)
	if !minimal && major != majSimple {
		return 0, 0, d.fail("integer not minimally encoded")
	}
	return major, n, nil
}

func (d *decoder) value(depth int) (value, error) {
	if depth > maxDepth {
		return nil, d.fail("nested deeper than %d", maxDepth)
	}
	d.items++
	if d.items > len(d.data) {
		return nil, d.fail("too many items")
	}
	major, n, err := d.head()
	if err != nil {
		return nil, err
	}
	switch major {
	case majUint:
		return n, nil
	case majNeg:
		if n > math.MaxInt64 {
			return nil, d.fail("negative integer out of range")
		}
		return -int64(n) - 1, nil
	case majBytes, majText:
		if n > uint64(len(d.data)-d.pos) {
			return nil, d.fail("string longer than the data")
		}
		s := d.data[d.pos : d.pos+int(n)]
		d.pos += int(n)
		if major == majText {
			if !utf8.Valid(s) {
				return nil, d.fail("text is not valid UTF-8")
			}
			return string(s), nil
		}
		return bytes.Clone(s), nil
	case majArray:
		if n > uint64(len(d.data)-d.pos) {
			return nil, d.fail("array longer than the data")
		}
		list := make([]value, 0, n)
		for i := uint64(0); i < n; i++ {
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		return list, nil
	case majMap:
		if n > uint64(len(d.data)-d.pos)/2 {
			return nil, d.fail("map longer than the data")
		}
		m := &cmap{keys: make([]string, 0, n), vals: make(map[string]value, n)}
		for i := uint64(0); i < n; i++ {
			k, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			ks, ok := k.(string)
			if !ok {
				return nil, d.fail("map key is not a string")
			}
			if _, dup := m.vals[ks]; dup {
				return nil, d.fail("duplicate map key %q", ks)
			}
			if len(m.keys) > 0 && !keyLess(m.keys[len(m.keys)-1], ks) {
				return nil, d.fail("map keys not in canonical order")
			}
			var v value
			switch {
			case depth == 0 && ks == "entries":
				// A node's entries: decoded directly (entrydec.go).
				v, err = d.entryList(depth + 1)
			case depth == 0 && ks == "children":
				v, err = d.childList()
			default:
				v, err = d.value(depth + 1)
			}
			if err != nil {
				return nil, err
			}
			m.keys = append(m.keys, ks)
			m.vals[ks] = v
		}
		return m, nil
	case majTag:
		if n != tagCID {
			return nil, d.fail("unsupported tag %d", n)
		}
		bm, bn, err := d.head()
		if err != nil {
			return nil, err
		}
		if bm != majBytes || bn < 2 || bn > uint64(len(d.data)-d.pos) {
			return nil, d.fail("malformed CID")
		}
		raw := d.data[d.pos : d.pos+int(bn)]
		d.pos += int(bn)
		if raw[0] != 0 {
			return nil, d.fail("CID lacks the multibase identity prefix")
		}
		c, err := cid.Cast(raw[1:])
		if err != nil {
			return nil, d.fail("malformed CID: %v", err)
		}
		return c, nil
	case majSimple:
		switch n {
		case 20:
			return false, nil
		case 21:
			return true, nil
		}
		return nil, d.fail("unsupported simple value or float")
	}
	return nil, d.fail("unknown major type %d", major)
}

// decodeTop decodes exactly one item that fills data.
func decodeTop(data []byte) (value, error) {
	d := &decoder{data: data}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if d.pos != len(data) {
		return nil, d.fail("%d trailing bytes", len(data)-d.pos)
	}
	return v, nil
}
