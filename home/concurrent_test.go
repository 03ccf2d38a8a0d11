package home

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/archivecache/archivecache/localfs"
	"github.com/ipfs/go-cid"
)

// TestConcurrentUseOfOneHome: one long-running process (a mount, a
// receiver) calls the use-cases of one Home from many goroutines. Every
// change lands, none is lost, and each is one log entry.
func TestConcurrentUseOfOneHome(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "home")
	h, err := Init(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	before, err := h.Head.Log()
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	const workers, each = 6, 4
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*3)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				name := fmt.Sprintf("w%d-%d", w, i)
				f := filepath.Join(src, name)
				if err := os.WriteFile(f, []byte(name), 0o644); err != nil {
					errs <- err
					return
				}
				dest := "root/projects/" + name
				if _, err := h.AddLocal(ctx, f, dest, AddOptions{}); err != nil {
					errs <- fmt.Errorf("add %s: %w", dest, err)
					continue
				}
				// Readers run beside the writers.
				out := filepath.Join(t.TempDir(), name)
				if err := h.GetLocal(ctx, dest, out, localfs.ExportConfig{}); err != nil {
					errs <- fmt.Errorf("get %s: %w", dest, err)
				} else if got, _ := os.ReadFile(out); string(got) != name {
					errs <- fmt.Errorf("get %s = %q", dest, got)
				}
				if i%2 == 1 {
					if _, err := h.Move(ctx, dest, dest+".moved", ""); err != nil {
						errs <- fmt.Errorf("move %s: %w", dest, err)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	head, err := h.Get()
	if err != nil {
		t.Fatal(err)
	}
	tr := h.Tree(cid.Undef)
	for w := range workers {
		for i := range each {
			p := fmt.Sprintf("root/projects/w%d-%d", w, i)
			if i%2 == 1 {
				p += ".moved"
			}
			if _, err := tr.Lookup(ctx, head, p); err != nil {
				t.Errorf("after the changes: %v", err)
			}
		}
	}
	after, err := h.Head.Log()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(after)-len(before), workers*each+workers*each/2; got != want {
		t.Errorf("the log grew by %d entries, want one per change: %d", got, want)
	}
}
