package merge_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/identity"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/merge"
	"github.com/archivecache/archivecache/policy"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
)

// ownedFixture is a shared root holding "own", a directory alice owns
// (at seq 2, holding "f"), with two of alice's replicas and bob's.
type ownedFixture struct {
	st         *ipfsstore.Memory
	alice, bob *person
	a1, a2     *tree.Tree // alice's replicas, with her key
	b          *tree.Tree // bob's replica, without it
	base       cid.Cid    // root with own at seq 2, holding "f"
}

func newOwnedFixture(t *testing.T) *ownedFixture {
	t.Helper()
	st := ipfsstore.NewMemory()
	f := &ownedFixture{st: st, alice: newPerson(t, st, "alice"), bob: newPerson(t, st, "bob")}
	clk := &clock{}
	f.a1 = tree.New(st, tree.Config{Replica: "a1", Now: clk.now, Signer: f.alice, By: f.alice.cid})
	f.a2 = tree.New(st, tree.Config{Replica: "a2", Now: clk.now, Signer: f.alice, By: f.alice.cid})
	f.b = tree.New(st, tree.Config{Replica: "b", Now: clk.now, By: f.bob.cid})
	root, err := f.a1.Put(ctx, cid.Undef, "own", schema.Entry{Kind: schema.KindDirectory, Target: ownedDir(t, st, f.alice, 1, cid.Undef)})
	if err != nil {
		t.Fatal(err)
	}
	f.base = f.put(t, f.a1, root, "own/f", "first")
	return f
}

func (f *ownedFixture) put(t *testing.T, tr *tree.Tree, root cid.Cid, path, content string) cid.Cid {
	t.Helper()
	c, err := tr.Put(ctx, root, path, fileEntry(t, f.st, content))
	if err != nil {
		t.Fatalf("Put(%s): %v", path, err)
	}
	return c
}

// friendly is a merger for bob, who trusts alice.
func (f *ownedFixture) friendly() *merge.Merger {
	return newMerger(f.st, merge.Config{Resolver: trusting(f.alice, f.bob)})
}

func (f *ownedFixture) entry(t *testing.T, root cid.Cid, path string) schema.Entry {
	t.Helper()
	dir, name := "", path
	if i := strings.LastIndex(path, "/"); i >= 0 {
		dir, name = path[:i], path[i+1:]
	}
	d, err := f.b.Lookup(ctx, root, dir)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := f.b.ReadDir(ctx, d.Target)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("no entry %s", path)
	return schema.Entry{}
}

// withEntry returns root with the entry of name replaced by e, as a
// hostile replica could write it.
func (f *ownedFixture) withEntry(t *testing.T, root cid.Cid, e schema.Entry) cid.Cid {
	t.Helper()
	d, err := f.b.WithEntries(ctx, root, []schema.Entry{e})
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.b.PutDirectory(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func seqOf(t *testing.T, f *ownedFixture, root cid.Cid) uint64 {
	t.Helper()
	e := f.entry(t, root, "own")
	d, err := f.b.ReadDirectory(ctx, e.Target)
	if err != nil {
		t.Fatal(err)
	}
	return d.Seq
}

func TestOwnedHigherSeqWins(t *testing.T) {
	f := newOwnedFixture(t)
	newer := f.put(t, f.a1, f.base, "own/g", "second")
	m := f.friendly()
	for _, order := range [][2]cid.Cid{{f.base, newer}, {newer, f.base}} {
		got := mustMerge(t, m, order[0], order[1])
		if got != newer {
			t.Errorf("Merge(%s, %s) = %s, want the newer root %s", order[0], order[1], got, newer)
		}
	}
}

func TestOwnedRollbackRefused(t *testing.T) {
	f := newOwnedFixture(t)
	newer := f.put(t, f.a1, f.base, "own/g", "second")
	// A replica replays alice's old version under a newer version vector.
	old := f.entry(t, f.base, "own")
	replay := f.entry(t, newer, "own")
	replay.Target = old.Target
	replay.VV = replay.VV.Join(schema.VV{"mallory": 9})
	hostile := f.withEntry(t, newer, replay)
	got := mustMerge(t, f.friendly(), newer, hostile)
	if s := seqOf(t, f, got); s != 3 {
		t.Errorf("after merging a replayed seq 2, own is at seq %d, want 3", s)
	}
}

func TestOwnedForkSmallerCIDWins(t *testing.T) {
	f := newOwnedFixture(t)
	x := f.put(t, f.a1, f.base, "own/x", "on replica 1")
	y := f.put(t, f.a2, f.base, "own/y", "on replica 2")
	m := f.friendly() // bob's: he cannot sign for alice
	xy, rep, err := m.Merge(ctx, x, y)
	if err != nil {
		t.Fatal(err)
	}
	yx := mustMerge(t, m, y, x)
	if xy != yx {
		t.Fatalf("fork: Merge(x, y) = %s, Merge(y, x) = %s", xy, yx)
	}
	if len(rep.Forks) != 1 || rep.Forks[0].Path != "own" || rep.Forks[0].Seq != 3 {
		t.Fatalf("forks reported: %+v, want one at own, seq 3", rep.Forks)
	}
	kept := f.entry(t, xy, "own").Target
	if want := slices.MinFunc([]cid.Cid{f.entry(t, x, "own").Target, f.entry(t, y, "own").Target},
		func(a, b cid.Cid) int { return strings.Compare(string(a.Bytes()), string(b.Bytes())) }); kept != want {
		t.Errorf("fork kept %s, want the smaller CID %s", kept, want)
	}
}

func TestOwnDivergedReplicasResigned(t *testing.T) {
	f := newOwnedFixture(t)
	x := f.put(t, f.a1, f.base, "own/x", "on replica 1")
	y := f.put(t, f.a2, f.base, "own/y", "on replica 2")
	mine := newMerger(f.st, merge.Config{Resolver: trusting(f.alice), Signer: f.alice})
	xy := mustMerge(t, mine, x, y)
	if yx := mustMerge(t, mine, y, x); yx != xy {
		t.Fatalf("Merge(x, y) = %s, Merge(y, x) = %s", xy, yx)
	}
	if again := mustMerge(t, mine, xy, y); again != xy {
		t.Errorf("merging y again changed the result")
	}
	if s := seqOf(t, f, xy); s != 4 {
		t.Errorf("merged own is at seq %d, want 4 (the next after both)", s)
	}
	for _, p := range []string{"own/f", "own/x", "own/y"} {
		if _, err := f.b.Lookup(ctx, xy, p); err != nil {
			t.Errorf("merged tree lacks %s: %v", p, err)
		}
	}
	d, _ := f.b.ReadDirectory(ctx, f.entry(t, xy, "own").Target)
	if err := identity.Verify(f.alice.id, d); err != nil {
		t.Errorf("merged own does not verify under alice's key: %v", err)
	}
}

func TestOwnedUnsignedDeletionKept(t *testing.T) {
	f := newOwnedFixture(t)
	// Bob cannot delete alice's directory...
	if _, err := f.b.Delete(ctx, f.base, "own"); !acerr.Is(acerr.Permission, err) {
		t.Fatalf("bob's Delete(own) error = %v, want permission denied", err)
	}
	// ...and a tombstone written without her signature does not either.
	own := f.entry(t, f.base, "own")
	ts := schema.Entry{Name: "own", Kind: schema.KindDirectory, Mtime: own.Mtime + 1, VV: own.VV.Join(schema.VV{"b": 1}), Deleted: true}
	hostile := f.withEntry(t, f.base, ts)
	got, rep, err := f.friendly().Merge(ctx, f.base, hostile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.b.Lookup(ctx, got, "own/f"); err != nil {
		t.Errorf("own/f is gone after merging an unsigned deletion: %v", err)
	}
	if len(rep.Kept) != 1 || rep.Kept[0].Path != "own" || rep.Kept[0].Owner != f.alice.cid {
		t.Errorf("report = %+v, want own kept for alice", rep.Kept)
	}
	// Alice deletes it properly: the tombstone links her empty last version.
	gone, err := f.a1.Delete(ctx, f.base, "own")
	if err != nil {
		t.Fatal(err)
	}
	got = mustMerge(t, f.friendly(), f.base, gone)
	if _, err := f.b.Lookup(ctx, got, "own"); !acerr.Is(acerr.NotExist, err) {
		t.Errorf("after alice's deletion, Lookup(own) error = %v, want does not exist", err)
	}
}

func TestOwnedBadInput(t *testing.T) {
	f := newOwnedFixture(t)
	own := f.entry(t, f.base, "own")
	d, _ := f.b.ReadDirectory(ctx, own.Target)

	carol := newPerson(t, f.st, "carol") // a stranger to bob
	strangers := ownedDir(t, f.st, carol, 1, cid.Undef)

	forged := *d
	forged.Sig = append([]byte(nil), d.Sig...)
	forged.Sig[0] ^= 1
	forgedCID, data := schema.Block(&forged)
	f.st.Put(ctx, forgedCID, data)

	full := ownedDir(t, f.st, f.alice, 7, own.Target)
	fullDir, _ := f.b.ReadDirectory(ctx, full)
	fullDir.Entries = d.Entries
	identity.Sign(f.alice.priv, fullDir)
	notEmpty, data := schema.Block(fullDir)
	f.st.Put(ctx, notEmpty, data)

	bump := own.VV.Join(schema.VV{"m": 1})
	cases := []struct {
		name string
		e    schema.Entry
		kind acerr.Kind
		is   error
	}{
		{"forged signature", schema.Entry{Name: "own", Kind: schema.KindDirectory, Target: forgedCID, Owner: f.alice.cid, VV: bump}, acerr.Signature, nil},
		{"owner not a friend", schema.Entry{Name: "carols", Kind: schema.KindDirectory, Target: strangers, Owner: carol.cid, VV: schema.VV{"m": 1}}, acerr.Permission, policy.ErrNotFriend},
		{"entry hides its owner", schema.Entry{Name: "own", Kind: schema.KindDirectory, Target: own.Target, VV: bump}, acerr.Integrity, nil},
		{"deletion linking entries", schema.Entry{Name: "own", Kind: schema.KindDirectory, Target: notEmpty, Owner: f.alice.cid, Deleted: true, VV: bump}, acerr.Permission, policy.ErrBadRetirement},
		{"new name with forged owned dir", schema.Entry{Name: "new", Kind: schema.KindDirectory, Target: forgedCID, Owner: f.alice.cid, VV: schema.VV{"m": 1}}, acerr.Signature, nil},
	}
	m := f.friendly()
	for _, tc := range cases {
		hostile := f.withEntry(t, f.base, tc.e)
		_, _, err := m.Merge(ctx, f.base, hostile)
		if err == nil {
			t.Errorf("%s: Merge succeeded", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), "own") && !strings.Contains(err.Error(), tc.e.Name) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %q should be one line naming %s", tc.name, err, tc.e.Name)
		}
		if !errors.Is(err, tc.kind) {
			t.Errorf("%s: error %v is not of kind %v", tc.name, err, tc.kind)
		}
		if tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("%s: error %v does not wrap %v", tc.name, err, tc.is)
		}
	}
}

// TestOwnedDeletionBesideFriendsChange: alice deletes own (seq 4, empty)
// after a version (seq 3) that a third root still holds, while bob
// changes own's mode. Edit beats delete, so own stays, and in every order
// of merging it links the owner's last version: the empty one her
// deletion signed. (The merge once took the best of the live versions
// only, so the result depended on whether seq 3 had met the deletion
// before bob's change did.)
func TestOwnedDeletionBesideFriendsChange(t *testing.T) {
	f := newOwnedFixture(t)
	bob, err := f.b.Apply(ctx, f.base, []tree.Op{{Kind: tree.OpMkdir, Path: "own", Entry: schema.Entry{Mode: 0o700}}})
	if err != nil {
		t.Fatal(err)
	}
	seq3 := f.put(t, f.a1, f.base, "own/g", "second")
	deleted, err := f.a1.Delete(ctx, seq3, "own")
	if err != nil {
		t.Fatal(err)
	}
	m := f.friendly()
	roots := map[string]cid.Cid{"deleted": deleted, "bob": bob, "seq3": seq3}
	var want cid.Cid
	for _, order := range [][3]string{
		{"deleted", "bob", "seq3"}, {"deleted", "seq3", "bob"}, {"bob", "seq3", "deleted"},
		{"seq3", "bob", "deleted"}, {"bob", "deleted", "seq3"}, {"seq3", "deleted", "bob"},
	} {
		got := mustMerge(t, m, mustMerge(t, m, roots[order[0]], roots[order[1]]), roots[order[2]])
		if !want.Defined() {
			want = got
		} else if got != want {
			t.Errorf("merging %v gives %s, another order %s", order, got, want)
		}
	}
	e := f.entry(t, want, "own")
	if e.Deleted || e.Mode != 0o700 {
		t.Fatalf("own after the merges: %+v, want bob's live entry of mode 0700", e)
	}
	if s := seqOf(t, f, want); s != 4 {
		t.Errorf("own links seq %d, want 4, the owner's deletion", s)
	}
	if entries, err := f.b.ReadDir(ctx, e.Target); err != nil || len(entries) != 0 {
		t.Errorf("own holds %v (%v), want nothing: its owner deleted it", entries, err)
	}
}
