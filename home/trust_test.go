package home

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/identity"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
)

// TestSignerUnlocksOnce: a Signer that signs the owned directory of
// many batches, as a long-running process does, reads its sealed key
// once: after the first signature the key file can be damaged and it
// signs on, while a new Signer finds the damage. Closed, it signs no
// more.
func TestSignerUnlocksOnce(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "home")
	h, err := Init(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	pass := []byte("correct horse")
	id, priv, err := identity.New("alice", time.Unix(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	alice, data := schema.Block(id)
	if err := h.Store.Put(ctx, alice, data); err != nil {
		t.Fatal(err)
	}
	if err := h.Keys.Save(alice, priv, pass); err != nil {
		t.Fatal(err)
	}
	owned := &schema.Directory{Owner: alice, Seq: 1}
	identity.Sign(priv, owned)
	c, data := schema.Block(owned)
	if err := h.Store.Put(ctx, c, data); err != nil {
		t.Fatal(err)
	}
	head, err := h.Get()
	if err != nil {
		t.Fatal(err)
	}
	root, err := h.Tree(cid.Undef).Put(ctx, head, "root/mine", schema.Entry{Kind: schema.KindDirectory, Target: c})
	if err != nil {
		t.Fatal(err)
	}

	signer := h.Signer(pass)
	defer signer.Close()
	tr := tree.New(h.Store, h.TreeConfig(cid.Undef, signer))
	for batch := range 5 {
		var ops []tree.Op
		for i := range 100 {
			ops = append(ops, tree.Op{Kind: tree.OpPut, Path: fmt.Sprintf("root/mine/b%d-%03d", batch, i),
				Entry: schema.Entry{Kind: schema.KindFile, Target: schema.Sum([]byte{byte(batch), byte(i)})}})
		}
		if root, err = tr.Apply(ctx, root, ops); err != nil {
			t.Fatalf("batch %d: %v", batch, err)
		}
		if batch == 0 {
			// Had the signer kept no key, every later signature would
			// read this.
			if err := os.WriteFile(filepath.Join(dir, "keys", alice.String()+".key"), []byte("{damaged"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		e, err := tr.Lookup(ctx, root, "root/mine")
		if err != nil {
			t.Fatal(err)
		}
		n, err := h.LoadNode(ctx, e.Target)
		if err != nil {
			t.Fatal(err)
		}
		d := n.(*schema.Directory)
		if err := identity.Verify(id, d); err != nil || d.Seq != uint64(batch+2) {
			t.Errorf("after batch %d root/mine is seq %d, signature: %v; want seq %d, signed", batch, d.Seq, err, batch+2)
		}
	}

	next := &schema.Directory{Owner: alice, Seq: 100}
	if err := h.Signer(pass).SignDirectory(ctx, next); !acerr.Is(acerr.Integrity, err) {
		t.Errorf("a new Signer with the key file damaged: %v, want Integrity", err)
	}
	if err := signer.Close(); err != nil {
		t.Fatal(err)
	}
	if err := signer.SignDirectory(ctx, next); !acerr.Is(acerr.Invalid, err) {
		t.Errorf("SignDirectory after Close = %v, want Invalid", err)
	}
	if err := signer.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

// TestSignerRefusesOthers: a directory whose owner's key is not in the
// keystore is refused with Permission, as before any key is unlocked.
func TestSignerRefusesOthers(t *testing.T) {
	ctx := context.Background()
	h, err := Init(ctx, Options{Dir: filepath.Join(t.TempDir(), "home")})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	s := h.Signer(nil)
	defer s.Close()
	bob := schema.Sum([]byte("bob"))
	if s.Holds(bob) {
		t.Error("Holds(a friend's identity) = true")
	}
	if err := s.SignDirectory(ctx, &schema.Directory{Owner: bob, Seq: 2}); !acerr.Is(acerr.Permission, err) {
		t.Errorf("SignDirectory(a friend's directory) = %v, want Permission", err)
	}
}
