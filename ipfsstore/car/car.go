// Package car owns the CAR v1 format (content-addressable archive): a
// stream of blocks with the CIDs of its roots up front, the format of
// `ipfs dag export` and `ipfs dag import`. ac-export writes CARs with a
// Writer and ac-import reads them with a Reader.
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
// It accepts only what the Writer writes, which is what kubo writes for
// ArchiveCache's blocks: minimal varints; a header in canonical dag-cbor
// with exactly the two fields, version 1 and at least one root; CIDs of
// version 1 with a sha2-256 multihash (ArchiveCache makes no other, and a
// CAR of CIDv0 blocks is refused with a clear error rather than half
// read). Every block's bytes are hashed and must match their CID. So
// whatever the Reader accepts, the Writer re-encodes byte for byte, and
// nothing the Reader returns is unchecked.
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
	"crypto/sha256"
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
	// maxVarintLen is the longest multiformats varint: 9 bytes, 63 bits.
	maxVarintLen = 9
	// maxCIDLen is the longest CID accepted: version 1, a codec of up to
	// maxVarintLen bytes, and a sha2-256 multihash (code, length, digest).
	maxCIDLen = 1 + maxVarintLen + 2 + sha256.Size
	// maxSectionSize is the longest section accepted.
	maxSectionSize = maxCIDLen + schema.MaxBlockSize
)

const op = "car.Read"

// errShort is parseCID's error when b ends before the CID does.
var errShort = errors.New("ends inside the CID")

// Reader reads a CAR v1 stream. It is not safe for concurrent use.
type Reader struct {
	br    *bufio.Reader
	off   int64 // bytes consumed from br
	roots []cid.Cid
	buf   []byte // the last block, reused
	err   error  // sticky: io.EOF after the last section, or the failure
}

// NewReader reads and checks the header of the CAR on r. The Reader
// buffers r, so it may read past the end of the CAR.
func NewReader(r io.Reader) (*Reader, error) {
	cr := &Reader{br: bufio.NewReaderSize(r, 32<<10)}
	if _, err := cr.br.Peek(1); err != nil {
		if err == io.EOF {
			return nil, acerr.E(op, "", acerr.Invalid, errors.New("empty input: a CAR starts with a header"))
		}
		return nil, cr.readErr(err, "header", 0)
	}
	n, err := cr.uvarint("header length", 0)
	if err != nil {
		return nil, err
	}
	switch {
	case n == 0:
		return nil, acerr.E(op, "", acerr.Invalid, errors.New("header at offset 0 is empty"))
	case n > MaxHeaderSize:
		return nil, acerr.E(op, "", acerr.TooLarge, fmt.Errorf("header at offset 0 claims %d bytes, limit %d", n, MaxHeaderSize))
	}
	start := cr.off
	hdr := make([]byte, n)
	k, err := io.ReadFull(cr.br, hdr)
	cr.off += int64(k)
	if err != nil {
		return nil, cr.readErr(err, fmt.Sprintf("header at offset %d (%d bytes claimed)", start, n), start)
	}
	roots, err := parseHeader(hdr)
	if err != nil {
		return nil, acerr.E(op, "", acerr.Invalid, fmt.Errorf("header at offset %d: %w", start, err))
	}
	cr.roots = roots
	return cr, nil
}

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
	var digest [sha256.Size]byte
	copy(digest[:], peek[cidLen-sha256.Size:cidLen])
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
	if sha256.Sum256(data) != digest {
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

// parseCID parses the binary CID at the start of b, which must be a CIDv1
// with a sha2-256 multihash, and returns it with its length in bytes. It
// returns errShort if b ends inside it.
func parseCID(b []byte) (cid.Cid, int, error) {
	if len(b) >= 2 && b[0] == multihash.SHA2_256 && b[1] == sha256.Size {
		return cid.Undef, 0, errors.New("a CIDv0: only CIDv1 is accepted")
	}
	var v [3]uint64
	n := 0
	for i := range v {
		x, k, err := uvarintBytes(b[n:])
		if err != nil {
			return cid.Undef, 0, err
		}
		v[i] = x
		n += k
		if i == 0 && x != 1 {
			return cid.Undef, 0, fmt.Errorf("version %d, want 1", x)
		}
		if i == 2 && x != multihash.SHA2_256 {
			return cid.Undef, 0, fmt.Errorf("hash function 0x%x, only sha2-256 (0x12) is accepted", x)
		}
	}
	if n >= len(b) {
		return cid.Undef, 0, errShort
	}
	if b[n] != sha256.Size {
		return cid.Undef, 0, fmt.Errorf("sha2-256 digest length %d, want %d", b[n], sha256.Size)
	}
	mhStart := n - 1 // the hash function code is one byte: 0x12
	n += 1 + sha256.Size
	if n > len(b) {
		return cid.Undef, 0, errShort
	}
	return cid.NewCidV1(v[1], multihash.Multihash(b[mhStart:n])), n, nil
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
