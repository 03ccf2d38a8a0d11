package ipfsstore_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand"
	"testing"
	"time"

	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/ipfsstore/kubotest"
	"github.com/archivecache/archivecache/ipfsstore/unixfs"
	"github.com/archivecache/archivecache/progress"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// TestKuboInlineBlocks checks that the kubo store answers the blocks
// whose bytes their CID gives without its daemon: the empty file as
// AddFile makes it, the empty UnixFS file node of `ipfs add` without raw
// leaves, and an identity CID, read after the daemon has stopped; and
// that another block still goes to the daemon (and fails without it).
func TestKuboInlineBlocks(t *testing.T) {
	d := kubotest.StartDaemon(t)
	k := openKubo(t, d.API)
	empty, n, err := k.AddFile(t.Context(), bytes.NewReader(nil))
	if err != nil || n != 0 {
		t.Fatalf("AddFile(empty) = %v, %d, %v", empty, n, err)
	}
	// The daemon's own add of an empty file, CIDv0 and dag-pb.
	v0, err := cid.Decode(string(bytes.TrimSpace(d.Run(t, bytes.NewReader(nil), "add", "-Q", "--only-hash", "--cid-version=0"))))
	if err != nil {
		t.Fatal(err)
	}
	ident, err := cid.V1Builder{Codec: cid.Raw, MhType: multihash.IDENTITY}.Sum([]byte("short"))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		c    cid.Cid
		want string // the file's bytes
	}{{empty, ""}, {v0, ""}, {cid.NewCidV1(cid.DagProtobuf, v0.Hash()), ""}, {ident, "short"}} {
		if ok, err := k.Has(t.Context(), tt.c); !ok || err != nil {
			t.Errorf("Has(%s) = %v, %v with the daemon stopped, want true", tt.c, ok, err)
		}
		if _, err := k.Get(t.Context(), tt.c); err != nil {
			t.Errorf("Get(%s) with the daemon stopped: %v", tt.c, err)
		}
		f, err := k.OpenFile(t.Context(), tt.c)
		if err != nil {
			t.Errorf("OpenFile(%s) with the daemon stopped: %v", tt.c, err)
			continue
		}
		got, err := io.ReadAll(f)
		f.Close()
		if err != nil || string(got) != tt.want || f.Size() != uint64(len(tt.want)) {
			t.Errorf("file %s read %q (size %d), %v; want %q", tt.c, got, f.Size(), err, tt.want)
		}
	}
	other, _ := cid.V1Builder{Codec: cid.Raw, MhType: multihash.SHA2_256}.Sum([]byte("not inline"))
	if _, err := k.Get(t.Context(), other); err == nil {
		t.Errorf("Get(%s) of a block the CID does not give succeeded with the daemon stopped", other)
	}
}

// TestKuboCountsFetches checks that the kubo store counts the blocks it
// asks of its daemon's peers and those that come (Config.Fetched): a
// file only a peer holds counts its root block, fetched first, and the
// bytes streamed after it; a block no peer has is asked and never comes
// (NotReceived after the fetch timeout); what the daemon holds counts
// nothing.
func TestKuboCountsFetches(t *testing.T) {
	a, b := kubotest.StartPair(t)
	kb := openKubo(t, b.API)
	data := make([]byte, 600<<10) // three chunks and their root
	rand.New(rand.NewSource(5)).Read(data)
	c, _, err := kb.AddFile(t.Context(), bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var fetched progress.Counter
	ka, err := ipfsstore.OpenKubo(t.Context(), ipfsstore.Config{API: a.API, FetchTimeout: 500 * time.Millisecond, Fetched: &fetched})
	if err != nil {
		t.Fatal(err)
	}
	defer ka.Close()
	read := func() {
		t.Helper()
		f, err := ka.OpenFile(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if got, err := io.ReadAll(f); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("reading the peer's file: %d bytes, %v", len(got), err)
		}
	}
	read()
	s := fetched.Snapshot()
	if s.Files != 1 || s.TotalFiles != 1 || s.Bytes <= int64(len(data)) || s.Bytes > int64(len(data))+1024 {
		t.Errorf("after reading a peer's file: %+v, want 1 of 1 blocks (its root), a little over %d bytes", s, len(data))
	}
	read() // held now
	if again := fetched.Snapshot(); again != s {
		t.Errorf("reading the file again, held, counted %+v, want %+v still", again, s)
	}
	nowhere, _ := cid.V1Builder{Codec: cid.Raw, MhType: multihash.SHA2_256}.Sum([]byte("no one has this"))
	_, err = ka.Get(t.Context(), nowhere)
	if _, ok := errors.AsType[*ipfsstore.NotReceived](err); !ok {
		t.Errorf("Get of a block no one has = %v, want NotReceived", err)
	}
	if s := fetched.Snapshot(); s.Files != 1 || s.TotalFiles != 2 {
		t.Errorf("after asking for a block no one has: %+v, want 1 of 2 blocks", s)
	}
}

// TestKuboStalledStream checks that reading a file whose root the daemon
// holds, but not its other blocks, which no peer has, fails once the
// stream has sent nothing for the fetch timeout, as a Get of a block not
// received fails, rather than waiting until interrupted.
func TestKuboStalledStream(t *testing.T) {
	d := kubotest.StartDaemon(t)
	k := openKubo(t, d.API)
	data := make([]byte, 600<<10) // three chunks and their root
	rand.New(rand.NewSource(6)).Read(data)
	c, _, err := k.AddFile(t.Context(), bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	root, err := k.Get(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	leaves, err := unixfs.Links(c, root)
	if err != nil || len(leaves) != 3 {
		t.Fatalf("links of the root: %v, %v", leaves, err)
	}
	d.Run(t, nil, "block", "rm", leaves[1].String()) // the second chunk
	ks, err := ipfsstore.OpenKubo(t.Context(), ipfsstore.Config{API: d.API, FetchTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	f, err := ks.OpenFile(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, f)
		done <- err
	}()
	select {
	case err := <-done:
		if _, ok := errors.AsType[*ipfsstore.NotReceived](err); !ok {
			t.Errorf("reading a file missing a block no one has = %v, want NotReceived", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("reading a file missing a block no one has still waits after 20s, with a fetch timeout of 500ms")
	}
}
