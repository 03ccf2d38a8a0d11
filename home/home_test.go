package home

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/archivecache/archivecache/acerr"
	"github.com/ipfs/go-cid"
)

func TestInitLayout(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "home")
	h, err := Init(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	head, err := h.Get()
	if err != nil {
		t.Fatal(err)
	}
	tr := h.Tree(cid.Undef)
	for _, p := range []string{Root, Identities, Friends, Nodes, "root/forum", "root/projects"} {
		if _, err := tr.Lookup(ctx, head, p); err != nil {
			t.Errorf("Lookup(%q) after Init: %v", p, err)
		}
	}
	if _, err := tr.Lookup(ctx, head, Node); !acerr.Is(acerr.NotExist, err) {
		t.Errorf("Lookup(node) after Init = %v, want NotExist", err)
	}
	if _, err := Init(ctx, Options{Dir: dir}); !acerr.Is(acerr.Exist, err) {
		t.Errorf("second Init = %v, want Exist", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "config")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("config: %v, %v; want mode 0600", fi, err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, Options{Dir: t.TempDir()}); !acerr.Is(acerr.NotInit, err) {
		t.Errorf("Open(empty dir) = %v, want NotInit", err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "config"), []byte("{not json"), 0o600)
	if _, err := Open(ctx, Options{Dir: dir}); !acerr.Is(acerr.Integrity, err) {
		t.Errorf("Open(damaged config) = %v, want Integrity", err)
	}
}

// TestFailedInitLeavesNoHome: an init whose store cannot be opened must
// not leave a config behind, so that a later ac-init can succeed.
func TestFailedInitLeavesNoHome(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "home")
	if _, err := Init(ctx, Options{Dir: dir, API: "not an address"}); err == nil {
		t.Fatal("Init with a malformed API succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "config")); err == nil {
		t.Fatal("a failed Init left a config behind")
	}
	h, err := Init(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatalf("Init after a failed Init: %v", err)
	}
	h.Close()
}
