package merge_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/internal/forge"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/merge"
	"github.com/archivecache/archivecache/policy"
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

// FuzzMerge puts any block in the place of a directory that both sides
// changed, in a friend's tree, and merges it into held trees whose copy
// of that directory has a smaller and a larger CID: it may be refused,
// never crash, and whatever it gives must check (as ac-verify would) and
// merge with either side again to itself.
func FuzzMerge(f *testing.F) {
	st := ipfsstore.NewMemory()
	alice, mal := newPerson(f, st, "alice"), newPerson(f, st, "mallory")
	trust := trusting(alice, mal)
	m := newMerger(st, merge.Config{Resolver: trust, Signer: alice})
	clk := &clock{}
	mk := tree.New(st, tree.Config{Replica: "base", Now: clk.now})
	base, err := mk.MakeDir(ctx, nil)
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range []string{"p/x", "p/y", "q"} {
		if base, err = mk.Put(ctx, base, p, fileEntry(f, st, p)); err != nil {
			f.Fatal(err)
		}
	}
	// Alice's replicas, each with its own change to p: their copies of p
	// have CIDs on both sides of almost any other.
	mine := tree.New(st, tree.Config{Replica: "alice", Now: clk.now})
	var held []cid.Cid
	for i := range 16 {
		c, err := mine.Put(ctx, base, "p/mine", fileEntry(f, st, fmt.Sprint("mine ", i)))
		if err != nil {
			f.Fatal(err)
		}
		held = append(held, c)
	}
	heldP := func(c cid.Cid) cid.Cid {
		e, err := mine.Lookup(ctx, c, "p")
		if err != nil {
			f.Fatal(err)
		}
		return e.Target
	}
	forger := &forge.Forger{Store: st, ID: mal.cid, Key: mal.priv, Victim: alice.cid, Replica: "mallory", Mtime: 1767225600e9}
	for _, n := range []schema.Object{
		&schema.Directory{},
		&schema.Directory{Entries: []schema.Entry{{Name: "a", Kind: schema.KindFile, Target: rawLink(schema.Sum([]byte("z"))), Mtime: 5, VV: schema.VV{"i": 1}}}},
		&schema.Directory{Entries: []schema.Entry{{Name: "x", Kind: schema.KindFile, Mtime: 5, VV: schema.VV{"base": 9}, Deleted: true}}},
		&schema.Directory{Entries: []schema.Entry{{Name: "d", Kind: schema.KindDirectory, Target: base, Mtime: 5, VV: schema.VV{"i": 1}}}},
	} {
		f.Add(schema.Encode(n))
	}
	data, _ := st.Get(ctx, heldP(held[0]))
	f.Add(data)
	for _, c := range forge.Cases() {
		if e, err := c.Entry(ctx, forger); err == nil && e.Kind == schema.KindDirectory && e.Target.Defined() {
			if data, err := st.Get(ctx, e.Target); err == nil {
				f.Add(data)
			}
		}
	}
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
		in, err := forger.Place(ctx, base, "", schema.Entry{Name: "p", Kind: schema.KindDirectory, Target: c, Mtime: 7, VV: schema.VV{"base": 1, "mallory": 1}})
		if err != nil {
			return
		}
		orders := map[int]bool{}
		for _, h := range held {
			order := bytes.Compare(heldP(h).Bytes(), c.Bytes())
			if orders[order] {
				continue
			}
			orders[order] = true
			got, _, err := m.Merge(ctx, h, in)
			if err != nil {
				var e *acerr.Error
				if !errors.As(err, &e) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("Merge error %q is not one structured line", err)
				}
				continue
			}
			checkTree(t, st, trust, tree.Config{}, got)
			for _, side := range []cid.Cid{h, in} {
				again, _, err := m.Merge(ctx, got, side)
				if err != nil || again != got {
					t.Fatalf("merging %s into the merge %s gives %s, %v", side, got, again, err)
				}
			}
		}
	})
}

// hostileWorld is a home (alice) and a hostile friend (mallory) who share
// a tree and have both changed root/projects since.
type hostileWorld struct {
	st           ipfsstore.Store
	alice, mal   *person
	m            *merge.Merger
	held, theirs cid.Cid // alice's root, and mallory's before any forgery
	forger       *forge.Forger
}

func newHostileWorld(t *testing.T) *hostileWorld {
	t.Helper()
	st := ipfsstore.NewMemory()
	w := &hostileWorld{st: st, alice: newPerson(t, st, "alice"), mal: newPerson(t, st, "mallory")}
	w.m = newMerger(st, merge.Config{Resolver: trusting(w.alice, w.mal), Signer: w.alice})
	clk := &clock{}
	base := tree.New(st, tree.Config{Replica: "base", Now: clk.now})
	root, err := base.MakeDir(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"projects/shared/x.txt", "forum/f.txt"} {
		if root, err = base.Put(ctx, root, p, fileEntry(t, st, p)); err != nil {
			t.Fatal(err)
		}
	}
	// Alice's copy of projects must not sort near either end, or a
	// forgery on that side of it takes long to grind.
	mine := tree.New(st, tree.Config{Replica: "alice", Now: clk.now, By: w.alice.cid})
	for i := 0; ; i++ {
		if w.held, err = mine.Put(ctx, root, "projects/mine.txt", fileEntry(t, st, fmt.Sprint("mine ", i))); err != nil {
			t.Fatal(err)
		}
		p, err := mine.Lookup(ctx, w.held, "projects")
		if err != nil {
			t.Fatal(err)
		}
		if midway(p.Target) {
			break
		}
	}
	hers := tree.New(st, tree.Config{Replica: "mallory", Now: clk.now, By: w.mal.cid})
	if w.theirs, err = hers.Put(ctx, root, "projects/hers.txt", fileEntry(t, st, "hers")); err != nil {
		t.Fatal(err)
	}
	w.forger = &forge.Forger{Store: st, ID: w.mal.cid, Key: w.mal.priv, Victim: w.alice.cid, Replica: "mallory", Mtime: 1767225600e9}
	return w
}

// forged returns mallory's root with e placed in dir, its projects
// directory's CID ordered against alice's as order says (-1: smaller,
// 1: larger), ground by changing the mtime of one of her files.
func (w *hostileWorld) forged(t *testing.T, dir string, e schema.Entry, order int) cid.Cid {
	t.Helper()
	tr := tree.New(w.st, tree.Config{})
	mine, err := tr.Lookup(ctx, w.held, "projects")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		theirs := w.theirs
		if i > 0 {
			f := w.forger.Clone()
			f.Mtime += int64(i)
			filler := f.File("filler", "x")
			if theirs, err = f.Place(ctx, theirs, "projects", filler); err != nil {
				t.Fatal(err)
			}
		}
		root, err := w.forger.Place(ctx, theirs, dir, e)
		if err != nil {
			t.Fatal(err)
		}
		p, err := tr.ReadDir(ctx, root)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range p {
			if x.Name == "projects" && bytes.Compare(x.Target.Bytes(), mine.Target.Bytes()) == order {
				return root
			}
		}
	}
	t.Fatalf("no forgery in 200 tries has its projects CID on the %d side of mine", order)
	return cid.Undef
}

// midway reports whether c's digest begins between a quarter and three
// quarters of the range: a random CID falls on either side of it with a
// chance of at least a quarter.
func midway(c cid.Cid) bool {
	d := c.Hash()[2]
	return d >= 0x40 && d < 0xc0
}

// TestHostileTreesRefused merges a friend's tree holding each forged case
// of package forge, at several places, in both orders of the CIDs of the
// directory both sides changed: each is refused with one line of the
// case's kind, and the honest tree without the forgery merges into a
// tree that checks.
func TestHostileTreesRefused(t *testing.T) {
	w := newHostileWorld(t)
	for _, c := range forge.Cases() {
		e, err := c.Entry(ctx, w.forger)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		for _, dir := range []string{"projects", "projects/shared", "projects/new/deeper"} {
			for _, order := range []int{-1, 1} {
				in := w.forged(t, dir, e, order)
				got, _, err := w.m.Merge(ctx, w.held, in)
				if err == nil {
					t.Errorf("%s in %s (order %d): merged into %s", c.Name, dir, order, got)
					continue
				}
				if !acerr.Is(c.Want, err) || strings.Contains(err.Error(), "\n") {
					t.Errorf("%s in %s (order %d): %v, want one line of kind %q", c.Name, dir, order, err, c.Want)
				}
			}
		}
	}
	got, _, err := w.m.Merge(ctx, w.held, w.theirs)
	if err != nil {
		t.Fatalf("honest merge: %v", err)
	}
	checkTree(t, w.st, trusting(w.alice, w.mal), tree.Config{}, got)
}

// checkTree checks all of root as ac-verify does, and fails the test if
// it does not verify.
func checkTree(t tb, st ipfsstore.Store, r policy.Resolver, limits tree.Config, root cid.Cid) {
	t.Helper()
	k := tree.New(st, limits).NewCheck(policy.NewRules(policy.RulesConfig{Resolver: r, Store: st, Filesystem: true}))
	if err := k.Dir(ctx, cid.Undef, root); err != nil {
		t.Fatalf("the merged tree %s does not verify: %v", root, err)
	}
}
