package tree_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/ipfsstore/storetest"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
)

// shape describes a directory as checkCanonical found it.
type shape struct {
	entries int // all entries, tombstones included
	blocks  int // directory and shard blocks
	depth   int // shard levels; 0 when inline
}

// checkCanonical reads the directory at c straight from the store and
// checks, independently of the tree package, that it has the canonical
// form for the limits: inline exactly when its entries fit inlineLimit;
// every shard node at its depth, a leaf exactly when its entries fit
// leafLimit, holding only names of its hash prefix, sorted; every child's
// Bytes right; every block within schema.MaxBlockSize.
func checkCanonical(t *testing.T, st ipfsstore.Store, c cid.Cid, inlineLimit, leafLimit int) shape {
	t.Helper()
	n, size, err := getBlock(st, c)
	if err != nil {
		t.Fatalf("directory %s: %v", c, err)
	}
	d := n.(*schema.Directory)
	var sh shape
	sh.blocks = 1
	if size > schema.MaxBlockSize {
		t.Errorf("directory block is %d bytes", size)
	}
	if !d.Shard.Defined() {
		if total := sumSizes(d.Entries); total > inlineLimit {
			t.Errorf("inline directory holds %d bytes of entries, limit %d", total, inlineLimit)
		}
		sh.entries = len(d.Entries)
		return sh
	}
	var walk func(c cid.Cid, depth int, prefix []byte) int
	walk = func(c cid.Cid, depth int, prefix []byte) int {
		n, size, err := getBlock(st, c)
		if err != nil {
			t.Fatalf("shard %s: %v", c, err)
		}
		s := n.(*schema.Shard)
		sh.blocks++
		sh.depth = max(sh.depth, depth+1)
		if size > schema.MaxBlockSize {
			t.Errorf("shard block is %d bytes", size)
		}
		if s.Depth != depth {
			t.Errorf("shard at depth %d says %d", depth, s.Depth)
		}
		if len(s.Children) == 0 {
			total := sumSizes(s.Entries)
			if total > leafLimit && depth < 31 {
				t.Errorf("leaf at depth %d holds %d bytes, limit %d", depth, total, leafLimit)
			}
			if !slices.IsSortedFunc(s.Entries, func(a, b schema.Entry) int { return strings.Compare(a.Name, b.Name) }) {
				t.Errorf("leaf at depth %d is not sorted", depth)
			}
			for _, e := range s.Entries {
				if h := hashOf(e.Name); string(h[:depth]) != string(prefix) {
					t.Errorf("entry %q is in the wrong leaf", e.Name)
				}
			}
			sh.entries += len(s.Entries)
			return total
		}
		total := 0
		for _, ch := range s.Children {
			got := walk(ch.Link, depth+1, append(slices.Clip(prefix), byte(ch.Index)))
			if uint64(got) != ch.Bytes {
				t.Errorf("child %d at depth %d says %d bytes, holds %d", ch.Index, depth, ch.Bytes, got)
			}
			total += got
		}
		if total <= leafLimit {
			t.Errorf("inner shard at depth %d holds only %d bytes, limit %d: should be a leaf", depth, total, leafLimit)
		}
		return total
	}
	if total := walk(d.Shard, 0, nil); total <= inlineLimit {
		t.Errorf("sharded directory holds only %d bytes, inline limit %d", total, inlineLimit)
	}
	return sh
}

func sumSizes(entries []schema.Entry) int {
	n := 0
	for i := range entries {
		n += schema.EntrySize(&entries[i])
	}
	return n
}

// randomName returns a name of 1 to 60 bytes, some of them not ASCII.
func randomName(rng *rand.Rand, i int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-_.éü日本 "
	runes := []rune(alphabet)
	var b strings.Builder
	fmt.Fprintf(&b, "%d", i) // unique
	for range rng.IntN(60) {
		b.WriteRune(runes[rng.IntN(len(runes))])
	}
	return b.String()
}

// op is one change to one name of a directory.
type op int

const (
	opPut     op = iota // create with a large entry
	opReplace           // replace with a smaller entry
	opDelete            // tombstone
)

// history is what happens to one name, in order.
type history struct {
	name string
	ops  []op
}

// entryFor is the entry Put is given for op on name.
func entryFor(name string, o op) schema.Entry {
	e := schema.Entry{Kind: schema.KindFile, Target: rawCID(name), Mtime: int64(len(name))}
	if o == opPut {
		e.Size, e.Mode, e.Mtime = 1<<40, 0o644, 1<<60
	}
	return e
}

// finalEntry is the entry the tree holds after h, as MakeDir would be given it.
func finalEntry(h history) schema.Entry {
	vv := schema.VV{"r1": uint64(len(h.ops))}
	last := h.ops[len(h.ops)-1]
	if last == opDelete {
		return schema.Entry{Name: h.name, Kind: schema.KindFile, Mtime: testTime.UnixNano(), VV: vv, Deleted: true}
	}
	e := entryFor(h.name, last)
	e.Name, e.VV = h.name, vv
	return e
}

// applyShuffled applies the histories to dir/ under a new root, in a
// random interleaving that keeps each name's own order, and returns the
// root.
func applyShuffled(t *testing.T, tr *tree.Tree, rng *rand.Rand, hs []history) cid.Cid {
	t.Helper()
	ctx := context.Background()
	next := make([]int, len(hs))
	pending := make([]int, len(hs))
	for i := range pending {
		pending[i] = i
	}
	root := cid.Undef
	for len(pending) > 0 {
		k := rng.IntN(len(pending))
		i := pending[k]
		h := hs[i]
		o := h.ops[next[i]]
		var err error
		path := "dir/" + h.name
		if o == opDelete {
			root, err = tr.Delete(ctx, root, path)
		} else {
			root, err = tr.Put(ctx, root, path, entryFor(h.name, o))
		}
		if err != nil {
			t.Fatalf("op %d on %q: %v", o, h.name, err)
		}
		if next[i]++; next[i] == len(h.ops) {
			pending[k] = pending[len(pending)-1]
			pending = pending[:len(pending)-1]
		}
	}
	return root
}

// TestCanonicalSharding applies random histories (creations, shrinking
// replacements, deletions) in random orders, under limits small enough
// for deep tries, and checks that every order gives the same CIDs, that
// the result has the canonical shape, and that MakeDir of the final
// entries gives the same directory.
func TestCanonicalSharding(t *testing.T) {
	// Each limit pair gets sizes that take the directory from inline to a
	// single leaf to tries of two or three levels.
	// A size below zero means: that many entries, all deleted at the end,
	// so that the directory shrinks back through every threshold.
	cases := []struct {
		inline, leaf int
		sizes        []int
	}{
		{2 << 10, 4 << 10, []int{1, -8, 15, 22, -40, 150, 600}},
		{4 << 10, 1 << 10, []int{8, -40, 150, -600}},
		{200, 400, []int{1, -3, 8, 22, -150, 600}},
	}
	const orders = 2
	// The shard levels the final directories had, by limits: the test
	// must reach every shape it means to check.
	seen := map[[2]int]map[int]bool{}
	seed := uint64(0)
	for _, lim := range cases {
		key := [2]int{lim.inline, lim.leaf}
		seen[key] = map[int]bool{}
		for _, n := range lim.sizes {
			wipe := n < 0
			n = max(n, -n)
			if testing.Short() && n > 150 {
				continue
			}
			seed++
			t.Run(fmt.Sprintf("inline=%d/leaf=%d/n=%d/wipe=%v", lim.inline, lim.leaf, n, wipe), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, 1))
				hs := make([]history, n)
				for i := range hs {
					hs[i] = history{name: randomName(rng, i), ops: []op{opPut}}
					switch r := rng.IntN(10); {
					case r < 3:
						hs[i].ops = append(hs[i].ops, opDelete)
					case r < 5:
						hs[i].ops = append(hs[i].ops, opReplace)
					case r < 6:
						hs[i].ops = append(hs[i].ops, opReplace, opDelete, opPut)
					}
				}
				if wipe {
					for i := range hs {
						if hs[i].ops[len(hs[i].ops)-1] != opDelete {
							hs[i].ops = append(hs[i].ops, opDelete)
						}
					}
				}
				st := ipfsstore.NewMemory()
				defer st.Close()
				cfg := tree.Config{InlineLimit: lim.inline, LeafLimit: lim.leaf, Replica: "r1", Now: fixedNow}
				tr := tree.New(st, cfg)
				var first cid.Cid
				for o := range orders {
					root := applyShuffled(t, tr, rng, hs)
					if o == 0 {
						first = root
					} else if !root.Equals(first) {
						t.Fatalf("order %d gives root %s, order 0 gives %s", o, root, first)
					}
				}
				dir, err := tr.Lookup(context.Background(), first, "dir")
				if err != nil {
					t.Fatal(err)
				}
				sh := checkCanonical(t, st, dir.Target, lim.inline, lim.leaf)
				seen[key][sh.depth] = true
				if sh.entries != n {
					t.Errorf("directory holds %d entries, want %d", sh.entries, n)
				}
				final := make([]schema.Entry, n)
				for i, h := range hs {
					final[i] = finalEntry(h)
				}
				rng.Shuffle(len(final), func(i, j int) { final[i], final[j] = final[j], final[i] })
				made, err := tr.MakeDir(context.Background(), final)
				if err != nil {
					t.Fatal(err)
				}
				if !made.Equals(dir.Target) {
					t.Errorf("MakeDir = %s, Puts and Deletes gave %s (%+v)", made, dir.Target, sh)
				}
			})
		}
	}
	if testing.Short() {
		return
	}
	want := map[[2]int][]int{
		{2 << 10, 4 << 10}: {0, 1, 2},
		{4 << 10, 1 << 10}: {0, 2},
		{200, 400}:         {0, 2, 3},
	}
	for key, depths := range want {
		for _, d := range depths {
			if !seen[key][d] {
				t.Errorf("limits %v: no case ended with %d shard levels; saw %v", key, d, seen[key])
			}
		}
	}
}

// genEntries returns n file entries named photo-NNNNNNN.jpg.
func genEntries(n int) []schema.Entry {
	entries := make([]schema.Entry, n)
	for i := range entries {
		name := fmt.Sprintf("photo-%07d.jpg", i)
		entries[i] = schema.Entry{Name: name, Kind: schema.KindFile, Target: rawCID(name), Size: uint64(i) * 977,
			Mode: 0o644, Mtime: 1700000000e9 + int64(i), VV: schema.VV{"r1": 1}}
	}
	return entries
}

// TestLargeDirectory builds a 200,000-entry directory in two orders and
// changes it, counting the blocks each change reads.
func TestLargeDirectory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 200,000-entry directories; skipped under -short")
	}
	ctx := context.Background()
	const n = 200_000
	mem := ipfsstore.NewMemory()
	defer mem.Close()
	counter := &storetest.Counting{Store: mem}
	tr := tree.New(counter, tree.Config{Replica: "r1", Now: fixedNow})

	entries := genEntries(n)
	big, err := tr.MakeDir(ctx, entries)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	shuffled := slices.Clone(entries)
	rng.Shuffle(n, func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	if again, err := tr.MakeDir(ctx, shuffled); err != nil || !again.Equals(big) {
		t.Fatalf("MakeDir(shuffled) = %s, %v; want %s", again, err, big)
	}
	sh := checkCanonical(t, mem, big, tree.DefaultInlineLimit, tree.DefaultLeafLimit)
	if sh.entries != n || sh.depth < 2 {
		t.Fatalf("directory shape %+v, want %d entries in a trie of 2 or more levels", sh, n)
	}
	root, err := tr.MakeDir(ctx, []schema.Entry{{Name: "big", Kind: schema.KindDirectory, Target: big, VV: schema.VV{"r1": 1}}})
	if err != nil {
		t.Fatal(err)
	}
	for range 200 {
		i := rng.IntN(n)
		e, err := tr.Lookup(ctx, root, "big/"+entries[i].Name)
		if err != nil || e.Size != entries[i].Size {
			t.Fatalf("Lookup(big/%s) = %+v, %v; want size %d", entries[i].Name, e, err, entries[i].Size)
		}
	}
	_, err = tr.Lookup(ctx, root, "big/photo-x.jpg")
	wantKind(t, "Lookup(big/photo-x.jpg)", err, acerr.NotExist)

	// Each change reads the root, the directory and one trie path.
	maxReads := int64(2 + sh.depth)
	added := schema.Entry{Kind: schema.KindFile, Target: rawCID("new"), Size: 3, Mtime: 5}
	changes := []struct {
		name string
		do   func() (cid.Cid, error)
	}{
		{"Put new", func() (cid.Cid, error) { return tr.Put(ctx, root, "big/new.jpg", added) }},
		{"Put over", func() (cid.Cid, error) { return tr.Put(ctx, root, "big/"+entries[7].Name, added) }},
		{"Delete", func() (cid.Cid, error) { return tr.Delete(ctx, root, "big/"+entries[9].Name) }},
		{"Lookup", func() (cid.Cid, error) { _, err := tr.Lookup(ctx, root, "big/"+entries[11].Name); return root, err }},
	}
	var putRoot cid.Cid
	for _, ch := range changes {
		counter.Gets.Store(0)
		r, err := ch.do()
		if err != nil {
			t.Fatalf("%s: %v", ch.name, err)
		}
		if got := counter.Gets.Load(); got > maxReads {
			t.Errorf("%s read %d blocks, want at most %d (trie of %d levels)", ch.name, got, maxReads, sh.depth)
		}
		if ch.name == "Put new" {
			putRoot = r
		}
	}
	// The incremental Put gives what MakeDir gives.
	added.Name, added.VV = "new.jpg", schema.VV{"r1": 1}
	want, err := tr.MakeDir(ctx, append(entries, added))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := tr.Lookup(ctx, putRoot, "big"); err != nil || !got.Target.Equals(want) {
		t.Errorf("Put into the large directory gave %s, %v; MakeDir gives %s", got.Target, err, want)
	}
}

// TestSplitAndCollapse follows one directory across every threshold, up
// and down, entry by entry, checking the shape at each step.
func TestSplitAndCollapse(t *testing.T) {
	const inline, leaf = 1 << 10, 2 << 10
	tr, st := newTree(t, tree.Config{InlineLimit: inline, LeafLimit: leaf})
	ctx := context.Background()
	entries := genEntries(200)
	root := cid.Undef
	depths := map[int]bool{}
	for _, e := range entries {
		root = mustPut(t, tr, root, "d/"+e.Name, e)
		d, _ := tr.Lookup(ctx, root, "d")
		depths[checkCanonical(t, st, d.Target, inline, leaf).depth] = true
	}
	// Replace every entry by a tombstone: the directory shrinks back down.
	for _, e := range entries {
		var err error
		if root, err = tr.Delete(ctx, root, "d/"+e.Name); err != nil {
			t.Fatal(err)
		}
		d, _ := tr.Lookup(ctx, root, "d")
		depths[checkCanonical(t, st, d.Target, inline, leaf).depth] = true
	}
	for _, want := range []int{0, 1, 2} {
		if !depths[want] {
			t.Errorf("no step had %d shard levels; saw %v", want, depths)
		}
	}
	if list, err := tr.List(ctx, root, "d"); err != nil || len(list) != 0 {
		t.Errorf("List(d) after deleting everything = %d entries, %v", len(list), err)
	}
}

func BenchmarkMakeDir(b *testing.B) {
	entries := genEntries(100_000)
	ctx := context.Background()
	for b.Loop() {
		st := ipfsstore.NewMemory()
		tr := tree.New(st, tree.Config{})
		if _, err := tr.MakeDir(ctx, entries); err != nil {
			b.Fatal(err)
		}
		st.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e5, "ns/entry")
}

func BenchmarkPut(b *testing.B) {
	ctx := context.Background()
	st := ipfsstore.NewMemory()
	defer st.Close()
	tr := tree.New(st, tree.Config{Replica: "r1"})
	big, err := tr.MakeDir(ctx, genEntries(200_000))
	if err != nil {
		b.Fatal(err)
	}
	root, err := tr.MakeDir(ctx, []schema.Entry{{Name: "big", Kind: schema.KindDirectory, Target: big, VV: schema.VV{"r1": 1}}})
	if err != nil {
		b.Fatal(err)
	}
	e := file("new")
	i := 0
	for b.Loop() {
		i++
		if _, err := tr.Put(ctx, root, fmt.Sprintf("big/new-%d", i), e); err != nil {
			b.Fatal(err)
		}
	}
}
