package ipfsstore

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/archivecache/archivecache/acerr"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// TestEmbeddedPutRepairsDamagedCopy damages a stored block: Put of its
// bytes writes a good copy, Get reads it at once, and a later open finds
// the good copy, although the damaged one is still in the older pack.
func TestEmbeddedPutRepairsDamagedCopy(t *testing.T) {
	dir := t.TempDir()
	bs := makeBlocks(t, 20, 5, 5000)
	e := mustOpen(t, dir)
	putAll(t, e, bs)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	pack := packFiles(t, dir, ".pack")[0]
	flipInPack(t, dir, bs[2].data)

	e = mustOpen(t, dir)
	if _, err := e.Get(t.Context(), bs[2].c); !isDamage(err, pack, bs[2].c) {
		t.Fatalf("Get(damaged block) = %v; want Integrity naming %s", err, pack)
	}
	putAll(t, e, bs) // writes bs[2] again, and nothing else
	wantAll(t, e, bs)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	packs := packFiles(t, dir, ".pack")
	if len(packs) != 2 {
		t.Fatalf("%d packs after the repair, want 2", len(packs))
	}
	for _, p := range packs {
		if p == pack {
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(len(packMagic) + packRecordHeader + len(bs[2].c.Bytes()) + len(bs[2].data)); st.Size() != want {
			t.Errorf("the repair wrote a pack of %d bytes, want %d: the one block", st.Size(), want)
		}
	}
	for _, rehash := range []bool{false, true} {
		e, err := OpenEmbedded(t.Context(), Config{Dir: dir, Rehash: rehash})
		if err != nil {
			t.Fatal(err)
		}
		wantAll(t, e, bs)
		if n, err := e.Check(t.Context()); err != nil || n != len(bs) {
			t.Errorf("Check (Rehash %v) = %d, %v; want %d, nil", rehash, n, err, len(bs))
		}
		// The good copy is found: Put writes nothing more.
		putAll(t, e, bs)
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		if got := len(packFiles(t, dir, ".pack")); got != 2 {
			t.Errorf("Put of blocks held good made a pack (%d packs)", got)
		}
	}
}

// TestEmbeddedAddFileRepairsDamagedChunk damages a chunk of a stored file:
// adding the same bytes again makes the file read back whole.
func TestEmbeddedAddFileRepairsDamagedChunk(t *testing.T) {
	dir := t.TempDir()
	data := makeBlocks(t, 21, 1, 1)[0].data
	data = bytes.Repeat(append(data, "a file of several chunks "...), 3*ChunkSize/26)
	for i := range data {
		data[i] ^= byte(i / ChunkSize) // chunks differ
	}
	e := mustOpen(t, dir)
	c, _, err := e.AddFile(t.Context(), bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	flipInPack(t, dir, data[ChunkSize:ChunkSize+4096]) // in the second chunk

	e = mustOpen(t, dir)
	if _, err := readFile(t, e, c); !acerr.Is(acerr.Integrity, err) {
		t.Fatalf("reading a file with a damaged chunk = %v, want Integrity", err)
	}
	again, _, err := e.AddFile(t.Context(), bytes.NewReader(data))
	if err != nil || !again.Equals(c) {
		t.Fatalf("AddFile again = %v, %v; want %v", again, err, c)
	}
	got, err := readFile(t, e, c)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("reading the file after AddFile = %d bytes, %v; want the %d bytes added", len(got), err, len(data))
	}
}

func readFile(t *testing.T, s Store, c cid.Cid) ([]byte, error) {
	t.Helper()
	f, err := s.OpenFile(t.Context(), c)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// TestRepair repairs blocks of an embedded store from a memory store:
// one damaged, one forged along with its checksum (found only by hash,
// so only by a store opened with Rehash), one missing.
func TestRepair(t *testing.T) {
	dir := t.TempDir()
	bs := makeBlocks(t, 22, 4, 5000)
	src := NewMemory()
	putAll(t, src, bs)
	e := mustOpen(t, dir)
	putAll(t, e, bs[:3])
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	flipInPack(t, dir, bs[0].data)
	flipInPack(t, dir, bs[1].data)
	forged := bytes.Clone(bs[1].data)
	forged[len(forged)/2] ^= 0x40
	rewriteIndex(t, dir, idxMagic, func(b []byte, r indexRecord) []byte {
		if r.Length == uint32(len(forged)) {
			r.Sum = dataSum(forged)
		}
		return appendIndexRecord(b, r)
	})

	e, err := OpenEmbedded(t.Context(), Config{Dir: dir, Rehash: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for _, b := range []testBlock{bs[0], bs[1], bs[3]} {
		if _, err := e.Get(t.Context(), b.c); err == nil {
			t.Fatalf("Get(%s) before the repair succeeded", b.c)
		}
		if err := Repair(t.Context(), e, b.c, src); err != nil {
			t.Fatalf("Repair(%s) = %v", b.c, err)
		}
	}
	wantAll(t, e, bs)
	// Nothing to repair from: the source's error, kind and all.
	missing := makeBlocks(t, 23, 1, 10)[0]
	if err := Repair(t.Context(), e, missing.c, src); !acerr.Is(acerr.NotExist, err) {
		t.Errorf("Repair from a store without the block = %v, want NotExist", err)
	}
}

// TestEmbeddedIndexRecordDamage flips each byte of an index record in the
// middle of an index in turn. Every time, the records after it are still
// read, and a Get of the block whose record is damaged reports that,
// naming the index, until a Put of the block repairs the store.
func TestEmbeddedIndexRecordDamage(t *testing.T) {
	dir := t.TempDir()
	bs := makeBlocks(t, 24, 9, 3000)
	e := mustOpen(t, dir)
	putAll(t, e, bs)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	dropTables(t, dir)
	idx := packFiles(t, dir, ".idx")[0]
	whole, err := os.ReadFile(idx)
	if err != nil {
		t.Fatal(err)
	}
	const victim = 4
	at := len(idxMagic)
	for _, b := range bs[:victim] {
		at += idxRecordFixed + len(b.c.Bytes())
	}
	n := idxRecordFixed + len(bs[victim].c.Bytes())
	others := append(append([]testBlock(nil), bs[:victim]...), bs[victim+1:]...)
	for i := at; i < at+n; i++ {
		bad := bytes.Clone(whole)
		bad[i] ^= 0xff
		if err := os.WriteFile(idx, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		e, err := OpenEmbedded(t.Context(), Config{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		wantAll(t, e, others)
		_, err = e.Get(t.Context(), bs[victim].c)
		if !isDamage(err, idx, bs[victim].c) {
			t.Fatalf("byte %d of the record flipped: Get = %v; want Integrity naming %s", i-at, err, idx)
		}
		if _, err := e.Check(t.Context()); !acerr.Is(acerr.Integrity, err) {
			t.Fatalf("byte %d of the record flipped: Check = %v, want Integrity", i-at, err)
		}
		if ok, err := e.Has(t.Context(), bs[victim].c); ok || err != nil {
			t.Fatalf("byte %d of the record flipped: Has = %v, %v; want false", i-at, ok, err)
		}
		// A block that was never stored is still simply missing.
		if _, err := e.Get(t.Context(), makeBlocks(t, 25, 1, 10)[0].c); !acerr.Is(acerr.NotExist, err) {
			t.Fatalf("byte %d of the record flipped: Get(never stored) = %v, want NotExist", i-at, err)
		}
		e.Close()
	}
	e = mustOpen(t, dir)
	putAll(t, e, bs[victim:victim+1])
	if n, err := e.Check(t.Context()); err != nil || n != len(bs) {
		t.Fatalf("Check after Put of the block = %d, %v; want %d, nil", n, err, len(bs))
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = mustOpen(t, dir)
	wantAll(t, e, bs)
	if n, err := e.Check(t.Context()); err != nil || n != len(bs) {
		t.Fatalf("Check after reopening = %d, %v; want %d, nil", n, err, len(bs))
	}
}

// TestEmbeddedIndexDamageUnattributed damages an index record and the
// pack record header of its block, so that nothing tells which block the
// record listed: then any block the store cannot find may be that one,
// and a Get of it reports the damage, while every other block reads.
func TestEmbeddedIndexDamageUnattributed(t *testing.T) {
	dir := t.TempDir()
	bs := makeBlocks(t, 26, 5, 3000)
	e := mustOpen(t, dir)
	putAll(t, e, bs)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	dropTables(t, dir)
	idx, pack := packFiles(t, dir, ".idx")[0], packFiles(t, dir, ".pack")[0]
	b, err := os.ReadFile(idx)
	if err != nil {
		t.Fatal(err)
	}
	at := len(idxMagic) + idxRecordFixed + len(bs[0].c.Bytes()) + 3 // inside the second record
	b[at] ^= 1
	if err := os.WriteFile(idx, b, 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := os.ReadFile(pack)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(p, bs[1].c.Bytes())
	p[i-1] ^= 0xff // the CID's length in the header
	if err := os.WriteFile(pack, p, 0o644); err != nil {
		t.Fatal(err)
	}
	e = mustOpen(t, dir)
	wantAll(t, e, append([]testBlock{bs[0]}, bs[2:]...))
	for _, c := range []cid.Cid{bs[1].c, makeBlocks(t, 27, 1, 10)[0].c} {
		_, err := e.Get(t.Context(), c)
		if !acerr.Is(acerr.Integrity, err) || !strings.Contains(err.Error(), idx) || !strings.Contains(err.Error(), "may have been listed") {
			t.Errorf("Get(%s) = %v; want Integrity naming %s", c, err, idx)
		}
	}
}

// TestEmbeddedDamageOfOlderIndexes: a flipped byte in an index of an
// older version, which writers did not seal, still hides no later record.
func TestEmbeddedDamageOfOlderIndexes(t *testing.T) {
	for _, v := range []struct {
		magic string
		enc   func([]byte, indexRecord) []byte
	}{{idxMagicV2, appendIndexRecord}, {idxMagicV1, appendIndexRecordV1}} {
		t.Run(v.magic, func(t *testing.T) {
			dir := t.TempDir()
			bs := makeBlocks(t, 28, 6, 3000)
			e := mustOpen(t, dir)
			putAll(t, e, bs)
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			i := 0
			rewriteIndex(t, dir, v.magic, func(b []byte, r indexRecord) []byte {
				b = v.enc(b, r)
				if i++; i == 2 {
					b[len(b)-5] ^= 0x08
				}
				return b
			})
			idx := packFiles(t, dir, ".idx")[0]
			e = mustOpen(t, dir)
			wantAll(t, e, append([]testBlock{bs[0]}, bs[2:]...))
			if _, err := e.Get(t.Context(), bs[1].c); !isDamage(err, idx, bs[1].c) {
				t.Fatalf("Get(block of the damaged record) = %v; want Integrity naming %s", err, idx)
			}
		})
	}
}

// TestParseIndex checks the resynchronisation of parseIndex on a run of
// records with damage of several shapes between them.
func TestParseIndex(t *testing.T) {
	var recs []indexRecord
	var b []byte
	var starts []int
	for i := range 6 {
		c, _ := cid.V1Builder{Codec: cid.Raw, MhType: multihash.SHA2_256}.Sum([]byte{byte(i)})
		r := indexRecord{CID: c.Bytes(), Offset: int64(100 * (i + 1)), Length: 50, Sum: uint32(i)}
		recs = append(recs, r)
		starts = append(starts, len(b))
		b = appendIndexRecord(b, r)
	}
	end := len(b)
	cases := []struct {
		name    string
		damage  func([]byte) []byte
		records int // decoded
		runs    int
		tail    int
	}{
		{"intact", func(b []byte) []byte { return b }, 6, 0, 0},
		{"flip in a CID", func(b []byte) []byte { b[starts[2]+5] ^= 1; return b }, 5, 1, 0},
		{"flip in the length byte", func(b []byte) []byte { b[starts[2]] ^= 0x40; return b }, 5, 1, 0},
		{"zero length byte", func(b []byte) []byte { b[starts[2]] = 0; return b }, 5, 1, 0},
		{"two records apart", func(b []byte) []byte { b[starts[1]+9] ^= 1; b[starts[4]+9] ^= 1; return b }, 4, 2, 0},
		{"bytes lost", func(b []byte) []byte { return append(b[:starts[3]+7:starts[3]+7], b[starts[3]+20:]...) }, 5, 1, 0},
		{"bytes added", func(b []byte) []byte {
			return append(b[:starts[3]:starts[3]], append([]byte("junk"), b[starts[3]:]...)...)
		}, 6, 1, 0},
		{"torn last record", func(b []byte) []byte { return b[:end-10] }, 5, 0, end - 10 - starts[5]},
		{"flip in the last record", func(b []byte) []byte { b[end-3] ^= 1; return b }, 5, 0, end - starts[5]},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.damage(bytes.Clone(b))
			p := parseIndex(in, false)
			if len(p.records) != tc.records || len(p.damage) != tc.runs || p.tail != tc.tail || p.used+p.tail != len(in) {
				t.Fatalf("parseIndex: %d records, %d damaged runs, used %d, tail %d; want %d, %d, tail %d, of %d bytes",
					len(p.records), len(p.damage), p.used, p.tail, tc.records, tc.runs, tc.tail, len(in))
			}
			for _, r := range p.records {
				found := false
				for _, w := range recs {
					found = found || (bytes.Equal(r.CID, w.CID) && r.Offset == w.Offset)
				}
				if !found {
					t.Fatalf("parseIndex found a record %+v that was never written", r.indexRecord)
				}
			}
		})
	}
}
