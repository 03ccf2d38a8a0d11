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
// through it: the directories and shard nodes of a tree.
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
// root (directories and shard nodes, through every version of every
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
			visit(n.Shard)
			entries(n.Entries)
		case *schema.Shard:
			for _, ch := range n.Children {
				visit(ch.Link)
			}
			entries(n.Entries)
		}
	}
	visit(root)
	return seen
}

// hashPaths returns the blocks of the shard trie at c (a shard node at
// depth) on the hash paths of names: what reading or changing those
// names must read of it.
func hashPaths(t *testing.T, st ipfsstore.Store, c cid.Cid, depth int, names []string, out map[cid.Cid]bool) {
	t.Helper()
	out[c] = true
	n, _, err := getBlock(st, c)
	if err != nil {
		t.Fatalf("shard %s: %v", c, err)
	}
	byByte := map[int][]string{}
	for _, name := range names {
		h := hashOf(name)
		byByte[int(h[depth])] = append(byByte[int(h[depth])], name)
	}
	for _, ch := range n.(*schema.Shard).Children {
		if names := byByte[ch.Index]; len(names) > 0 {
			hashPaths(t, st, ch.Link, depth+1, names, out)
		}
	}
}

// ownedDir stores a version of a directory owned by owner that holds
// entries, laid out (inline or sharded) as tr lays them out, and
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
// read is one of want, read once, and every one of want is read; the
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
		if n != 1 || !want[c] {
			t.Errorf("block %s read %d times; on the paths of the batch: %v", c, n, want[c])
		}
	}
	for c := range want {
		if gets[c] == 0 {
			t.Errorf("block %s on the paths of the batch never read", c)
		}
	}
	if len(gets) != len(want) {
		t.Errorf("%d blocks read, want the %d on the paths of the batch", len(gets), len(want))
	}
	wantSigns := map[cid.Cid]int{}
	for _, o := range signs {
		wantSigns[o] = 1
	}
	if got := signer.counts(); !maps.Equal(got, wantSigns) && (len(got) > 0 || len(wantSigns) > 0) {
		t.Errorf("signatures per owner = %v, want %v", got, wantSigns)
	}
}

// TestApplyCounts: applying 1,000 puts under one directory, inline or
// sharded, shared or owned, reads each directory and shard node on the
// paths once, writes each new one once and nothing else, and signs the
// owned directory once; the result is what the puts one by one give.
func TestApplyCounts(t *testing.T) {
	const existing, puts = 300, 1000
	alice := rawCID("alice")
	name := func(i int) string { return fmt.Sprintf("f%04d", i) }
	for _, layout := range []struct {
		name string
		cfg  tree.Config
	}{
		{"inline", tree.Config{InlineLimit: tree.MaxLimit}},
		{"sharded", tree.Config{InlineLimit: 2 << 10, LeafLimit: 600}},
		// A tree whose own node cache is too small to hold the paths:
		// the batch still reads each block once.
		{"sharded+cache", tree.Config{InlineLimit: 2 << 10, LeafLimit: 600, NodeCache: 4}},
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
				// root/<dir>, and where sharded the trie nodes on the
				// hash paths of the names it puts.
				want := map[cid.Cid]bool{root: true}
				top, _ := tr.Lookup(ctx, root, "root")
				want[top.Target] = true
				want[dir] = true
				n, _, _ := getBlock(cs.Store, dir)
				if d := n.(*schema.Directory); d.Shard.Defined() {
					hashPaths(t, cs.Store, d.Shard, 0, names, want)
				} else if layout.name != "inline" {
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
				sh := checkCanonical(t, cs.Store, e.Target, cfg.InlineLimit, cfg.LeafLimit)
				if sh.entries != existing-100+puts {
					t.Errorf("the directory holds %d entries, want %d", sh.entries, existing-100+puts)
				}
				if (sh.depth > 0) != (layout.name != "inline") || layout.name != "inline" && sh.depth < 2 {
					t.Errorf("the directory has %d shard levels", sh.depth)
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
