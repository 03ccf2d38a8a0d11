package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/ipfsstore/unixfs"
	"github.com/ipfs/go-cid"
)

// The contract of File.ReadAt.

// layFile puts into s a file of depth levels of nodes with fanout
// children each, over raw leaves of 1,000 to 3,000 fresh bytes, laid out
// with unixfs.FileNode: a file of many levels at a small cost. It returns
// the root and the file's bytes.
func layFile(t *testing.T, s ipfsstore.Store, depth, fanout int) (cid.Cid, []byte) {
	t.Helper()
	var data []byte
	var lay func(depth int) unixfs.Child
	lay = func(depth int) unixfs.Child {
		if depth == 0 {
			leaf := freshBytes(t, 1000+len(data)%2001)
			data = append(data, leaf...)
			c := rawCID(t, leaf)
			if err := s.Put(t.Context(), c, leaf); err != nil {
				t.Fatal(err)
			}
			return unixfs.Child{CID: c, Tsize: uint64(len(leaf)), FileSize: uint64(len(leaf))}
		}
		children := make([]unixfs.Child, fanout)
		for i := range children {
			children[i] = lay(depth - 1)
		}
		return putNode(t, s, children)
	}
	return lay(depth).CID, data
}

// putNode puts the file node over children into s.
func putNode(t *testing.T, s ipfsstore.Store, children []unixfs.Child) unixfs.Child {
	t.Helper()
	blk, nd := unixfs.FileNode(children)
	if err := s.Put(t.Context(), nd.CID, blk); err != nil {
		t.Fatal(err)
	}
	return nd
}

// readAtCheck reads n bytes at off from f and fails unless the bytes and
// the error are what io.ReaderAt promises for data.
func readAtCheck(ctx context.Context, f ipfsstore.File, data []byte, off int64, n int) error {
	p := make([]byte, n)
	got, err := f.ReadAt(ctx, p, off)
	var want []byte
	if off < int64(len(data)) {
		want = data[off:min(off+int64(n), int64(len(data)))]
	}
	var wantErr error
	if off >= int64(len(data)) || len(want) < n {
		wantErr = io.EOF
	}
	if got != len(want) || !bytes.Equal(p[:got], want) || err != wantErr {
		return fmt.Errorf("ReadAt(%d bytes at %d) of %d = %d, %v; want %d, %v (same bytes: %v)",
			n, off, len(data), got, err, len(want), wantErr, bytes.Equal(p[:got], want))
	}
	return nil
}

// readAtFiles are the files the ReadAt checks read: an imported file of
// many leaves, and a laid-out file of three levels with leaves of
// uneven sizes.
func readAtFiles(t *testing.T, s ipfsstore.Store) map[string][]byte {
	t.Helper()
	files := make(map[string][]byte)
	imported := SeededBytes(1, 3<<20+17)
	c, _, err := s.AddFile(t.Context(), bytes.NewReader(imported))
	if err != nil {
		t.Fatal(err)
	}
	files[c.String()] = imported
	c, laid := layFile(t, s, 3, 4)
	files[c.String()] = laid
	return files
}

func openFile(t *testing.T, s ipfsstore.Store, c string) ipfsstore.File {
	t.Helper()
	f, err := s.OpenFile(t.Context(), cid.MustParse(c))
	if err != nil {
		t.Fatalf("OpenFile(%s) = %v", c, err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// span is a range of a file to read.
type span struct{ off, n int64 }

// testReadAt reads at random offsets and lengths, across block
// boundaries, at the end and past it.
func testReadAt(t *testing.T, s ipfsstore.Store) {
	ctx := t.Context()
	r := rand.New(rand.NewPCG(11, 12))
	for c, data := range readAtFiles(t, s) {
		f := openFile(t, s, c)
		size := int64(len(data))
		k := int64(ipfsstore.ChunkSize)
		checks := []span{{0, size}, {0, 0}, {0, 1}, {size - 1, 1}, {size - 1, 2}, {size, 0}, {size, 10}, {size + 1000, 10}}
		if size > 2*k {
			checks = append(checks, span{k - 5, 10}, span{k - 5, k + 10})
		}
		for range 100 {
			checks = append(checks, span{r.Int64N(size + 100), r.Int64N(2*k + 10)})
		}
		for _, ch := range checks {
			if err := readAtCheck(ctx, f, data, ch.off, int(ch.n)); err != nil {
				t.Fatalf("file %s: %v", c, err)
			}
		}
		_, err := f.ReadAt(ctx, make([]byte, 1), -1)
		wantKind(t, "ReadAt at -1", err, acerr.Invalid, cid.Undef)
		// ReadAt leaves the position of Read alone.
		if _, err := f.Seek(7, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		if err := readAtCheck(ctx, f, data, 1000, 10); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 5)
		if _, err := io.ReadFull(f, buf); err != nil || !bytes.Equal(buf, data[7:12]) {
			t.Fatalf("Read after Seek(7) and a ReadAt = %q, %v; want the bytes at 7", buf, err)
		}
		f.Close()
		if _, err := f.ReadAt(ctx, buf, 0); err == nil {
			t.Fatal("ReadAt after Close = nil error")
		}
	}
}

// testReadAtConcurrent reads one File from 16 goroutines with ReadAt
// while another reads it through with Read.
func testReadAtConcurrent(t *testing.T, s ipfsstore.Store) {
	ctx := t.Context()
	for c, data := range readAtFiles(t, s) {
		f := openFile(t, s, c)
		size := int64(len(data))
		errs := make(chan error, 17)
		var wg sync.WaitGroup
		for g := range 16 {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(g), 13))
				for range 30 {
					if err := readAtCheck(ctx, f, data, r.Int64N(size+10), r.IntN(64<<10)); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Go(func() {
			got, err := io.ReadAll(f)
			if err == nil && !bytes.Equal(got, data) {
				err = fmt.Errorf("Read alongside ReadAt gave %d bytes, not the file's %d", len(got), len(data))
			}
			if err != nil {
				errs <- err
			}
		})
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("file %s: %v", c, err)
		}
	}
}

// testReadAtBlocks counts the blocks a small ReadAt at a high offset
// reads: one per level below the root, however far into the file. The
// count is taken through an Overlay over a Counting wrapper, which reads
// files with the same reader as the embedded and memory stores, over
// this store's Get.
func testReadAtBlocks(t *testing.T, s ipfsstore.Store) {
	ctx := t.Context()
	const depth = 3
	c, data := layFile(t, s, depth, 4)
	counted := &Counting{Store: s}
	f, err := ipfsstore.NewOverlay(counted).OpenFile(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, off := range []int64{int64(len(data)) - 50, int64(len(data)) / 2, 0} {
		before := counted.Gets.Load()
		if err := readAtCheck(ctx, f, data, off, 10); err != nil {
			t.Fatal(err)
		}
		if got := counted.Gets.Load() - before; got != depth {
			t.Errorf("ReadAt(10 bytes at %d of %d) read %d blocks, want %d (one per level)", off, len(data), got, depth)
		}
	}
}

// stalling is a Store whose Get of one block waits until its context is
// done, as a fetch from peers that never answer does.
type stalling struct {
	ipfsstore.Store
	block cid.Cid
}

func (s *stalling) Get(ctx context.Context, c cid.Cid) ([]byte, error) {
	if !c.Equals(s.block) {
		return s.Store.Get(ctx, c)
	}
	<-ctx.Done()
	return nil, acerr.E("storetest.Get", "", acerr.Other, ctx.Err()).WithCID(c.String())
}

// testReadAtCancel cancels a ReadAt whose block does not arrive: it must
// return within 100 ms of the cancel with the context's error. It runs
// over a store whose Get waits for the context, and over the store
// itself, with a leaf nobody has: a store that fails such a Get at once
// (with NotExist) passes, one that waits for the network must stop
// waiting when the read is cancelled (CancelWaitingRead requires it).
func testReadAtCancel(t *testing.T, s ipfsstore.Store) {
	root, missing := fileWithMissingLeaf(t, s)
	t.Run("stalling-get", func(t *testing.T) {
		cancelRead(t, ipfsstore.NewOverlay(&stalling{Store: s, block: missing}), root, false)
	})
	t.Run("store", func(t *testing.T) { cancelRead(t, s, root, true) })
}

// CancelWaitingRead checks a store that fetches missing blocks from its
// peers (kubo): a ReadAt of a block nobody has waits until its context is
// cancelled, and returns within 100 ms of it, with the context's error.
func CancelWaitingRead(t *testing.T, s ipfsstore.Store) {
	root, _ := fileWithMissingLeaf(t, s)
	cancelRead(t, s, root, false)
}

// fileWithMissingLeaf puts into s a file of a held leaf of 500 bytes
// followed by one of 1,000 bytes that nobody has.
func fileWithMissingLeaf(t *testing.T, s ipfsstore.Store) (root, missing cid.Cid) {
	t.Helper()
	missing = rawCID(t, freshBytes(t, 1000)) // never put
	head := freshBytes(t, 500)
	headC := rawCID(t, head)
	if err := s.Put(t.Context(), headC, head); err != nil {
		t.Fatal(err)
	}
	nd := putNode(t, s, []unixfs.Child{
		{CID: headC, Tsize: 500, FileSize: 500},
		{CID: missing, Tsize: 1000, FileSize: 1000},
	})
	return nd.CID, missing
}

// cancelRead opens root, from fileWithMissingLeaf, in s and reads the
// missing leaf with ReadAt, cancelling it after 50 ms. If mayNotExist, a
// read that fails with NotExist before the cancel passes too.
func cancelRead(t *testing.T, s ipfsstore.Store, root cid.Cid, mayNotExist bool) {
	t.Helper()
	f, err := s.OpenFile(t.Context(), root)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.ReadAt(t.Context(), make([]byte, 500), 0); err != nil {
		t.Fatalf("ReadAt of the held leaf = %v", err)
	}
	early := func(err error) bool {
		return mayNotExist && acerr.Is(acerr.NotExist, err) // the store does not wait for missing blocks
	}
	WaitsForCancel(t, 50*time.Millisecond, early, func(ctx context.Context) error {
		_, err := f.ReadAt(ctx, make([]byte, 100), 600)
		return err
	})
}

// WaitsForCancel checks that read, given a context, is still waiting
// after wait, and that once the context is cancelled it returns within
// 100 ms (an upper bound of waiting on the test's own clock, not a
// benchmark), with an error that is context.Canceled. early, if not nil,
// may accept an error read returns before the cancel.
func WaitsForCancel(t *testing.T, wait time.Duration, early func(error) bool, read func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- read(ctx) }()
	select {
	case err := <-done:
		if early != nil && early(err) {
			return
		}
		t.Fatalf("the read returned %v before the cancel", err)
	case <-time.After(wait):
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("the read after the cancel = %v, want context.Canceled", err)
		}
	case <-time.After(100 * time.Millisecond):
		t.Fatal("the read did not return within 100 ms of the cancel")
	}
}
