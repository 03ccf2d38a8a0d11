package merge_test

import (
	"errors"

	"strings"
	"testing"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/merge"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
)

// chain returns a directory nesting depth directories, the innermost
// holding one file named leaf.
func chain(t *testing.T, st ipfsstore.Store, depth int, leaf string) cid.Cid {
	t.Helper()
	mk := tree.New(st, tree.Config{})
	c, err := mk.MakeDir(ctx, []schema.Entry{{Name: leaf, Kind: schema.KindFile, Target: rawLink(schema.Sum([]byte(leaf))), Mtime: 1, VV: schema.VV{"x": 1}}})
	if err != nil {
		t.Fatal(err)
	}
	for range depth {
		if c, err = mk.MakeDir(ctx, []schema.Entry{{Name: "d", Kind: schema.KindDirectory, Target: c, Mtime: 1, VV: schema.VV{"x": 1}}}); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// TestDeepTreeRefused merges trees 10,000 directories deep: taken whole
// or merged, each is refused with one line, not a crash.
func TestDeepTreeRefused(t *testing.T) {
	st := ipfsstore.NewMemory()
	m := newMerger(st, merge.Config{})
	empty := chain(t, st, 0, "other")
	deep := chain(t, st, 10000, "a")
	deep2 := chain(t, st, 10000, "b")
	for name, pair := range map[string][2]cid.Cid{"new": {empty, deep}, "both": {deep, deep2}} {
		_, _, err := m.Merge(ctx, pair[0], pair[1])
		if !acerr.Is(acerr.TooLarge, err) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: Merge of a 10,000-deep tree: %v, want one line of kind too large", name, err)
		}
	}
	// As deep as MaxDepth is fine.
	ok1, ok2 := chain(t, st, merge.MaxDepth-2, "a"), chain(t, st, merge.MaxDepth-2, "b")
	if _, _, err := m.Merge(ctx, ok1, ok2); err != nil {
		t.Errorf("Merge at depth %d: %v", merge.MaxDepth-2, err)
	}
}

// TestMissingBlocks merges a root whose subdirectory is not in the store:
// the error names the missing block, and Merge writes nothing a root
// links.
func TestMissingBlocks(t *testing.T) {
	st := ipfsstore.NewMemory()
	m := newMerger(st, merge.Config{})
	held := chain(t, st, 1, "a")
	gone := schema.Sum([]byte("a directory nobody has"))
	in, err := tree.New(st, tree.Config{}).MakeDir(ctx, []schema.Entry{{Name: "d", Kind: schema.KindDirectory, Target: gone, Mtime: 1, VV: schema.VV{"y": 1}}})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = m.Merge(ctx, held, in)
	if !acerr.Is(acerr.NotExist, err) || !strings.Contains(err.Error(), gone.String()) {
		t.Errorf("Merge with a missing block: %v, want does not exist naming %s", err, gone)
	}
}

// FuzzMerge merges a held tree with any block as the incoming root: it
// may be refused, never crash, and whatever it gives must be a directory
// that merges with either side again to itself.
func FuzzMerge(f *testing.F) {
	st := ipfsstore.NewMemory()
	held := func() cid.Cid {
		mk := tree.New(st, tree.Config{Replica: "h"})
		c, err := mk.MakeDir(ctx, nil)
		if err != nil {
			f.Fatal(err)
		}
		for i, p := range []string{"a/x", "a/y", "b"} {
			c, err = mk.Put(ctx, c, p, schema.Entry{Kind: schema.KindFile, Target: rawLink(schema.Sum([]byte(p))), Size: uint64(i)})
			if err != nil {
				f.Fatal(err)
			}
		}
		return c
	}()
	for _, n := range []schema.Node{
		&schema.Directory{},
		&schema.Directory{Entries: []schema.Entry{{Name: "a", Kind: schema.KindFile, Target: rawLink(schema.Sum([]byte("z"))), Mtime: 5, VV: schema.VV{"i": 1}}}},
		&schema.Directory{Entries: []schema.Entry{{Name: "b", Kind: schema.KindFile, Mtime: 5, VV: schema.VV{"h": 9}, Deleted: true}}},
	} {
		f.Add(schema.Encode(n))
	}
	data, _ := st.Get(ctx, held)
	f.Add(data)
	m := newMerger(st, merge.Config{})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := schema.Decode(b)
		if err != nil {
			return
		}
		if _, ok := n.(*schema.Directory); !ok {
			return
		}
		c, _ := schema.Block(n)
		if err := st.Put(ctx, c, b); err != nil {
			return
		}
		got, _, err := m.Merge(ctx, held, c)
		if err != nil {
			var e *acerr.Error
			if !errors.As(err, &e) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("Merge error %q is not one structured line", err)
			}
			return
		}
		for _, side := range []cid.Cid{held, c} {
			again, _, err := m.Merge(ctx, got, side)
			if err != nil || again != got {
				t.Fatalf("merging %s into the merge %s gives %s, %v", side, got, again, err)
			}
		}
	})
}
