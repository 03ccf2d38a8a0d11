package ipfsstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/archivecache/archivecache/acerr"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

type testBlock struct {
	c    cid.Cid
	data []byte
}

// makeBlocks returns n raw blocks of 1 to maxSize bytes from a PRNG
// seeded with seed.
func makeBlocks(t testing.TB, seed uint64, n, maxSize int) []testBlock {
	t.Helper()
	return makeBlocksNoT(seed, n, maxSize)
}

func mustOpen(t testing.TB, dir string) *Embedded {
	t.Helper()
	e, err := OpenEmbedded(context.Background(), Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func putAll(t testing.TB, s Store, bs []testBlock) {
	t.Helper()
	for _, b := range bs {
		if err := s.Put(context.Background(), b.c, b.data); err != nil {
			t.Fatalf("Put(%s) = %v", b.c, err)
		}
	}
}

func wantAll(t testing.TB, s Store, bs []testBlock) {
	t.Helper()
	for _, b := range bs {
		got, err := s.Get(context.Background(), b.c)
		if err != nil {
			t.Fatalf("Get(%s) = %v", b.c, err)
		}
		if !bytes.Equal(got, b.data) {
			t.Fatalf("Get(%s) = other bytes", b.c)
		}
	}
}

func packFiles(t testing.TB, dir, ext string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, packsDir, "*"+ext))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// dropTables removes the tables of the store's packs, which are then read
// from their index files, as packs written before tables existed are.
// Tests that damage or rewrite an index call it.
func dropTables(t testing.TB, dir string) {
	t.Helper()
	for _, tbl := range packFiles(t, dir, ".tbl") {
		if err := os.Remove(tbl); err != nil {
			t.Fatal(err)
		}
	}
}

func TestEmbeddedReopen(t *testing.T) {
	dir := t.TempDir()
	bs := makeBlocks(t, 1, 300, 20000)
	e := mustOpen(t, dir)
	putAll(t, e, bs)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = mustOpen(t, dir)
	wantAll(t, e, bs)
	n, err := e.Check(t.Context())
	if err != nil || n != len(bs) {
		t.Fatalf("Check = %d, %v; want %d, nil", n, err, len(bs))
	}
	// A second writing session gets a pack of its own.
	more := makeBlocks(t, 2, 10, 1000)
	putAll(t, e, more)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if got := len(packFiles(t, dir, ".pack")); got != 2 {
		t.Errorf("after two writing sessions: %d packs, want 2", got)
	}
	e = mustOpen(t, dir)
	wantAll(t, e, append(bs, more...))
}

func TestEmbeddedOpenCreatesNothing(t *testing.T) {
	dir := t.TempDir()
	e := mustOpen(t, dir)
	bs := makeBlocks(t, 3, 1, 10)
	if _, err := e.Get(t.Context(), bs[0].c); !acerr.Is(acerr.NotExist, err) {
		t.Fatalf("Get on an empty store = %v, want NotExist", err)
	}
	if err := e.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if m := packFiles(t, dir, ""); len(m) != 0 {
		t.Fatalf("a store that was only read has files %v", m)
	}
}

func TestEmbeddedUnsyncedInvisibleSyncedVisible(t *testing.T) {
	dir := t.TempDir()
	a, b := mustOpen(t, dir), mustOpen(t, dir)
	ctx := t.Context()
	bs := makeBlocks(t, 4, 2, 1000)
	putAll(t, a, bs[:1])
	if ok, err := b.Has(ctx, bs[0].c); err != nil || ok {
		t.Fatalf("b.Has(block a has not synced) = %v, %v; want false", ok, err)
	}
	if err := a.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.Has(ctx, bs[0].c); err != nil || !ok {
		t.Fatalf("b.Has(block a synced) = %v, %v; want true", ok, err)
	}
	// The index of a is read from where the last scan stopped.
	putAll(t, a, bs[1:])
	if err := a.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	wantAll(t, b, bs)
}

// TestEmbeddedTwoWriters has two stores on one directory write at the same
// time; each must find every block the other has synced, through the scan a
// miss starts.
func TestEmbeddedTwoWriters(t *testing.T) {
	dir := t.TempDir()
	stores := []*Embedded{mustOpen(t, dir), mustOpen(t, dir)}
	sets := [][]testBlock{makeBlocks(t, 10, 200, 30000), makeBlocks(t, 11, 200, 30000)}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for i, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for j, b := range sets[i] {
				if err := s.Put(ctx, b.c, b.data); err != nil {
					errs <- err
					return
				}
				if j%17 == 0 {
					if err := s.Sync(ctx); err != nil {
						errs <- err
						return
					}
				}
			}
			errs <- s.Sync(ctx)
		}()
	}
	wg.Wait()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	wantAll(t, stores[0], sets[1])
	wantAll(t, stores[1], sets[0])
	if got := len(packFiles(t, dir, ".pack")); got != 2 {
		t.Errorf("two writers made %d packs, want 2", got)
	}
}

func TestEmbeddedRoll(t *testing.T) {
	dir := t.TempDir()
	e, err := openEmbedded(t.Context(), dir, 256<<10)
	if err != nil {
		t.Fatal(err)
	}
	bs := makeBlocks(t, 5, 60, 40000) // about 1.2 MB
	putAll(t, e, bs)
	wantAll(t, e, bs) // from retired packs, the current one and the buffer
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	packs := packFiles(t, dir, ".pack")
	if len(packs) < 4 {
		t.Fatalf("%d packs after writing 1.2 MB with a 256 KiB roll size, want at least 4", len(packs))
	}
	for _, p := range packs {
		if st, err := os.Stat(p); err != nil || st.Size() > 256<<10+40000 {
			t.Errorf("pack %s: %v, size %d", filepath.Base(p), err, st.Size())
		}
	}
	e = mustOpen(t, dir)
	wantAll(t, e, bs)
}

// TestEmbeddedConcurrentRollAndSync has many goroutines put blocks into a
// store that rolls its pack every few hundred KiB while others Sync, then
// checks that a fresh open finds every block: no index record may be lost
// between a roll and a Sync.
func TestEmbeddedConcurrentRollAndSync(t *testing.T) {
	dir := t.TempDir()
	e, err := openEmbedded(t.Context(), dir, 300<<10)
	if err != nil {
		t.Fatal(err)
	}
	const workers = 8
	sets := make([][]testBlock, workers)
	for i := range sets {
		sets[i] = makeBlocks(t, uint64(200+i), 40, 60000)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*workers)
	for i := range workers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for _, b := range sets[i] {
				if err := e.Put(context.Background(), b.c, b.data); err != nil {
					errs <- err
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range 10 {
				if err := e.Sync(context.Background()); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, set := range sets {
		wantAll(t, e, set)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	r := mustOpen(t, dir)
	total := 0
	for _, set := range sets {
		wantAll(t, r, set)
		total += len(set)
	}
	if n, err := r.Check(t.Context()); err != nil || n != total {
		t.Fatalf("Check = %d, %v; want %d, nil", n, err, total)
	}
	if got := len(packFiles(t, dir, ".pack")); got < 5 {
		t.Errorf("%d packs; the test meant to roll many times", got)
	}
}

// TestEmbeddedTornIndexTail cuts and extends the index of a pack. While
// the pack is unsealed (its writer alive, or killed) a torn last record is
// the writer's, and the store reads the records before it. Once sealed,
// the index is whole, and a missing last record is damage: a Get of its
// block says so, naming the index, and the other blocks read.
func TestEmbeddedTornIndexTail(t *testing.T) {
	dir := t.TempDir()
	bs := makeBlocks(t, 6, 20, 5000)
	e := mustOpen(t, dir)
	putAll(t, e, bs)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	dropTables(t, dir)
	idx := packFiles(t, dir, ".idx")[0]
	marker := strings.TrimSuffix(idx, ".idx") + ".unsealed"
	whole, err := os.ReadFile(idx)
	if err != nil {
		t.Fatal(err)
	}
	last := idxRecordFixed + len(bs[len(bs)-1].c.Bytes())

	cases := []struct {
		name string
		data []byte
		want int // blocks found
	}{
		{"intact", whole, len(bs)},
		{"half-last-record", whole[:len(whole)-last/2], len(bs) - 1},
		{"one-byte-of-last-record", whole[:len(whole)-last+1], len(bs) - 1},
		{"last-record-gone", whole[:len(whole)-last], len(bs) - 1},
		{"garbage-after", append(append([]byte(nil), whole...), "garbage after the end"...), len(bs)},
		{"zeros-after", append(append([]byte(nil), whole...), make([]byte, 4096)...), len(bs)},
		{"header-only", whole[:len(idxMagic)], 0},
		{"torn-header", whole[:3], 0},
		{"empty", nil, 0},
	}
	for _, sealed := range []bool{false, true} {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("sealed=%v/%s", sealed, tc.name), func(t *testing.T) {
				if err := os.WriteFile(idx, tc.data, 0o644); err != nil {
					t.Fatal(err)
				}
				os.Remove(marker)
				if !sealed {
					if err := os.WriteFile(marker, nil, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				e := mustOpen(t, dir)
				wantAll(t, e, bs[:tc.want])
				n, err := e.Check(t.Context())
				lost := tc.want < len(bs) && sealed && len(tc.data) >= len(idxMagic)
				if n != tc.want || (err != nil) != lost || (lost && !acerr.Is(acerr.Integrity, err)) {
					t.Fatalf("Check = %d, %v; want %d and an error: %v", n, err, tc.want, lost)
				}
				if tc.want == len(bs) {
					return
				}
				_, err = e.Get(t.Context(), bs[tc.want].c)
				switch {
				case !lost && !acerr.Is(acerr.NotExist, err):
					t.Fatalf("Get(block of the torn record) = %v, want NotExist", err)
				case lost && !isDamage(err, idx, bs[tc.want].c):
					t.Fatalf("Get(block of the missing record) = %v, want Integrity naming %s", err, idx)
				}
			})
		}
	}
	// A file that is not an index is not read, whatever the pack holds.
	if err := os.WriteFile(idx, append([]byte("NOTANIDX"), whole[len(idxMagic):]...), 0o644); err != nil {
		t.Fatal(err)
	}
	e = mustOpen(t, dir)
	if n, err := e.Check(t.Context()); n != 0 || err != nil {
		t.Fatalf("Check with a foreign index = %d, %v; want 0, nil", n, err)
	}
}

// isDamage reports whether err is an Integrity error naming file and c.
func isDamage(err error, file string, c cid.Cid) bool {
	var ae *acerr.Error
	return errors.As(err, &ae) && ae.Kind == acerr.Integrity && ae.Path == file && ae.CID == c.String()
}

// A pack cut short is damage (a crash cannot do it: pack data is synced
// before the index records that locate it): the blocks past its end are
// reported as such, naming the pack, and not as missing.
func TestEmbeddedIndexPastPackEnd(t *testing.T) {
	dir := t.TempDir()
	bs := makeBlocks(t, 7, 10, 5000)
	e := mustOpen(t, dir)
	putAll(t, e, bs)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	pack := packFiles(t, dir, ".pack")[0]
	st, err := os.Stat(pack)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(pack, st.Size()-1); err != nil {
		t.Fatal(err)
	}
	e = mustOpen(t, dir)
	last := bs[len(bs)-1]
	if ok, err := e.Has(t.Context(), last.c); err != nil || ok {
		t.Fatalf("Has(block past the end of its pack) = %v, %v; want false", ok, err)
	}
	if _, err := e.Get(t.Context(), last.c); !isDamage(err, pack, last.c) {
		t.Fatalf("Get(block past the end of its pack) = %v; want Integrity naming %s", err, pack)
	}
	wantAll(t, e, bs[:len(bs)-1])
	if n, err := e.Check(t.Context()); !isDamage(err, pack, cid.NewCidV1(cid.Raw, last.c.Hash())) || n != len(bs)-1 {
		t.Fatalf("Check = %d, %v; want %d and Integrity naming %s", n, err, len(bs)-1, pack)
	}
	// Put of the block repairs the store.
	putAll(t, e, bs[len(bs)-1:])
	wantAll(t, e, bs)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = mustOpen(t, dir)
	wantAll(t, e, bs)
	if n, err := e.Check(t.Context()); err != nil || n != len(bs) {
		t.Fatalf("Check after the repair = %d, %v; want %d, nil", n, err, len(bs))
	}
}

func TestEmbeddedCorruptPack(t *testing.T) {
	dir := t.TempDir()
	bs := makeBlocks(t, 8, 3, 5000)
	e := mustOpen(t, dir)
	putAll(t, e, bs)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	flipInPack(t, dir, bs[1].data)
	e = mustOpen(t, dir)
	_, err := e.Get(t.Context(), bs[1].c)
	var ae *acerr.Error
	if !errors.As(err, &ae) || ae.Kind != acerr.Integrity || ae.CID != bs[1].c.String() || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("Get(damaged block) = %v; want an Integrity error naming %s", err, bs[1].c)
	}
	if _, err := e.Check(t.Context()); !acerr.Is(acerr.Integrity, err) {
		t.Fatalf("Check = %v, want Integrity", err)
	}
	wantAll(t, e, []testBlock{bs[0], bs[2]})
}

// rewriteIndex replaces the index of the store's only pack by the records
// f makes of the current ones, under magic.
func rewriteIndex(t *testing.T, dir, magic string, f func(b []byte, r indexRecord) []byte) {
	t.Helper()
	dropTables(t, dir)
	idx := packFiles(t, dir, ".idx")[0]
	b, err := os.ReadFile(idx)
	if err != nil {
		t.Fatal(err)
	}
	out := []byte(magic)
	for b = b[len(idxMagic):]; len(b) > 0; {
		r, n, err := decodeIndexRecord(b, false)
		if err != nil {
			t.Fatal(err)
		}
		out = f(out, r)
		b = b[n:]
	}
	if err := os.WriteFile(idx, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// flipInPack flips a bit in the middle of data in the store's only pack.
func flipInPack(t *testing.T, dir string, data []byte) {
	t.Helper()
	pack := packFiles(t, dir, ".pack")[0]
	b, err := os.ReadFile(pack)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, data)
	b[i+len(data)/2] ^= 0x40
	if err := os.WriteFile(pack, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A store written before index records kept a sum of their data still
// opens, and its blocks are checked by hash instead.
func TestEmbeddedReadsFirstVersionIndex(t *testing.T) {
	dir := t.TempDir()
	bs := makeBlocks(t, 11, 40, 5000)
	e := mustOpen(t, dir)
	putAll(t, e, bs)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	rewriteIndex(t, dir, idxMagicV1, appendIndexRecordV1)
	e = mustOpen(t, dir)
	wantAll(t, e, bs)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	flipInPack(t, dir, bs[3].data)
	e = mustOpen(t, dir)
	_, err := e.Get(t.Context(), bs[3].c)
	if !acerr.Is(acerr.Integrity, err) || !strings.Contains(err.Error(), "does not hash to the CID") {
		t.Fatalf("Get(damaged block of a v1 pack) = %v; want Integrity, by hash", err)
	}
	// New blocks go to a new pack with a current index, beside the old one.
	more := makeBlocks(t, 12, 5, 5000)
	putAll(t, e, more)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = mustOpen(t, dir)
	wantAll(t, e, more)
	wantAll(t, e, bs[:3])
}

// Get trusts the sum of the index; Check (ac-verify --content) does not:
// data changed together with its sum is found by hash.
func TestEmbeddedCheckRehashes(t *testing.T) {
	dir := t.TempDir()
	bs := makeBlocks(t, 13, 3, 5000)
	e := mustOpen(t, dir)
	putAll(t, e, bs)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	flipInPack(t, dir, bs[1].data)
	forged := bytes.Clone(bs[1].data)
	forged[len(forged)/2] ^= 0x40
	rewriteIndex(t, dir, idxMagic, func(b []byte, r indexRecord) []byte {
		if r.Length == uint32(len(forged)) {
			r.Sum = dataSum(forged)
		}
		return appendIndexRecord(b, r)
	})
	e = mustOpen(t, dir)
	if got, err := e.Get(t.Context(), bs[1].c); err != nil || !bytes.Equal(got, forged) {
		t.Fatalf("Get(block with a matching forged sum) = %v; want the stored bytes", err)
	}
	_, err := e.Check(t.Context())
	if !acerr.Is(acerr.Integrity, err) || !strings.Contains(err.Error(), bs[1].c.String()) {
		t.Fatalf("Check = %v; want Integrity naming %s", err, bs[1].c)
	}
	e.Close()
	r, err := OpenEmbedded(t.Context(), Config{Dir: dir, Rehash: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Get(t.Context(), bs[1].c); !acerr.Is(acerr.Integrity, err) || !strings.Contains(err.Error(), "does not hash") {
		t.Fatalf("Get with Rehash = %v; want Integrity, by hash", err)
	}
	wantAll(t, r, []testBlock{bs[0], bs[2]})
}

func TestEmbeddedPackTruncatedWhileOpen(t *testing.T) {
	dir := t.TempDir()
	bs := makeBlocks(t, 13, 4, 5000)
	w := mustOpen(t, dir)
	putAll(t, w, bs)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	e := mustOpen(t, dir)
	pack := packFiles(t, dir, ".pack")[0]
	if err := os.Truncate(pack, int64(len(packMagic))); err != nil {
		t.Fatal(err)
	}
	_, err := e.Get(t.Context(), bs[2].c)
	if !acerr.Is(acerr.Integrity, err) || !strings.Contains(err.Error(), bs[2].c.String()) {
		t.Fatalf("Get(block cut from its pack) = %v; want Integrity naming %s", err, bs[2].c)
	}
}

func TestEmbeddedIgnoresStrangers(t *testing.T) {
	dir := t.TempDir()
	bs := makeBlocks(t, 9, 3, 100)
	e := mustOpen(t, dir)
	putAll(t, e, bs)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, packsDir)
	for name, data := range map[string]string{
		"README":            "not a pack",
		"orphan.idx":        idxMagic + "xxxxxxxxxxxxxxxxxxxxxxxxxx", // no pack beside it
		"nopack.pack":       packMagic,                               // no index beside it
		"random-bytes.idx":  "\x00\x01\x02",
		"sub.idx/child.txt": "",
	} {
		f := filepath.Join(p, name)
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e = mustOpen(t, dir)
	wantAll(t, e, bs)
}

func TestEmbeddedClosedErrors(t *testing.T) {
	e := mustOpen(t, t.TempDir())
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	bs := makeBlocks(t, 12, 1, 10)
	ctx := t.Context()
	for what, err := range map[string]error{
		"Put":  e.Put(ctx, bs[0].c, bs[0].data),
		"Sync": e.Sync(ctx),
		"Get":  func() error { _, err := e.Get(ctx, bs[0].c); return err }(),
		"Has":  func() error { _, err := e.Has(ctx, bs[0].c); return err }(),
	} {
		if err == nil || !strings.Contains(err.Error(), errClosed.Error()) {
			t.Errorf("%s after Close = %v, want %q", what, err, errClosed)
		}
	}
}

func TestEmbeddedOpenErrors(t *testing.T) {
	if _, err := Open(t.Context(), Config{}); !acerr.Is(acerr.Invalid, err) {
		t.Errorf("Open(no Dir, no API) = %v, want Invalid", err)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(t.Context(), Config{Dir: file})
	if !acerr.Is(acerr.IO, err) || !strings.Contains(err.Error(), file) {
		t.Errorf("Open(Dir is a file) = %v, want an IO error naming %s", err, file)
	}
}

func TestHashMatchesOtherHashes(t *testing.T) {
	data := []byte("some block")
	for _, mh := range []uint64{multihash.SHA2_256, multihash.SHA2_512, multihash.BLAKE3, multihash.IDENTITY} {
		t.Run(fmt.Sprint(mh), func(t *testing.T) {
			c, err := cid.V1Builder{Codec: cid.Raw, MhType: mh}.Sum(data)
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := hashMatches(c, data); err != nil || !ok {
				t.Fatalf("hashMatches(right data) = %v, %v", ok, err)
			}
			if ok, err := hashMatches(c, []byte("other block")); err != nil || ok {
				t.Fatalf("hashMatches(wrong data) = %v, %v", ok, err)
			}
			e := mustOpen(t, t.TempDir())
			if err := e.Put(t.Context(), c, data); err != nil {
				t.Fatal(err)
			}
			if got, err := e.Get(t.Context(), c); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("Get = %q, %v", got, err)
			}
		})
	}
}
