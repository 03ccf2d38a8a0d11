package car

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ipfs/go-cid"
)

// CBOR major types used by the header.
const (
	majUint  = 0
	majBytes = 2
	majText  = 3
	majArray = 4
	majMap   = 5
	majTag   = 6
)

// tagLink is dag-cbor's tag for a CID.
const tagLink = 42

// appendHeader appends the canonical dag-cbor header naming roots. The
// keys are in dag-cbor's order: shorter first.
func appendHeader(b []byte, roots []cid.Cid) []byte {
	b = appendHead(b, majMap, 2)
	b = appendText(b, "roots")
	b = appendHead(b, majArray, uint64(len(roots)))
	for _, c := range roots {
		cb := c.Bytes()
		b = appendHead(b, majTag, tagLink)
		b = appendHead(b, majBytes, uint64(1+len(cb)))
		b = append(b, 0) // the identity multibase prefix of a binary CID
		b = append(b, cb...)
	}
	b = appendText(b, "version")
	return appendHead(b, majUint, 1)
}

func appendText(b []byte, s string) []byte {
	return append(appendHead(b, majText, uint64(len(s))), s...)
}

// appendHead appends a CBOR head in its shortest form.
func appendHead(b []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(b, m|byte(n))
	case n <= 0xff:
		return append(b, m|24, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, m|25), uint16(n))
	case n <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(b, m|26), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, m|27), n)
}

// cborReader reads CBOR heads from a byte slice, refusing every form
// that is not canonical dag-cbor.
type cborReader struct {
	b   []byte
	off int // the next byte
	at  int // where the last item read starts, for errors
}

func (c *cborReader) fail(format string, args ...any) error {
	return fmt.Errorf("byte %d: %s", c.at, fmt.Sprintf(format, args...))
}

// head reads one head: major type and argument.
func (c *cborReader) head() (byte, uint64, error) {
	c.at = c.off
	if c.off >= len(c.b) {
		return 0, 0, c.fail("ends early")
	}
	ib := c.b[c.off]
	major, info := ib>>5, ib&0x1f
	var n uint64
	var size int
	var least uint64
	switch {
	case info < 24:
		n, size = uint64(info), 0
	case info == 24:
		size, least = 1, 24
	case info == 25:
		size, least = 2, 1<<8
	case info == 26:
		size, least = 4, 1<<16
	case info == 27:
		size, least = 8, 1<<32
	default:
		return 0, 0, c.fail("indefinite length or reserved value (0x%02x)", ib)
	}
	if len(c.b)-c.off-1 < size {
		return 0, 0, c.fail("ends early")
	}
	arg := c.b[c.off+1 : c.off+1+size]
	switch size {
	case 1:
		n = uint64(arg[0])
	case 2:
		n = uint64(binary.BigEndian.Uint16(arg))
	case 4:
		n = uint64(binary.BigEndian.Uint32(arg))
	case 8:
		n = binary.BigEndian.Uint64(arg)
	}
	if size > 0 && n < least {
		return 0, 0, c.fail("integer %d is not minimally encoded", n)
	}
	c.off += 1 + size
	return major, n, nil
}

// bytes reads the n bytes of a string's contents.
func (c *cborReader) bytes(n uint64) ([]byte, error) {
	c.at = c.off
	if n > uint64(len(c.b)-c.off) {
		return nil, c.fail("string of %d bytes passes the end", n)
	}
	b := c.b[c.off : c.off+int(n)]
	c.off += int(n)
	return b, nil
}

// parseHeader decodes a CAR v1 header: a dag-cbor map of exactly "roots",
// a non-empty list of links, and "version", the integer 1, in canonical
// form with nothing after it.
func parseHeader(b []byte) ([]cid.Cid, error) {
	c := &cborReader{b: b}
	major, n, err := c.head()
	if err != nil {
		return nil, err
	}
	if major != majMap {
		return nil, c.fail("not a map (major type %d)", major)
	}
	if n > 2 {
		return nil, c.fail("a map of %d fields, want roots and version", n)
	}
	var roots []cid.Cid
	haveRoots, haveVersion := false, false
	version := uint64(0)
	for i := uint64(0); i < n; i++ {
		major, klen, err := c.head()
		if err != nil {
			return nil, err
		}
		if major != majText {
			return nil, c.fail("a map key of major type %d, want a string", major)
		}
		key, err := c.bytes(klen)
		if err != nil {
			return nil, err
		}
		switch string(key) {
		case "roots":
			if haveRoots || haveVersion {
				return nil, c.fail("field roots is out of canonical order")
			}
			haveRoots = true
			if roots, err = c.roots(); err != nil {
				return nil, err
			}
		case "version":
			if haveVersion {
				return nil, c.fail("field version twice")
			}
			haveVersion = true
			major, v, err := c.head()
			if err != nil {
				return nil, err
			}
			if major != majUint {
				return nil, c.fail("version of major type %d, want an unsigned integer", major)
			}
			version = v
		default:
			return nil, c.fail("unknown field %q", key)
		}
	}
	switch {
	case !haveVersion:
		return nil, errors.New("no version")
	case version != 1:
		return nil, fmt.Errorf("CAR version %d; only versions 1 and 2 are read, and a CAR v2 holds a CAR v1", version)
	case !haveRoots:
		return nil, errors.New("no roots")
	case len(roots) == 0:
		return nil, errors.New("an empty list of roots: a CAR must name at least one")
	case c.off != len(b):
		c.at = c.off
		return nil, c.fail("%d bytes after the header map", len(b)-c.off)
	}
	return roots, nil
}

// roots reads the list of root links.
func (c *cborReader) roots() ([]cid.Cid, error) {
	major, n, err := c.head()
	if err != nil {
		return nil, err
	}
	if major != majArray {
		return nil, c.fail("roots of major type %d, want a list", major)
	}
	// Each link takes more than one byte, so n is bounded by the header.
	if n > uint64(len(c.b)-c.off) {
		return nil, c.fail("%d roots cannot fit", n)
	}
	roots := make([]cid.Cid, 0, n)
	for i := uint64(0); i < n; i++ {
		major, tag, err := c.head()
		if err != nil {
			return nil, err
		}
		if major != majTag || tag != tagLink {
			return nil, c.fail("root %d is not a link (tag 42)", i)
		}
		major, blen, err := c.head()
		if err != nil {
			return nil, err
		}
		if major != majBytes {
			return nil, c.fail("root %d: a link of major type %d, want bytes", i, major)
		}
		start := c.off
		lb, err := c.bytes(blen)
		if err != nil {
			return nil, err
		}
		if len(lb) == 0 || lb[0] != 0 {
			c.at = start
			return nil, c.fail("root %d: a link without the 0x00 prefix", i)
		}
		r, k, err := parseCID(lb[1:])
		if err == errShort {
			err = errors.New("truncated")
		}
		if err == nil && k != len(lb)-1 {
			err = fmt.Errorf("%d bytes after the CID", len(lb)-1-k)
		}
		if err != nil {
			c.at = start
			return nil, c.fail("root %d: CID: %v", i, err)
		}
		roots = append(roots, r)
	}
	return roots, nil
}
