package identity

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/schema"
)

func TestSelfSigned(t *testing.T) {
	id, _, err := New("alice", time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifySelf(id); err != nil {
		t.Fatalf("VerifySelf(new identity) = %v", err)
	}
	// Any change to a signed field breaks the signature.
	forged := *id
	forged.Name = "mallory"
	if err := VerifySelf(&forged); !acerr.Is(acerr.Signature, err) {
		t.Errorf("VerifySelf(renamed) = %v, want Signature", err)
	}
	unsigned := *id
	unsigned.Sig = nil
	if err := VerifySelf(&unsigned); !acerr.Is(acerr.Signature, err) {
		t.Errorf("VerifySelf(unsigned) = %v, want Signature", err)
	}
}

// TestDomainSeparation: a signature made over one kind does not verify as
// another kind with the same field bytes.
func TestDomainSeparation(t *testing.T) {
	id, priv, err := New("alice", time.Unix(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	dir := &schema.Directory{Owner: schema.Sum([]byte("x")), Seq: 1}
	Sign(priv, dir)
	if err := Verify(id, dir); err != nil {
		t.Fatalf("Verify(directory) = %v", err)
	}
	// The same signature moved onto a node_v1 must fail.
	node := &schema.Node{Owner: dir.Owner, Seq: 1, Root: dir.Owner, Sig: dir.Sig}
	if err := Verify(id, node); !acerr.Is(acerr.Signature, err) {
		t.Errorf("Verify(node with directory's signature) = %v, want Signature", err)
	}
	// Someone else's key does not verify alice's signature.
	bob, _, _ := New("bob", time.Unix(1, 0))
	if err := Verify(bob, dir); !acerr.Is(acerr.Signature, err) {
		t.Errorf("Verify(bob, alice's dir) = %v, want Signature", err)
	}
}

func TestKeystore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	ks := OpenKeystore(dir)
	id, priv, _ := New("alice", time.Unix(1, 0))
	c, _ := schema.Block(id)
	if ks.Has(c) {
		t.Fatal("Has before Save = true")
	}
	if _, err := ks.Load(c, nil); !acerr.Is(acerr.NotExist, err) {
		t.Errorf("Load(missing) = %v, want NotExist", err)
	}
	if err := ks.Save(c, priv, nil); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(ks.path(c))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %v, %v; want 0600", fi.Mode(), err)
	}
	got, err := ks.Load(c, nil)
	if err != nil || !bytes.Equal(got, priv) {
		t.Errorf("Load = %v, want the saved key", err)
	}
	if err := ks.Save(c, priv, nil); !acerr.Is(acerr.Exist, err) {
		t.Errorf("second Save = %v, want Exist", err)
	}
	ids, err := ks.List()
	if err != nil || len(ids) != 1 || ids[0] != c {
		t.Errorf("List = %v, %v; want [%s]", ids, err, c)
	}
}

func TestKeystorePassphrase(t *testing.T) {
	ks := OpenKeystore(t.TempDir())
	id, priv, _ := New("alice", time.Unix(1, 0))
	c, _ := schema.Block(id)
	pass := []byte("correct horse")
	if err := ks.Save(c, priv, pass); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(ks.path(c))
	if bytes.Contains(raw, priv.Seed()) {
		t.Fatal("sealed key file contains the raw seed")
	}
	for _, bad := range [][]byte{nil, []byte("wrong")} {
		if _, err := ks.Load(c, bad); !acerr.Is(acerr.Permission, err) {
			t.Errorf("Load(passphrase %q) = %v, want Permission", bad, err)
		}
	}
	got, err := ks.Load(c, pass)
	if err != nil || !bytes.Equal(got, priv) {
		t.Errorf("Load(right passphrase) = %v", err)
	}
}

func TestKeystoreDamaged(t *testing.T) {
	ks := OpenKeystore(t.TempDir())
	id, priv, _ := New("alice", time.Unix(1, 0))
	c, _ := schema.Block(id)
	if err := ks.Save(c, priv, nil); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(ks.path(c), []byte("{garbage"), 0o600)
	if _, err := ks.Load(c, nil); !acerr.Is(acerr.Integrity, err) {
		t.Errorf("Load(damaged) = %v, want Integrity", err)
	}
}
