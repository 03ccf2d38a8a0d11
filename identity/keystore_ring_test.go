package identity

import (
	"bytes"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
	"golang.org/x/crypto/scrypt"
)

// countKDF makes ks count its scrypt runs.
func countKDF(ks *Keystore) *atomic.Int64 {
	var n atomic.Int64
	ks.kdf = func(passphrase, salt []byte, N, r, p, keyLen int) ([]byte, error) {
		n.Add(1)
		return scrypt.Key(passphrase, salt, N, r, p, keyLen)
	}
	return &n
}

// sealedIdentity saves a new identity's key in ks, sealed with pass
// (not sealed when pass is nil).
func sealedIdentity(t *testing.T, ks *Keystore, name string, pass []byte) (*schema.Identity, cid.Cid) {
	t.Helper()
	id, priv, err := New(name, time.Unix(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := schema.Block(id)
	if err := ks.Save(c, priv, pass); err != nil {
		t.Fatal(err)
	}
	return id, c
}

// TestKeyRingUnlocksOnce: many signatures with sealed keys run scrypt
// once per key, where Load runs it at every call, and every signature
// verifies.
func TestKeyRingUnlocksOnce(t *testing.T) {
	dir := t.TempDir()
	ks := OpenKeystore(dir)
	runs := countKDF(ks)
	pass := []byte("correct horse")
	alice, a := sealedIdentity(t, ks, "alice", pass)
	bob, b := sealedIdentity(t, ks, "bob", pass)
	for range 2 {
		if _, err := ks.Load(a, pass); err != nil {
			t.Fatal(err)
		}
	}
	if n := runs.Load(); n != 4 {
		t.Fatalf("scrypt ran %d times for two Saves and two Loads, want 4", n)
	}
	files := func() map[string]string {
		out := map[string]string{}
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			data, _ := os.ReadFile(dir + "/" + e.Name())
			out[e.Name()] = string(data)
		}
		return out
	}
	before := files()

	runs.Store(0)
	mine := append([]byte(nil), pass...)
	ring := ks.KeyRing(mine)
	clear(mine) // the ring keeps a copy of its own
	defer ring.Close()
	for i := range 100 {
		for _, who := range []struct {
			id *schema.Identity
			c  cid.Cid
		}{{alice, a}, {bob, b}} {
			d := &schema.Directory{Owner: who.c, Seq: uint64(i + 1)}
			if err := ring.Sign(who.c, d); err != nil {
				t.Fatalf("Sign %d: %v", i, err)
			}
			if err := Verify(who.id, d); err != nil {
				t.Fatalf("Verify %d: %v", i, err)
			}
		}
	}
	if n := runs.Load(); n != 2 {
		t.Errorf("scrypt ran %d times for 200 signatures with two sealed keys, want 2", n)
	}
	if after := files(); len(after) != len(before) || !equalMaps(before, after) {
		t.Errorf("signing changed the keystore's files")
	}
}

func equalMaps(a, b map[string]string) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return len(a) == len(b)
}

// TestKeyRingConcurrent: signatures from many goroutines at once unlock
// the key once.
func TestKeyRingConcurrent(t *testing.T) {
	ks := OpenKeystore(t.TempDir())
	runs := countKDF(ks)
	pass := []byte("pass")
	id, c := sealedIdentity(t, ks, "alice", pass)
	runs.Store(0)
	ring := ks.KeyRing(pass)
	defer ring.Close()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 10 {
				d := &schema.Directory{Owner: c, Seq: uint64(g*10 + i + 1)}
				if errs[g] = ring.Sign(c, d); errs[g] == nil {
					errs[g] = Verify(id, d)
				}
				if errs[g] != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	for g, err := range errs {
		if err != nil {
			t.Errorf("goroutine %d: %v", g, err)
		}
	}
	if n := runs.Load(); n != 1 {
		t.Errorf("scrypt ran %d times for 80 concurrent signatures, want 1", n)
	}
}

// TestKeyRingRefusals: a passphrase that does not open a key is refused
// at every use after one scrypt run; a key that is missing is looked
// for again.
func TestKeyRingRefusals(t *testing.T) {
	ks := OpenKeystore(t.TempDir())
	runs := countKDF(ks)
	_, c := sealedIdentity(t, ks, "alice", []byte("right"))
	runs.Store(0)
	for _, pass := range [][]byte{nil, []byte("wrong")} {
		ring := ks.KeyRing(pass)
		for range 5 {
			if err := ring.Sign(c, &schema.Directory{Owner: c, Seq: 1}); !acerr.Is(acerr.Permission, err) {
				t.Errorf("Sign(passphrase %q) = %v, want Permission", pass, err)
			}
		}
		ring.Close()
	}
	if n := runs.Load(); n != 1 {
		t.Errorf("scrypt ran %d times for ten refused signatures, want 1 (none without a passphrase)", n)
	}

	ring := ks.KeyRing(nil)
	defer ring.Close()
	id, priv, _ := New("bob", time.Unix(1, 0))
	b, _ := schema.Block(id)
	if ring.Has(b) {
		t.Error("Has(a key nobody saved) = true")
	}
	if err := ring.Sign(b, &schema.Directory{Owner: b, Seq: 1}); !acerr.Is(acerr.NotExist, err) {
		t.Errorf("Sign(missing key) = %v, want NotExist", err)
	}
	if err := ks.Save(b, priv, nil); err != nil {
		t.Fatal(err)
	}
	d := &schema.Directory{Owner: b, Seq: 1}
	if err := ring.Sign(b, d); err != nil || Verify(id, d) != nil {
		t.Errorf("Sign(key saved since) = %v", err)
	}
}

// TestKeyRingClose: Close overwrites the keys the ring holds and its
// passphrase; the ring then signs no more.
func TestKeyRingClose(t *testing.T) {
	ks := OpenKeystore(t.TempDir())
	pass := []byte("pass")
	_, c := sealedIdentity(t, ks, "alice", pass)
	ring := ks.KeyRing(pass)
	if err := ring.Sign(c, &schema.Directory{Owner: c, Seq: 1}); err != nil {
		t.Fatal(err)
	}
	held, heldPass := ring.keys[c], ring.pass
	if len(held) != 64 || bytes.Equal(held, make([]byte, 64)) {
		t.Fatalf("the ring holds a key of %d bytes, all zero: %v", len(held), bytes.Equal(held, make([]byte, 64)))
	}
	if err := ring.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(held, make([]byte, 64)) || !bytes.Equal(heldPass, make([]byte, len(pass))) {
		t.Errorf("after Close the key is %x and the passphrase %q, want zeros", held, heldPass)
	}
	if len(ring.keys) != 0 {
		t.Errorf("after Close the ring holds %d keys", len(ring.keys))
	}
	if err := ring.Sign(c, &schema.Directory{Owner: c, Seq: 2}); !acerr.Is(acerr.Invalid, err) {
		t.Errorf("Sign after Close = %v, want Invalid", err)
	}
	if err := ring.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if string(pass) != "pass" {
		t.Errorf("Close cleared the caller's passphrase")
	}
}
