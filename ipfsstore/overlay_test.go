package ipfsstore_test

import (
	"context"
	"testing"

	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/ipfsstore/storetest"
	"github.com/archivecache/archivecache/schema"
)

func TestOverlay(t *testing.T) {
	storetest.Run(t, func(t *testing.T) ipfsstore.Store {
		base := ipfsstore.NewMemory()
		t.Cleanup(func() { base.Close() })
		return ipfsstore.NewOverlay(base)
	})
}

// TestOverlayLeavesBase checks what a dry run relies on: blocks put into
// an overlay are read back through it and never reach its base, and
// the base's blocks are read through it.
func TestOverlayLeavesBase(t *testing.T) {
	ctx := context.Background()
	base := ipfsstore.NewMemory()
	c0, b0 := schema.Block(&schema.Directory{})
	if err := base.Put(ctx, c0, b0); err != nil {
		t.Fatal(err)
	}
	o := ipfsstore.NewOverlay(base)
	c1, b1 := schema.Block(&schema.DirNode{})
	if err := o.Put(ctx, c1, b1); err != nil {
		t.Fatal(err)
	}
	if got, err := o.Get(ctx, c0); err != nil || string(got) != string(b0) {
		t.Errorf("overlay Get(base block) = %q, %v", got, err)
	}
	if got, err := o.Get(ctx, c1); err != nil || string(got) != string(b1) {
		t.Errorf("overlay Get(its block) = %q, %v", got, err)
	}
	if ok, _ := base.Has(ctx, c1); ok || base.Len() != 1 {
		t.Errorf("the base store holds %d blocks (has the overlay's: %v), want only its own", base.Len(), ok)
	}
	o.Close()
	if ok, _ := base.Has(ctx, c0); !ok {
		t.Errorf("closing the overlay dropped the base's block")
	}
}
