package ipfsstore

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/archivecache/archivecache/acerr"
	"github.com/ipfs/go-cid"
)

// envGCChild names a store directory: the child collects it (gcSets) and
// prints "collected" when done.
const envGCChild = "AC_IPFSSTORE_GC_CHILD"

// gcSets writes packs of blocks to dir, and returns the blocks a Collect
// is to keep and those it is to give back: in some packs all are kept,
// in some none, in the rest every other one.
func gcSets(t testing.TB, dir string, packs, perPack, maxSize int) (live, dead []testBlock) {
	for i := range packs {
		bs := makeBlocksNoT(uint64(7000+i), perPack, maxSize)
		if t != nil {
			sealPack(t, dir, bs)
		}
		for j, b := range bs {
			switch {
			case i%3 == 0, i%3 == 2 && j%2 == 0:
				live = append(live, b)
			default:
				dead = append(dead, b)
			}
		}
	}
	return live, dead
}

// keepOf is a Keep that reaches the blocks bs.
func keepOf(bs []testBlock, dry bool) Keep {
	set := map[cid.Cid]bool{}
	for _, b := range bs {
		set[b.c] = true
	}
	return Keep{
		DryRun: dry,
		Roots:  func(context.Context) ([]cid.Cid, error) { return nil, nil },
		Reach: func(context.Context, []cid.Cid) (func(cid.Cid) bool, error) {
			return func(c cid.Cid) bool { return set[c] }, nil
		},
	}
}

func gcChild(dir string) int {
	live, _ := gcSets(nil, dir, 24, 40, 64<<10)
	e, err := OpenEmbedded(context.Background(), Config{Dir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, err := e.Collect(context.Background(), keepOf(live, false)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("collected")
	return 0
}

// wantGone checks that no block of bs is held.
func wantGone(t *testing.T, e *Embedded, bs []testBlock) {
	t.Helper()
	for _, b := range bs {
		if ok, err := e.Has(t.Context(), b.c); err != nil || ok {
			t.Fatalf("Has(%s) = %v, %v after Collect: want it given back", b.c, ok, err)
		}
	}
}

// TestCollect keeps what is reached, gives back the rest and the files
// of failed writers, and says what it freed, the dry run beforehand
// about as much.
func TestCollect(t *testing.T) {
	dir := t.TempDir()
	live, dead := gcSets(t, dir, 9, 30, 8<<10)
	pdir := filepath.Join(dir, packsDir)
	// What interrupted writers leave: an index without its pack, a pack
	// without its index, a table's temporary file.
	for _, name := range []string{"0000000000000001-00.idx", "0000000000000002-00.pack", ".tmp-x.tbl-1"} {
		if err := os.WriteFile(filepath.Join(pdir, name), make([]byte, 100), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e := mustOpen(t, dir)
	dry, err := e.Collect(t.Context(), keepOf(live, true))
	if err != nil {
		t.Fatal(err)
	}
	if dry.Freed() <= 0 || dry.PacksRemoved != 3 || dry.PacksRewritten != 3 || dry.FreedBlocks != len(dead) {
		t.Fatalf("dry run = %+v, want 3 packs removed, 3 rewritten, %d blocks freed", dry, len(dead))
	}
	wantAll(t, e, append(live, dead...))
	res, err := e.Collect(t.Context(), keepOf(live, false))
	if err != nil {
		t.Fatal(err)
	}
	if res.Blocks != len(live) || res.FreedBlocks != len(dead) || res.Orphans != 3 {
		t.Errorf("Collect = %+v, want %d blocks kept, %d freed, 3 orphans", res, len(live), len(dead))
	}
	got, err := dirSize(pdir)
	if err != nil {
		t.Fatal(err)
	}
	if res.After != got || res.Freed() <= 0 {
		t.Errorf("Collect says the store went from %d to %d bytes; it holds %d", res.Before, res.After, got)
	}
	if d := dry.Freed() - res.Freed(); d < -res.Freed()/5 || d > res.Freed()/5 {
		t.Errorf("dry run said %d bytes would be freed, Collect freed %d", dry.Freed(), res.Freed())
	}
	// The same store reads on, and a fresh open too.
	wantAll(t, e, live)
	wantGone(t, e, dead)
	e.Close()
	e2 := mustOpen(t, dir)
	wantAll(t, e2, live)
	wantGone(t, e2, dead)
	if _, err := e2.Check(t.Context()); err != nil {
		t.Fatalf("Check after Collect: %v", err)
	}
	// Nothing left to give back.
	again, err := e2.Collect(t.Context(), keepOf(live, false))
	if err != nil {
		t.Fatal(err)
	}
	if again.Freed() != 0 || again.PacksRewritten+again.PacksRemoved != 0 {
		t.Errorf("a second Collect = %+v, want nothing freed", again)
	}
}

// TestCollectLocked: Collect runs only where no one else has the store
// open, and an Open waits while it runs.
func TestCollectLocked(t *testing.T) {
	dir := t.TempDir()
	live, _ := gcSets(t, dir, 3, 5, 100)
	e := mustOpen(t, dir)
	other := mustOpen(t, dir)
	short, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := e.Collect(short, keepOf(live, false)); !acerr.Is(acerr.Locked, err) {
		t.Fatalf("Collect beside another open store = %v, want Locked", err)
	}
	other.Close()
	k := keepOf(live, false)
	reach := k.Reach
	k.Reach = func(ctx context.Context, roots []cid.Cid) (func(cid.Cid) bool, error) {
		ctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		if _, err := OpenEmbedded(ctx, Config{Dir: dir}); !acerr.Is(acerr.Locked, err) {
			t.Errorf("Open during a Collect = %v, want it to wait (Locked at its deadline)", err)
		}
		return reach(ctx, roots)
	}
	if _, err := e.Collect(t.Context(), k); err != nil {
		t.Fatal(err)
	}
	wantAll(t, mustOpen(t, dir), live)
}

// TestCollectKill9 kills collecting processes with SIGKILL at moments
// spread over a collection, and checks after each that the store opens,
// passes Check and reads every block to keep, and that a Collect run
// then finishes the work.
func TestCollectKill9(t *testing.T) {
	tmpl := t.TempDir()
	live, dead := gcSets(t, tmpl, 24, 40, 64<<10)
	run := func(dir string, kill time.Duration) (killed bool) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envGCChild+"="+dir)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if kill > 0 {
			time.AfterFunc(kill, func() { cmd.Process.Kill() }) // SIGKILL, on the child we started
		}
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok && !ee.Exited() {
			return true
		}
		if err != nil || stdout.String() != "collected\n" {
			t.Fatalf("child: %v: %s", err, stderr.String())
		}
		return false
	}
	// How long a whole collection takes here.
	full := filepath.Join(t.TempDir(), "full")
	copyDir(t, tmpl, full)
	start := time.Now()
	run(full, 0)
	took := time.Since(start)
	rounds := 12
	if testing.Short() {
		rounds = 4
	}
	kills := 0
	for i := range rounds {
		dir := filepath.Join(t.TempDir(), strconv.Itoa(i))
		copyDir(t, tmpl, dir)
		if run(dir, took*time.Duration(i+1)/time.Duration(rounds+1)) {
			kills++
		}
		e := mustOpen(t, dir)
		wantAll(t, e, live)
		if _, err := e.Check(t.Context()); err != nil {
			t.Fatalf("round %d: Check after the kill: %v", i, err)
		}
		if _, err := e.Collect(t.Context(), keepOf(live, false)); err != nil {
			t.Fatalf("round %d: Collect after the kill: %v", i, err)
		}
		wantAll(t, e, live)
		wantGone(t, e, dead)
		e.Close()
	}
	if kills == 0 {
		t.Fatal("no child was killed before it finished; the test proved nothing")
	}
	t.Logf("%d of %d children killed during a collection of %v", kills, rounds, took)
}

// copyDir copies the store in src to dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
}
