package car_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore/car"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

type block struct {
	c    cid.Cid
	data []byte
}

func sum(codec uint64, data []byte) cid.Cid {
	h, err := multihash.Sum(data, multihash.SHA2_256, -1)
	if err != nil {
		panic(err)
	}
	return cid.NewCidV1(codec, h)
}

func raw(data []byte) block { return block{sum(cid.Raw, data), data} }

// testBlocks returns a few blocks of each codec ArchiveCache uses, the
// empty block and one of the largest size.
func testBlocks() []block {
	big := make([]byte, schema.MaxBlockSize)
	rand.NewChaCha8([32]byte{1}).Read(big)
	cbor := []byte{0xa1, 0x66, 'p', 'o', 'l', 'i', 'c', 'y', 0x63, 'x', 'y', 'z'}
	return []block{
		raw([]byte("hello")),
		{sum(cid.DagCBOR, cbor), cbor},
		{sum(cid.DagProtobuf, []byte{0x0a, 0x00}), []byte{0x0a, 0x00}},
		raw(nil),
		raw(big),
	}
}

// encode writes a CAR with the Writer.
func encode(t testing.TB, roots []cid.Cid, blocks []block) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := car.NewWriter(&buf, roots)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range blocks {
		if err := w.Put(b.c, b.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if w.Size() != int64(buf.Len()) {
		t.Fatalf("Size() = %d, wrote %d bytes", w.Size(), buf.Len())
	}
	return buf.Bytes()
}

// decode reads a whole CAR, copying its blocks.
func decode(r io.Reader) ([]cid.Cid, []block, error) {
	cr, err := car.NewReader(r)
	if err != nil {
		return nil, nil, err
	}
	var blocks []block
	for {
		c, data, err := cr.Next()
		if err == io.EOF {
			return cr.Roots(), blocks, nil
		}
		if err != nil {
			return nil, nil, err
		}
		blocks = append(blocks, block{c, bytes.Clone(data)})
	}
}

func sameBlocks(a, b []block) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].c != b[i].c || !bytes.Equal(a[i].data, b[i].data) {
			return false
		}
	}
	return true
}

func TestRoundTrip(t *testing.T) {
	blocks := testBlocks()
	roots := []cid.Cid{blocks[1].c, blocks[0].c}
	data := encode(t, roots, blocks)
	gotRoots, got, err := decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(gotRoots) != fmt.Sprint(roots) {
		t.Errorf("roots = %v, want %v", gotRoots, roots)
	}
	if !sameBlocks(got, blocks) {
		t.Errorf("blocks differ after a round trip")
	}
	// A header alone, with no blocks, is a valid CAR.
	only := encode(t, roots[:1], nil)
	gotRoots, got, err = decode(bytes.NewReader(only))
	if err != nil || len(got) != 0 || len(gotRoots) != 1 || gotRoots[0] != roots[0] {
		t.Errorf("header-only CAR: roots %v, %d blocks, err %v", gotRoots, len(got), err)
	}
}

// header returns a length-prefixed CAR header with the given CBOR bytes.
func header(cbor []byte) []byte {
	return append(binary.AppendUvarint(nil, uint64(len(cbor))), cbor...)
}

// link is the dag-cbor encoding of c as a link.
func link(c cid.Cid) []byte {
	cb := c.Bytes()
	return append([]byte{0xd8, 0x2a, 0x58, byte(len(cb) + 1), 0}, cb...)
}

// section is a section with the given CID bytes and data.
func section(cidBytes, data []byte) []byte {
	b := binary.AppendUvarint(nil, uint64(len(cidBytes)+len(data)))
	return append(append(b, cidBytes...), data...)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestReadBad(t *testing.T) {
	hello := raw([]byte("hello"))
	good := encode(t, []cid.Cid{hello.c}, []block{hello})
	hdr := encode(t, []cid.Cid{hello.c}, nil)
	roots := append([]byte{0x65, 'r', 'o', 'o', 't', 's', 0x81}, link(hello.c)...)
	version := []byte{0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n'}
	mh512, _ := multihash.Sum([]byte("hello"), multihash.SHA2_512, -1)
	mhID, _ := multihash.Sum([]byte("hello"), multihash.IDENTITY, -1)
	mhIDBig, _ := multihash.Sum(bytes.Repeat([]byte{7}, 129), multihash.IDENTITY, -1)
	mhBlake, _ := multihash.Sum([]byte("hello"), multihash.BLAKE2B_MIN+31, -1)
	v0 := cid.NewCidV0(hello.c.Hash())
	tampered := bytes.Clone(good)
	tampered[len(tampered)-1] ^= 1

	tests := []struct {
		name string
		in   []byte
		kind acerr.Kind
		msg  string // a substring of the error
	}{
		{"empty CAR", nil, acerr.Invalid, "empty input"},
		{"truncated header length", []byte{0x80}, acerr.Invalid, "truncated: input ends at offset 1, inside the header length at offset 0"},
		{"truncated header", good[:10], acerr.Invalid, "truncated: input ends at offset 10, inside the header at offset 1"},
		{"empty header", []byte{0}, acerr.Invalid, "header at offset 0 is empty"},
		{"oversized header claim", binary.AppendUvarint(nil, car.MaxHeaderSize+1), acerr.TooLarge, "claims 65537 bytes"},
		{"header not a map", header([]byte{0x80}), acerr.Invalid, "not a map"},
		{"unknown version", header(cat([]byte{0xa2}, roots, version, []byte{0x02})), acerr.Invalid, "CAR version 2; only versions 1 and 2"},
		{"CARv2 pragma alone", header(cat([]byte{0xa1}, version, []byte{0x02})), acerr.Invalid, "truncated: input ends at offset 11, inside the CAR v2 header"},
		{"no version", header(cat([]byte{0xa1}, roots)), acerr.Invalid, "no version"},
		{"no roots", header(cat([]byte{0xa1}, version, []byte{0x01})), acerr.Invalid, "no roots"},
		{"empty roots", header(cat([]byte{0xa2, 0x65, 'r', 'o', 'o', 't', 's', 0x80}, version, []byte{0x01})), acerr.Invalid, "empty list of roots"},
		{"fields out of order", header(cat([]byte{0xa2}, version, []byte{0x01}, roots)), acerr.Invalid, "canonical order"},
		{"unknown field", header(cat([]byte{0xa2}, roots, []byte{0x63, 'x', 'y', 'z', 0x01})), acerr.Invalid, `unknown field "xyz"`},
		{"non-minimal integer in header", header(cat([]byte{0xa2}, roots, version, []byte{0x18, 0x01})), acerr.Invalid, "not minimally encoded"},
		{"indefinite map", header(cat([]byte{0xbf}, roots, version, []byte{0x01, 0xff})), acerr.Invalid, "indefinite"},
		{"bytes after the header map", header(cat([]byte{0xa2}, roots, version, []byte{0x01, 0x00})), acerr.Invalid, "1 bytes after the header map"},
		{"root not a link", header(cat([]byte{0xa2, 0x65, 'r', 'o', 'o', 't', 's', 0x81, 0x01}, version, []byte{0x01})), acerr.Invalid, "root 0 is not a link"},
		{"CIDv0 root with a short digest", header(cat([]byte{0xa2, 0x65, 'r', 'o', 'o', 't', 's', 0x81, 0xd8, 0x2a, 0x53, 0, 0x12, 0x10}, v0.Bytes()[2:18], version, []byte{0x01})), acerr.Invalid, "CIDv0 digest length 16, want 32"},
		{"truncated section", good[:len(good)-1], acerr.Invalid, fmt.Sprintf("truncated: input ends at offset %d, inside the section at offset %d", len(good)-1, len(hdr))},
		{"truncated section length", cat(hdr, []byte{0xff}), acerr.Invalid, "inside the section length"},
		{"truncated section CID", cat(hdr, []byte{40, 0x01, 0x55}), acerr.Invalid, "truncated"},
		{"oversized section claim", cat(hdr, binary.AppendUvarint(nil, 2<<20)), acerr.TooLarge, "claims 2097152 bytes; a block is at most 1048576 bytes"},
		{"huge section claim", cat(hdr, binary.AppendUvarint(nil, 1<<62)), acerr.TooLarge, "claims"},
		{"block one byte over the limit", cat(hdr, binary.AppendUvarint(nil, uint64(len(hello.c.Bytes()))+schema.MaxBlockSize+1), hello.c.Bytes()), acerr.TooLarge, "a block of 1048577 bytes"},
		{"block does not match its CID", tampered, acerr.Integrity, "does not hash to its CID"},
		{"trailing garbage", cat(good, []byte("garbage")), acerr.Invalid, fmt.Sprintf("section at offset %d: CID: version 97", len(good))},
		{"trailing zero", cat(good, []byte{0}), acerr.Invalid, "is empty"},
		{"non-minimal section length", cat(hdr, []byte{0x86, 0x00}), acerr.Invalid, "not minimally encoded"},
		{"overlong section length", cat(hdr, bytes.Repeat([]byte{0x80}, 9), []byte{1}), acerr.Invalid, "longer than 9 bytes"},
		{"section shorter than its CID", cat(hdr, section(hello.c.Bytes()[:20], nil)), acerr.Invalid, "shorter than its CID"},
		{"CIDv0 section that does not match", cat(hdr, section(v0.Bytes(), []byte("jello"))), acerr.Integrity, "does not hash to its CID"},
		{"sha2-512", cat(hdr, section(cid.NewCidV1(cid.Raw, mh512).Bytes(), []byte("hello"))), acerr.Invalid, "hash function sha2-512 (0x13): only sha2-256 and identity are accepted"},
		{"blake2b-256", cat(hdr, section(cid.NewCidV1(cid.Raw, mhBlake).Bytes(), []byte("hello"))), acerr.Invalid, "hash function blake2b-256 (0xb220): only sha2-256 and identity are accepted"},
		{"identity hash that does not match", cat(hdr, section(cid.NewCidV1(cid.Raw, mhID).Bytes(), nil)), acerr.Integrity, "does not hash to its CID"},
		{"identity digest over the limit", cat(hdr, section(cid.NewCidV1(cid.Raw, mhIDBig).Bytes(), bytes.Repeat([]byte{7}, 129))), acerr.Invalid, "identity digest of 129 bytes, limit 128"},
		{"short digest", cat(hdr, section([]byte{0x01, 0x55, 0x12, 0x10}, bytes.Repeat([]byte{1}, 16))), acerr.Invalid, "digest length 16"},
		{"CID version 2", cat(hdr, section([]byte{0x02, 0x55, 0x12, 0x20}, bytes.Repeat([]byte{1}, 32))), acerr.Invalid, "version 2, want 0 or 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := decode(bytes.NewReader(tt.in))
			checkErr(t, err, tt.kind, tt.msg)
		})
	}
}

func checkErr(t *testing.T, err error, kind acerr.Kind, msg string) {
	t.Helper()
	var ae *acerr.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T), want an *acerr.Error", err, err)
	}
	if !acerr.Is(kind, err) {
		t.Errorf("kind %v, want %v: %v", acerr.KindOf(err), kind, err)
	}
	if s := err.Error(); strings.Contains(s, "\n") || !strings.HasPrefix(s, "car.Read") || !strings.Contains(s, msg) {
		t.Errorf("error %q: want one line starting car.Read and containing %q", s, msg)
	}
}

// The error for a block that does not match names the CID it claims.
func TestMismatchNamesCID(t *testing.T) {
	b := raw([]byte("hello"))
	data := encode(t, []cid.Cid{b.c}, []block{{b.c, []byte("jello")}})
	_, _, err := decode(bytes.NewReader(data))
	checkErr(t, err, acerr.Integrity, b.c.String())
}

// A failure of the underlying reader keeps its kind, and the Reader
// repeats its first error.
func TestReaderErrors(t *testing.T) {
	b := raw([]byte("hello"))
	data := encode(t, []cid.Cid{b.c}, []block{b, b})
	limit := acerr.E("limit", "", acerr.TooLarge, errors.New("over the limit"))
	r := io.MultiReader(bytes.NewReader(data[:len(data)-3]), &errReader{limit})
	cr, err := car.NewReader(r)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := cr.Next(); err != nil {
		t.Fatal(err)
	}
	_, _, err1 := cr.Next()
	checkErr(t, err1, acerr.TooLarge, "over the limit")
	if _, _, err2 := cr.Next(); err2 != err1 {
		t.Errorf("second Next after a failure = %v, want %v", err2, err1)
	}
	_, _, err = decode(&errReader{errors.New("disk on fire")})
	checkErr(t, err, acerr.IO, "disk on fire")
}

type errReader struct{ err error }

func (r *errReader) Read([]byte) (int, error) { return 0, r.err }

func TestWriterRefuses(t *testing.T) {
	b := raw([]byte("hello"))
	mh512, _ := multihash.Sum([]byte("hello"), multihash.SHA2_512, -1)
	var buf bytes.Buffer
	if _, err := car.NewWriter(&buf, nil); !acerr.Is(acerr.Invalid, err) {
		t.Errorf("NewWriter with no roots: %v, want Invalid", err)
	}
	many := make([]cid.Cid, 2000)
	for i := range many {
		many[i] = raw([]byte{byte(i), byte(i >> 8)}).c
	}
	if _, err := car.NewWriter(&buf, many); !acerr.Is(acerr.TooLarge, err) {
		t.Errorf("NewWriter with 2000 roots: %v, want TooLarge", err)
	}
	if buf.Len() != 0 {
		t.Errorf("refused headers wrote %d bytes", buf.Len())
	}
	w, err := car.NewWriter(&buf, []cid.Cid{b.c})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Put(cid.NewCidV1(cid.Raw, mh512), []byte("hello")); !acerr.Is(acerr.Invalid, err) {
		t.Errorf("Put of a sha2-512 CID: %v, want Invalid", err)
	}
	if err := w.Put(cid.Undef, nil); !acerr.Is(acerr.Invalid, err) {
		t.Errorf("Put of the undefined CID: %v, want Invalid", err)
	}
	if err := w.Put(b.c, make([]byte, schema.MaxBlockSize+1)); !acerr.Is(acerr.TooLarge, err) {
		t.Errorf("Put of a block over the limit: %v, want TooLarge", err)
	}
	if err := w.Put(b.c, b.data); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, got, err := decode(&buf); err != nil || !sameBlocks(got, []block{b}) {
		t.Errorf("after refused Puts the CAR reads back as %d blocks, %v", len(got), err)
	}
	w, _ = car.NewWriter(&errWriter{}, []cid.Cid{b.c})
	if err := w.Flush(); !acerr.Is(acerr.IO, err) {
		t.Errorf("Flush to a failing writer: %v, want IO", err)
	}
}

type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, errors.New("no space left") }

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// endless repeats a pattern forever.
type endless struct {
	pattern []byte
	i       int
}

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = e.pattern[e.i%len(e.pattern)]
		e.i++
	}
	return len(p), nil
}

// An endless stream of garbage is refused at its first section, after
// reading no more than the Reader's buffer, whatever follows.
func TestEndlessGarbageRefusedEarly(t *testing.T) {
	b := raw([]byte("hello"))
	hdr := encode(t, []cid.Cid{b.c}, []block{b})
	for _, pattern := range [][]byte{
		{0xff},                            // a varint that never ends
		binary.AppendUvarint(nil, 10<<30), // a section claiming 10 GiB, again and again
		[]byte("garbage "),                // text
		{0x2c, 0x01, 0x55, 0x12, 0x20},    // plausible sections whose bytes never match
	} {
		cr := &countingReader{r: io.MultiReader(bytes.NewReader(hdr), &endless{pattern: pattern})}
		_, _, err := decode(cr)
		if err == nil {
			t.Fatalf("pattern %x: accepted", pattern)
		}
		if cr.n > 64<<10 {
			t.Errorf("pattern %x: read %d bytes before refusing: %v", pattern, cr.n, err)
		}
	}
	// The worst case reads one whole block's worth: a section of the
	// largest size, whose hash is checked at its end.
	worst := cat(hdr, binary.AppendUvarint(nil, 36+schema.MaxBlockSize), b.c.Bytes())
	cr := &countingReader{r: io.MultiReader(bytes.NewReader(worst), &endless{pattern: []byte{7}})}
	_, _, err := decode(cr)
	checkErr(t, err, acerr.Integrity, "does not hash")
	if cr.n > int64(len(worst))+schema.MaxBlockSize+64<<10 {
		t.Errorf("read %d bytes before refusing a bad block", cr.n)
	}
}

// Reading many large blocks allocates one buffer, not one per block.
func TestReadBoundedMemory(t *testing.T) {
	n := 64
	if testing.Short() {
		n = 16
	}
	big := make([]byte, schema.MaxBlockSize)
	var blocks []block
	for i := range n {
		big[0] = byte(i)
		blocks = append(blocks, raw(bytes.Clone(big)))
	}
	data := encode(t, []cid.Cid{blocks[0].c}, blocks)
	blocks = nil
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	cr, err := car.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for {
		_, _, err := cr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		count++
	}
	runtime.ReadMemStats(&after)
	if count != n {
		t.Fatalf("read %d blocks, want %d", count, n)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Errorf("reading %d blocks of 1 MiB allocated %d bytes", n, alloc)
	}
}

// FuzzRead checks that the Reader never panics and that whatever it
// accepts, the Writer encodes back to the same bytes, which it accepts
// again with the same roots and blocks.
func FuzzRead(f *testing.F) {
	b := raw([]byte("hello"))
	c := block{sum(cid.DagCBOR, []byte{0xa0}), []byte{0xa0}}
	good := encode(f, []cid.Cid{c.c, b.c}, []block{c, b, b, raw(nil)})
	f.Add(good)
	f.Add(encode(f, []cid.Cid{b.c}, nil))
	f.Add(good[:len(good)-2])
	f.Add(cat(good, []byte{0}))
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0xa1, 0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x02})
	f.Add(cat(encode(f, []cid.Cid{b.c}, nil), binary.AppendUvarint(nil, 2<<20)))
	f.Fuzz(func(t *testing.T, in []byte) {
		roots, blocks, err := decode(bytes.NewReader(in))
		if err != nil {
			var ae *acerr.Error
			if !errors.As(err, &ae) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q (%T) is not a one-line *acerr.Error", err, err)
			}
			switch k := acerr.KindOf(err); k {
			case acerr.Invalid, acerr.Integrity, acerr.TooLarge:
			default:
				t.Fatalf("error of kind %v: %v", k, err)
			}
			return
		}
		if bytes.HasPrefix(in, pragma) {
			return // a CAR v2: FuzzReadV2's
		}
		out := encode(t, roots, blocks)
		if !bytes.Equal(out, in) {
			t.Fatalf("accepted input re-encodes differently:\n in %x\nout %x", in, out)
		}
		roots2, blocks2, err := decode(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("re-encoded CAR refused: %v", err)
		}
		if fmt.Sprint(roots2) != fmt.Sprint(roots) || !sameBlocks(blocks2, blocks) {
			t.Fatalf("re-encoded CAR reads back differently")
		}
	})
}
