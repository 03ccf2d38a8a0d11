package home

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/ipfsstore/car"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// readCounter counts the blocks read through Get, by CID.
type readCounter struct {
	ipfsstore.Store
	mu    sync.Mutex
	reads map[cid.Cid]int
}

func (s *readCounter) Get(ctx context.Context, c cid.Cid) ([]byte, error) {
	s.mu.Lock()
	s.reads[c]++
	s.mu.Unlock()
	return s.Store.Get(ctx, c)
}

// BlockSize is the store's, so that the wrapper stays a Sizer.
func (s *readCounter) BlockSize(ctx context.Context, c cid.Cid) (int, error) {
	return ipfsstore.BlockSize(ctx, s.Store, c)
}

// Adding a UnixFS directory by its CID reads its directory blocks and
// the dag-pb roots of its files once each, and no raw block: no file
// contents.
func TestAddIPFSReadsNoContents(t *testing.T) {
	ctx := t.Context()
	h, err := Init(ctx, Options{Dir: filepath.Join(t.TempDir(), "home")})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	// The directory blocks and the distinct dag-pb file roots of each:
	// the directory and multiblock.txt's root; the 237 HAMT shards and
	// the one file root that all 1000 names share, read once.
	want := map[string]int{
		"gateway-conformance/dir-with-files.car":                           2,
		"gateway-conformance/single-layer-hamt-with-multi-block-files.car": 238,
	}
	for _, name := range []string{"gateway-conformance/dir-with-files.car", "gateway-conformance/single-layer-hamt-with-multi-block-files.car"} {
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(filepath.Join("../ipfsstore/car/testdata/fixtures", name))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			roots, err := Import(ctx, h.Store, f)
			if err != nil {
				t.Fatal(err)
			}
			f.Seek(0, io.SeekStart)
			cr, _ := car.NewReader(f)
			dagpb, raw := 0, 0
			for {
				c, _, err := cr.Next()
				if err != nil {
					break
				}
				if c.Type() == cid.Raw {
					raw++
				} else {
					dagpb++
				}
			}
			st := &readCounter{Store: h.Store, reads: map[cid.Cid]int{}}
			inner := h.Store
			h.Store = st
			defer func() { h.Store = inner }()
			dest := "root/" + strings.TrimSuffix(filepath.Base(name), ".car")
			if _, err := h.AddLocal(ctx, "/ipfs/"+roots[0].String(), dest, AddOptions{}); err != nil {
				t.Fatal(err)
			}
			pbRead := 0
			for c, n := range st.reads {
				switch {
				case c.Type() == cid.Raw:
					t.Errorf("raw block %s read by ac-add", c)
				case c.Type() == cid.DagProtobuf && n > 1:
					t.Errorf("block %s read %d times", c, n)
				case c.Type() == cid.DagProtobuf:
					pbRead++
				}
			}
			if pbRead != want[name] {
				t.Errorf("%d of the %d dag-pb blocks read (and %d raw blocks held), want %d: the directory's and the file roots", pbRead, dagpb, raw, want[name])
			}
			t.Logf("%d dag-pb blocks read, %d raw blocks not", pbRead, raw)
		})
	}
}

// pbDir encodes a plain UnixFS directory of the given names, each
// linking target.
func pbDir(target cid.Cid, names ...string) []byte {
	var b []byte
	for _, n := range names {
		h := target.Bytes()
		l := append([]byte{0x0a, byte(len(h))}, h...)
		l = append(append(l, 0x12, byte(len(n))), n...)
		l = append(l, 0x18, 0x00)
		b = append(append(b, 0x12, byte(len(l))), l...)
	}
	return append(b, 0x0a, 0x02, 0x08, 0x01) // Data: UnixFS Type Directory
}

// A DAG that links one directory from many places stands for more
// entries than its blocks: the add stops at the limit, naming it.
func TestAddIPFSEntryLimit(t *testing.T) {
	ctx := t.Context()
	h, err := Init(ctx, Options{Dir: filepath.Join(t.TempDir(), "home")})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	put := func(b []byte) cid.Cid {
		mh, _ := multihash.Sum(b, multihash.SHA2_256, -1)
		c := cid.NewCidV1(cid.DagProtobuf, mh)
		if err := h.Store.Put(ctx, c, b); err != nil {
			t.Fatal(err)
		}
		return c
	}
	empty, _ := multihash.Sum(nil, multihash.SHA2_256, -1)
	d := put(pbDir(cid.NewCidV1(cid.Raw, empty), "f0", "f1", "f2", "f3"))
	for range 4 { // 4^5 files from 5 blocks
		d = put(pbDir(d, "d0", "d1", "d2", "d3"))
	}
	if _, err := h.AddLocal(ctx, "/ipfs/"+d.String(), "root/ok", AddOptions{}); err != nil {
		t.Fatalf("1024 files: %v", err)
	}
	defer func(n int) { maxIPFSEntries = n }(maxIPFSEntries)
	maxIPFSEntries = 1000
	_, err = h.AddLocal(ctx, "/ipfs/"+d.String(), "root/many", AddOptions{})
	if !acerr.Is(acerr.TooLarge, err) || !strings.Contains(err.Error(), "more than 1000 entries in all") {
		t.Errorf("1365 entries over a limit of 1000: %v", err)
	}
}
