package tree_test

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
)

// countStore counts, per CID, the dag-cbor blocks read and written
// through it: the directories and tree nodes of a tree.
type countStore struct {
	ipfsstore.Store
	mu         sync.Mutex
	gets, puts map[cid.Cid]int
}

func newCountStore(st ipfsstore.Store) *countStore {
	return &countStore{Store: st, gets: map[cid.Cid]int{}, puts: map[cid.Cid]int{}}
}

func (s *countStore) Get(ctx context.Context, c cid.Cid) ([]byte, error) {
	if c.Prefix().Codec == cid.DagCBOR {
		s.mu.Lock()
		s.gets[c]++
		s.mu.Unlock()
	}
	return s.Store.Get(ctx, c)
}

func (s *countStore) Put(ctx context.Context, c cid.Cid, data []byte) error {
	if c.Prefix().Codec == cid.DagCBOR {
		s.mu.Lock()
		s.puts[c]++
		s.mu.Unlock()
	}
	return s.Store.Put(ctx, c, data)
}

// reset forgets the counts so far.
func (s *countStore) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.gets)
	clear(s.puts)
}

// counts returns copies of the counts so far.
func (s *countStore) counts() (gets, puts map[cid.Cid]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.gets), maps.Clone(s.puts)
}

// countSigner signs with a fixed signature and counts its signatures
// per owner.
type countSigner struct {
	mu    sync.Mutex
	calls map[cid.Cid]int
}

func (s *countSigner) SignDirectory(_ context.Context, d *schema.Directory) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.calls == nil {
		s.calls = map[cid.Cid]int{}
	}
	s.calls[d.Owner]++
	d.Sig = bytes.Repeat([]byte{7}, schema.SigSize)
	return nil
}

func (s *countSigner) counts() map[cid.Cid]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.calls)
}

// blocks returns the dag-cbor blocks reachable from the directory at
// root (directories and tree nodes, through every version of every
// entry, tombstones included; not the previous versions of owned
// directories), read straight from st.
func blocks(t *testing.T, st ipfsstore.Store, root cid.Cid) map[cid.Cid]bool {
	t.Helper()
	seen := map[cid.Cid]bool{}
	var visit func(c cid.Cid)
	entries := func(es []schema.Entry) {
		for i := range es {
			for _, v := range es[i].Versions() {
				if v.Kind == schema.KindDirectory {
					visit(v.Target)
				}
			}
		}
	}
	visit = func(c cid.Cid) {
		if !c.Defined() || c.Prefix().Codec != cid.DagCBOR || seen[c] {
			return
		}
		seen[c] = true
		n, _, err := getBlock(st, c)
		if err != nil {
			t.Fatalf("block %s: %v", c, err)
		}
		switch n := n.(type) {
		case *schema.Directory:
			for _, ch := range n.Children {
				visit(ch.Link)
			}
			entries(n.Entries)
		case *schema.DirNode:
			for _, ch := range n.Children {
				visit(ch.Link)
			}
			entries(n.Entries)
		}
	}
	visit(root)
	return seen
}

// treePaths adds to out the blocks of d's tree on the paths to names:
// what looking them up reads.
func treePaths(t *testing.T, st ipfsstore.Store, d *schema.Directory, names []string, out map[cid.Cid]bool) {
	t.Helper()
	for _, name := range names {
		for kids := d.Children; len(kids) > 0; {
			i := 0
			for i+1 < len(kids) && kids[i+1].Name <= name {
				i++
			}
			at := kids[i].Link
			out[at] = true
			n, _, err := getBlock(st, at)
			if err != nil {
				t.Fatalf("tree node %s: %v", at, err)
			}
			kids = n.(*schema.DirNode).Children
		}
	}
}

// ownedDir stores a version of a directory owned by owner that holds
// entries, laid out (inline or in a tree) as tr lays them out, and
// returns its CID.
func ownedDir(t *testing.T, tr *tree.Tree, st ipfsstore.Store, owner cid.Cid, entries []schema.Entry) cid.Cid {
	t.Helper()
	c, err := tr.MakeDir(context.Background(), entries)
	if err != nil {
		t.Fatal(err)
	}
	n, _, err := getBlock(st, c)
	if err != nil {
		t.Fatal(err)
	}
	d := n.(*schema.Directory)
	d.Owner, d.Seq, d.Sig = owner, 1, bytes.Repeat([]byte{1}, schema.SigSize)
	return putBlock(t, st, d)
}

// fileEntries returns files named name(i) for i in [from, to), as a
// replica that already made them holds them.
func fileEntries(from, to int, name func(int) string) []schema.Entry {
	var out []schema.Entry
	for i := from; i < to; i++ {
		e := file(fmt.Sprintf("old %d", i))
		e.Name, e.Mtime, e.VV = name(i), 1, schema.VV{"r0": 1}
		out = append(out, e)
	}
	return out
}

// checkBatchCounts checks what an Apply from old to root cost, as cs
// and signer counted it: every block written is a block of root that
// old lacks, written once, and every such block is written; every block
// read is a block of old, read once, and every one of want is read; the
// signer signed each owner in signs once and nothing else.
func checkBatchCounts(t *testing.T, st ipfsstore.Store, cs *countStore, signer *countSigner, old, root cid.Cid, want map[cid.Cid]bool, signs []cid.Cid) {
	t.Helper()
	gets, puts := cs.counts()
	before, after := blocks(t, st, old), blocks(t, st, root)
	written := 0
	for c := range after {
		if before[c] {
			continue
		}
		written++
		if puts[c] != 1 {
			t.Errorf("new block %s written %d times, want once", c, puts[c])
		}
	}
	for c, n := range puts {
		if !after[c] || before[c] {
			t.Errorf("block %s written %d times, but it is no new block of the result", c, n)
		}
	}
	if len(puts) != written {
		t.Errorf("%d blocks written, want the %d new blocks of the result", len(puts), written)
	}
	for c, n := range gets {
		if n != 1 || !before[c] {
			t.Errorf("block %s read %d times; a block of the old tree: %v", c, n, before[c])
		}
	}
	for c := range want {
		if gets[c] == 0 {
			t.Errorf("block %s on the paths of the batch never read", c)
		}
	}
	wantSigns := map[cid.Cid]int{}
	for _, o := range signs {
		wantSigns[o] = 1
	}
	if got := signer.counts(); !maps.Equal(got, wantSigns) {
		t.Errorf("signatures per owner = %v, want %v", got, wantSigns)
	}
}

// TestApplyCounts: applying 1,000 puts under one directory of a tree of
// several levels, shared or owned, reads each directory and tree node on
// the paths once (and no block the old tree lacks), writes each new one
// once and nothing else, and signs the owned directory once; the result
// is what the puts one by one give.
func TestApplyCounts(t *testing.T) {
	const existing, puts = 300, 1000
	alice := rawCID("alice")
	name := func(i int) string { return fmt.Sprintf("f%04d", i) }
	for _, layout := range []struct {
		name string
		cfg  tree.Config
	}{
		{"tree", tree.Config{LeafTarget: 600, InnerTarget: 300}},
		// A tree whose own node cache is too small to hold the paths:
		// the batch still reads each block once.
		{"tree+cache", tree.Config{LeafTarget: 600, InnerTarget: 300, NodeCache: 4}},
	} {
		for _, owned := range []bool{false, true} {
			dirName := "shared"
			if owned {
				dirName = "owned"
			}
			t.Run("layout="+layout.name+"/dir="+dirName, func(t *testing.T) {
				ctx := context.Background()
				cs := newCountStore(ipfsstore.NewMemory())
				t.Cleanup(func() { cs.Close() })
				signer := &countSigner{}
				cfg := layout.cfg
				cfg.Replica, cfg.Now, cfg.Signer = "r1", fixedNow, signer
				tr := tree.New(cs, cfg)

				// root/<dir> holds f0000..f0299; the batch puts
				// f0200..f1199, replacing 100 and adding 900.
				old := fileEntries(0, existing, name)
				var dir cid.Cid
				var err error
				if owned {
					dir = ownedDir(t, tr, cs, alice, old)
				} else if dir, err = tr.MakeDir(ctx, old); err != nil {
					t.Fatal(err)
				}
				root := mustPut(t, tr, cid.Undef, "root/"+dirName, schema.Entry{Kind: schema.KindDirectory, Target: dir})
				root = mustPut(t, tr, root, "other/x", file("x"))
				if n := signer.counts()[alice]; owned && n != 0 {
					t.Fatalf("%d signatures before the batch", n)
				}

				var ops []tree.Op
				var names []string
				for i := existing - 100; i < existing-100+puts; i++ {
					ops = append(ops, tree.Op{Kind: tree.OpPut, Path: "root/" + dirName + "/" + name(i), Entry: file(fmt.Sprintf("new %d", i))})
					names = append(names, name(i))
				}
				// What the batch must read: the top directory, root,
				// root/<dir>, and the nodes of its tree on the paths
				// to the names it puts.
				want := map[cid.Cid]bool{root: true}
				top, _ := tr.Lookup(ctx, root, "root")
				want[top.Target] = true
				want[dir] = true
				n, _, _ := getBlock(cs.Store, dir)
				if d := n.(*schema.Directory); len(d.Children) > 0 {
					treePaths(t, cs.Store, d, names, want)
				} else {
					t.Fatal("the directory is inline before the batch")
				}

				cs.reset()
				got, err := tr.Apply(ctx, root, ops)
				if err != nil {
					t.Fatal(err)
				}
				var signs []cid.Cid
				if owned {
					signs = []cid.Cid{alice}
				}
				checkBatchCounts(t, cs.Store, cs, signer, root, got, want, signs)

				e, err := tr.Lookup(ctx, got, "root/"+dirName)
				if err != nil {
					t.Fatal(err)
				}
				sh := checkCanonical(t, cs.Store, e.Target, cfg)
				if sh.entries != existing-100+puts {
					t.Errorf("the directory holds %d entries, want %d", sh.entries, existing-100+puts)
				}
				if sh.levels < 2 {
					t.Errorf("the directory's tree has its root at level %d", sh.levels)
				}
				if testing.Short() {
					return
				}
				// One by one: the same entries, and a signature per put.
				one := root
				for _, o := range ops {
					if one, err = tr.Put(ctx, one, o.Path, o.Entry); err != nil {
						t.Fatal(err)
					}
				}
				if owned {
					if n := signer.counts()[alice]; n != 1+puts {
						t.Errorf("%d signatures after the puts one by one, want %d", n, 1+puts)
					}
				}
				a, _ := tr.List(ctx, got, "root/"+dirName)
				b, _ := tr.List(ctx, one, "root/"+dirName)
				if !slices.EqualFunc(a, b, func(x, y schema.Entry) bool { return schema.SameEntry(&x, &y) }) {
					t.Errorf("the batch gives other entries than the puts one by one")
				}
			})
		}
	}
}

// TestApplyDeletesCounts: deleting names of a directory's tree in one
// batch writes each block of the result once and nothing else: the
// nodes a later step of the batch replaces are never written.
func TestApplyDeletesCounts(t *testing.T) {
	ctx := context.Background()
	name := func(i int) string { return fmt.Sprintf("f%04d", i) }
	for _, tt := range []struct {
		deletes int
	}{{100}, {900}, {1000}} {
		t.Run(fmt.Sprint("deletes=", tt.deletes), func(t *testing.T) {
			cs := newCountStore(ipfsstore.NewMemory())
			t.Cleanup(func() { cs.Close() })
			signer := &countSigner{}
			cfg := tree.Config{LeafTarget: 300, InnerTarget: 300, Replica: "r1", Now: fixedNow, Signer: signer}
			tr := tree.New(cs, cfg)
			dir, err := tr.MakeDir(ctx, fileEntries(0, 1000, name))
			if err != nil {
				t.Fatal(err)
			}
			root := mustPut(t, tr, cid.Undef, "root/d", schema.Entry{Kind: schema.KindDirectory, Target: dir})
			var ops []tree.Op
			for i := range tt.deletes {
				ops = append(ops, tree.Op{Kind: tree.OpDelete, Path: "root/d/" + name(i)})
			}
			cs.reset()
			got, err := tr.Apply(ctx, root, ops)
			if err != nil {
				t.Fatal(err)
			}
			_, puts := cs.counts()
			before, after := blocks(t, cs.Store, root), blocks(t, cs.Store, got)
			extra := 0
			for c, n := range puts {
				if n != 1 {
					t.Errorf("block %s written %d times", c, n)
				}
				if !after[c] || before[c] {
					extra++
				}
			}
			for c := range after {
				if !before[c] && puts[c] == 0 {
					t.Errorf("new block %s never written", c)
				}
			}
			e, _ := tr.Lookup(ctx, got, "root/d")
			if sh := checkCanonical(t, cs.Store, e.Target, cfg); sh.entries != 1000 {
				t.Errorf("the directory holds %d entries after the batch, want 1000", sh.entries)
			}
			if extra > 0 {
				t.Errorf("%d blocks written that the result does not hold", extra)
			}
		})
	}
}

// ownedFixture is a tree with owned directories:
//
//	root/a        owned by alice, holding a0..a9
//	root/a/inner  owned by bob, holding i0..i9
//	root/b        owned by carol, holding b0..b9
//	root/shared   shared, holding s0..s9
type ownedFixture struct {
	tr                *tree.Tree
	cs                *countStore
	signer            *countSigner
	root              cid.Cid
	alice, bob, carol cid.Cid
	top, rootDir, a   cid.Cid // the blocks of "", root and root/a
	inner, b, shared  cid.Cid
	innerMode, aMtime uint32
}

func newOwnedFixture(t *testing.T) *ownedFixture {
	t.Helper()
	f := &ownedFixture{alice: rawCID("alice"), bob: rawCID("bob"), carol: rawCID("carol")}
	f.cs = newCountStore(ipfsstore.NewMemory())
	t.Cleanup(func() { f.cs.Close() })
	f.signer = &countSigner{}
	f.tr = tree.New(f.cs, tree.Config{Replica: "r1", Now: fixedNow, Signer: f.signer})
	files := func(prefix string) []schema.Entry {
		return fileEntries(0, 10, func(i int) string { return fmt.Sprintf("%s%d", prefix, i) })
	}
	f.inner = ownedDir(t, f.tr, f.cs, f.bob, files("i"))
	innerEntry := schema.Entry{Name: "inner", Kind: schema.KindDirectory, Target: f.inner, Owner: f.bob, Mode: 0o755, Mtime: 1, VV: schema.VV{"r0": 1}}
	f.a = ownedDir(t, f.tr, f.cs, f.alice, append(files("a"), innerEntry))
	f.b = ownedDir(t, f.tr, f.cs, f.carol, files("b"))
	var err error
	if f.shared, err = f.tr.MakeDir(context.Background(), files("s")); err != nil {
		t.Fatal(err)
	}
	for _, d := range []struct {
		name string
		c    cid.Cid
	}{{"a", f.a}, {"b", f.b}, {"shared", f.shared}} {
		f.root = mustPut(t, f.tr, f.root, "root/"+d.name, schema.Entry{Kind: schema.KindDirectory, Target: d.c})
	}
	f.top = f.root
	e, _ := f.tr.Lookup(context.Background(), f.root, "root")
	f.rootDir = e.Target
	if n := len(f.signer.counts()); n != 0 {
		t.Fatalf("%d owners signed while making the fixture", n)
	}
	f.cs.reset()
	return f
}

// set returns the set of the CIDs.
func set(cs ...cid.Cid) map[cid.Cid]bool {
	out := map[cid.Cid]bool{}
	for _, c := range cs {
		out[c] = true
	}
	return out
}

func puts(dir string, n int) []tree.Op {
	var ops []tree.Op
	for i := range n {
		ops = append(ops, tree.Op{Kind: tree.OpPut, Path: fmt.Sprintf("%s/n%03d", dir, i), Entry: file(fmt.Sprintf("%s %d", dir, i))})
	}
	return ops
}

// TestApplySignsEachOwnedDirectoryOnce: a batch of puts into three
// owned directories, one inside another, and a shared one signs each
// owned directory once and writes each directory on the paths once.
func TestApplySignsEachOwnedDirectoryOnce(t *testing.T) {
	f := newOwnedFixture(t)
	var ops []tree.Op
	// Interleaved, so that no directory's ops come in one run.
	for i := range 100 {
		for _, dir := range []string{"root/a", "root/a/inner", "root/b", "root/shared"} {
			ops = append(ops, tree.Op{Kind: tree.OpPut, Path: fmt.Sprintf("%s/n%03d", dir, i), Entry: file(fmt.Sprint(dir, i))})
		}
	}
	got, err := f.tr.Apply(context.Background(), f.root, ops)
	if err != nil {
		t.Fatal(err)
	}
	want := set(f.top, f.rootDir, f.a, f.inner, f.b, f.shared)
	checkBatchCounts(t, f.cs.Store, f.cs, f.signer, f.root, got, want, []cid.Cid{f.alice, f.bob, f.carol})
	for _, dir := range []string{"root/a", "root/a/inner", "root/b", "root/shared"} {
		if l, err := f.tr.List(context.Background(), got, dir); err != nil || len(l) != 110+btoi(dir == "root/a") {
			t.Errorf("List(%s) = %d entries, %v; want %d", dir, len(l), err, 110+btoi(dir == "root/a"))
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestApplyNoChange: a batch that changes nothing, through owned
// directories, gives the root back and writes and signs nothing; nor
// does putting back what a directory holds (PutTree).
func TestApplyNoChange(t *testing.T) {
	ctx := context.Background()
	f := newOwnedFixture(t)
	ops := []tree.Op{
		{Kind: tree.OpMkdir, Path: "root/a"},
		{Kind: tree.OpMkdir, Path: "root/a/inner", Entry: schema.Entry{Mode: 0o755}},
		{Kind: tree.OpMkdir, Path: "root/a/inner", Entry: schema.Entry{Mode: 0o755, Mtime: 1}},
		{Kind: tree.OpMkdir, Path: "root/b"},
		{Kind: tree.OpMkdir, Path: "root/shared"},
	}
	got, err := f.tr.Apply(ctx, f.root, ops)
	if err != nil || got != f.root {
		t.Fatalf("Apply(mkdirs of what is there) = %s, %v; want the root %s", got, err, f.root)
	}
	// A mkdir reads the directory that holds its name, not its own.
	checkBatchCounts(t, f.cs.Store, f.cs, f.signer, f.root, got, set(f.top, f.rootDir, f.a), nil)

	src, err := f.tr.SourceOf(ctx, f.root, "root/a")
	if err != nil {
		t.Fatal(err)
	}
	f.cs.reset()
	for _, prune := range []bool{false, true} {
		got, err := f.tr.PutTree(ctx, f.root, "root/a", src, prune)
		if err != nil || got != f.root {
			t.Fatalf("PutTree(what root/a holds, prune %v) = %s, %v; want the root %s", prune, got, err, f.root)
		}
	}
	if _, puts := f.cs.counts(); len(puts) > 0 {
		t.Errorf("PutTree of what is there wrote %d blocks", len(puts))
	}
	if n := len(f.signer.counts()); n > 0 {
		t.Errorf("PutTree of what is there signed for %d owners", n)
	}
}

// TestApplyMkdirs: mkdirs in a batch write each directory once, an
// empty one included, and keep the mode and mtime one by one would give
// them where no op below them follows.
func TestApplyMkdirs(t *testing.T) {
	ctx := context.Background()
	mtime := func(t *testing.T, tr *tree.Tree, root cid.Cid, path string) (uint32, int64) {
		t.Helper()
		e, err := tr.Lookup(ctx, root, path)
		if err != nil {
			t.Fatal(err)
		}
		return e.Mode, e.Mtime
	}
	t.Run("new directory, then puts into it", func(t *testing.T) {
		f := newOwnedFixture(t)
		ops := append([]tree.Op{{Kind: tree.OpMkdir, Path: "root/a/new", Entry: schema.Entry{Mode: 0o700}}}, puts("root/a/new", 100)...)
		got, err := f.tr.Apply(ctx, f.root, ops)
		if err != nil {
			t.Fatal(err)
		}
		checkBatchCounts(t, f.cs.Store, f.cs, f.signer, f.root, got, set(f.top, f.rootDir, f.a), []cid.Cid{f.alice})
		if mode, mt := mtime(t, f.tr, got, "root/a/new"); mode != 0o700 || mt != testTime.UnixNano() {
			t.Errorf("root/a/new has mode %o, mtime %d; want 700, now", mode, mt)
		}
	})
	t.Run("an empty new directory", func(t *testing.T) {
		f := newOwnedFixture(t)
		ops := []tree.Op{{Kind: tree.OpMkdir, Path: "root/a/new"}, {Kind: tree.OpMkdir, Path: "root/a/new/sub"}}
		got, err := f.tr.Apply(ctx, f.root, ops)
		if err != nil {
			t.Fatal(err)
		}
		checkBatchCounts(t, f.cs.Store, f.cs, f.signer, f.root, got, set(f.top, f.rootDir, f.a), []cid.Cid{f.alice})
		if l, err := f.tr.List(ctx, got, "root/a/new/sub"); err != nil || len(l) != 0 {
			t.Errorf("List(root/a/new/sub) = %v, %v; want empty", l, err)
		}
	})
	t.Run("puts on both sides of a mkdir", func(t *testing.T) {
		f := newOwnedFixture(t)
		ops := puts("root/a/inner", 50)
		ops = append(ops, tree.Op{Kind: tree.OpMkdir, Path: "root/a/inner", Entry: schema.Entry{Mode: 0o700, Mtime: 5}})
		ops = append(ops, puts("root/a/inner/later", 50)...)
		got, err := f.tr.Apply(ctx, f.root, ops)
		if err != nil {
			t.Fatal(err)
		}
		checkBatchCounts(t, f.cs.Store, f.cs, f.signer, f.root, got, set(f.top, f.rootDir, f.a, f.inner), []cid.Cid{f.alice, f.bob})
		// Changed after the mkdir: the batch's mtime.
		if mode, mt := mtime(t, f.tr, got, "root/a/inner"); mode != 0o700 || mt != testTime.UnixNano() {
			t.Errorf("root/a/inner has mode %o, mtime %d; want 700, now", mode, mt)
		}
	})
	t.Run("puts, then a mkdir", func(t *testing.T) {
		f := newOwnedFixture(t)
		ops := puts("root/a/inner", 50)
		ops = append(ops, tree.Op{Kind: tree.OpMkdir, Path: "root/a/inner", Entry: schema.Entry{Mode: 0o700, Mtime: 5}})
		got, err := f.tr.Apply(ctx, f.root, ops)
		if err != nil {
			t.Fatal(err)
		}
		checkBatchCounts(t, f.cs.Store, f.cs, f.signer, f.root, got, set(f.top, f.rootDir, f.a, f.inner), []cid.Cid{f.alice, f.bob})
		if mode, mt := mtime(t, f.tr, got, "root/a/inner"); mode != 0o700 || mt != 5 {
			t.Errorf("root/a/inner has mode %o, mtime %d; want 700, 5", mode, mt)
		}
	})
}
