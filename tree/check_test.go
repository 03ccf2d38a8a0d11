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
