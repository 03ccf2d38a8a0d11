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
	blocks  int // directory and tree node blocks
	levels  int // the root's level: 0 when inline
}

// acceptAll is a Checker that leaves every decision to the structure.
type acceptAll struct{}

func (acceptAll) CheckDirectory(context.Context, cid.Cid, *schema.Directory) error { return nil }
func (acceptAll) CheckEntry(context.Context, *schema.Entry, *tree.Linked) error    { return nil }

// checkCanonical reads the directory at c straight from the store and
// checks its form: every node at its level, in name order, each child
// named by its first name, no block over schema.MaxBlockSize or four
// targets and an item; then a Check from nothing (which checks every cut
// as a hostile friend's tree is checked) must pass.
func checkCanonical(t *testing.T, st ipfsstore.Store, c cid.Cid, cfg tree.Config) shape {
	t.Helper()
	cfg = tree.New(st, cfg).Config()
	n, _, err := getBlock(st, c)
	if err != nil {
		t.Fatalf("directory %s: %v", c, err)
	}
	d := n.(*schema.Directory)
	sh := shape{blocks: 1, levels: d.Level}
	if len(d.Children) == 0 {
		sh.entries = len(d.Entries)
	} else {
		var last string
		var walk func(c cid.Cid, level int, first string)
		walk = func(c cid.Cid, level int, first string) {
			n, size, err := getBlock(st, c)
			if err != nil {
				t.Fatalf("tree node %s: %v", c, err)
			}
			s := n.(*schema.DirNode)
			sh.blocks++
			if level >= 0 && s.Level != level {
				t.Errorf("node at level %d says %d", level, s.Level)
			}
			target := cfg.InnerTarget
			if s.Level == 0 {
				target = cfg.LeafTarget
			}
			if size > schema.MaxBlockSize || size > 4*target+1024 {
				t.Errorf("node of level %d is %d bytes, target %d", s.Level, size, target)
			}
			var names []string
			for _, e := range s.Entries {
				names = append(names, e.Name)
			}
			for _, ch := range s.Children {
				names = append(names, ch.Name)
			}
			if first != "" && (len(names) == 0 || names[0] != first) {
				t.Errorf("node of level %d begins with %v, its parent says %q", s.Level, names[:min(1, len(names))], first)
			}
			if len(names) > 0 && names[0] <= last && last != "" && s.Level == 0 {
				t.Errorf("leaf begins with %q after %q", names[0], last)
			}
			if s.Level == 0 {
				sh.entries += len(s.Entries)
				last = names[len(names)-1]
			}
			for _, ch := range s.Children {
				walk(ch.Link, s.Level-1, ch.Name)
			}
		}
		for _, ch := range d.Children {
			walk(ch.Link, d.Level-1, ch.Name)
		}
	}
	if err := tree.New(st, cfg).NewCheck(acceptAll{}).Dir(context.Background(), cid.Undef, c); err != nil {
		t.Errorf("Check of the directory: %v", err)
	}
	return sh
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

// TestCanonicalTree applies random histories (creations, shrinking
// replacements, deletions) in random orders, under targets small enough
// for tall trees, and checks that every order gives the same CIDs, that
// the result has the canonical shape, and that MakeDir of the final
// entries gives the same directory.
func TestCanonicalTree(t *testing.T) {
	cases := []struct {
		leaf, inner int
		sizes       []int
	}{
		{512, 256, []int{1, 3, 8, 15, 22, 40, 150, 600}},
		{1 << 10, 512, []int{8, 40, 150, 600}},
		{256, 128, []int{1, 3, 5, 8, 22, 150, 600}},
	}
	const orders = 3
	seen := map[[2]int]map[int]bool{}
	seed := uint64(0)
	for _, tg := range cases {
		key := [2]int{tg.leaf, tg.inner}
		seen[key] = map[int]bool{}
		for _, n := range tg.sizes {
			if testing.Short() && n > 150 {
				continue
			}
			seed++
			t.Run(fmt.Sprintf("leaf=%d/inner=%d/n=%d", tg.leaf, tg.inner, n), func(t *testing.T) {
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
				st := ipfsstore.NewMemory()
				defer st.Close()
				cfg := tree.Config{LeafTarget: tg.leaf, InnerTarget: tg.inner, Replica: "r1", Now: fixedNow}
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
				sh := checkCanonical(t, st, dir.Target, cfg)
				seen[key][sh.levels] = true
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
	for key, levels := range seen {
		high := false
		for l := range levels {
			high = high || l >= 2
		}
		if !levels[0] || !levels[1] || !high {
			t.Errorf("targets %v: the cases ended with roots at levels %v, want 0, 1 and 2 or more", key, levels)
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
	sh := checkCanonical(t, mem, big, tree.Config{})
	if sh.entries != n || sh.levels < 2 {
		t.Fatalf("directory shape %+v, want %d entries in a tree of 2 or more levels", sh, n)
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

	// Each change reads the root, the directory and one path of its
	// tree, with a node or two after it where a new cut falls past the
	// old one.
	maxReads := int64(2 + sh.levels + 2)
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
			t.Errorf("%s read %d blocks, want at most %d (tree of %d levels)", ch.name, got, maxReads, sh.levels)
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

// TestGrowAndShrink follows one directory across every level, up and
// down, entry by entry, checking the shape at each step; the way down
// removes names (as WithEntries of a smaller set cannot, this goes
// through tombstones being replaced by shorter entries).
func TestGrowAndShrink(t *testing.T) {
	cfg := tree.Config{LeafTarget: 256, InnerTarget: 128}
	tr, st := newTree(t, cfg)
	ctx := context.Background()
	entries := genEntries(300)
	root := cid.Undef
	levels := map[int]bool{}
	for _, e := range entries {
		root = mustPut(t, tr, root, "d/"+e.Name, e)
		d, _ := tr.Lookup(ctx, root, "d")
		levels[checkCanonical(t, st, d.Target, cfg).levels] = true
	}
	// Replace every entry by a tombstone, smaller than the entry.
	for _, e := range entries {
		var err error
		if root, err = tr.Delete(ctx, root, "d/"+e.Name); err != nil {
			t.Fatal(err)
		}
		d, _ := tr.Lookup(ctx, root, "d")
		levels[checkCanonical(t, st, d.Target, cfg).levels] = true
	}
	for _, want := range []int{0, 1, 2, 3} {
		if !levels[want] {
			t.Errorf("no step had a root at level %d; saw %v", want, levels)
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
