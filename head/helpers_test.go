package head_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// file returns a file entry standing for the content s.
func file(s string) schema.Entry {
	sum := sha256.Sum256([]byte(s))
	mh, err := multihash.Encode(sum[:], multihash.SHA2_256)
	if err != nil {
		panic(err)
	}
	return schema.Entry{Kind: schema.KindFile, Target: cid.NewCidV1(cid.Raw, mh), Size: uint64(len(s)), Mode: 0o644}
}

// newTree returns a tree over a fresh memory store, with a fixed clock
// and the replica cfg names ("r1" if none).
func newTree(t *testing.T, cfg tree.Config) (*tree.Tree, *ipfsstore.Memory) {
	t.Helper()
	if cfg.Replica == "" {
		cfg.Replica = "r1"
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC) }
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

// dirStore keeps one file per block in a directory, so that several
// processes can share it. A block file appears by rename, whole or not at
// all.
type dirStore struct{ dir string }

var _ ipfsstore.Syncer = dirStore{}

func (s dirStore) name(c cid.Cid) string { return filepath.Join(s.dir, c.String()) }

func (s dirStore) Get(ctx context.Context, c cid.Cid) ([]byte, error) {
	data, err := os.ReadFile(s.name(c))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, acerr.E("dirStore.Get", "", acerr.NotExist, nil).WithCID(c.String())
	}
	return data, err
}

func (s dirStore) Has(ctx context.Context, c cid.Cid) (bool, error) {
	_, err := os.Stat(s.name(c))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (s dirStore) Put(ctx context.Context, c cid.Cid, data []byte) error {
	if !schema.Sum(data).Equals(c) {
		return acerr.E("dirStore.Put", "", acerr.Integrity, nil).WithCID(c.String())
	}
	if _, err := os.Stat(s.name(c)); err == nil {
		return nil
	}
	f, err := os.CreateTemp(s.dir, ".tmp*")
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), s.name(c))
}

func (s dirStore) Sync(ctx context.Context) error {
	d, err := os.Open(s.dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (dirStore) AddFile(context.Context, io.Reader) (cid.Cid, uint64, error) {
	return cid.Undef, 0, errors.New("dirStore holds blocks only")
}

func (dirStore) OpenFile(context.Context, cid.Cid) (ipfsstore.File, error) {
	return nil, errors.New("dirStore holds blocks only")
}

func (dirStore) Close() error { return nil }
