package ipfsstore

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/archivecache/archivecache/acerr"
)

// sealPack writes bs to the store in dir as one process would: open, Put,
// Close, which seals the pack and may merge tables.
func sealPack(t testing.TB, dir string, bs []testBlock) {
	t.Helper()
	e, err := OpenEmbedded(context.Background(), Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	putAll(t, e, bs)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
}

// tablesInUse is how many tables a lookup of e searches.
func tablesInUse(e *Embedded) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.multis) + len(e.tables)
}

// TestMultiTableRandom writes random blocks, some again, in many packs,
// one process after another, and after each checks that a fresh open
// reads every block written so far, searching at most maxTables tables,
// and that Check passes.
func TestMultiTableRandom(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(1, 2))
	var all []testBlock
	packs := 60
	if testing.Short() {
		packs = 30
	}
	for i := range packs {
		bs := makeBlocks(t, uint64(1000+i), 1+r.IntN(40), 300)
		for range r.IntN(4) {
			if len(all) > 0 {
				bs = append(bs, all[r.IntN(len(all))]) // held already: not written again
			}
		}
		sealPack(t, dir, bs)
		all = append(all, bs...)
		e := mustOpen(t, dir)
		if n := tablesInUse(e); n > maxTables {
			t.Fatalf("after %d packs a lookup searches %d tables, want at most %d", i+1, n, maxTables)
		}
		if i%10 == 9 || i == packs-1 {
			wantAll(t, e, all)
			if _, err := e.Check(t.Context()); err != nil {
				t.Fatalf("after %d packs Check = %v", i+1, err)
			}
		}
		e.Close()
	}
	if got := len(packFiles(t, dir, ".mtbl")); got == 0 || got > maxTables {
		t.Errorf("%d packs left %d multi-pack tables, want 1 to %d", packs, got, maxTables)
	}
	if got := len(packFiles(t, dir, ".tbl")); got != packs {
		t.Errorf("%d packs have %d tables of their own, want each its own", packs, got)
	}
}

// TestMultiTableNewestCopyWins repairs a damaged block (Put writes it
// again in a newer pack), then lets merges list both copies in one
// multi-pack table: reads take the newer copy, the repaired one, and
// would still find the older one should the newer fail its check.
func TestMultiTableNewestCopyWins(t *testing.T) {
	dir := t.TempDir()
	bs := makeBlocks(t, 50, 10, 2000)
	sealPack(t, dir, bs)
	old := strings.TrimSuffix(filepath.Base(packFiles(t, dir, ".pack")[0]), ".pack")
	flipInPack(t, dir, bs[3].data)
	sealPack(t, dir, bs)           // repairs bs[3], in a pack of its own
	for i := range maxTables - 1 { // a merge of all at the last
		sealPack(t, dir, makeBlocks(t, uint64(60+i), 5, 100))
	}
	e := mustOpen(t, dir)
	if len(e.multis) != 1 || len(e.tables) != 0 {
		t.Fatalf("the store has %d multi-pack tables and %d tables of packs in use, want one and none", len(e.multis), len(e.tables))
	}
	key := blockKey(bs[3].c)
	e.mu.Lock()
	copies := e.copiesLocked(key)
	loc, _ := e.locateLocked(key)
	name := e.packs[loc.pack].name
	oldOff := copies[len(copies)-1].off
	e.mu.Unlock()
	if len(copies) != 2 || name <= old {
		t.Fatalf("the repaired block has %d copies listed and is read from pack %s; want 2, and a pack newer than %s", len(copies), name, old)
	}
	wantAll(t, e, bs)
	if n, err := e.Check(t.Context()); err != nil || n != len(bs)+5*(maxTables-1) {
		t.Fatalf("Check = %d, %v; want %d, nil", n, err, len(bs)+5*(maxTables-1))
	}
	e.Close()

	// The newer copy damaged and the older good again: the older is read.
	oldPack := filepath.Join(dir, packsDir, old+".pack")
	flipAt(t, oldPack, oldOff+int64(len(bs[3].data)/2), 0x40) // as flipInPack did: the old copy is good again
	flipAt(t, filepath.Join(dir, packsDir, name+".pack"), loc.off, 1)
	e = mustOpen(t, dir)
	wantAll(t, e, bs)
	e.Close()
	// Both damaged: damage, not a missing block.
	flipAt(t, oldPack, oldOff, 1)
	e = mustOpen(t, dir)
	if _, err := e.Get(t.Context(), bs[3].c); !acerr.Is(acerr.Integrity, err) {
		t.Fatalf("Get with both copies damaged = %v; want Integrity", err)
	}
}

// flipAt flips the bits mask of the byte at off in the file path.
func flipAt(t *testing.T, path string, off int64, mask byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= mask
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestMultiTableCrash stops merges at each of their steps, as if their
// process had died there, and then at each step of the merge that
// replaces a multi-pack table: every time the store opens and reads
// every block, and the next merge leaves no table it replaced.
func TestMultiTableCrash(t *testing.T) {
	for _, step := range []string{"written", "removed"} {
		t.Run("step="+step, func(t *testing.T) {
			dir := t.TempDir()
			var all []testBlock
			stops := 0
			for i := range 2*maxTables + 1 {
				bs := makeBlocks(t, uint64(100+i), 5, 500)
				all = append(all, bs...)
				e := mustOpen(t, dir)
				putAll(t, e, bs)
				stopped := false
				e.mergeHook = func(s string) error {
					if s == step {
						stopped = true
						return errors.New("killed")
					}
					return nil
				}
				if err := e.Close(); err != nil {
					t.Fatal(err)
				}
				e = mustOpen(t, dir)
				wantAll(t, e, all)
				if _, err := e.Check(t.Context()); err != nil {
					t.Fatalf("after a merge stopped at %q, Check = %v", step, err)
				}
				if n := tablesInUse(e); n > maxTables+1 {
					t.Fatalf("a lookup searches %d tables", n)
				}
				e.Close()
				if stopped {
					stops++
					// A temporary file a killed merge left, as well.
					stray := filepath.Join(dir, packsDir, ".tmp-x.mtbl-123")
					if err := os.WriteFile(stray, []byte("half"), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			if stops == 0 {
				t.Fatalf("no merge reached step %q", step)
			}
			sealPack(t, dir, makeBlocks(t, 999, 1, 10))
			var sizes []int
			e := mustOpen(t, dir)
			for _, m := range e.multis {
				sizes = append(sizes, len(m.t.packs))
			}
			if got := len(packFiles(t, dir, ".mtbl")); got != len(e.multis) {
				t.Errorf("%d multi-pack tables are left, %d in use (of %v packs)", got, len(e.multis), sizes)
			}
			if m, _ := filepath.Glob(filepath.Join(dir, packsDir, ".tmp-*")); len(m) != 0 {
				t.Errorf("temporary files are left: %v", m)
			}
		})
	}
}

// TestMultiTableDamage damages a multi-pack table in its header, its
// list of packs and an entry: every block still reads, through the packs'
// own tables, and Check reports the table as damaged, naming it.
func TestMultiTableDamage(t *testing.T) {
	dir := t.TempDir()
	var all []testBlock
	for i := range maxTables + 1 {
		bs := makeBlocks(t, uint64(200+i), 20, 500)
		all = append(all, bs...)
		sealPack(t, dir, bs)
	}
	mt := packFiles(t, dir, ".mtbl")
	if len(mt) != 1 {
		t.Fatalf("%d packs made %d multi-pack tables, want 1", maxTables+1, len(mt))
	}
	whole, err := os.ReadFile(mt[0])
	if err != nil {
		t.Fatal(err)
	}
	flip := func(at int) []byte {
		b := bytes.Clone(whole)
		b[at] ^= 0x10
		return b
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"header", flip(12)},
		{"pack-list", flip(multiHeader + 5)},
		{"last-entry", flip(len(whole) - 10)},
		{"cut-short", whole[:len(whole)-3]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(mt[0], tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			e := mustOpen(t, dir)
			wantAll(t, e, all)
			n, err := e.Check(t.Context())
			var ae *acerr.Error
			if n != len(all) || !errors.As(err, &ae) || ae.Kind != acerr.Integrity || ae.Path != mt[0] {
				t.Fatalf("Check = %d, %v; want %d and Integrity naming %s", n, err, len(all), mt[0])
			}
			e.Close()
		})
	}
}

// TestMultiTableOpenIsBounded seals 1,000 packs, one process after
// another, and counts the table files a fresh open and one lookup map:
// at most maxTables, as with a handful of packs.
func TestMultiTableOpenIsBounded(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("tables are merged under flock, on Linux")
	}
	dir := t.TempDir()
	bs := makeBlocks(t, 300, 1000, 64)
	for i := range 1000 {
		sealPack(t, dir, bs[i:i+1])
	}
	e := mustOpen(t, dir)
	if _, err := e.Get(t.Context(), bs[123].c); err != nil {
		t.Fatal(err)
	}
	mapped := mappedTables(t, dir)
	t.Logf("open and a lookup in 1,000 packs map %d table files", mapped)
	if mapped == 0 || mapped > maxTables {
		t.Errorf("open and a lookup in 1,000 packs map %d table files, want 1 to %d", mapped, maxTables)
	}
	wantAll(t, e, bs)
}

// mappedTables counts the table files of the store in dir that this
// process has mapped.
func mappedTables(t *testing.T, dir string) int {
	t.Helper()
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	seen := make(map[string]bool)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if p := fields[len(fields)-1]; strings.HasPrefix(p, dir) && (strings.HasSuffix(p, ".tbl") || strings.HasSuffix(p, ".mtbl")) {
			seen[p] = true
		}
	}
	return len(seen)
}

// sealerChild seals packs of the blocks of sealerSet(id), 4 blocks each,
// one open and close after another, as processes sharing a home do.
func sealerChild(dir, id string) int {
	n, _ := strconv.Atoi(id)
	bs := sealerSet(n)
	for i := 0; i < len(bs); i += 4 {
		e, err := OpenEmbedded(context.Background(), Config{Dir: dir})
		if err == nil {
			for _, b := range bs[i : i+4] {
				if err = e.Put(context.Background(), b.c, b.data); err != nil {
					break
				}
			}
			if cerr := e.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return 0
}

func sealerSet(id int) []testBlock { return makeBlocksNoT(uint64(400+id), 4*30, 200) }

// TestMultiTableTwoProcesses runs two processes that seal packs into one
// store at the same time, and so merge tables at the same time: a store
// opened after reads every block of both, through at most maxTables
// tables, and Check passes.
func TestMultiTableTwoProcesses(t *testing.T) {
	dir := t.TempDir()
	runChildren(t, envSealerChild, dir, 2)
	e := mustOpen(t, dir)
	all := append(sealerSet(0), sealerSet(1)...)
	wantAll(t, e, all)
	if n, err := e.Check(t.Context()); err != nil || n != len(all) {
		t.Errorf("Check = %d, %v; want %d, nil", n, err, len(all))
	}
	if n := tablesInUse(e); n > maxTables+1 {
		t.Errorf("a lookup searches %d tables, want at most %d", n, maxTables+1)
	}
}

// TestMultiTableLongReader keeps a store open while other writers seal
// many packs and merge their tables: the open store finds each new block,
// and takes each new multi-pack table in place of the tables it replaces,
// so its lookups still search at most maxTables tables.
func TestMultiTableLongReader(t *testing.T) {
	dir := t.TempDir()
	reader := mustOpen(t, dir)
	var all []testBlock
	for i := range 5 * maxTables {
		bs := makeBlocks(t, uint64(500+i), 3, 300)
		sealPack(t, dir, bs)
		all = append(all, bs...)
		wantAll(t, reader, bs)
		if n := tablesInUse(reader); n > maxTables+1 {
			t.Fatalf("after %d packs the open store searches %d tables, want at most %d", i+1, n, maxTables+1)
		}
	}
	wantAll(t, reader, all)
	if n, err := reader.Check(t.Context()); err != nil || n != len(all) {
		t.Fatalf("Check = %d, %v; want %d, nil", n, err, len(all))
	}
}

// TestMultiTableMergeReplacesDamage damages the table of one pack in an
// entry: the merge that reads it writes it again from the pack's index
// and leaves the merge to the next writer, after which every table is
// whole and merged.
func TestMultiTableMergeReplacesDamage(t *testing.T) {
	dir := t.TempDir()
	var all []testBlock
	for i := range maxTables {
		bs := makeBlocks(t, uint64(600+i), 20, 300)
		all = append(all, bs...)
		sealPack(t, dir, bs)
	}
	tbl := packFiles(t, dir, ".tbl")[2]
	st, err := os.Stat(tbl)
	if err != nil {
		t.Fatal(err)
	}
	flipAt(t, tbl, st.Size()-3, 1)
	for i := range 2 {
		bs := makeBlocks(t, uint64(700+i), 5, 300)
		all = append(all, bs...)
		sealPack(t, dir, bs)
		if got := len(packFiles(t, dir, ".mtbl")); got != i {
			t.Fatalf("after merge %d, %d multi-pack tables; want %d", i+1, got, i)
		}
	}
	e := mustOpen(t, dir)
	wantAll(t, e, all)
	if n, err := e.Check(t.Context()); err != nil || n != len(all) {
		t.Fatalf("Check = %d, %v; want %d, nil", n, err, len(all))
	}
	if n := tablesInUse(e); n != 1 {
		t.Errorf("a lookup searches %d tables, want the one multi-pack table", n)
	}
}

// sealLoopChild seals packs of sealLoopSet(id, i), i = 0, 1, ..., one
// open and close each, printing "sealed i" after each close, until it is
// killed.
func sealLoopChild(dir, id string) int {
	n, _ := strconv.Atoi(id)
	for i := 0; ; i++ {
		e, err := OpenEmbedded(context.Background(), Config{Dir: dir})
		if err == nil {
			for _, b := range sealLoopSet(n, i) {
				if err = e.Put(context.Background(), b.c, b.data); err != nil {
					break
				}
			}
			if cerr := e.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println("sealed", i)
	}
}

func sealLoopSet(id, i int) []testBlock { return makeBlocksNoT(uint64(id)<<32|uint64(i), 3, 200) }

// TestMultiTableKill9 kills processes that seal packs one after another,
// and so merge tables, with SIGKILL at random moments: the store opens,
// reads every block of every pack a child had closed, passes Check, and
// the next merge leaves no temporary file behind.
func TestMultiTableKill9(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(44, 45))
	var sealed []testBlock
	for round := range 5 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envSealLoop+"="+dir, envWriterID+"="+strconv.Itoa(round))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan int)
		go func() {
			n := 0
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if _, err := fmt.Sscanf(sc.Text(), "sealed %d", &n); err == nil {
					n++
				}
			}
			done <- n
		}()
		time.Sleep(time.Duration(50+r.IntN(300)) * time.Millisecond)
		if err := cmd.Process.Kill(); err != nil { // SIGKILL, on the child we started
			t.Fatal(err)
		}
		n := <-done
		if ee, ok := cmd.Wait().(*exec.ExitError); !ok || ee.Exited() {
			t.Fatalf("round %d: child ended before it was killed: %s", round, stderr.String())
		}
		for i := range n {
			sealed = append(sealed, sealLoopSet(round, i)...)
		}
		t.Logf("round %d: %d packs sealed before SIGKILL", round, n)
	}
	if len(sealed) == 0 {
		t.Fatal("no child sealed a pack before being killed; the test proved nothing")
	}
	e := mustOpen(t, dir)
	wantAll(t, e, sealed)
	if _, err := e.Check(t.Context()); err != nil {
		t.Fatalf("Check after the kills: %v", err)
	}
	if n := tablesInUse(e); n > maxTables+1 {
		t.Errorf("a lookup searches %d tables", n)
	}
	e.Close()
	sealPack(t, dir, makeBlocks(t, 46, 1, 10))
	if m, _ := filepath.Glob(filepath.Join(dir, packsDir, ".tmp-*")); len(m) != 0 {
		t.Errorf("temporary files are left after a merge: %v", m)
	}
}
