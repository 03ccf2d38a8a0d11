package ipfsstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/archivecache/archivecache/acerr"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// TestTableFind encodes a table of blocks under hashes of several digest
// lengths, one of them listed twice, and finds each, the last record of
// the twice-listed one, and no block it does not hold.
func TestTableFind(t *testing.T) {
	var entries []tableEntry
	var absent []string
	for i := range 300 {
		data := binary.LittleEndian.AppendUint64(nil, uint64(i))
		mh := []uint64{multihash.SHA2_256, multihash.SHA2_512, multihash.IDENTITY}[i%3]
		key := blockKey(mustSum(t, cid.Raw, mh, data))
		if i%7 == 0 {
			absent = append(absent, key)
			continue
		}
		entries = append(entries, tableEntry{key: key, off: int64(8 + i), length: uint32(i), sum: uint32(i * 3)})
	}
	dup := entries[5]
	entries = append(entries, tableEntry{key: dup.key, off: 99999, length: 1, sum: 2})
	path := filepath.Join(t.TempDir(), "x.tbl")
	tbl, err := encodeTable(entries)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, tbl, 0o644); err != nil {
		t.Fatal(err)
	}
	tb, err := openTable(path)
	if err != nil {
		t.Fatal(err)
	}
	defer tb.close()
	if tb.n != len(entries)-1 {
		t.Fatalf("table of %d entries with one block twice has %d", len(entries), tb.n)
	}
	for _, want := range entries[:len(entries)-1] {
		if want.key == dup.key {
			want = entries[len(entries)-1]
		}
		lo, hi, err := tb.find(want.key)
		if err != nil || hi != lo+1 {
			t.Fatalf("find(%x) = %d, %d, %v; want one entry", want.key, lo, hi, err)
		}
		if _, got := tb.entry(lo); got.off != want.off || got.length != want.length || got.sum != want.sum {
			t.Fatalf("find(%x) = %+v; want %d, %d, %d", want.key, got, want.off, want.length, want.sum)
		}
	}
	for _, k := range absent {
		if lo, hi, err := tb.find(k); lo != hi || err != nil {
			t.Fatalf("find(%x), not in the table = %d, %d, %v", k, lo, hi, err)
		}
	}
	n := 0
	if err := tb.each(func(e tableEntry) {
		if lo, hi, _ := tb.find(e.key); lo == hi {
			t.Fatalf("each gave %x, which find does not find", e.key)
		}
		n++
	}); err != nil || n != tb.n {
		t.Fatalf("each = %d entries, %v; want %d", n, err, tb.n)
	}
}

// TestEmbeddedTableDamage damages a sealed pack's table in its header, its
// fan-out, its entries and its length. Every time every block still reads
// (from the pack's index, which the table only speeds up), and Check
// reports the table as damaged, naming it.
func TestEmbeddedTableDamage(t *testing.T) {
	dir := t.TempDir()
	bs := makeBlocks(t, 30, 60, 3000)
	e := mustOpen(t, dir)
	putAll(t, e, bs)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	tbl := packFiles(t, dir, ".tbl")[0]
	whole, err := os.ReadFile(tbl)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(at int) []byte {
		b := append([]byte(nil), whole...)
		b[at] ^= 0x10
		return b
	}
	cases := []struct {
		name string
		data []byte
	}{
		{"magic", flip(2)},
		{"fan-out", flip(tableHeader + 4*200)},
		{"first-entry", flip(tableHeader + 3)},
		{"last-entry", flip(len(whole) - 1)},
		{"cut-short", whole[:len(whole)-5]},
		{"header-only", whole[:tableHeader]},
		{"bucket-sums", flip(tableHeader + 4*(1<<minFanBits) + 4*9)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(tbl, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			e := mustOpen(t, dir)
			wantAll(t, e, bs)
			n, err := e.Check(t.Context())
			var ae *acerr.Error
			if n != len(bs) || !errors.As(err, &ae) || ae.Kind != acerr.Integrity || ae.Path != tbl {
				t.Fatalf("Check = %d, %v; want %d and Integrity naming %s", n, err, len(bs), tbl)
			}
			e.Close()
		})
	}
}

// TestEmbeddedTableOfAnotherProcess: a reader that opened the store before
// a writer sealed its pack finds the pack's blocks on a miss, through the
// table, without reading the index into its map.
func TestEmbeddedTableOfAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	r := mustOpen(t, dir)
	w := mustOpen(t, dir)
	bs := makeBlocks(t, 31, 40, 3000)
	putAll(t, w, bs)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	wantAll(t, r, bs)
	r.mu.Lock()
	tables, mapped := len(r.tables), len(r.index)
	r.mu.Unlock()
	if tables != 1 || mapped != 0 {
		t.Fatalf("reader has %d tables and %d blocks in its map; want 1 and 0", tables, mapped)
	}
}

// TestEmbeddedOpenIsFree opens a store of many blocks in sealed packs and
// checks that the open costs nothing per block: what it leaves on the heap
// and the index bytes it reads stay under bounds that the same store read
// the old way (its tables removed, every index record read into a map)
// exceeds many times over. The bounds are on memory and bytes, not time.
func TestEmbeddedOpenIsFree(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 200_000
	}
	const packs = 4
	dir := t.TempDir()
	ctx := context.Background()
	var probe cid.Cid
	for p := range packs {
		e, err := OpenEmbedded(ctx, Config{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		for i := p * n / packs; i < (p+1)*n/packs; i++ {
			data := binary.LittleEndian.AppendUint64(nil, uint64(i))
			c := rawCIDOf(t, data)
			if err := e.Put(ctx, c, data); err != nil {
				t.Fatal(err)
			}
			probe = c
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// openCost opens the store, finds one block, and returns the heap the
	// store holds and the bytes it read.
	openCost := func() (heap int64, read uint64) {
		h, rd := heapInUse(), bytesRead()
		e, err := OpenEmbedded(ctx, Config{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := e.Has(ctx, probe); err != nil || !ok {
			t.Fatalf("Has(last block) = %v, %v", ok, err)
		}
		heap, read = int64(heapInUse()-h), bytesRead()-rd
		runtime.KeepAlive(e)
		e.Close()
		return heap, read
	}
	const heapBound, readBound = 1 << 20, 256 << 10
	heap, read := openCost()
	if heap > heapBound || (bytesRead() > 0 && read > readBound) {
		t.Errorf("open of %d blocks in %d sealed packs holds %d heap bytes and read %d bytes; want at most %d and %d", n, packs, heap, read, heapBound, readBound)
	}
	dropTables(t, dir)
	oldHeap, oldRead := openCost()
	if oldHeap < 8*heapBound || (bytesRead() > 0 && oldRead < 8*readBound) {
		t.Errorf("open of %d blocks read the old way holds %d heap bytes and read %d bytes; the bounds %d and %d would not tell it apart", n, oldHeap, oldRead, heapBound, readBound)
	}
	t.Logf("%d blocks: open holds %d heap bytes and reads %d bytes; read the old way, %d and %d", n, heap, read, oldHeap, oldRead)
}

// FuzzTable opens any bytes as a table, a pack's own or a multi-pack
// table: it is refused as damage or reads without panicking, and every
// entry its buckets hold is found by its key.
func FuzzTable(f *testing.F) {
	var entries []tableEntry
	for i := range 40 {
		data := binary.LittleEndian.AppendUint64(nil, uint64(i))
		entries = append(entries, tableEntry{key: blockKey(mustSum(f, cid.Raw, multihash.SHA2_256, data)), off: int64(8 + i), length: 8, sum: uint32(i)})
	}
	own, err := encodeTable(entries)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(own)
	var multi bytes.Buffer
	sorted, _ := encodeTable(entries) // sorted entries, read back below
	tb := tableFromBytes(f, sorted)
	packs := []tablePack{{"a", 100}, {"b", 200}}
	tw := newTableWriter(&multi, tb.n*2, tb.keyWidth, packs)
	multi.Write(make([]byte, tw.headSize()))
	tb.eachBucket(func(fb int, es []tableEntry) {
		for _, e := range es {
			for _, p := range []uint32{1, 0} {
				e.pack = p
				tw.add(e, bucketOf(e.key, tw.fanBits))
			}
		}
	})
	tb.close()
	head, err := tw.head()
	if err != nil {
		f.Fatal(err)
	}
	m := multi.Bytes()
	copy(m, head)
	f.Add(m)
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "t")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		tb, err := openTable(path)
		var d *damage
		if errors.As(err, &d) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		defer tb.close()
		tb.each(func(e tableEntry) {
			lo, hi, err := tb.find(e.key)
			if err != nil || lo == hi {
				t.Fatalf("entry %x of a table whose buckets check is not found: %d, %d, %v", e.key, lo, hi, err)
			}
		})
	})
}

// tableFromBytes opens the table b, written to a temporary file.
func tableFromBytes(t testing.TB, b []byte) *table {
	t.Helper()
	path := filepath.Join(t.TempDir(), "t.tbl")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	tb, err := openTable(path)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}
