package ipfsstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/archivecache/archivecache/acerr"
)

// TestEmbeddedRollBoundsIndex puts many more blocks than a pack holds:
// the in-memory index never holds more than one pack's blocks, every
// rolled pack is sealed with a mapped table and a filter, and every block
// reads back, before and after a reopen.
func TestEmbeddedRollBoundsIndex(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	e := mustOpen(t, dir)
	const perPack = 50
	e.rollBlocks = perPack
	bs := makeBlocks(t, 70, 420, 3000)
	most := 0
	for _, b := range bs {
		if err := e.Put(ctx, b.c, b.data); err != nil {
			t.Fatal(err)
		}
		e.mu.Lock()
		most = max(most, len(e.index))
		e.mu.Unlock()
	}
	if most > perPack {
		t.Errorf("the in-memory index held %d blocks; a pack holds %d", most, perPack)
	}
	e.mu.Lock()
	rolled := 0
	for id, p := range e.packs {
		if p.w == nil || !p.w.sealed {
			continue
		}
		rolled++
		if p.table == nil || p.bloom == nil {
			t.Errorf("rolled pack %s: table %v, filter %v; want both", p.name, p.table != nil, p.bloom != nil)
		}
		for k, loc := range e.index {
			if loc.pack == uint32(id) {
				t.Errorf("block %x of rolled pack %s is still in the in-memory index", k, p.name)
				break
			}
		}
	}
	e.mu.Unlock()
	if want := len(bs)/perPack - 1; rolled < want {
		t.Errorf("%d packs rolled, want at least %d", rolled, want)
	}
	// Rolled packs are sealed while the store is open: only the current
	// pack has a marker.
	if m := packFiles(t, dir, ".unsealed"); len(m) != 1 {
		t.Errorf("markers %v; want the current pack's alone", m)
	}
	if got := len(packFiles(t, dir, ".tbl")); got != rolled {
		t.Errorf("%d tables for %d rolled packs", got, rolled)
	}
	wantAll(t, e, bs)
	// Putting them again writes nothing: the tables find them.
	before := len(packFiles(t, dir, ".pack"))
	putAll(t, e, bs)
	if got := len(packFiles(t, dir, ".pack")); got != before {
		t.Errorf("putting held blocks again made %d packs, had %d", got, before)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	r := mustOpen(t, dir)
	wantAll(t, r, bs)
	if n, err := r.Check(ctx); err != nil || n != len(bs) {
		t.Fatalf("Check = %d, %v; want %d, nil", n, err, len(bs))
	}
}

// TestEmbeddedFailedWriteKeepsRolledPacks fails the writes after some
// packs were rolled: Close gives back the current pack's unsynced blocks
// and keeps every rolled one.
func TestEmbeddedFailedWriteKeepsRolledPacks(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	e := mustOpen(t, dir)
	e.rollBlocks = 40
	kept, lost := makeBlocks(t, 71, 130, 3000), makeBlocks(t, 72, 30, 200000)
	putAll(t, e, kept[:121]) // three rolled packs; the 121st block starts a fourth
	if got := len(packFiles(t, dir, ".tbl")); got != 3 {
		t.Fatalf("%d packs sealed, want 3", got)
	}
	breakWrites(t, e)
	for _, b := range append(kept[121:], lost...) {
		if e.Put(ctx, b.c, b.data) != nil {
			break
		}
	}
	if err := e.Close(); !acerr.Is(acerr.IO, err) {
		t.Fatalf("Close after a failed write = %v, want IO", err)
	}
	if m := packFiles(t, dir, ".unsealed"); len(m) != 0 {
		t.Errorf("markers left: %v", m)
	}
	r := mustOpen(t, dir)
	wantAll(t, r, kept[:120])
	if n, err := r.Check(ctx); err != nil || n != 120 {
		t.Errorf("Check = %d, %v; want 120, nil", n, err)
	}
}

// TestBloomNoFalseNegatives adds keys to a filter: every one is found,
// and few others are.
func TestBloomNoFalseNegatives(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	key := func() string {
		var b [34]byte
		b[0], b[1] = 0x12, 32
		for i := 2; i < len(b); i++ {
			b[i] = byte(r.Uint32())
		}
		return string(b[:])
	}
	for _, n := range []int{1, 100, 131072} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			f := newBloom(n)
			keys := make([]string, n)
			for i := range keys {
				keys[i] = key()
				f.add(keys[i])
			}
			for _, k := range keys {
				if !f.mayHave(k) {
					t.Fatalf("key %x added, not found", k)
				}
			}
			const others = 100000
			fp := 0
			for range others {
				if f.mayHave(key()) {
					fp++
				}
			}
			// 0.007% expected: 7 of 100,000.
			if fp > others/1000 {
				t.Errorf("%d false positives in %d", fp, others)
			}
		})
	}
}

// BenchmarkEmbeddedPutManySmall puts small blocks across many rolls.
func BenchmarkEmbeddedPutManySmall(b *testing.B) {
	bs := makeBlocks(b, 73, 20000, 200)
	for b.Loop() {
		e := mustOpen(b, b.TempDir())
		e.rollBlocks = 2000
		for _, x := range bs {
			if err := e.Put(context.Background(), x.c, x.data); err != nil {
				b.Fatal(err)
			}
		}
		if err := e.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
