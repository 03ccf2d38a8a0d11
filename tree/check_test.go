package tree_test

import (
	"context"
	"strings"
	"testing"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore/storetest"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
)

// anything is a Checker that accepts every block: the tests of Check's
// own structural work.
type anything struct{ dirs, entries int }

func (a *anything) CheckDirectory(context.Context, cid.Cid, *schema.Directory) error {
	a.dirs++
	return nil
}

func (a *anything) CheckEntry(context.Context, *schema.Entry, *tree.Linked) error {
	a.entries++
	return nil
}

// chainOf returns a directory nesting n directories named d.
func chainOf(t *testing.T, tr *tree.Tree, n int) cid.Cid {
	t.Helper()
	c, err := tr.MakeDir(context.Background(), []schema.Entry{{Name: "f", Kind: schema.KindFile, Target: rawCID("f"), Size: 1, Mtime: 1, VV: schema.VV{"r1": 1}}})
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		if c, err = tr.MakeDir(context.Background(), []schema.Entry{{Name: "d", Kind: schema.KindDirectory, Target: c, Mtime: 1, VV: schema.VV{"r1": 1}}}); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// TestCheckDepthOfCopies holds, in the trusted tree, a chain of
// directories almost as deep as the limit, and checks incoming trees that
// copy it elsewhere: where the copy still fits it is accepted, where it
// is placed too deep it is refused, though the chain itself was trusted
// (skipped unread) where it first was.
func TestCheckDepthOfCopies(t *testing.T) {
	ctx := context.Background()
	tr, _ := newTree(t, tree.Config{})
	long := chainOf(t, tr, tree.MaxDepth-10)
	held := mustPut(t, tr, cid.Undef, "x", schema.Entry{Kind: schema.KindDirectory, Target: long})
	for _, tc := range []struct {
		at   string
		want acerr.Kind
	}{
		{"zcopy/a/b", acerr.Other},
		{"zcopy/a/b/c/d/e/f/g/h/i/j/k", acerr.TooLarge},
	} {
		in := mustPut(t, tr, held, tc.at, schema.Entry{Kind: schema.KindDirectory, Target: long})
		err := tr.NewCheck(&anything{}).Dir(ctx, held, in)
		if got := acerr.KindOf(err); got != tc.want || (err == nil) != (tc.want == acerr.Other) {
			t.Errorf("copy at %s: %v, want kind %q", tc.at, err, tc.want)
		}
		if err != nil && (!strings.Contains(err.Error(), "nested deeper than") || strings.Contains(err.Error(), "\n")) {
			t.Errorf("copy at %s: %q, want one line saying it is too deep", tc.at, err)
		}
	}
}

// TestCheckCountsDistinctBlocks checks a tree whose directories share
// children (2^20 paths through 21 blocks), with nothing trusted: each
// block is read once, each entry of each block checked once.
func TestCheckCountsDistinctBlocks(t *testing.T) {
	ctx := context.Background()
	tr, mem := newTree(t, tree.Config{})
	c, err := tr.MakeDir(ctx, []schema.Entry{{Name: "f", Kind: schema.KindFile, Target: rawCID("leaf"), Size: 4, Mtime: 1, VV: schema.VV{"r1": 1}}})
	if err != nil {
		t.Fatal(err)
	}
	const depth = 20
	for range depth {
		a := schema.Entry{Name: "a", Kind: schema.KindDirectory, Target: c, Mtime: 1, VV: schema.VV{"r1": 1}}
		b := a
		b.Name = "b"
		if c, err = tr.MakeDir(ctx, []schema.Entry{a, b}); err != nil {
			t.Fatal(err)
		}
	}
	st := &storetest.Counting{Store: mem}
	chk := &anything{}
	k := tree.New(st, tree.Config{}).NewCheck(chk)
	if err := k.Dir(ctx, cid.Undef, c); err != nil {
		t.Fatal(err)
	}
	if k.Blocks() != depth+1 || st.Gets.Load() != depth+1 {
		t.Errorf("Check read %d blocks (%d gets), want %d", k.Blocks(), st.Gets.Load(), depth+1)
	}
	if chk.dirs != depth+1 || chk.entries != 2*depth+1 {
		t.Errorf("Check asked about %d directories and %d entries, want %d and %d", chk.dirs, chk.entries, depth+1, 2*depth+1)
	}
}

// TestDeleteCountsDistinctBlocks deletes a shared directory whose
// directories share children (2^20 paths through 21 blocks): each is read
// once and its deleted copy written once, and the copy is a tree of
// tombstones all the way down.
func TestDeleteCountsDistinctBlocks(t *testing.T) {
	ctx := context.Background()
	tr, mem := newTree(t, tree.Config{})
	c, err := tr.MakeDir(ctx, []schema.Entry{{Name: "f", Kind: schema.KindFile, Target: rawCID("leaf"), Size: 4, Mtime: 1, VV: schema.VV{"r1": 1}}})
	if err != nil {
		t.Fatal(err)
	}
	const depth = 20
	for range depth {
		a := schema.Entry{Name: "a", Kind: schema.KindDirectory, Target: c, Mtime: 1, VV: schema.VV{"r1": 1}}
		b := a
		b.Name = "b"
		if c, err = tr.MakeDir(ctx, []schema.Entry{a, b}); err != nil {
			t.Fatal(err)
		}
	}
	root := mustPut(t, tr, cid.Undef, "d", schema.Entry{Kind: schema.KindDirectory, Target: c, Mtime: 1, VV: schema.VV{"r1": 1}})
	st := newCountStore(mem)
	root, err = tree.New(st, tree.Config{Replica: "r1", Now: fixedNow}).Delete(ctx, root, "d")
	if err != nil {
		t.Fatal(err)
	}
	// The root and each of the depth+1 directories below, nothing else.
	sum := func(m map[cid.Cid]int) (n int) {
		for _, k := range m {
			n += k
		}
		return n
	}
	if gets, puts := st.counts(); sum(gets) > depth+2 || sum(puts) > depth+2 {
		t.Errorf("Delete read %d blocks and wrote %d, want at most %d each", sum(gets), sum(puts), depth+2)
	}
	// Down the copy the tombstone links, every entry is a tombstone.
	entries, err := tr.ReadDir(ctx, root)
	if err != nil || len(entries) != 1 || !entries[0].Deleted {
		t.Fatalf("after Delete, the root holds %+v (%v), want the tombstone d", entries, err)
	}
	for level := 0; ; level++ {
		dir := entries[0].Target
		if entries, err = tr.ReadDir(ctx, dir); err != nil {
			t.Fatalf("level %d: %v", level, err)
		}
		for _, e := range entries {
			if !e.Deleted {
				t.Fatalf("level %d: %s is live in the deleted copy", level, e.Name)
			}
		}
		if level == depth {
			if len(entries) != 1 || entries[0].Name != "f" {
				t.Fatalf("innermost deleted directory holds %+v, want the tombstone f", entries)
			}
			break
		}
		if len(entries) != 2 || entries[0].Target != entries[1].Target {
			t.Fatalf("level %d holds %+v, want a and b linking one deleted copy", level, entries)
		}
	}
}
