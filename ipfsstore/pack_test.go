package ipfsstore

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

func TestIndexRecordRoundTrip(t *testing.T) {
	c, _ := cid.V1Builder{Codec: cid.Raw, MhType: multihash.SHA2_256}.Sum([]byte("x"))
	recs := []indexRecord{
		{CID: c.Bytes(), Offset: int64(len(packMagic)), Length: 0, Sum: dataSum(nil)},
		{CID: c.Bytes(), Offset: 1 << 40, Length: schema.MaxBlockSize, Sum: 0xdeadbeef},
		{CID: bytes.Repeat([]byte{7}, maxCIDLen), Offset: 12345, Length: 99, Sum: 1},
	}
	var buf []byte
	for _, r := range recs {
		buf = appendIndexRecord(buf, r)
	}
	for i, want := range recs {
		got, n, err := decodeIndexRecord(buf, false)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if !bytes.Equal(got.CID, want.CID) || got.Offset != want.Offset || got.Length != want.Length || got.Sum != want.Sum {
			t.Fatalf("record %d = %+v, want %+v", i, got, want)
		}
		if n != idxRecordFixed+len(want.CID) {
			t.Fatalf("record %d length = %d", i, n)
		}
		buf = buf[n:]
	}
	if len(buf) != 0 {
		t.Fatalf("%d bytes left", len(buf))
	}
}

// appendIndexRecordV1 appends r in the layout of a first-version index,
// which has no Sum; the store no longer writes it, but still reads it.
func appendIndexRecordV1(b []byte, r indexRecord) []byte {
	start := len(b)
	b = append(b, byte(len(r.CID)))
	b = append(b, r.CID...)
	b = binary.LittleEndian.AppendUint64(b, uint64(r.Offset))
	b = binary.LittleEndian.AppendUint32(b, r.Length)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

func TestIndexRecordV1(t *testing.T) {
	c, _ := cid.V1Builder{Codec: cid.Raw, MhType: multihash.SHA2_256}.Sum([]byte("x"))
	want := indexRecord{CID: c.Bytes(), Offset: 4096, Length: 77}
	rec := appendIndexRecordV1(nil, want)
	got, n, err := decodeIndexRecord(rec, true)
	if err != nil || n != len(rec) || !bytes.Equal(got.CID, want.CID) || got.Offset != want.Offset || got.Length != want.Length || got.Sum != 0 {
		t.Fatalf("decode v1 = %+v, %d, %v; want %+v, %d", got, n, err, want, len(rec))
	}
	// The two layouts are told apart by the file's magic, never by guessing.
	if _, _, err := decodeIndexRecord(rec, false); err == nil {
		t.Fatal("a v1 record decoded as a v2 one")
	}
}

func TestIndexRecordDamage(t *testing.T) {
	c, _ := cid.V1Builder{Codec: cid.Raw, MhType: multihash.SHA2_256}.Sum([]byte("x"))
	rec := appendIndexRecord(nil, indexRecord{CID: c.Bytes(), Offset: 100, Length: 10, Sum: 42})
	for i := range rec {
		if _, _, err := decodeIndexRecord(rec[:i], false); err != errShortRecord {
			t.Errorf("decode of the first %d bytes = %v, want %v", i, err, errShortRecord)
		}
		bad := bytes.Clone(rec)
		bad[i] ^= 0x10
		if _, _, err := decodeIndexRecord(bad, false); err == nil {
			t.Errorf("decode with byte %d flipped = nil error", i)
		}
	}
	for _, r := range []indexRecord{
		{CID: c.Bytes(), Offset: 3, Length: 10},                        // inside the pack header
		{CID: c.Bytes(), Offset: 100, Length: schema.MaxBlockSize + 1}, // too long
		{CID: c.Bytes(), Offset: -5, Length: 1},
	} {
		if _, _, err := decodeIndexRecord(appendIndexRecord(nil, r), false); err != errCorruptRecord {
			t.Errorf("decode(%+v) = %v, want %v", r, err, errCorruptRecord)
		}
	}
}

// FuzzIndexRecord checks that the decoder never panics on any input, of
// either version, that whatever it accepts encodes back to the same
// bytes, and that parseIndex accounts for every byte of the input: it is
// split into records that decode where they were found, runs of damage
// between them, and a tail.
func FuzzIndexRecord(f *testing.F) {
	c, _ := cid.V1Builder{Codec: cid.Raw, MhType: multihash.SHA2_256}.Sum([]byte("seed"))
	f.Add(appendIndexRecord(nil, indexRecord{CID: c.Bytes(), Offset: 8, Length: 4}))
	f.Add(appendIndexRecord(nil, indexRecord{CID: []byte{1}, Offset: 1 << 30, Length: schema.MaxBlockSize}))
	f.Add([]byte{})
	f.Add([]byte{0})
	f.Add([]byte{255, 1, 2, 3})
	f.Add(append(appendIndexRecord(nil, indexRecord{CID: c.Bytes(), Offset: 8, Length: 4}), append([]byte{9, 9, 9},
		appendIndexRecord(nil, indexRecord{CID: c.Bytes(), Offset: 60, Length: 4})...)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkParseIndex(t, b, false)
		checkParseIndex(t, b, true)
		if mh, ok := multihashOf(b); ok {
			if c, err := cid.Cast(b); err != nil || string(c.Hash()) != string(mh) {
				t.Fatalf("multihashOf(%x) = %x, but cid.Cast gives %v, %v", b, mh, c, err)
			}
		}
		if r, n, err := decodeIndexRecord(b, true); err == nil {
			if again := appendIndexRecordV1(nil, r); !bytes.Equal(again, b[:n]) {
				t.Fatalf("re-encoding a v1 record gives %x, want %x", again, b[:n])
			}
		} else if n != 0 {
			t.Fatalf("v1: error %v with length %d", err, n)
		}
		r, n, err := decodeIndexRecord(b, false)
		if err != nil {
			if n != 0 {
				t.Fatalf("error %v with length %d", err, n)
			}
			return
		}
		if n <= 0 || n > len(b) {
			t.Fatalf("length %d of a %d-byte input", n, len(b))
		}
		again := appendIndexRecord(nil, r)
		if !bytes.Equal(again, b[:n]) {
			t.Fatalf("re-encoding gives %x, want %x", again, b[:n])
		}
		r2, n2, err := decodeIndexRecord(again, false)
		if err != nil || n2 != n || !bytes.Equal(r2.CID, r.CID) || r2.Offset != r.Offset || r2.Length != r.Length || r2.Sum != r.Sum {
			t.Fatalf("decode(encode(r)) = %+v, %d, %v; want %+v", r2, n2, err, r)
		}
	})
}

// checkParseIndex checks that parseIndex(b, v1) splits b into records,
// damaged runs and a tail, in order and without gaps or overlaps.
func checkParseIndex(t *testing.T, b []byte, v1 bool) {
	t.Helper()
	p := parseIndex(b, v1)
	if p.used+p.tail != len(b) || p.used < 0 || p.tail < 0 {
		t.Fatalf("parseIndex(v1 %v): used %d + tail %d of %d bytes", v1, p.used, p.tail, len(b))
	}
	pos, ri := 0, 0
	for _, run := range p.damage {
		for ; ri < run.next; ri++ {
			pos = checkRecordAt(t, b, v1, p.records[ri], pos)
		}
		if run.at != pos || run.n <= 0 {
			t.Fatalf("parseIndex(v1 %v): damaged run %+v at %d", v1, run, pos)
		}
		pos += run.n
	}
	for ; ri < len(p.records); ri++ {
		pos = checkRecordAt(t, b, v1, p.records[ri], pos)
	}
	if pos != p.used {
		t.Fatalf("parseIndex(v1 %v): records and runs end at %d, used %d", v1, pos, p.used)
	}
}

func checkRecordAt(t *testing.T, b []byte, v1 bool, r parsedRecord, pos int) int {
	t.Helper()
	got, n, err := decodeIndexRecord(b[pos:], v1)
	if r.at != pos || err != nil || !bytes.Equal(got.CID, r.CID) || got.Offset != r.Offset {
		t.Fatalf("parseIndex(v1 %v): record at %d, want one at %d (%v)", v1, r.at, pos, err)
	}
	return pos + n
}

func TestMultihashOf(t *testing.T) {
	data := []byte("block")
	v0, _ := cid.V0Builder{}.Sum(data)
	for _, c := range []cid.Cid{
		v0,
		mustSum(t, cid.Raw, multihash.SHA2_256, data),
		mustSum(t, cid.DagCBOR, multihash.SHA2_512, data),
		mustSum(t, cid.Raw, multihash.IDENTITY, data),
		mustSum(t, 0x300000, multihash.BLAKE3, data), // a codec of several varint bytes
	} {
		mh, ok := multihashOf(c.Bytes())
		if !ok || string(mh) != blockKey(c) {
			t.Errorf("multihashOf(%s) = %x, %v; want %x", c, mh, ok, []byte(blockKey(c)))
		}
	}
	for _, b := range [][]byte{nil, {1}, {1, 0x55}, {2, 0x55, 0x12, 0x20}, {1, 0x55, 0x12, 0x20, 1, 2}, {0x80}, {1, 0x80, 0x00, 0x30, 0x00}} {
		if mh, ok := multihashOf(b); ok {
			t.Errorf("multihashOf(%x) = %x, true; want false", b, mh)
		}
	}
}

func mustSum(t testing.TB, codec, mh uint64, data []byte) cid.Cid {
	t.Helper()
	c, err := cid.V1Builder{Codec: codec, MhType: mh}.Sum(data)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
