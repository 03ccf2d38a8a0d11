package ipfsstore

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/archivecache/archivecache/acerr"
)

// breakWrites makes every later write to e's current pack fail, as a full
// or failing disk would, while reads keep working.
func breakWrites(t *testing.T, e *Embedded) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	w := e.cur
	ro, err := os.Open(w.f.Name())
	if err != nil {
		t.Fatal(err)
	}
	locked := w.f // keeps the pack's lock
	t.Cleanup(func() { locked.Close() })
	w.f, e.packs[w.id].f = ro, ro
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// TestEmbeddedGivesBackAfterFailedWrite fails the writes of a store after
// one Sync: Close cuts the pack and its index back to what that Sync made
// durable, and a store whose writes failed before any Sync leaves no file.
func TestEmbeddedGivesBackAfterFailedWrite(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	kept, lost := makeBlocks(t, 30, 20, 5000), makeBlocks(t, 31, 30, 200000)
	e := mustOpen(t, dir)
	putAll(t, e, kept)
	if err := e.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	pack, idx := packFiles(t, dir, ".pack")[0], packFiles(t, dir, ".idx")[0]
	packSize, idxSize := fileSize(t, pack), fileSize(t, idx)

	breakWrites(t, e)
	var putErr error
	for _, b := range lost {
		if putErr = e.Put(ctx, b.c, b.data); putErr != nil {
			break
		}
	}
	if err := e.Sync(ctx); !acerr.Is(acerr.IO, err) {
		t.Fatalf("Sync after a failed write = %v, want IO", err)
	}
	if err := e.Put(ctx, lost[0].c, lost[0].data); !acerr.Is(acerr.IO, err) && !acerr.Is(acerr.IO, putErr) {
		t.Fatalf("Put after a failed write = %v, want IO", err)
	}
	if err := e.Close(); !acerr.Is(acerr.IO, err) {
		t.Fatalf("Close after a failed write = %v, want IO", err)
	}
	if got, got2 := fileSize(t, pack), fileSize(t, idx); got != packSize || got2 != idxSize {
		t.Errorf("after Close: pack %d bytes, index %d; want %d and %d, as the last Sync left them", got, got2, packSize, idxSize)
	}
	if m := packFiles(t, dir, ".unsealed"); len(m) != 0 {
		t.Errorf("markers left: %v", m)
	}
	e = mustOpen(t, dir)
	wantAll(t, e, kept)
	if _, err := e.Get(ctx, lost[0].c); !acerr.Is(acerr.NotExist, err) {
		t.Errorf("Get(block of the failed write) = %v, want NotExist", err)
	}
	if n, err := e.Check(ctx); err != nil || n != len(kept) {
		t.Errorf("Check = %d, %v; want %d, nil", n, err, len(kept))
	}
	e.Close()

	// Nothing synced: nothing left.
	dir = t.TempDir()
	e = mustOpen(t, dir)
	putAll(t, e, kept[:1])
	breakWrites(t, e)
	for _, b := range lost {
		if e.Put(ctx, b.c, b.data) != nil {
			break
		}
	}
	if err := e.Close(); !acerr.Is(acerr.IO, err) {
		t.Fatalf("Close after a failed write = %v, want IO", err)
	}
	if m := packFiles(t, dir, ""); len(m) != 0 {
		t.Errorf("a store whose only writes failed left %v", m)
	}
}

// Child processes of TestEmbeddedReclaimsDeadWriter.
const (
	envHalfChild = "AC_IPFSSTORE_HALF_CHILD" // store dir: sync one set, write another, wait
	envHalfSeed  = "AC_IPFSSTORE_HALF_SEED"
)

// halfChild syncs halfSets(seed)'s first set, puts the second without
// syncing and waits until its bytes are in the pack, prints "ready" and
// waits to be killed.
func halfChild(dir, seed string) int {
	ctx := context.Background()
	e, err := OpenEmbedded(ctx, Config{Dir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	synced, unsynced := halfSets(seed)
	for i, set := range [][]testBlock{synced, unsynced} {
		for _, b := range set {
			if err := e.Put(ctx, b.c, b.data); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		if i == 0 {
			if err := e.Sync(ctx); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
	}
	for {
		e.mu.Lock()
		written := e.cur.written
		e.mu.Unlock()
		if written >= writeBufSize {
			break
		}
		time.Sleep(time.Millisecond)
	}
	fmt.Println("ready")
	select {}
}

func halfSets(seed string) (synced, unsynced []testBlock) {
	s := uint64(len(seed)) * 1000
	return makeBlocksNoT(s, 10, 3000), makeBlocksNoT(s+1, 60, 150000)
}

// startHalfChild starts a halfChild on dir and waits until it is ready.
func startHalfChild(t *testing.T, dir, seed string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envHalfChild+"="+dir, envHalfSeed+"="+seed)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
		t.Fatalf("child: %q, %s", line, stderr.String())
	}
	return cmd
}

// packOf returns the base name of the one pack in dir not in old.
func packOf(t *testing.T, dir string, old map[string]bool) string {
	t.Helper()
	for _, p := range packFiles(t, dir, ".pack") {
		if name := strings.TrimSuffix(filepath.Base(p), ".pack"); !old[name] {
			old[name] = true
			return name
		}
	}
	t.Fatal("no new pack")
	return ""
}

// TestEmbeddedReclaimsDeadWriter kills a writer that has synced some
// blocks and written more: the next process to write cuts its pack back
// to the synced blocks, which stay readable, and leaves alone the pack of
// a writer that is alive.
func TestEmbeddedReclaimsDeadWriter(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	seen := map[string]bool{}
	dead := startHalfChild(t, dir, "dead")
	deadPack := packOf(t, dir, seen)
	startHalfChild(t, dir, "alive-one")
	alivePack := packOf(t, dir, seen)
	if err := dead.Process.Kill(); err != nil { // SIGKILL, on the child we started
		t.Fatal(err)
	}
	dead.Wait()
	synced, unsynced := halfSets("dead")
	path := func(name, ext string) string { return filepath.Join(dir, packsDir, name+ext) }
	before, aliveBefore := fileSize(t, path(deadPack, ".pack")), fileSize(t, path(alivePack, ".pack"))

	// A reader cuts nothing, and finds what the dead writer synced.
	e := mustOpen(t, dir)
	wantAll(t, e, synced)
	if got := fileSize(t, path(deadPack, ".pack")); got != before {
		t.Fatalf("a store that only read changed a pack from %d to %d bytes", before, got)
	}
	// The first write cuts the dead writer's pack back.
	putAll(t, e, makeBlocks(t, 32, 1, 100))
	want := int64(len(packMagic))
	for _, b := range synced {
		want += int64(packRecordHeader + len(b.c.Bytes()) + len(b.data))
	}
	if got := fileSize(t, path(deadPack, ".pack")); got != want || before <= want {
		t.Errorf("dead writer's pack: %d bytes before, %d after; want more than %d, then %d (its synced blocks)", before, got, want, want)
	}
	if _, err := os.Stat(path(deadPack, ".unsealed")); !os.IsNotExist(err) {
		t.Errorf("dead writer's marker: %v, want it removed", err)
	}
	if _, err := os.Stat(path(deadPack, ".tbl")); err != nil {
		t.Errorf("dead writer's pack, cut back: %v, want its table written", err)
	}
	if got := fileSize(t, path(alivePack, ".pack")); got != aliveBefore {
		t.Errorf("live writer's pack changed from %d to %d bytes", aliveBefore, got)
	}
	if _, err := os.Stat(path(alivePack, ".unsealed")); err != nil {
		t.Errorf("live writer's marker: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = mustOpen(t, dir)
	wantAll(t, e, synced)
	if p := e.packs[slices.IndexFunc(e.packs, func(p *packFile) bool { return p.name == deadPack })]; p.table == nil {
		t.Errorf("the dead writer's pack is read from its index, not its table")
	}
	if _, err := e.Get(ctx, unsynced[0].c); !acerr.Is(acerr.NotExist, err) {
		t.Errorf("Get(block the dead writer never synced) = %v, want NotExist", err)
	}
	if n, err := e.Check(ctx); err != nil || n < len(synced) {
		t.Errorf("Check = %d, %v", n, err)
	}
}
