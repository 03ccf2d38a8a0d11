// Package car owns the CAR format (content-addressable archive): a
// stream of blocks with the CIDs of its roots up front, the format of
// `ipfs dag export` and `ipfs dag import`. ac-export writes CAR v1 with a
// Writer and ac-import reads CAR v1 and v2 with a Reader.
//
// A CAR v1 is a header and then sections, each prefixed by its length as
// an unsigned varint (multiformats: at most 9 bytes, minimally encoded):
//
//	varint(len(header))  header: dag-cbor {"roots": [CID, ...], "version": 1}
//	varint(len(cid)+len(data))  cid  data      one section per block
//	...
//
// The header's roots are CIDs in dag-cbor's link form (tag 42 over a byte
// string of 0x00 and the CID's bytes). A section's CID is its binary form,
// and the block's bytes follow it up to the end of the section.
//
// # What the Reader accepts
//
// The Reader treats its input as hostile. Its memory is bounded whatever
// it is given: the header is at most MaxHeaderSize bytes, and a section's
// length is checked against schema.MaxBlockSize before anything is
// allocated for it, so a stream claiming a huge block, or gigabytes of garbage, is
// refused at the first bad section after reading a few bytes of it. One
// buffer of at most schema.MaxBlockSize bytes is reused for every block.
//
// It accepts what kubo writes: minimal varints; a header in canonical
// dag-cbor with exactly the two fields, version 1 and at least one root;
// CIDv1 of any codec, and CIDv0 (dag-pb), with a sha2-256 multihash or an
// identity multihash of at most MaxIdentitySize bytes, whose digest is
// the block itself (`ipfs add --inline`). Any other hash function
// (blake2b, sha2-512, ...) is refused by name: ArchiveCache hashes
// nothing else. Every block's bytes are hashed and must match their CID,
// so nothing the Reader returns is unchecked; and whatever it accepts of
// a CAR v1, the Writer re-encodes byte for byte.
//
// A CAR v2 is a wrapper around a CAR v1 (the "data payload"), with an
// optional index after it:
//
//	0x0a a1 67 "version" 02     the pragma: a CAR v1 header {"version": 2}
//	characteristics (16 bytes)  data offset, data size, index offset (uint64 LE each)
//	padding  CAR v1 (data size bytes at data offset)  padding  index
//
// The Reader checks the header (the data after the pragma and header,
// not past the index, within MaxV2DataOffset), skips to the data, reads
// the CAR v1 there as above, and stops at its end: the index, a lookup
// aid, is never read, so nothing in it is trusted or needed. The
// characteristics are ignored. A CAR v1 inside a CAR v2 must be version 1.
//
// Errors are *acerr.Error of kind Invalid (malformed or truncated input,
// with the offset where it went wrong), Integrity (a block that does not
// hash to its CID) or TooLarge (a header or section over its limit), each
// one line; a failure of the underlying reader keeps its own kind (IO if
// it has none).
//
// The format is small enough to own: go-car brings go-ipld-prime and its
// codecs into every command that links it, and every ArchiveCache command
// pays at start-up for what it links.
package car

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

const (
	// MaxHeaderSize is the largest header a Reader accepts or a Writer
	// writes, in bytes: room for well over a thousand roots.
	MaxHeaderSize = 64 << 10
	// MaxIdentitySize is the longest identity digest accepted, the block
	// it holds: kubo's limit (verifcid) for inlined blocks.
	MaxIdentitySize = 128
	// MaxV2DataOffset is the furthest a CAR v2 may put its data: room for
	// padding, and a stop for a header that sends the Reader skipping
	// through gigabytes.
	MaxV2DataOffset = 1 << 20
	// maxVarintLen is the longest multiformats varint: 9 bytes, 63 bits.
	maxVarintLen = 9
	// maxCIDLen is the longest CID accepted: version 1, a codec of up to
	// maxVarintLen bytes, and a multihash (code, length, digest) of the
	// longest digest accepted.
	maxCIDLen = 1 + maxVarintLen + 1 + 2 + MaxIdentitySize
	// v2PragmaLen is the length of a CAR v2's pragma.
	v2PragmaLen = 11
	// v2HeaderSize is the length of a CAR v2 header after the pragma.
	v2HeaderSize = 16 + 3*8
	// maxSectionSize is the longest section accepted.
	maxSectionSize = maxCIDLen + schema.MaxBlockSize
)

const op = "car.Read"

// errShort is parseCID's error when b ends before the CID does.
var errShort = errors.New("ends inside the CID")

// v2Pragma is the start of every CAR v2: the length-prefixed CAR v1
// header {"version": 2}.
var v2Pragma = [v2PragmaLen]byte{0x0a, 0xa1, 0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x02}

// Reader reads a CAR v1 stream, or the CAR v1 inside a CAR v2. It is not
// safe for concurrent use.
type Reader struct {
	br      *bufio.Reader
	off     int64 // bytes consumed from the input
	version int
	end     int64 // for a CAR v2, the offset where its data ends
	roots   []cid.Cid
	buf     []byte // the last block, reused
	err     error  // sticky: io.EOF after the last section, or the failure
}

// NewReader reads and checks the header of the CAR on r, and for a CAR
// v2 the header of the CAR v1 inside. The Reader buffers r, so it may
// read past the end of the CAR.
func NewReader(r io.Reader) (*Reader, error) {
	cr := &Reader{br: bufio.NewReaderSize(r, 32<<10), version: 1}
	if _, err := cr.br.Peek(1); err != nil {
		if err == io.EOF {
			return nil, acerr.E(op, "", acerr.Invalid, errors.New("empty input: a CAR starts with a header"))
		}
		return nil, cr.readErr(err, "header", 0)
	}
	if p, _ := cr.br.Peek(v2PragmaLen); bytes.Equal(p, v2Pragma[:]) {
		if err := cr.enterV2(); err != nil {
			return nil, err
		}
	}
	if err := cr.header(); err != nil {
		return nil, err
	}
	return cr, nil
}

// enterV2 reads a CAR v2's pragma and header, skips to its data, and
// makes the Reader read no further than the data's end.
func (r *Reader) enterV2() error {
	r.version = 2
	var h [v2PragmaLen + v2HeaderSize]byte
	k, err := io.ReadFull(r.br, h[:])
	r.off += int64(k)
	if err != nil {
		return r.readErr(err, "CAR v2 header", 0)
	}
	le := binary.LittleEndian
	hdr := h[v2PragmaLen:]
	dataOff, dataSize, indexOff := le.Uint64(hdr[16:]), le.Uint64(hdr[24:]), le.Uint64(hdr[32:])
	fail := func(format string, args ...any) error {
		return acerr.E(op, "", acerr.Invalid, fmt.Errorf("CAR v2 header: "+format, args...))
	}
	switch {
	case dataOff < uint64(len(h)):
		return fail("data offset %d is inside the header (%d bytes)", dataOff, len(h))
	case dataOff > MaxV2DataOffset:
		return acerr.E(op, "", acerr.TooLarge, fmt.Errorf("CAR v2 header: data offset %d, limit %d", dataOff, MaxV2DataOffset))
	case dataSize == 0:
		return fail("data size 0: a CAR v2 holds a CAR v1")
	case dataSize > 1<<62:
		return acerr.E(op, "", acerr.TooLarge, fmt.Errorf("CAR v2 header: data size %d", dataSize))
	case indexOff != 0 && indexOff < dataOff+dataSize:
		return fail("index offset %d is before the end of the data (%d)", indexOff, dataOff+dataSize)
	}
	skip := int64(dataOff) - r.off
	n, err := r.br.Discard(int(skip))
	r.off += int64(n)
	if err != nil {
		return r.readErr(err, fmt.Sprintf("padding before the data at offset %d", dataOff), int64(len(h)))
	}
	r.end = int64(dataOff + dataSize)
	r.br = bufio.NewReaderSize(io.LimitReader(r.br, int64(dataSize)), 32<<10)
	return nil
}

// header reads and checks a CAR v1 header at the Reader's offset.
func (r *Reader) header() error {
	at := r.off
	n, err := r.uvarint("header length", at)
	if err != nil {
		return err
	}
	switch {
	case n == 0:
		return acerr.E(op, "", acerr.Invalid, fmt.Errorf("header at offset %d is empty", at))
	case n > MaxHeaderSize:
		return acerr.E(op, "", acerr.TooLarge, fmt.Errorf("header at offset %d claims %d bytes, limit %d", at, n, MaxHeaderSize))
	}
	start := r.off
	hdr := make([]byte, n)
	k, err := io.ReadFull(r.br, hdr)
	r.off += int64(k)
	if err != nil {
		return r.readErr(err, fmt.Sprintf("header at offset %d (%d bytes claimed)", start, n), start)
	}
	roots, err := parseHeader(hdr)
	if err != nil {
		if r.version == 2 {
			err = fmt.Errorf("the CAR v1 inside a CAR v2: %w", err)
		}
		return acerr.E(op, "", acerr.Invalid, fmt.Errorf("header at offset %d: %w", start, err))
	}
	r.roots = roots
	return nil
}

// Version returns the CAR's version: 1, or 2 for a CAR v1 read from
// inside a CAR v2.
func (r *Reader) Version() int { return r.version }

// Roots returns the CIDs the header names as roots.
func (r *Reader) Roots() []cid.Cid { return append([]cid.Cid(nil), r.roots...) }

// Next returns the next block, after checking that its bytes hash to its
// CID. The bytes are valid until the following call of Next. After the
// last block Next returns io.EOF; after a failure it returns the same
// error again.
func (r *Reader) Next() (cid.Cid, []byte, error) {
	if r.err != nil {
		return cid.Undef, nil, r.err
	}
	c, data, err := r.next()
	if err != nil {
		r.err = err
		return cid.Undef, nil, err
	}
	return c, data, nil
}

func (r *Reader) next() (cid.Cid, []byte, error) {
	start := r.off
	if _, err := r.br.Peek(1); err != nil {
		if err == io.EOF && r.version == 2 && r.off < r.end {
			return cid.Undef, nil, acerr.E(op, "", acerr.Invalid,
				fmt.Errorf("truncated: input ends at offset %d, before the end of the CAR v2 data at offset %d", r.off, r.end))
		}
		if err == io.EOF {
			return cid.Undef, nil, io.EOF
		}
		return cid.Undef, nil, r.readErr(err, "section", start)
	}
	n, err := r.uvarint("section length", start)
	if err != nil {
		return cid.Undef, nil, err
	}
	switch {
	case n == 0:
		return cid.Undef, nil, acerr.E(op, "", acerr.Invalid, fmt.Errorf("section at offset %d is empty", start))
	case n > maxSectionSize:
		return cid.Undef, nil, acerr.E(op, "", acerr.TooLarge,
			fmt.Errorf("section at offset %d claims %d bytes; a block is at most %d bytes", start, n, schema.MaxBlockSize))
	}
	what := fmt.Sprintf("section at offset %d (%d bytes claimed)", start, n)
	want := int(min(n, maxCIDLen))
	peek, perr := r.br.Peek(want)
	c, cidLen, err := parseCID(peek)
	switch {
	case err == errShort && len(peek) < want:
		return cid.Undef, nil, r.readErr(perr, what, start)
	case err == errShort:
		return cid.Undef, nil, acerr.E(op, "", acerr.Invalid, fmt.Errorf("section at offset %d is %d bytes, shorter than its CID", start, n))
	case err != nil:
		return cid.Undef, nil, acerr.E(op, "", acerr.Invalid, fmt.Errorf("section at offset %d: CID: %w", start, err))
	}
	r.br.Discard(cidLen)
	r.off += int64(cidLen)
	size := n - uint64(cidLen)
	if size > schema.MaxBlockSize {
		return cid.Undef, nil, acerr.E(op, "", acerr.TooLarge,
			fmt.Errorf("section at offset %d holds a block of %d bytes, limit %d", start, size, schema.MaxBlockSize)).WithCID(c.String())
	}
	if uint64(cap(r.buf)) < size {
		r.buf = make([]byte, size)
	}
	data := r.buf[:size]
	k, err := io.ReadFull(r.br, data)
	r.off += int64(k)
	if err != nil {
		return cid.Undef, nil, r.readErr(err, what, start)
	}
	if !hashMatches(c, data) {
		return cid.Undef, nil, acerr.E(op, "", acerr.Integrity,
			fmt.Errorf("block in the section at offset %d does not hash to its CID", start)).WithCID(c.String())
	}
	return c, data, nil
}

// uvarint reads a multiformats unsigned varint, named what in errors, of
// the item that starts at offset start.
func (r *Reader) uvarint(what string, start int64) (uint64, error) {
	var v uint64
	for i := 0; ; i++ {
		b, err := r.br.ReadByte()
		if err != nil {
			return 0, r.readErr(err, what+" at offset "+fmt.Sprint(start), start)
		}
		r.off++
		v |= uint64(b&0x7f) << (7 * i)
		if b&0x80 == 0 {
			if b == 0 && i > 0 {
				return 0, acerr.E(op, "", acerr.Invalid, fmt.Errorf("%s at offset %d is not minimally encoded", what, start))
			}
			return v, nil
		}
		if i == maxVarintLen-1 {
			return 0, acerr.E(op, "", acerr.Invalid, fmt.Errorf("%s at offset %d is longer than %d bytes", what, start, maxVarintLen))
		}
	}
}

// readErr turns a failure to read the item what, which starts at offset
// start, into the Reader's error: the end of the input is truncation
// (Invalid), anything else keeps its kind.
func (r *Reader) readErr(err error, what string, start int64) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return acerr.E(op, "", acerr.Invalid, fmt.Errorf("truncated: input ends at offset %d, inside the %s", r.off, what))
	}
	kind := acerr.KindOf(err)
	if kind == acerr.Other {
		kind = acerr.IO
	}
	return acerr.E(op, "", kind, fmt.Errorf("reading the %s: %w", what, err))
}

// parseCID parses the binary CID at the start of b, a CIDv0 or a CIDv1
// with a multihash the Reader accepts, and returns it with its length in
// bytes. It returns errShort if b ends inside it.
func parseCID(b []byte) (cid.Cid, int, error) {
	if len(b) >= 1 && b[0] == multihash.SHA2_256 {
		// A CIDv0 is a bare sha2-256 multihash (a CIDv1 starts with 0x01).
		if len(b) < 2 {
			return cid.Undef, 0, errShort
		}
		if b[1] != sha256.Size {
			return cid.Undef, 0, fmt.Errorf("CIDv0 digest length %d, want %d", b[1], sha256.Size)
		}
		if len(b) < 2+sha256.Size {
			return cid.Undef, 0, errShort
		}
		return cid.NewCidV0(multihash.Multihash(b[:2+sha256.Size])), 2 + sha256.Size, nil
	}
	var v [4]uint64
	n, mhStart := 0, 0
	for i := range v {
		if i == 2 {
			mhStart = n
		}
		x, k, err := uvarintBytes(b[n:])
		if err != nil {
			return cid.Undef, 0, err
		}
		v[i] = x
		n += k
		if i == 0 && x != 1 {
			return cid.Undef, 0, fmt.Errorf("version %d, want 0 or 1", x)
		}
		if i == 2 && x != multihash.SHA2_256 && x != multihash.IDENTITY {
			return cid.Undef, 0, fmt.Errorf("hash function %s: only sha2-256 and identity are accepted", hashName(x))
		}
	}
	digestLen := v[3]
	switch {
	case v[2] == multihash.SHA2_256 && digestLen != sha256.Size:
		return cid.Undef, 0, fmt.Errorf("sha2-256 digest length %d, want %d", digestLen, sha256.Size)
	case v[2] == multihash.IDENTITY && digestLen > MaxIdentitySize:
		return cid.Undef, 0, fmt.Errorf("identity digest of %d bytes, limit %d", digestLen, MaxIdentitySize)
	}
	if uint64(len(b)-n) < digestLen {
		return cid.Undef, 0, errShort
	}
	n += int(digestLen)
	return cid.NewCidV1(v[1], multihash.Multihash(b[mhStart:n])), n, nil
}

// hashName names a multihash function for an error.
func hashName(code uint64) string {
	if name, ok := multihash.Codes[code]; ok {
		return fmt.Sprintf("%s (0x%x)", name, code)
	}
	return fmt.Sprintf("0x%x", code)
}

// hashMatches reports whether data hashes to c, whose multihash parseCID
// accepted: sha2-256, or identity, whose digest is the data itself.
func hashMatches(c cid.Cid, data []byte) bool {
	mh := c.Hash()
	if mh[0] == multihash.IDENTITY {
		_, k := binary.Uvarint(mh[1:])
		return bytes.Equal(mh[1+k:], data)
	}
	sum := sha256.Sum256(data)
	return bytes.Equal(mh[2:], sum[:])
}

// uvarintBytes decodes a multiformats unsigned varint at the start of b.
func uvarintBytes(b []byte) (uint64, int, error) {
	var v uint64
	for i := 0; i < maxVarintLen; i++ {
		if i >= len(b) {
			return 0, 0, errShort
		}
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			if b[i] == 0 && i > 0 {
				return 0, 0, errors.New("varint is not minimally encoded")
			}
			return v, i + 1, nil
		}
	}
	return 0, 0, fmt.Errorf("varint is longer than %d bytes", maxVarintLen)
}

// checkCID reports whether c is a CID the Reader accepts.
func checkCID(c cid.Cid) error {
	if !c.Defined() {
		return errors.New("undefined CID")
	}
	b := c.Bytes()
	_, n, err := parseCID(b)
	if err == nil && n != len(b) {
		err = errors.New("trailing bytes")
	}
	if err == errShort {
		err = errors.New("truncated")
	}
	if err != nil {
		return fmt.Errorf("CID %s: %w", c, err)
	}
	return nil
}
