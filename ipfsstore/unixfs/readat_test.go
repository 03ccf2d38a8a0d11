package unixfs_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore/storetest"
	"github.com/archivecache/archivecache/ipfsstore/unixfs"
	"github.com/ipfs/go-cid"
)

// layFile puts into b a file of a shape drawn from r, laid out with
// FileNode: nodes of 1 to 5 children, down to depth levels of them, over
// raw leaves of 0 to 300 bytes. It returns the root and the file's bytes.
func layFile(t testing.TB, b *blocks, r *rand.Rand, depth int) (cid.Cid, []byte) {
	t.Helper()
	var data []byte
	var lay func(depth int) unixfs.Child
	lay = func(depth int) unixfs.Child {
		if depth == 0 || r.IntN(5) == 0 {
			leaf := make([]byte, r.IntN(301))
			for i := range leaf {
				leaf[i] = byte(r.Uint32())
			}
			data = append(data, leaf...)
			c := rawCID(leaf)
			b.set(c, leaf)
			return unixfs.Child{CID: c, Tsize: uint64(len(leaf)), FileSize: uint64(len(leaf))}
		}
		children := make([]unixfs.Child, 1+r.IntN(5))
		for i := range children {
			children[i] = lay(depth - 1)
		}
		blk, nd := unixfs.FileNode(children)
		if err := b.put(t.Context(), nd.CID, blk); err != nil {
			t.Fatal(err)
		}
		return nd
	}
	return lay(depth).CID, data
}

// checkReadAt reads n bytes at off from f and compares them, and the
// error, with what io.ReaderAt promises for data.
func checkReadAt(t testing.TB, f *unixfs.File, data []byte, off int64, n int) {
	t.Helper()
	p := make([]byte, n)
	got, err := f.ReadAt(t.Context(), p, off)
	var want []byte
	if off < int64(len(data)) {
		want = data[off:min(off+int64(n), int64(len(data)))]
	}
	var wantErr error
	if off >= int64(len(data)) || len(want) < n {
		wantErr = io.EOF
	}
	if got != len(want) || !bytes.Equal(p[:got], want) || err != wantErr {
		t.Fatalf("ReadAt(%d bytes at %d) of %d = %d, %v; want %d, %v (same bytes: %v)",
			n, off, len(data), got, err, len(want), wantErr, bytes.Equal(p[:got], want))
	}
}

// TestReadAtRandom checks, from several goroutines at once on one File,
// that ReadAt gives what slicing the bytes gives, on files of random
// shapes and on imported files of sizes around the chunk boundaries.
func TestReadAtRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	type file struct {
		c    cid.Cid
		data []byte
	}
	b := newBlocks()
	var files []file
	for range 30 {
		c, data := layFile(t, b, r, 1+r.IntN(4))
		files = append(files, file{c, data})
	}
	for i, n := range []int{0, 1, k - 1, k, k + 1, 2*k - 1, 3*k + 5} {
		data := storetest.SeededBytes(uint64(40+i), n)
		c, _ := importBytes(t, b, data)
		files = append(files, file{c, data})
	}
	for _, fl := range files {
		f, err := unixfs.Open(t.Context(), b.get, fl.c)
		if err != nil {
			t.Fatal(err)
		}
		size := int64(len(fl.data))
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(g), uint64(size)))
				for range 40 {
					checkReadAt(t, f, fl.data, r.Int64N(size+3), r.IntN(int(min(size+3, 3*k))))
				}
				checkReadAt(t, f, fl.data, 0, int(size))
				checkReadAt(t, f, fl.data, size, 1)
				checkReadAt(t, f, fl.data, size+100, 0)
			})
		}
		wg.Wait()
		f.Close()
	}
}

// FuzzReadAt checks ReadAt against slicing on files laid out from the
// fuzzer's seed.
func FuzzReadAt(f *testing.F) {
	f.Add(uint64(1), int64(0), 10)
	f.Add(uint64(2), int64(299), 2)
	f.Add(uint64(3), int64(1000), 5000)
	f.Fuzz(func(t *testing.T, seed uint64, off int64, n int) {
		if off < 0 || n < 0 || n > 1<<16 {
			return
		}
		b := newBlocks()
		c, data := layFile(t, b, rand.New(rand.NewPCG(seed, 0)), 4)
		fl, err := unixfs.Open(t.Context(), b.get, c)
		if err != nil {
			t.Fatal(err)
		}
		defer fl.Close()
		checkReadAt(t, fl, data, off, n)
	})
}

// TestReadAtBlocks counts the blocks a small read at a high offset
// fetches: one per level, not those before it.
func TestReadAtBlocks(t *testing.T) {
	data := storetest.SeededBytes(9, 180*k+12345) // two levels
	b := newBlocks()
	c, _ := importBytes(t, b, data)
	var gets int
	var mu sync.Mutex
	counted := func(ctx context.Context, c cid.Cid) ([]byte, error) {
		mu.Lock()
		gets++
		mu.Unlock()
		return b.get(ctx, c)
	}
	f, err := unixfs.Open(t.Context(), counted, c)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gets = 0
	checkReadAt(t, f, data, int64(len(data))-20000, 100)
	if gets != 2 {
		t.Errorf("ReadAt of 100 bytes near the end fetched %d blocks, want 2 (a node and a leaf)", gets)
	}
	gets = 0
	checkReadAt(t, f, data, unixfs.MaxLinks*k-10, 20) // across the last leaf of one node and the first of the next
	if gets != 4 {
		t.Errorf("ReadAt across two nodes fetched %d blocks, want 4", gets)
	}
}

// TestReadAtContext checks that ReadAt uses its own context: cancelling
// it ends a read blocked on a fetch, whatever the fetch answers, while
// the context given to Open and Close do not touch ReadAt's.
func TestReadAtContext(t *testing.T) {
	b := newBlocks()
	data := storetest.SeededBytes(10, 3*k)
	root, _ := importBytes(t, b, data)
	stalled := b.puts[1] // the second leaf
	for _, answer := range []string{"context", "other"} {
		t.Run("answer="+answer, func(t *testing.T) {
			get := func(ctx context.Context, c cid.Cid) ([]byte, error) {
				if !c.Equals(stalled) {
					return b.get(ctx, c)
				}
				<-ctx.Done()
				if answer == "context" {
					return nil, ctx.Err()
				}
				return nil, acerr.E("test.get", "", acerr.IO, errors.New("connection reset")).WithCID(c.String())
			}
			openCtx, cancelOpen := context.WithCancel(t.Context())
			f, err := unixfs.Open(openCtx, get, root)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			cancelOpen() // ends Read, not ReadAt
			checkReadAt(t, f, data, 10, 100)

			storetest.WaitsForCancel(t, 20*time.Millisecond, nil, func(ctx context.Context) error {
				_, err := f.ReadAt(ctx, make([]byte, 100), k+10)
				return err
			})
		})
	}
	f, err := unixfs.Open(t.Context(), b.get, root)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := f.ReadAt(t.Context(), make([]byte, 1), 0); !errors.Is(err, os.ErrClosed) {
		t.Errorf("ReadAt after Close = %v, want os.ErrClosed", err)
	}
	f, err = unixfs.Open(t.Context(), b.get, root)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.ReadAt(t.Context(), make([]byte, 1), -1); !acerr.Is(acerr.Invalid, err) {
		t.Errorf("ReadAt at -1 = %v, want kind Invalid", err)
	}
}
