package home

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/ipfsstore/car"
	"github.com/ipfs/go-cid"
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
