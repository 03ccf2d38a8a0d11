package dirbench

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/ipfs/go-cid"
)

// The study's node encodings (the compact entries and the prolly tree's
// inner nodes) need a dag-cbor writer and reader for a handful of types.
// schema's codec is unexported, so this is a minimal one; an integration
// would put the new encodings into schema's codec instead.

const (
	majUint  = 0
	majNeg   = 1
	majBytes = 2
	majText  = 3
	majArray = 4
	majMap   = 5
	majTag   = 6
	tagCID   = 42
	cborTrue = 0xf5
)

type cborWriter struct{ buf []byte }

func (w *cborWriter) head(major byte, n uint64) {
	m := major << 5
	switch {
	case n < 24:
		w.buf = append(w.buf, m|byte(n))
	case n <= math.MaxUint8:
		w.buf = append(w.buf, m|24, byte(n))
	case n <= math.MaxUint16:
		w.buf = binary.BigEndian.AppendUint16(append(w.buf, m|25), uint16(n))
	case n <= math.MaxUint32:
		w.buf = binary.BigEndian.AppendUint32(append(w.buf, m|26), uint32(n))
	default:
		w.buf = binary.BigEndian.AppendUint64(append(w.buf, m|27), n)
	}
}

func (w *cborWriter) uint(n uint64) { w.head(majUint, n) }

func (w *cborWriter) int(n int64) {
	if n >= 0 {
		w.head(majUint, uint64(n))
	} else {
		w.head(majNeg, uint64(-(n + 1)))
	}
}

func (w *cborWriter) text(s string) {
	w.head(majText, uint64(len(s)))
	w.buf = append(w.buf, s...)
}

func (w *cborWriter) link(c cid.Cid) {
	w.head(majTag, tagCID)
	b := c.KeyString()
	w.head(majBytes, uint64(len(b)+1))
	w.buf = append(append(w.buf, 0), b...)
}

// cborReader reads what cborWriter writes. The first error sticks: every
// later read returns a zero value, and err reports it.
type cborReader struct {
	b   []byte
	err error
}

var errShort = errors.New("truncated")

func (r *cborReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

func (r *cborReader) head(want byte) uint64 {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.err = errShort
		return 0
	}
	major, info := r.b[0]>>5, r.b[0]&31
	r.b = r.b[1:]
	if major != want {
		r.fail("major type %d, want %d", major, want)
		return 0
	}
	if info < 24 {
		return uint64(info)
	}
	size := 1 << (info - 24)
	if info > 27 || len(r.b) < size {
		r.fail("bad head")
		return 0
	}
	var n uint64
	for _, c := range r.b[:size] {
		n = n<<8 | uint64(c)
	}
	r.b = r.b[size:]
	if n < 24 || (size > 1 && n>>(4*size) == 0) {
		r.fail("non-minimal integer")
	}
	return n
}

func (r *cborReader) uint() uint64 { return r.head(majUint) }

func (r *cborReader) int() int64 {
	if len(r.b) > 0 && r.b[0]>>5 == majNeg {
		return -int64(r.head(majNeg)) - 1
	}
	return int64(r.head(majUint))
}

func (r *cborReader) count(major byte) int {
	n := r.head(major)
	if n > uint64(len(r.b)) { // every item takes at least a byte
		r.fail("count %d exceeds the input", n)
		return 0
	}
	return int(n)
}

func (r *cborReader) text() string {
	n := r.count(majText)
	if r.err != nil {
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// isTrue reads the value true, the only boolean the encodings use.
func (r *cborReader) isTrue() bool {
	if r.err == nil && (len(r.b) == 0 || r.b[0] != cborTrue) {
		r.fail("not true")
	}
	if r.err != nil {
		return false
	}
	r.b = r.b[1:]
	return true
}

// key reads a map key and checks that it is the one expected next.
func (r *cborReader) key(want string) {
	if got := r.text(); r.err == nil && got != want {
		r.fail("key %q, want %q", got, want)
	}
}

// peekKey reports whether the next map key is k, without reading it.
func (r *cborReader) peekKey(k string) bool {
	if r.err != nil || len(r.b) < 1+len(k) || r.b[0] != majText<<5|byte(len(k)) {
		return false
	}
	return string(r.b[1:1+len(k)]) == k
}

func (r *cborReader) link() cid.Cid {
	if r.head(majTag) != tagCID && r.err == nil {
		r.fail("tag is not a CID")
	}
	n := r.count(majBytes)
	if r.err != nil {
		return cid.Undef
	}
	if n < 2 || r.b[0] != 0 {
		r.fail("bad CID")
		return cid.Undef
	}
	c, err := cid.Cast(r.b[1:n])
	r.b = r.b[n:]
	if err != nil {
		r.fail("bad CID: %v", err)
	}
	return c
}

// done returns the sticky error, or an error if input is left.
func (r *cborReader) done() error {
	if r.err == nil && len(r.b) > 0 {
		r.err = fmt.Errorf("%d trailing bytes", len(r.b))
	}
	return r.err
}
