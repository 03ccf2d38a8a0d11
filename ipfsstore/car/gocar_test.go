package car_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	carv2 "github.com/ipld/go-car/v2"
	"github.com/ipld/go-car/v2/blockstore"
)

// The reference implementation reads what the Writer writes, and the
// Reader reads what the reference implementation writes, byte for byte
// the same CAR.
func TestMatchesGoCar(t *testing.T) {
	bs := testBlocks()
	roots := []cid.Cid{bs[1].c, bs[2].c}
	ours := encode(t, roots, bs)

	br, err := carv2.NewBlockReader(bytes.NewReader(ours))
	if err != nil {
		t.Fatal(err)
	}
	if br.Version != 1 || fmt.Sprint(br.Roots) != fmt.Sprint(roots) {
		t.Errorf("go-car reads version %d, roots %v; want 1, %v", br.Version, br.Roots, roots)
	}
	var got []block
	for {
		b, err := br.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, block{b.Cid(), b.RawData()})
	}
	if !sameBlocks(got, bs) {
		t.Errorf("go-car reads %d blocks, not the %d written", len(got), len(bs))
	}

	path := filepath.Join(t.TempDir(), "ref.car")
	rw, err := blockstore.OpenReadWrite(path, roots, carv2.WriteAsCarV1(true))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		blk, err := blocks.NewBlockWithCid(b.data, b.c)
		if err != nil {
			t.Fatal(err)
		}
		if err := rw.Put(t.Context(), blk); err != nil {
			t.Fatal(err)
		}
	}
	if err := rw.Finalize(); err != nil {
		t.Fatal(err)
	}
	ref, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	gotRoots, got, err := decode(bytes.NewReader(ref))
	if err != nil {
		t.Fatalf("go-car's CAR refused: %v", err)
	}
	if fmt.Sprint(gotRoots) != fmt.Sprint(roots) || !sameBlocks(got, bs) {
		t.Errorf("go-car's CAR reads back as roots %v and %d blocks", gotRoots, len(got))
	}
	if !bytes.Equal(ref, ours) {
		t.Errorf("go-car's CAR (%d bytes) differs from the Writer's (%d bytes)", len(ref), len(ours))
	}
}
