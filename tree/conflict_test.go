package tree_test

import (
	"context"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore/storetest"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
)

// conflictedDir builds a directory whose "notes.txt" holds two concurrent
// versions: "theirs" (later, shown) and "mine" (kept as a conflict).
func conflictedDir(t *testing.T, tr *tree.Tree) (root cid.Cid, shown, kept schema.Entry) {
	t.Helper()
	mine := file("mine")
	mine.Name, mine.Mtime, mine.VV = "notes.txt", testTime.UnixNano()-3600e9, schema.VV{"r1": 2}
	theirs := file("theirs!")
	theirs.Name, theirs.Mtime, theirs.VV = "notes.txt", testTime.UnixNano()-60e9, schema.VV{"r1": 1, "r2": 1}
	e := schema.FromVersions([]schema.Entry{mine, theirs})
	if e.Target != theirs.Target || len(e.Conflicts) != 1 {
		t.Fatalf("FromVersions shows %v with %d conflicts, want the later version and one conflict", e.Target, len(e.Conflicts))
	}
	dir, err := tr.MakeDir(context.Background(), []schema.Entry{e})
	if err != nil {
		t.Fatal(err)
	}
	top := schema.Entry{Name: "docs", Kind: schema.KindDirectory, Target: dir, VV: schema.VV{"r1": 1}}
	root, err = tr.MakeDir(context.Background(), []schema.Entry{top})
	if err != nil {
		t.Fatal(err)
	}
	return root, theirs, mine
}

func TestConflictCopiesAreListed(t *testing.T) {
	ctx := context.Background()
	tr, _ := newTree(t, tree.Config{})
	root, shown, kept := conflictedDir(t, tr)
	copyName := tree.ConflictName("notes.txt", &kept)
	if !strings.HasPrefix(copyName, "notes.conflict-20260102-020405-") || !strings.HasSuffix(copyName, ".txt") {
		t.Errorf("ConflictName = %q, want notes.conflict-20260102-020405-<id>.txt", copyName)
	}
	list, err := tr.List(ctx, root, "docs")
	if err != nil {
		t.Fatal(err)
	}
	// The copy stands right after its original.
	if got, want := names(list), []string{"notes.txt", copyName}; !slices.Equal(got, want) {
		t.Fatalf("List = %v, want %v", got, want)
	}
	for _, e := range list {
		if len(e.Conflicts) != 0 {
			t.Errorf("listed entry %s carries conflicts", e.Name)
		}
	}
	e, err := tr.Lookup(ctx, root, "docs/"+copyName)
	if err != nil || e.Target != kept.Target || e.Name != copyName {
		t.Errorf("Lookup(copy) = %v %q, %v; want the kept version under its copy name", e.Target, e.Name, err)
	}
	e, err = tr.Lookup(ctx, root, "docs/notes.txt")
	if err != nil || e.Target != shown.Target || len(e.Conflicts) != 0 {
		t.Errorf("Lookup(notes.txt) = %v, %v; want the shown version without conflicts", e.Target, err)
	}
	var walked []string
	tr.Walk(ctx, root, "", func(p string, e schema.Entry) error { walked = append(walked, p); return nil })
	if want := []string{"docs", "docs/notes.txt", "docs/" + copyName}; !slices.Equal(walked, want) {
		t.Errorf("Walk = %v, want %v", walked, want)
	}
	// A name that only looks like a copy is not found.
	_, err = tr.Lookup(ctx, root, "docs/notes.conflict-20260102-030405-aaaaaaa.txt")
	wantKind(t, "Lookup(made-up copy)", err, acerr.NotExist)
}

func TestDeleteConflictCopy(t *testing.T) {
	ctx := context.Background()
	tr, _ := newTree(t, tree.Config{Replica: "r3"})
	root, shown, kept := conflictedDir(t, tr)
	copyName := tree.ConflictName("notes.txt", &kept)

	// Writing into or over a copy is refused; only deleting it is allowed.
	_, err := tr.Put(ctx, root, "docs/"+copyName, file("x"))
	wantKind(t, "Put(copy)", err, acerr.Permission)
	_, err = tr.Put(ctx, root, "docs/"+copyName+"/x", file("x"))
	wantKind(t, "Put(inside copy)", err, acerr.Permission)

	root2, err := tr.Delete(ctx, root, "docs/"+copyName)
	if err != nil {
		t.Fatalf("Delete(copy): %v", err)
	}
	list, _ := tr.List(ctx, root2, "docs")
	if got := names(list); !slices.Equal(got, []string{"notes.txt"}) {
		t.Errorf("List after deleting the copy = %v, want [notes.txt]", got)
	}
	entries := readDirAt(t, tr, root2, "docs")
	e := entries[0]
	if len(entries) != 1 || e.Target != shown.Target || len(e.Conflicts) != 0 {
		t.Fatalf("stored entries = %+v, want the shown version alone", entries)
	}
	if o := kept.VV.Compare(e.VV); o != schema.Before {
		t.Errorf("the resolution's vv %v is %v the deleted copy's %v, want after", e.VV, o, kept.VV)
	}

	// Writing the name supersedes both versions; the copy stays as an
	// entry of its own, under the same name.
	root3, err := tr.Put(ctx, root, "docs/notes.txt", file("edited"))
	if err != nil {
		t.Fatal(err)
	}
	entries = readDirAt(t, tr, root3, "docs")
	if got := names(entries); !slices.Equal(got, []string{copyName, "notes.txt"}) {
		t.Fatalf("entries after writing notes.txt = %v, want [%s notes.txt]", got, copyName)
	}
	for _, e := range entries {
		if len(e.Conflicts) != 0 {
			t.Errorf("%s still holds conflicts", e.Name)
		}
	}
	if entries[0].Target != kept.Target {
		t.Errorf("%s links %v, want the kept version %v", copyName, entries[0].Target, kept.Target)
	}
	// Deleting the name leaves the copy.
	root4, err := tr.Delete(ctx, root, "docs/notes.txt")
	if err != nil {
		t.Fatal(err)
	}
	list, _ = tr.List(ctx, root4, "docs")
	if got := names(list); !slices.Equal(got, []string{copyName}) {
		t.Errorf("after deleting notes.txt, List = %v, want [%s]", got, copyName)
	}
}

func readDirAt(t *testing.T, tr *tree.Tree, root cid.Cid, path string) []schema.Entry {
	t.Helper()
	e, err := tr.Lookup(context.Background(), root, path)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := tr.ReadDir(context.Background(), e.Target)
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// TestDiffAndWithEntries changes random names of a large directory: Diff must report exactly those names, reading only the
// blocks on their paths, and WithEntries must give the same CID as
// building the changed set from scratch, in any order of the changes.
func TestDiffAndWithEntries(t *testing.T) {
	ctx := context.Background()
	tr, st := newTree(t, tree.Config{LeafTarget: 1 << 10, InnerTarget: 512})
	var all []schema.Entry
	for i := range 3000 {
		e := file(fmt.Sprint(i))
		e.Name, e.VV = fmt.Sprintf("f%05d", i), schema.VV{"r1": 1}
		all = append(all, e)
	}
	a, err := tr.MakeDir(ctx, all)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewSource(1))
	for _, n := range []int{1, 10, 300} {
		changed := map[string]schema.Entry{}
		for len(changed) < n {
			i := r.Intn(len(all) + 100) // some new names too
			e := file(fmt.Sprint("changed", i, n))
			e.Name, e.VV = fmt.Sprintf("f%05d", i), schema.VV{"r2": 1}
			changed[e.Name] = e
		}
		var set []schema.Entry
		for _, e := range changed {
			set = append(set, e)
		}
		d, err := tr.WithEntries(ctx, a, set)
		if err != nil {
			t.Fatal(err)
		}
		b, err := tr.PutDirectory(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		want := slices.Clone(all)
		for _, e := range set {
			if i, ok := slices.BinarySearchFunc(want, e.Name, func(x schema.Entry, n string) int { return strings.Compare(x.Name, n) }); ok {
				want[i] = e
			} else {
				want = slices.Insert(want, i, e)
			}
		}
		fresh, err := tr.MakeDir(ctx, want)
		if err != nil {
			t.Fatal(err)
		}
		if b != fresh {
			t.Errorf("%d changes: WithEntries gives %s, building the same entries gives %s", n, b, fresh)
		}
		slices.Reverse(set)
		d2, _ := tr.WithEntries(ctx, a, set)
		if b2, _ := tr.PutDirectory(ctx, d2); b2 != b {
			t.Errorf("%d changes: another order gives %s, want %s", n, b2, b)
		}

		counted := &storetest.Counting{Store: st}
		ct := tree.New(counted, tree.Config{LeafTarget: 1 << 10, InnerTarget: 512})
		seen := map[string]bool{}
		err = ct.Diff(ctx, a, b, func(name string, ea, eb *schema.Entry) error {
			if seen[name] {
				t.Errorf("Diff reports %s twice", name)
			}
			seen[name] = true
			if eb == nil || eb.Target != changed[name].Target {
				t.Errorf("Diff(%s) gives %v as the new entry, want %v", name, eb, changed[name].Target)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(seen) != len(changed) {
			t.Errorf("Diff reports %d names, want %d", len(seen), len(changed))
		}
		// Each change touches one path of the tree (the root's level
		// and one node a level below it), and where it moved a cut one
		// node beside it, in both directories.
		if n <= 10 {
			levels := checkCanonical(t, st, a, tree.Config{LeafTarget: 1 << 10, InnerTarget: 512}).levels
			if got, max := counted.Gets.Load(), int64(2+2*(levels+2)*n); got > max {
				t.Errorf("Diff of %d changes read %d blocks, want at most %d (a tree of %d levels)", n, got, max, levels)
			}
		}
	}
}

// TestChanges lists the differences between two trees as a listing
// shows them: added, changed and deleted files, a conflict copy that
// appeared, and directories entered only where they differ.
func TestChanges(t *testing.T) {
	ctx := context.Background()
	tr, _ := newTree(t, tree.Config{})
	root := cid.Undef
	for _, p := range []string{"docs/a", "docs/b", "docs/sub/c", "keep/x"} {
		root = mustPut(t, tr, root, p, file(p))
	}
	old := root
	root = mustPut(t, tr, root, "docs/a", file("a, edited"))
	root = mustPut(t, tr, root, "docs/new", file("new"))
	root = mustPut(t, tr, root, "docs/sub/d", file("d"))
	root, err := tr.Delete(ctx, root, "docs/b")
	if err != nil {
		t.Fatal(err)
	}
	// A concurrent version of docs/sub/c, kept beside it.
	e, err := tr.Lookup(ctx, root, "docs/sub")
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := tr.ReadDir(ctx, e.Target)
	c := entries[0]
	other := file("c, elsewhere")
	other.Name, other.Mtime, other.VV = "c", c.Mtime-1, schema.VV{"r9": 1}
	withConflict := schema.FromVersions([]schema.Entry{c, other})
	d, err := tr.WithEntries(ctx, e.Target, []schema.Entry{withConflict})
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := tr.PutDirectory(ctx, d)
	e.Target = sub
	root = mustPut(t, tr, root, "docs/sub", e)

	got := map[string]tree.What{}
	err = tr.Changes(ctx, old, root, func(ch tree.Change) error {
		if _, dup := got[ch.Path]; dup {
			t.Errorf("%s reported twice", ch.Path)
		}
		got[ch.Path] = ch.What
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]tree.What{
		"docs/a":     tree.Changed,
		"docs/new":   tree.Added,
		"docs/b":     tree.Deleted,
		"docs/sub/d": tree.Added,
		"docs/sub/" + tree.ConflictName("c", &other): tree.Conflict,
	}
	if len(got) != len(want) {
		t.Errorf("Changes = %v, want %v", got, want)
	}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("Changes[%s] = %q, want %q", p, got[p], w)
		}
	}
}

// TestConflictCopyNameTaken gives a directory a stored entry named exactly
// as a conflict copy would be shown (a friend can make one), and a second
// conflicting version whose copy would take the same name: the listing
// still has one name per entry, the stored entry keeps its name, each
// copy is found under the name the listing gives it, and deleting that
// name resolves that copy.
func TestConflictCopyNameTaken(t *testing.T) {
	ctx := context.Background()
	tr, _ := newTree(t, tree.Config{Replica: "r3"})
	root, _, kept := conflictedDir(t, tr)
	squatter := file("squatter")
	squatter.Name, squatter.VV = tree.ConflictName("notes.txt", &kept), schema.VV{"r9": 1}
	docs, err := tr.Lookup(ctx, root, "docs")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := tr.ReadDir(ctx, docs.Target)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := tr.MakeDir(ctx, append(entries, squatter))
	if err != nil {
		t.Fatal(err)
	}
	root, err = tr.MakeDir(ctx, []schema.Entry{{Name: "docs", Kind: schema.KindDirectory, Target: dir, VV: schema.VV{"r1": 2}}})
	if err != nil {
		t.Fatal(err)
	}
	list, err := tr.List(ctx, root, "docs")
	if err != nil {
		t.Fatal(err)
	}
	got := names(list)
	if len(got) != 3 || !distinct(got) {
		t.Fatalf("List = %q, want three distinct names", got)
	}
	copyName := strings.TrimSuffix(squatter.Name, ".txt") + "-2.txt"
	if !slices.Contains(got, copyName) || !slices.Contains(got, squatter.Name) {
		t.Fatalf("List = %q, want %q (the stored entry) and %q (the copy)", got, squatter.Name, copyName)
	}
	if e, err := tr.Lookup(ctx, root, "docs/"+squatter.Name); err != nil || e.Target != squatter.Target {
		t.Errorf("Lookup(%s) = %v, %v; want the stored entry", squatter.Name, e.Target, err)
	}
	if e, err := tr.Lookup(ctx, root, "docs/"+copyName); err != nil || e.Target != kept.Target {
		t.Errorf("Lookup(%s) = %v, %v; want the copy", copyName, e.Target, err)
	}
	var walked []string
	if err := tr.Walk(ctx, root, "docs", func(p string, _ schema.Entry) error { walked = append(walked, p); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(walked) != 3 || !distinct(walked) {
		t.Errorf("Walk = %q, want three distinct paths", walked)
	}
	root, err = tr.Delete(ctx, root, "docs/"+copyName)
	if err != nil {
		t.Fatal(err)
	}
	list, err = tr.List(ctx, root, "docs")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(list), []string{squatter.Name, "notes.txt"}; !slices.Equal(got, want) {
		t.Errorf("after deleting the copy, List = %q, want %q", got, want)
	}
}

func distinct(ss []string) bool {
	s := slices.Clone(ss)
	slices.Sort(s)
	return len(slices.Compact(s)) == len(ss)
}
