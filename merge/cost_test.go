package merge_test

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/ipfsstore/storetest"
	"github.com/archivecache/archivecache/merge"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
)

// bigTrees builds a shared tree of dirs directories of files files each
// (file contents are never read, so they are not stored), and two
// replicas' roots that each change changes different files of it.
func bigTrees(tb tb, st ipfsstore.Store, dirs, files, changes int) (base, a, b cid.Cid, changed []string) {
	tb.Helper()
	clk := &clock{}
	mk := tree.New(st, tree.Config{Now: clk.now})
	var top []schema.Entry
	for d := range dirs {
		entries := make([]schema.Entry, files)
		for f := range files {
			entries[f] = schema.Entry{Name: fmt.Sprintf("file%04d.txt", f), Kind: schema.KindFile,
				Target: schema.Sum([]byte(fmt.Sprint(d, "/", f))), Size: 100, Mode: 0o644, Mtime: 1, VV: schema.VV{"base": 1}}
			entries[f].Target = rawLink(entries[f].Target)
		}
		c, err := mk.MakeDir(ctx, entries)
		if err != nil {
			tb.Fatal(err)
		}
		top = append(top, schema.Entry{Name: fmt.Sprintf("dir%04d", d), Kind: schema.KindDirectory, Target: c, Mtime: 1, VV: schema.VV{"base": 1}})
	}
	base, err := mk.MakeDir(ctx, top)
	if err != nil {
		tb.Fatal(err)
	}
	r := rand.New(rand.NewSource(1))
	edit := func(replica string) cid.Cid {
		tr := tree.New(st, tree.Config{Replica: replica, Now: clk.now})
		root := base
		for range changes {
			p := fmt.Sprintf("dir%04d/file%04d.txt", r.Intn(dirs), r.Intn(files))
			changed = append(changed, p)
			e := schema.Entry{Kind: schema.KindFile, Target: rawLink(schema.Sum([]byte(replica + p))), Size: 7}
			if root, err = tr.Put(ctx, root, p, e); err != nil {
				tb.Fatal(err)
			}
		}
		return root
	}
	return base, edit("a"), edit("b"), changed
}

// rawLink turns a dag-cbor CID into a raw one with the same hash: a
// stand-in for a file's content.
func rawLink(c cid.Cid) cid.Cid { return cid.NewCidV1(cid.Raw, c.Hash()) }

// TestMergeCostFollowsDifference merges two 100,000-file trees (1,000
// directories under a root that is a tree of many nodes) that differ in 10 files on each
// side, and counts the blocks read: only those on the paths to the 20
// changes, against more than a thousand for a walk of either tree.
func TestMergeCostFollowsDifference(t *testing.T) {
	dirs, files := 1000, 100
	if testing.Short() {
		files = 10
	}
	mem := ipfsstore.NewMemory()
	base, a, b, changed := bigTrees(t, mem, dirs, files, 10)
	if d, _ := tree.New(mem, tree.Config{}).ReadDirectory(ctx, base); len(d.Children) == 0 {
		t.Fatalf("the root of %d directories is one inline leaf", dirs)
	}
	st := &storetest.Counting{Store: mem}
	m := merge.New(merge.Config{Store: st})
	got, _, err := m.Merge(ctx, a, b)
	if err != nil {
		t.Fatal(err)
	}
	reads := st.Gets.Load()

	tr := tree.New(mem, tree.Config{})
	for i, p := range changed {
		e, err := tr.Lookup(ctx, got, p)
		replica := "a"
		if i >= 10 {
			replica = "b"
		}
		if err != nil || e.Target != rawLink(schema.Sum([]byte(replica+p))) {
			t.Errorf("merged %s = %v, %v; want %s's change", p, e.Target, err, replica)
		}
	}
	// Per change, on each side: the root, the nodes of its tree above
	// the directory (a 1,000-entry root makes a tree of three levels),
	// and the directory itself with a node of its tree.
	if max := int64(20 * 2 * 6); reads > max {
		t.Errorf("merge read %d blocks, want at most %d", reads, max)
	}
	st.Gets.Store(0)
	walked := 0
	tree.New(st, tree.Config{}).Walk(ctx, a, "", func(string, schema.Entry) error { walked++; return nil })
	t.Logf("merge read %d blocks; a walk of one tree reads %d (%d entries)", reads, st.Gets.Load(), walked)
	if st.Gets.Load() < int64(dirs) {
		t.Errorf("a walk read %d blocks, fewer than the %d directories", st.Gets.Load(), dirs)
	}
}

// BenchmarkMerge100k is the merge of TestMergeCostFollowsDifference,
// beside a walk of one of the trees.
func BenchmarkMerge100k(b *testing.B) {
	mem := ipfsstore.NewMemory()
	_, x, y, _ := bigTrees(b, mem, 1000, 100, 10)
	b.Run("merge", func(b *testing.B) {
		st := &storetest.Counting{Store: mem}
		for b.Loop() {
			m := merge.New(merge.Config{Store: st}) // as each ac-merge does
			if _, _, err := m.Merge(ctx, x, y); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(st.Gets.Load())/float64(b.N), "blocks/op")
	})
	b.Run("walk", func(b *testing.B) {
		st := &storetest.Counting{Store: mem}
		tr := tree.New(st, tree.Config{})
		for b.Loop() {
			if err := tr.Walk(ctx, x, "", func(string, schema.Entry) error { return nil }); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(st.Gets.Load())/float64(b.N), "blocks/op")
	})
}

// dagTree returns a directory nesting depth levels, each holding entries
// a and b that link the same directory below: 2^depth paths through
// depth+1 distinct blocks. The innermost holds one file with content leaf.
func dagTree(t tb, st ipfsstore.Store, depth int, leaf string) cid.Cid {
	t.Helper()
	mk := tree.New(st, tree.Config{})
	c, err := mk.MakeDir(ctx, []schema.Entry{{Name: "f", Kind: schema.KindFile, Target: rawLink(schema.Sum([]byte(leaf))), Size: uint64(len(leaf)), Mtime: 1, VV: schema.VV{"m": 1}}})
	if err != nil {
		t.Fatal(err)
	}
	for range depth {
		sub := schema.Entry{Kind: schema.KindDirectory, Target: c, Mtime: 1, VV: schema.VV{"m": 1}}
		a, b := sub, sub
		a.Name, b.Name = "a", "b"
		if c, err = mk.MakeDir(ctx, []schema.Entry{a, b}); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// TestSharedSubtreesCostDistinctBlocks merges, checks and compares trees
// whose directories share children, 2^24 paths through 25 blocks: once
// taken in whole, once against an earlier version of the same shape. Each
// reads a number of blocks bounded by the distinct blocks, not the paths.
func TestSharedSubtreesCostDistinctBlocks(t *testing.T) {
	const depth = 24
	mem := ipfsstore.NewMemory()
	st := &storetest.Counting{Store: mem}
	m := newMerger(st, merge.Config{})
	mk := tree.New(mem, tree.Config{Replica: "r"})
	put := func(root cid.Cid, dag cid.Cid, vv uint64) cid.Cid {
		c, err := mk.Put(ctx, root, "dag", schema.Entry{Kind: schema.KindDirectory, Target: dag, Mtime: int64(vv)})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	empty, err := mk.MakeDir(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := put(empty, dagTree(t, mem, depth, "one"), 1)
	second := put(first, dagTree(t, mem, depth, "two"), 2)

	for _, tc := range []struct {
		name      string
		held, in  cid.Cid
		maxBlocks int64
	}{
		{"taken whole", empty, first, 2 * (depth + 3)},
		{"merged with an earlier one", first, second, 4 * (depth + 3)},
	} {
		st.Gets.Store(0)
		got, rep, err := m.Merge(ctx, tc.held, tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got != tc.in {
			t.Errorf("%s: merged into %s, want the incoming %s (it supersedes)", tc.name, got, tc.in)
		}
		if n := st.Gets.Load(); n > tc.maxBlocks {
			t.Errorf("%s: merge read %d blocks, want at most %d", tc.name, n, tc.maxBlocks)
		}
		if rep.Checked > depth+3 {
			t.Errorf("%s: checked %d blocks, want at most %d", tc.name, rep.Checked, depth+3)
		}

		st.Gets.Store(0)
		checkTree(t, st, nil, tree.Config{}, got)
		if n := st.Gets.Load(); n > depth+3 {
			t.Errorf("%s: checking the result read %d blocks, want at most %d", tc.name, n, depth+3)
		}

		st.Gets.Store(0)
		changes := 0
		err = tree.New(st, tree.Config{}).Changes(ctx, tc.held, got, func(tree.Change) error { changes++; return nil })
		if err != nil {
			t.Fatalf("%s: Changes: %v", tc.name, err)
		}
		if n := st.Gets.Load(); n > tc.maxBlocks || changes > depth+2 {
			t.Errorf("%s: Changes read %d blocks and reported %d changes, want at most %d and %d", tc.name, n, changes, tc.maxBlocks, depth+2)
		}
	}
}

// BenchmarkSharedSubtrees merges a tree of 2^24 paths through 25 blocks
// into one of the same shape with another leaf, then checks the result
// as ac-verify does.
func BenchmarkSharedSubtrees(b *testing.B) {
	const depth = 24
	mem := ipfsstore.NewMemory()
	mk := tree.New(mem, tree.Config{Replica: "r"})
	empty, err := mk.MakeDir(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	put := func(root, dag cid.Cid, mtime int64) cid.Cid {
		c, err := mk.Put(ctx, root, "dag", schema.Entry{Kind: schema.KindDirectory, Target: dag, Mtime: mtime})
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	first := put(empty, dagTree(b, mem, depth, "one"), 1)
	second := put(first, dagTree(b, mem, depth, "two"), 2)
	b.Run("merge", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := newMerger(mem, merge.Config{}).Merge(ctx, first, second); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("check", func(b *testing.B) {
		for b.Loop() {
			checkTree(b, mem, nil, tree.Config{}, second)
		}
	})
}
