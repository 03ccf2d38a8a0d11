package ipfsstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// Benchmarks of the embedded store. Every import is timed up to and
// including Close, which fdatasyncs: the figures are durable bytes per
// second. They write under os.TempDir() (set TMPDIR to move them). Before
// each timed import, quiesce flushes what earlier runs left to write and
// collects garbage. The peakRSS metric is the whole test process's: it
// means something when the benchmark runs alone.
//
//	go test ./ipfsstore -run '^$' -bench Embedded -benchtime 1x -count 3

// smallFiles returns the small-file workload: n files of 1 to 64 KiB from
// a seeded PRNG, and their total size.
func smallFiles(n int) ([][]byte, int64) {
	r := rand.New(rand.NewPCG(1, 2))
	src := rand.NewChaCha8([32]byte{1})
	files := make([][]byte, n)
	var total int64
	for i := range files {
		files[i] = make([]byte, 1+r.IntN(64<<10))
		src.Read(files[i])
		total += int64(len(files[i]))
	}
	return files, total
}

// seededReader returns n bytes of seeded pseudo-random data without
// holding them in memory and without spending the benchmark's CPU on a
// PRNG: it repeats 4 MiB of seeded bytes and stamps the offset into every
// 4 KiB, so no two chunks (or blocks) are equal.
func seededReader(seed byte, n int64) io.Reader {
	pool := make([]byte, 4<<20)
	rand.NewChaCha8([32]byte{seed}).Read(pool)
	return &stampedReader{pool: pool, n: n}
}

type stampedReader struct {
	pool []byte
	pos  int64
	n    int64
}

func (r *stampedReader) Read(p []byte) (int, error) {
	if r.pos >= r.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.n-r.pos)]
	for done := 0; done < len(p); {
		at := (r.pos + int64(done)) % int64(len(r.pool))
		done += copy(p[done:], r.pool[at:])
	}
	// Stamp the absolute offset at the start of every 4 KiB page.
	for off := (r.pos + 4095) &^ 4095; off+8 <= r.pos+int64(len(p)); off += 4096 {
		binary.LittleEndian.PutUint64(p[off-r.pos:], uint64(off))
	}
	r.pos += int64(len(p))
	return len(p), nil
}

// smallFilesDir writes the small-file workload into a new directory under
// os.TempDir() and returns the files' paths and total size.
func smallFilesDir(b *testing.B) ([]string, int64) {
	b.Helper()
	dir := filepath.Join(b.TempDir(), "src")
	files, total := smallFiles(10000)
	paths := make([]string, len(files))
	for i, f := range files {
		sub := filepath.Join(dir, fmt.Sprint(i%100))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			b.Fatal(err)
		}
		paths[i] = filepath.Join(sub, fmt.Sprint(i))
		if err := os.WriteFile(paths[i], f, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return paths, total
}

// BenchmarkEmbeddedAddSmallFiles imports 10,000 files of 1 to 64 KiB,
// reading them from disk as a command would, and closes the store.
// Compare BenchmarkCpR.
func BenchmarkEmbeddedAddSmallFiles(b *testing.B) {
	paths, total := smallFilesDir(b)
	b.SetBytes(total)
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		dir := benchDir(b, "")
		quiesce()
		b.StartTimer()
		e, err := OpenEmbedded(ctx, Config{Dir: dir})
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range paths {
			f, err := os.Open(p)
			if err != nil {
				b.Fatal(err)
			}
			if _, _, err := e.AddFile(ctx, f); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
		if err := e.Close(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(dir)
		b.StartTimer()
	}
	b.ReportMetric(float64(len(paths))*float64(b.N)/b.Elapsed().Seconds(), "files/s")
}

// BenchmarkCpR is the yardstick for BenchmarkEmbeddedAddSmallFiles: `cp -r`
// of the same 10,000 files (which, unlike the import, syncs nothing).
func BenchmarkCpR(b *testing.B) {
	cp, err := exec.LookPath("cp")
	if err != nil {
		b.Skip("no cp command")
	}
	paths, total := smallFilesDir(b)
	src := filepath.Dir(filepath.Dir(paths[0]))
	b.SetBytes(total)
	for b.Loop() {
		b.StopTimer()
		dir := benchDir(b, "")
		quiesce()
		b.StartTimer()
		if out, err := exec.Command(cp, "-r", src, filepath.Join(dir, "dst")).CombinedOutput(); err != nil {
			b.Fatalf("cp -r: %v: %s", err, out)
		}
		b.StopTimer()
		os.RemoveAll(dir)
		b.StartTimer()
	}
	b.ReportMetric(float64(len(paths))*float64(b.N)/b.Elapsed().Seconds(), "files/s")
}

func BenchmarkEmbeddedAddLargeFile(b *testing.B) {
	for _, size := range []int64{64 << 20, 512 << 20} {
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			b.SetBytes(size)
			ctx := context.Background()
			for b.Loop() {
				b.StopTimer()
				dir := benchDir(b, "")
				quiesce()
				b.StartTimer()
				e, err := OpenEmbedded(ctx, Config{Dir: dir})
				if err != nil {
					b.Fatal(err)
				}
				if _, n, err := e.AddFile(ctx, seededReader(2, size)); err != nil || int64(n) != size {
					b.Fatalf("AddFile = %d, %v", n, err)
				}
				if err := e.Close(); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				os.RemoveAll(dir)
				b.StartTimer()
			}
			b.ReportMetric(peakRSSMB(), "peakRSS-MB")
		})
	}
}

// BenchmarkSequentialWrite is the yardstick for the large-file import:
// the same bytes written to one file in 1 MiB writes, then fdatasync.
func BenchmarkSequentialWrite(b *testing.B) {
	const size = 512 << 20
	b.SetBytes(size)
	buf := make([]byte, 1<<20)
	for b.Loop() {
		b.StopTimer()
		dir := benchDir(b, "")
		src := seededReader(2, size)
		quiesce()
		b.StartTimer()
		f, err := os.Create(filepath.Join(dir, "f"))
		if err != nil {
			b.Fatal(err)
		}
		for {
			n, err := src.Read(buf)
			if n > 0 {
				if _, err := f.Write(buf[:n]); err != nil {
					b.Fatal(err)
				}
			}
			if err == io.EOF {
				break
			}
		}
		if err := datasync(f); err != nil {
			b.Fatal(err)
		}
		f.Close()
		b.StopTimer()
		os.RemoveAll(dir)
		b.StartTimer()
	}
}

func BenchmarkEmbeddedGet(b *testing.B) {
	for _, size := range []int{4 << 10, 256 << 10} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			ctx := context.Background()
			e, err := OpenEmbedded(ctx, Config{Dir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			src := rand.NewChaCha8([32]byte{3})
			cids := make([]cid.Cid, 1000)
			for i := range cids {
				data := make([]byte, size)
				src.Read(data)
				cids[i] = rawCIDOf(b, data)
				if err := e.Put(ctx, cids[i], data); err != nil {
					b.Fatal(err)
				}
			}
			if err := e.Sync(ctx); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			i := 0
			for b.Loop() {
				if _, err := e.Get(ctx, cids[i%len(cids)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkEmbeddedHasMiss is the cost of a miss, which rescans the index
// files of other processes (here: one other pack).
func BenchmarkEmbeddedHasMiss(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	w, err := OpenEmbedded(ctx, Config{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	putAll(b, w, makeBlocks(b, 1, 100, 1000))
	w.Close()
	e, err := OpenEmbedded(ctx, Config{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	missing := rawCIDOf(b, []byte("missing"))
	for b.Loop() {
		if ok, err := e.Has(ctx, missing); err != nil || ok {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkEmbeddedOpen opens a home holding the 10,000-file workload.
func BenchmarkEmbeddedOpen(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	e, err := OpenEmbedded(ctx, Config{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	files, _ := smallFiles(10000)
	for _, f := range files {
		if _, _, err := e.AddFile(ctx, bytes.NewReader(f)); err != nil {
			b.Fatal(err)
		}
	}
	e.Close()
	for b.Loop() {
		e, err := OpenEmbedded(ctx, Config{Dir: dir})
		if err != nil {
			b.Fatal(err)
		}
		e.Close()
	}
}

// BenchmarkEmbeddedReadFile reads a 64 MiB file back through OpenFile.
func BenchmarkEmbeddedReadFile(b *testing.B) {
	const size = 64 << 20
	ctx := context.Background()
	e, err := OpenEmbedded(ctx, Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	c, _, err := e.AddFile(ctx, seededReader(4, size))
	if err != nil {
		b.Fatal(err)
	}
	if err := e.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	for b.Loop() {
		f, err := e.OpenFile(ctx, c)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, f); err != nil || n != size {
			b.Fatal(n, err)
		}
		f.Close()
	}
}

// BenchmarkEmbeddedReadAt reads 4 KiB at random offsets of a 64 MiB file
// with ReadAt, as a mount's reads would.
func BenchmarkEmbeddedReadAt(b *testing.B) {
	const size = 64 << 20
	ctx := context.Background()
	e, err := OpenEmbedded(ctx, Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	c, _, err := e.AddFile(ctx, seededReader(5, size))
	if err != nil {
		b.Fatal(err)
	}
	if err := e.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	f, err := e.OpenFile(ctx, c)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	r := rand.New(rand.NewPCG(5, 6))
	p := make([]byte, 4<<10)
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		if n, err := f.ReadAt(ctx, p, r.Int64N(size-int64(len(p)))); err != nil || n != len(p) {
			b.Fatal(n, err)
		}
	}
}

// benchDir makes a directory for one run under parent ("" for
// os.TempDir()); it is removed when the benchmark ends, even if it fails.
func benchDir(b *testing.B, parent string) string {
	b.Helper()
	dir, err := os.MkdirTemp(parent, "ipfsstore-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func rawCIDOf(tb testing.TB, data []byte) cid.Cid {
	tb.Helper()
	c, err := cid.V1Builder{Codec: cid.Raw, MhType: multihash.SHA2_256}.Sum(data)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}
