package ipfsstore

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-datastore"
	pebbleds "github.com/ipfs/go-ds-pebble"
)

// BenchmarkIndexOptions compares ways of finding a block in a store of
// many: an op is what a short command pays, an open and 100 lookups of
// random held blocks (Has, then Get of the block's data, or of its
// location for pebble). The options:
//
//   - map: every index file read into a map at open (packs without a
//     table, the only way before tables);
//   - table: each sealed pack's own table, mapped and searched (table.go),
//     as before tables were merged;
//   - merged: the tables as the store keeps them, the small ones merged
//     into multi-pack tables (multitable.go);
//   - pebble: a pebble database of multihash → location beside the packs,
//     as a persistent index would be (its lookups only: no block is read).
//
// The store holds n blocks of 8 bytes in p packs, each sealed by an open
// and close of its own. heapMB is the heap the open leaves in use; readMB
// the bytes the open and lookups read with read(2) (mapped pages are not
// counted); tables the tables a lookup searches.
//
//	go test ./ipfsstore -run '^$' -bench IndexOptions -benchtime 20x
func BenchmarkIndexOptions(b *testing.B) {
	for _, sz := range []struct{ blocks, packs int }{{10_000, 1}, {1_000_000, 1}, {1_000_000, 200}, {1_000_000, 1000}} {
		b.Run(fmt.Sprintf("blocks=%d/packs=%d", sz.blocks, sz.packs), func(b *testing.B) {
			base := b.TempDir()
			cids := buildIndexStore(b, base, sz.blocks, sz.packs)
			for _, opt := range []string{"map", "table", "merged", "pebble"} {
				b.Run("index="+opt, func(b *testing.B) {
					dir := indexVariant(b, base, opt, cids)
					open, lookup := indexOption(b, opt, dir)
					r := rand.New(rand.NewPCG(7, 8))
					heap, read := heapInUse(), bytesRead()
					s := open()
					heapMB := float64(int64(heapInUse()-heap)) / (1 << 20)
					tables := -1
					if e, ok := s.(*Embedded); ok {
						tables = tablesInUse(e)
					}
					lookupAll(b, s, lookup, cids, r)
					readMB := float64(bytesRead()-read) / (1 << 20)
					s.Close()
					for b.Loop() {
						s := open()
						lookupAll(b, s, lookup, cids, r)
						s.Close()
					}
					b.ReportMetric(heapMB, "heapMB")
					b.ReportMetric(readMB, "readMB")
					if tables >= 0 {
						b.ReportMetric(float64(tables), "tables")
					}
				})
			}
		})
	}
}

// indexed is an opened index of one of the options.
type indexed interface{ Close() error }

func lookupAll(b *testing.B, s indexed, lookup func(indexed, cid.Cid) error, cids []cid.Cid, r *rand.Rand) {
	for range 100 {
		if err := lookup(s, cids[r.IntN(len(cids))]); err != nil {
			b.Fatal(err)
		}
	}
}

// buildIndexStore fills dir with n blocks of 8 bytes in p sealed packs.
func buildIndexStore(b *testing.B, dir string, n, p int) []cid.Cid {
	b.Helper()
	ctx := context.Background()
	cids := make([]cid.Cid, n)
	for i := range p {
		e, err := OpenEmbedded(ctx, Config{Dir: dir})
		if err != nil {
			b.Fatal(err)
		}
		for j := i * n / p; j < (i+1)*n/p; j++ {
			data := binary.LittleEndian.AppendUint64(nil, uint64(j))
			cids[j] = rawCIDOf(b, data)
			if err := e.Put(ctx, cids[j], data); err != nil {
				b.Fatal(err)
			}
		}
		if err := e.Close(); err != nil {
			b.Fatal(err)
		}
	}
	return cids
}

// indexVariant returns the directory of the store at base as option opt
// reads it: the store itself for merged; for map, a copy (hard links)
// without the tables, for table one without the multi-pack tables; for
// pebble, a database of the tables' entries.
func indexVariant(b *testing.B, base, opt string, cids []cid.Cid) string {
	b.Helper()
	switch opt {
	case "merged":
		return base
	case "map", "table":
		exts := []string{".pack", ".idx"}
		if opt == "table" {
			exts = append(exts, ".tbl")
		}
		dir := b.TempDir()
		if err := os.Mkdir(filepath.Join(dir, packsDir), 0o755); err != nil {
			b.Fatal(err)
		}
		for _, ext := range exts {
			for _, f := range packFiles(b, base, ext) {
				if err := os.Link(f, filepath.Join(dir, packsDir, filepath.Base(f))); err != nil {
					b.Fatal(err)
				}
			}
		}
		return dir
	}
	dir := b.TempDir()
	d, err := pebbleds.NewDatastore(dir)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	e := mustOpen(b, base)
	batch, err := d.Batch(ctx)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range cids {
		e.mu.Lock()
		loc, ok := e.locateLocked(blockKey(c))
		e.mu.Unlock()
		if !ok {
			b.Fatalf("%v is not in the store", c)
		}
		v := binary.LittleEndian.AppendUint64(nil, uint64(loc.off))
		v = binary.LittleEndian.AppendUint32(v, loc.length)
		v = binary.LittleEndian.AppendUint32(v, loc.sum)
		if err := batch.Put(ctx, datastore.NewKey(blockKey(c)), v); err != nil {
			b.Fatal(err)
		}
	}
	e.Close()
	if err := batch.Commit(ctx); err != nil {
		b.Fatal(err)
	}
	if err := d.Close(); err != nil {
		b.Fatal(err)
	}
	return dir
}

// indexOption returns how option opt opens dir and looks a block up.
func indexOption(b *testing.B, opt, dir string) (func() indexed, func(indexed, cid.Cid) error) {
	ctx := context.Background()
	if opt == "pebble" {
		return func() indexed {
				d, err := pebbleds.NewDatastore(dir)
				if err != nil {
					b.Fatal(err)
				}
				return d
			}, func(s indexed, c cid.Cid) error {
				v, err := s.(*pebbleds.Datastore).Get(ctx, datastore.NewKey(blockKey(c)))
				if err == nil && len(v) != 16 {
					err = fmt.Errorf("location of %v is %d bytes", c, len(v))
				}
				return err
			}
	}
	return func() indexed {
			e, err := OpenEmbedded(ctx, Config{Dir: dir})
			if err != nil {
				b.Fatal(err)
			}
			return e
		}, func(s indexed, c cid.Cid) error {
			e := s.(*Embedded)
			if ok, err := e.Has(ctx, c); err != nil || !ok {
				return fmt.Errorf("Has(%v) = %v, %v", c, ok, err)
			}
			_, err := e.Get(ctx, c)
			return err
		}
}

// heapInUse is the heap in use after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
