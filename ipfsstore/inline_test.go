package ipfsstore_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/archivecache/archivecache/ipfsstore/kubotest"
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
