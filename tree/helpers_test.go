package tree_test

import (
	"context"
	"crypto/sha256"
	"sync"
	"testing"
	"time"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// testTime is the clock of every test tree.
var testTime = time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)

func fixedNow() time.Time { return testTime }

// rawCID returns a raw-codec CID standing for the file content s.
func rawCID(s string) cid.Cid {
	sum := sha256.Sum256([]byte(s))
	mh, err := multihash.Encode(sum[:], multihash.SHA2_256)
	if err != nil {
		panic(err)
	}
	return cid.NewCidV1(cid.Raw, mh)
}

func file(content string) schema.Entry {
	return schema.Entry{Kind: schema.KindFile, Target: rawCID(content), Size: uint64(len(content)), Mode: 0o644}
}

// newTree returns a tree over a fresh memory store, with the fixed clock
// and replica "r1" unless cfg says otherwise.
func newTree(t *testing.T, cfg tree.Config) (*tree.Tree, *ipfsstore.Memory) {
	t.Helper()
	if cfg.Replica == "" {
		cfg.Replica = "r1"
	}
	if cfg.Now == nil {
		cfg.Now = fixedNow
	}
	st := ipfsstore.NewMemory()
	t.Cleanup(func() { st.Close() })
	return tree.New(st, cfg), st
}

// mustPut puts e at path or fails the test.
func mustPut(t *testing.T, tr *tree.Tree, root cid.Cid, path string, e schema.Entry) cid.Cid {
	t.Helper()
	c, err := tr.Put(context.Background(), root, path, e)
	if err != nil {
		t.Fatalf("Put(%q) error: %v", path, err)
	}
	return c
}

// putBlock stores n and returns its CID.
func putBlock(t testing.TB, st ipfsstore.Store, n schema.Object) cid.Cid {
	t.Helper()
	c, data := schema.Block(n)
	if err := st.Put(context.Background(), c, data); err != nil {
		t.Fatalf("store Put: %v", err)
	}
	return c
}

// wantKind checks that err is of kind want.
func wantKind(t *testing.T, what string, err error, want acerr.Kind) {
	t.Helper()
	if err == nil {
		t.Errorf("%s error = nil, want %v", what, want)
		return
	}
	if got := acerr.KindOf(err); got != want {
		t.Errorf("%s error kind = %v (%v), want %v", what, got, err, want)
	}
}

// tamperStore returns chosen bytes for chosen CIDs, as a damaged or
// hostile store would.
type tamperStore struct {
	ipfsstore.Store
	mu   sync.Mutex
	fake map[cid.Cid][]byte
}

func (s *tamperStore) set(c cid.Cid, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fake == nil {
		s.fake = map[cid.Cid][]byte{}
	}
	s.fake[c] = data
}

func (s *tamperStore) Get(ctx context.Context, c cid.Cid) ([]byte, error) {
	s.mu.Lock()
	data, ok := s.fake[c]
	s.mu.Unlock()
	if ok {
		return data, nil
	}
	return s.Store.Get(ctx, c)
}

func hashOf(name string) [32]byte { return sha256.Sum256([]byte(name)) }
