package home_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/archivecache/archivecache/home"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/ipfsstore/car"
	"github.com/archivecache/archivecache/ipfsstore/unixfs"
)

// CARs that other implementations write, CAR v2 and CIDv0 included, are
// imported into the embedded store, and every block they hold can be
// read back by its CID, whatever its version; inlined blocks are not
// stored.
func TestImportFixtures(t *testing.T) {
	for _, name := range []string{
		"go-car/sample-unixfs-v2.car",
		"go-car/simple-unixfs.car",
		"go-car/wikipedia-cryptographic-hash-function.car",
		"kubo/TestDagStatCARv2.car",
		"kubo/t0115-gateway-dir-listing.car",
		"gateway-conformance/single-layer-hamt-with-multi-block-files.car",
		"gateway-conformance/dir-with-files.car",
		"gateway-conformance/symlink.car",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("../ipfsstore/car/testdata/fixtures", name)
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			st, err := ipfsstore.OpenEmbedded(t.Context(), ipfsstore.Config{Dir: filepath.Join(t.TempDir(), "blocks")})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			roots, err := home.Import(t.Context(), st, f)
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			f.Seek(0, io.SeekStart)
			cr, err := car.NewReader(f)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(roots) != fmt.Sprint(cr.Roots()) {
				t.Fatalf("roots %v, want %v", roots, cr.Roots())
			}
			for {
				c, data, err := cr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				_, inline := unixfs.Inline(c)
				got, err := st.Get(t.Context(), c)
				switch {
				case inline && err == nil:
					t.Errorf("inlined block %s was stored", c)
				case !inline && (err != nil || !bytes.Equal(got, data)):
					t.Errorf("block %s (CIDv%d) reads back as %d bytes, %v; want its %d", c, c.Version(), len(got), err, len(data))
				}
			}
		})
	}
}
