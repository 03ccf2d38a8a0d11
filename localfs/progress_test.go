package localfs

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/progress"
	"github.com/ipfs/go-cid"
)

// peekStore notes the progress when a large file's import is half read.
type peekStore struct {
	*ipfsstore.Memory
	p       *progress.Counter
	midFile []int64 // bytes counted, then files counted, halfway through the first large file
}

func (s *peekStore) AddFile(ctx context.Context, r io.Reader) (cid.Cid, uint64, error) {
	var buf bytes.Buffer
	half := make([]byte, 3<<19)
	n, err := io.ReadFull(r, half)
	buf.Write(half[:n])
	if err == nil && s.midFile == nil {
		snap := s.p.Snapshot()
		s.midFile = []int64{snap.Bytes, snap.Files}
	}
	if _, err := io.Copy(&buf, r); err != nil {
		return cid.Undef, 0, err
	}
	return s.Memory.AddFile(ctx, &buf)
}

// TestProgressMovesInsideALargeFile: the bytes of a large file count as
// they are read, not only once it is done, and every byte counts once;
// the totals the walk beside the import counts are the files and bytes
// imported, a symbolic link left out.
func TestProgressMovesInsideALargeFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "big"), bytes.Repeat([]byte("x"), 3<<20), 0o644)
	os.WriteFile(filepath.Join(dir, "small"), []byte("small"), 0o644)
	os.Symlink("big", filepath.Join(dir, "link"))
	p := &progress.Counter{}
	st := &peekStore{Memory: ipfsstore.NewMemory(), p: p}
	if _, err := Import(context.Background(), st, dir, ImportConfig{Workers: 1, Progress: p, Totals: true}); err != nil {
		t.Fatal(err)
	}
	got := p.Snapshot()
	if want := (progress.Snapshot{Files: 2, Bytes: 3<<20 + 5, TotalFiles: 2, TotalBytes: 3<<20 + 5, Final: true}); got != want {
		t.Errorf("progress after the import = %+v, want %+v", got, want)
	}
	if s := st.midFile; s == nil || s[0] < 3<<19 {
		t.Errorf("halfway through the large file progress said %v bytes, want at least %d", s, 3<<19)
	}
}

// TestImportCountsTotalsOnlyWhenAsked: without Totals the import counts
// what it does and walks the source once; no totals appear.
func TestImportCountsTotalsOnlyWhenAsked(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a"), []byte("aa"), 0o644)
	os.WriteFile(filepath.Join(dir, "b"), []byte("bbb"), 0o644)
	p := &progress.Counter{}
	if _, err := Import(context.Background(), ipfsstore.NewMemory(), dir, ImportConfig{Progress: p}); err != nil {
		t.Fatal(err)
	}
	if got, want := p.Snapshot(), (progress.Snapshot{Files: 2, Bytes: 5}); got != want {
		t.Errorf("progress without Totals = %+v, want %+v", got, want)
	}
}
