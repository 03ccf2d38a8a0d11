package unixfs_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore/kubotest"
	"github.com/archivecache/archivecache/ipfsstore/storetest"
	"github.com/archivecache/archivecache/ipfsstore/unixfs"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

const k = unixfs.ChunkSize

// blocks is a map-backed block store for the importer and the reader. Put
// checks every block's hash, as a store would.
type blocks struct {
	mu   sync.Mutex
	m    map[string][]byte // by CID
	puts []cid.Cid         // in order
}

func newBlocks() *blocks { return &blocks{m: make(map[string][]byte)} }

func (b *blocks) put(_ context.Context, c cid.Cid, data []byte) error {
	got, err := c.Prefix().Sum(data)
	if err != nil {
		return err
	}
	if !got.Equals(c) {
		return fmt.Errorf("put %s: data hashes to %s", c, got)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.m[c.KeyString()] = append([]byte(nil), data...)
	b.puts = append(b.puts, c)
	return nil
}

func (b *blocks) get(ctx context.Context, c cid.Cid) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	d, ok := b.m[c.KeyString()]
	if !ok {
		return nil, acerr.E("test.get", "", acerr.NotExist, nil).WithCID(c.String())
	}
	return d, nil
}

// set stores data under c without checking it, as a hostile GetFunc would.
func (b *blocks) set(c cid.Cid, data []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.m[c.KeyString()] = data
}

func importBytes(t testing.TB, b *blocks, data []byte) (cid.Cid, uint64) {
	t.Helper()
	c, n, err := unixfs.Import(t.Context(), bytes.NewReader(data), b.put)
	if err != nil {
		t.Fatalf("Import(%d bytes) = %v", len(data), err)
	}
	return c, n
}

// Known answers, computed by kubo's `ipfs add --cid-version=1`.
var knownFiles = []struct {
	name string
	data func() []byte
	want string
}{
	{"empty", func() []byte { return nil }, storetest.EmptyFileCID},
	{"a", func() []byte { return []byte("a") }, storetest.ACID},
	{"hello", func() []byte { return []byte("hello world\n") }, storetest.HelloCID},
	{"zeros-300000", func() []byte { return make([]byte, 300000) }, storetest.Zeros300kCID},
	{"seeded-3MiB+17", func() []byte { return storetest.SeededBytes(1, 3<<20+17) }, storetest.Seeded3MiBCID},
	{"seeded-45MiB", func() []byte { return storetest.SeededBytes(2, 45<<20) }, storetest.Seeded45MiBCID},
}

func TestImportKnownCIDs(t *testing.T) {
	for _, f := range knownFiles {
		t.Run(f.name, func(t *testing.T) {
			data := f.data()
			c, n := importBytes(t, newBlocks(), data)
			if c.String() != f.want || n != uint64(len(data)) {
				t.Errorf("Import = %s, %d; want %s, %d", c, n, f.want, len(data))
			}
		})
	}
}

// TestImportMatchesKubo checks Import against a real daemon's `ipfs add`,
// at every size where the shape changes.
func TestImportMatchesKubo(t *testing.T) {
	d := kubotest.StartDaemon(t)
	sizes := []int{0, 1, k - 1, k, k + 1, 174 * k, 174*k + 1, 45<<20 + 3}
	for i, n := range sizes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			data := storetest.SeededBytes(uint64(900+i), n)
			b := newBlocks()
			c, size := importBytes(t, b, data)
			want := strings.TrimSpace(string(d.Run(t, bytes.NewReader(data), "add", "--cid-version=1", "-Q")))
			if c.String() != want || size != uint64(n) {
				t.Fatalf("Import(%d bytes) = %s, %d; ipfs add = %s", n, c, size, want)
			}
			// The daemon holds the same nodes as those Import put (the
			// root's CID already vouches for them; this shows a difference
			// where it starts).
			for _, bc := range b.puts {
				if bc.Type() != cid.DagProtobuf {
					continue
				}
				got := d.Run(t, nil, "block", "get", bc.String())
				if !bytes.Equal(got, b.m[bc.KeyString()]) {
					t.Fatalf("block %s differs from the daemon's", bc)
				}
			}
		})
	}
}

func TestReadBack(t *testing.T) {
	for i, n := range []int{0, 1, k - 1, k, k + 1, 3*k + 7, 174*k + 1} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			data := storetest.SeededBytes(uint64(i), n)
			b := newBlocks()
			c, _ := importBytes(t, b, data)
			f, err := unixfs.Open(t.Context(), b.get, c)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Size() != uint64(n) {
				t.Fatalf("Size() = %d, want %d", f.Size(), n)
			}
			got, err := io.ReadAll(f)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("ReadAll = %d bytes, %v; want the %d imported", len(got), err, n)
			}
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if m, err := f.WriteTo(&buf); err != nil || m != int64(n) || !bytes.Equal(buf.Bytes(), data) {
				t.Fatalf("WriteTo = %d, %v; want %d bytes equal to the file", m, err, n)
			}
		})
	}
}

func TestSeekRandom(t *testing.T) {
	data := storetest.SeededBytes(4, 180*k+12345) // two levels
	b := newBlocks()
	c, _ := importBytes(t, b, data)
	f, err := unixfs.Open(t.Context(), b.get, c)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := rand.New(rand.NewPCG(1, 2))
	size := int64(len(data))
	for i := range 500 {
		off := r.Int64N(size + 10)
		if i%10 == 0 {
			off = int64(r.IntN(180)) * k // on a leaf boundary
		}
		whence, arg := io.SeekStart, off
		switch i % 3 {
		case 1:
			cur, _ := f.Seek(0, io.SeekCurrent)
			whence, arg = io.SeekCurrent, off-cur
		case 2:
			whence, arg = io.SeekEnd, off-size
		}
		pos, err := f.Seek(arg, whence)
		if err != nil || pos != off {
			t.Fatalf("Seek(%d, %d) = %d, %v; want %d", arg, whence, pos, err, off)
		}
		buf := make([]byte, r.IntN(3*k))
		n, err := io.ReadFull(f, buf)
		want := data[min(off, size):min(off+int64(len(buf)), size)]
		if n != len(want) || !bytes.Equal(buf[:n], want) {
			t.Fatalf("read %d bytes at %d: got %d bytes (%v), want %d", len(buf), off, n, err, len(want))
		}
	}
	// Refused seeks keep the position.
	f.Seek(100, io.SeekStart)
	for _, s := range []struct {
		off    int64
		whence int
	}{{-1, io.SeekStart}, {-101, io.SeekCurrent}, {-size - 1, io.SeekEnd}, {0, 7}} {
		if _, err := f.Seek(s.off, s.whence); !acerr.Is(acerr.Invalid, err) {
			t.Errorf("Seek(%d, %d) = %v, want kind Invalid", s.off, s.whence, err)
		}
	}
	if pos, _ := f.Seek(0, io.SeekCurrent); pos != 100 {
		t.Errorf("position after refused seeks = %d, want 100", pos)
	}
	f.Close()
	if _, err := f.Read(make([]byte, 1)); err == nil {
		t.Error("Read after Close = nil error")
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestOpenRawLeafAndContext(t *testing.T) {
	b := newBlocks()
	data := storetest.SeededBytes(5, 5*k)
	c, _ := importBytes(t, b, data)
	ctx, cancel := context.WithCancel(t.Context())
	f, err := unixfs.Open(ctx, b.get, c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(f, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := f.Read(make([]byte, 10)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Read after cancel = %v, want context.Canceled", err)
	}
}

// TestOpenMissingChild checks that a missing leaf gives the GetFunc's
// error, naming the leaf.
func TestOpenMissingChild(t *testing.T) {
	b := newBlocks()
	c, _ := importBytes(t, b, storetest.SeededBytes(6, 2*k+1))
	second := b.puts[1]
	delete(b.m, second.KeyString())
	f, err := unixfs.Open(t.Context(), b.get, c)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(f)
	var ae *acerr.Error
	if !errors.As(err, &ae) || ae.Kind != acerr.NotExist || ae.CID != second.String() {
		t.Fatalf("reading with leaf %s missing = %v, want NotExist naming it", second, err)
	}
}

func pbCID(data []byte) cid.Cid {
	c, _ := cid.V1Builder{Codec: cid.DagProtobuf, MhType: multihash.SHA2_256}.Sum(data)
	return c
}

func rawCID(data []byte) cid.Cid {
	c, _ := cid.V1Builder{Codec: cid.Raw, MhType: multihash.SHA2_256}.Sum(data)
	return c
}

// pbLink encodes a PBLink with an empty name.
func pbLink(c cid.Cid, tsize uint64) []byte {
	h := []byte(c.KeyString())
	l := append([]byte{0x0a, byte(len(h))}, h...)
	l = append(l, 0x12, 0x00, 0x18)
	l = appendVarint(l, tsize)
	return append([]byte{0x12, byte(len(l))}, l...)
}

// fileNode encodes a dag-pb node over links with a UnixFS Data message
// of the given type, filesize and blocksizes.
func fileNode(typ byte, filesize uint64, sizes []uint64, links ...cid.Cid) []byte {
	var b []byte
	for _, c := range links {
		b = append(b, pbLink(c, 1)...)
	}
	d := []byte{0x08, typ, 0x18}
	d = appendVarint(d, filesize)
	for _, s := range sizes {
		d = append(d, 0x20)
		d = appendVarint(d, s)
	}
	b = append(b, 0x0a)
	b = appendVarint(b, uint64(len(d)))
	return append(b, d...)
}

func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// TestOpenHostile feeds the reader blocks that lie, through a GetFunc that
// does not check hashes. Each must give an error of the listed kind, at
// Open or while reading, and nothing may panic or hang.
func TestOpenHostile(t *testing.T) {
	leaf := []byte("0123456789")
	leafC := rawCID(leaf)
	good := fileNode(2, 20, []uint64{10, 10}, leafC, leafC)
	dir := []byte{0x0a, 0x02, 0x08, 0x01}
	selfC := pbCID([]byte("self")) // a node that links to itself
	cbor := cid.NewCidV1(cid.DagCBOR, leafC.Hash())

	tests := []struct {
		name  string
		root  []byte
		rootC cid.Cid // default: pbCID(root)
		extra map[cid.Cid][]byte
		kind  acerr.Kind
	}{
		{name: "truncated protobuf", root: good[:len(good)-3], kind: acerr.Invalid},
		{name: "truncated link", root: good[:20], kind: acerr.Invalid},
		{name: "garbage", root: []byte("\xff\xff\xff\xff"), kind: acerr.Invalid},
		{name: "no data", root: pbLink(leafC, 10), kind: acerr.Invalid},
		{name: "no type", root: []byte{0x0a, 0x02, 0x18, 0x00}, kind: acerr.Invalid},
		{name: "unknown type", root: fileNode(9, 0, nil), kind: acerr.Invalid},
		{name: "symlink", root: fileNode(4, 0, nil), kind: acerr.Invalid},
		{name: "directory", root: dir, kind: acerr.IsDir},
		{name: "hamt shard", root: fileNode(5, 0, nil), kind: acerr.IsDir},
		{name: "not a unixfs codec", root: []byte{0xa0}, rootC: cid.NewCidV1(cid.DagCBOR, rawCID([]byte{0xa0}).Hash()), kind: acerr.Invalid},
		{name: "blocksizes fewer than links", root: fileNode(2, 10, []uint64{10}, leafC, leafC), kind: acerr.Integrity},
		{name: "blocksizes more than links", root: fileNode(2, 20, []uint64{10, 10}, leafC), kind: acerr.Invalid},
		{name: "filesize not the sum", root: fileNode(2, 25, []uint64{10, 10}, leafC, leafC), kind: acerr.Integrity},
		{name: "blocksizes overflow", root: fileNode(2, 0, []uint64{1 << 63, 1 << 63}, leafC, leafC), kind: acerr.Integrity},
		{name: "oversized filesize", root: fileNode(2, 1<<63, []uint64{1 << 63}, leafC), kind: acerr.Integrity},
		{name: "leaf shorter than claimed", root: fileNode(2, 21, []uint64{10, 11}, leafC, leafC), kind: acerr.Integrity},
		{name: "leaf longer than claimed", root: fileNode(2, 19, []uint64{10, 9}, leafC, leafC), kind: acerr.Integrity},
		{name: "child is a directory", root: fileNode(2, 4, []uint64{4}, pbCID(dir)), extra: map[cid.Cid][]byte{pbCID(dir): dir}, kind: acerr.Integrity},
		{name: "child codec", root: fileNode(2, 10, []uint64{10}, cbor), extra: map[cid.Cid][]byte{cbor: leaf}, kind: acerr.Invalid},
		{name: "child missing", root: fileNode(2, 10, []uint64{10}, rawCID([]byte("gone"))), kind: acerr.NotExist},
		{name: "cycle", rootC: selfC, root: fileNode(2, 1000, []uint64{1000}, selfC), kind: acerr.Integrity},
		{name: "block too large", root: append(fileNode(2, 0, nil), make([]byte, schema.MaxForeignBlockSize)...), kind: acerr.TooLarge},
	}
	for _, readAt := range []bool{false, true} {
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%s/readat=%v", tc.name, readAt), func(t *testing.T) {
				b := newBlocks()
				b.set(leafC, leaf)
				for c, d := range tc.extra {
					b.set(c, d)
				}
				rc := tc.rootC
				if !rc.Defined() {
					rc = pbCID(tc.root)
				}
				b.set(rc, tc.root)
				err := openAndRead(t, b, rc, readAt)
				if err == nil {
					t.Fatalf("no error, want kind %q", tc.kind)
				}
				if !acerr.Is(tc.kind, err) {
					t.Fatalf("err = %v (kind %q), want kind %q", err, acerr.KindOf(err), tc.kind)
				}
				if strings.ContainsAny(err.Error(), "\r\n") {
					t.Errorf("error is not one line: %q", err)
				}
			})
		}
		// The good node itself reads.
		b := newBlocks()
		b.set(leafC, leaf)
		b.set(pbCID(good), good)
		if err := openAndRead(t, b, pbCID(good), readAt); err != nil {
			t.Fatalf("good node (readat=%v): %v", readAt, err)
		}
	}
}

func openAndRead(t *testing.T, b *blocks, c cid.Cid, readAt bool) error {
	t.Helper()
	f, err := unixfs.Open(t.Context(), b.get, c)
	if err != nil {
		return err
	}
	defer f.Close()
	if !readAt {
		_, err = io.Copy(io.Discard, f)
		return err
	}
	_, err = f.ReadAt(t.Context(), make([]byte, f.Size()), 0)
	return err
}

func TestImportErrors(t *testing.T) {
	errBroken := errors.New("source is broken")
	for _, n := range []int{0, 100, k, k + 1, 10*k + 3} {
		_, _, err := unixfs.Import(t.Context(), io.MultiReader(bytes.NewReader(make([]byte, n)), errReader{errBroken}), newBlocks().put)
		if !errors.Is(err, errBroken) {
			t.Errorf("Import(%d bytes, then an error) = %v, want %v", n, err, errBroken)
		}
	}

	// A failing put stops the import at once.
	errFull := acerr.E("test.put", "", acerr.IO, errors.New("disk full"))
	puts := 0
	_, _, err := unixfs.Import(t.Context(), bytes.NewReader(make([]byte, 20*k)), func(context.Context, cid.Cid, []byte) error {
		if puts++; puts == 3 {
			return errFull
		}
		return nil
	})
	if err != errFull || puts != 3 {
		t.Errorf("Import with put failing at 3 = %v after %d puts; want %v after 3", err, puts, errFull)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, n := range []int{10, 20 * k} {
		if _, _, err := unixfs.Import(ctx, bytes.NewReader(make([]byte, n)), newBlocks().put); !errors.Is(err, context.Canceled) {
			t.Errorf("Import(%d bytes, cancelled) = %v, want context.Canceled", n, err)
		}
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// TestImportBoundedMemory checks that a large import allocates a bounded
// amount whatever the file's size: its chunks circulate, none is made per
// leaf.
func TestImportBoundedMemory(t *testing.T) {
	size := int64(512 << 20)
	if testing.Short() {
		size = 64 << 20
	}
	discard := func(context.Context, cid.Cid, []byte) error { return nil }
	var im unixfs.Importer
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, n, err := im.Import(t.Context(), io.LimitReader(zeros{}, size), discard); err != nil || n != uint64(size) {
		t.Fatalf("Import = %d, %v", n, err)
	}
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	limit := uint64(2*runtime.GOMAXPROCS(0)+2)*k + 8<<20
	t.Logf("importing %d MiB allocated %.1f MiB", size>>20, float64(alloc)/(1<<20))
	if alloc > limit {
		t.Errorf("importing %d MiB allocated %d bytes, want at most %d", size>>20, alloc, limit)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// seeded is an endless reader of pseudo-random bytes.
type seeded struct{ r *rand.ChaCha8 }

func (s seeded) Read(p []byte) (int, error) { return s.r.Read(p) }

func BenchmarkImport(b *testing.B) {
	b.Run("size=512MiB", func(b *testing.B) {
		const size = 512 << 20
		b.SetBytes(size)
		var im unixfs.Importer
		for b.Loop() {
			bs := newBlocks()
			r := io.LimitReader(seeded{rand.NewChaCha8([32]byte{1})}, size)
			if _, _, err := im.Import(b.Context(), r, bs.putUnchecked); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("files=10000", func(b *testing.B) {
		files := make([][]byte, 10000)
		var total int64
		r := rand.New(rand.NewPCG(1, 1))
		for i := range files {
			files[i] = storetest.SeededBytes(uint64(i), 100+r.IntN(16<<10))
			total += int64(len(files[i]))
		}
		b.SetBytes(total)
		var im unixfs.Importer
		for b.Loop() {
			bs := newBlocks()
			for _, f := range files {
				if _, _, err := im.Import(b.Context(), bytes.NewReader(f), bs.putUnchecked); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

func BenchmarkRead(b *testing.B) {
	const size = 64 << 20
	bs := newBlocks()
	c, _, err := unixfs.Import(b.Context(), io.LimitReader(seeded{rand.NewChaCha8([32]byte{2})}, size), bs.put)
	if err != nil {
		b.Fatal(err)
	}
	get := func(ctx context.Context, c cid.Cid) ([]byte, error) {
		d, err := bs.get(ctx, c)
		if err == nil {
			sha256.Sum256(d) // as a store's Get would
		}
		return d, err
	}
	b.SetBytes(size)
	for b.Loop() {
		f, err := unixfs.Open(b.Context(), get, c)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, f); err != nil {
			b.Fatal(err)
		}
	}
}

// putUnchecked stores a copy of data, trusting the importer's CID as the
// stores do.
func (b *blocks) putUnchecked(_ context.Context, c cid.Cid, data []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.m[c.KeyString()] = append([]byte(nil), data...)
	return nil
}
