package car_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore/car"
	"github.com/ipfs/go-cid"
)

// TestFile opens a CAR file as a store: every block comes back, checked;
// a block not in it does not exist; writes are refused; a byte changed in
// the file after it was opened is caught at Get; a file that is not a
// whole CAR is refused at Open.
func TestFile(t *testing.T) {
	ctx := context.Background()
	blocks := testBlocks()
	data := encode(t, []cid.Cid{blocks[0].c}, blocks)
	path := filepath.Join(t.TempDir(), "x.car")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := car.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if r := f.Roots(); len(r) != 1 || r[0] != blocks[0].c {
		t.Errorf("Roots = %v, want [%s]", r, blocks[0].c)
	}
	for _, b := range blocks {
		got, err := f.Get(ctx, b.c)
		if err != nil || string(got) != string(b.data) {
			t.Errorf("Get(%s) = %d bytes, %v; want its %d bytes", b.c, len(got), err, len(b.data))
		}
		if ok, err := f.Has(ctx, b.c); !ok || err != nil {
			t.Errorf("Has(%s) = %v, %v", b.c, ok, err)
		}
	}
	other := raw([]byte("not in the file"))
	if _, err := f.Get(ctx, other.c); !acerr.Is(acerr.NotExist, err) {
		t.Errorf("Get(a block not in the file) = %v, want does not exist", err)
	}
	if err := f.Put(ctx, other.c, other.data); !acerr.Is(acerr.Permission, err) {
		t.Errorf("Put = %v, want permission denied", err)
	}

	// The file changes under the open store.
	last := blocks[len(blocks)-1]
	data[len(data)-1] ^= 1
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Get(ctx, last.c); !acerr.Is(acerr.Integrity, err) {
		t.Errorf("Get of a block changed in the file = %v, want an integrity error", err)
	}
	if _, err := car.Open(path); !acerr.Is(acerr.Integrity, err) {
		t.Errorf("Open of a CAR with a damaged block = %v, want an integrity error", err)
	}
	if err := os.WriteFile(path, data[:len(data)-3], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := car.Open(path); !acerr.Is(acerr.Invalid, err) {
		t.Errorf("Open of a cut CAR = %v, want invalid", err)
	}
	if _, err := car.Open(filepath.Join(t.TempDir(), "none.car")); !acerr.Is(acerr.NotExist, err) {
		t.Errorf("Open of no file = %v, want does not exist", err)
	}
}
