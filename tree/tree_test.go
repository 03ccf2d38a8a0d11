package tree_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
)

// fixture is a small tree database:
//
//	root/forum/                 empty directory
//	root/projects/a.jpg         file
//	root/projects/old.txt       tombstone
//	identities/alice            identity
//	nodes/<friend>              node_v1 whose root holds forum/hi.txt
type fixture struct {
	tr     *tree.Tree
	st     *ipfsstore.Memory
	root   cid.Cid
	friend string // the name under nodes/
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	tr, st := newTree(t, tree.Config{})
	f := &fixture{tr: tr, st: st}

	// The friend's filesystem and published node.
	friendRoot := mustPut(t, tr, cid.Undef, "forum/hi.txt", file("hi"))
	owner := putBlock(t, st, &schema.Identity{Name: "bob", Key: bytes.Repeat([]byte{1}, schema.KeySize), Created: 1})
	node := putBlock(t, st, &schema.Node{Owner: owner, Seq: 1, Root: friendRoot, Created: 1700000000,
		Sig: bytes.Repeat([]byte{2}, schema.SigSize)})
	f.friend = owner.String()

	empty, err := tr.MakeDir(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := mustPut(t, tr, cid.Undef, "root/forum", schema.Entry{Kind: schema.KindDirectory, Target: empty})
	r = mustPut(t, tr, r, "root/projects/a.jpg", file("jpeg bytes"))
	r = mustPut(t, tr, r, "root/projects/old.txt", file("old"))
	if r, err = tr.Delete(ctx, r, "root/projects/old.txt"); err != nil {
		t.Fatal(err)
	}
	r = mustPut(t, tr, r, "identities/alice", schema.Entry{Kind: schema.KindIdentity, Target: owner})
	r = mustPut(t, tr, r, "nodes/"+f.friend, schema.Entry{Kind: schema.KindNode, Target: node})
	f.root = r
	return f
}

func TestLookup(t *testing.T) {
	f := newFixture(t)
	nodes := "nodes/" + f.friend
	tests := []struct {
		path string
		kind schema.Kind // of the entry found
		err  acerr.Kind  // or the error
	}{
		{"", schema.KindDirectory, 0},
		{"root", schema.KindDirectory, 0},
		{"root/forum", schema.KindDirectory, 0},
		{"root/projects/a.jpg", schema.KindFile, 0},
		{"identities/alice", schema.KindIdentity, 0},
		{nodes, schema.KindNode, 0},
		{nodes + "/root", schema.KindDirectory, 0},
		{nodes + "/root/forum/hi.txt", schema.KindFile, 0},
		{"root/projects/old.txt", "", acerr.NotExist},
		{"root/projects/old.txt/x", "", acerr.NotExist},
		{"root/nope", "", acerr.NotExist},
		{"nope/nope", "", acerr.NotExist},
		{nodes + "/addrs", "", acerr.NotExist},
		{"root/projects/a.jpg/x", "", acerr.NotDir},
		{"identities/alice/key", "", acerr.NotDir},
		{"../x", "", acerr.Invalid},
		{"a//b", "", acerr.Invalid},
		{"/root", "", acerr.Invalid},
		{"root/", "", acerr.Invalid},
		{"./root", "", acerr.Invalid},
		{"root/../root", "", acerr.Invalid},
		{"root/a\x00b", "", acerr.Invalid},
		{"root/" + strings.Repeat("x", 256), "", acerr.Invalid},
		{strings.Repeat("a/", tree.MaxPathLen/2) + "a", "", acerr.Invalid},
	}
	for _, tt := range tests {
		e, err := f.tr.Lookup(context.Background(), f.root, tt.path)
		if tt.err != 0 {
			wantKind(t, "Lookup("+tt.path+")", err, tt.err)
			continue
		}
		if err != nil {
			t.Errorf("Lookup(%q) error: %v", tt.path, err)
			continue
		}
		if e.Kind != tt.kind {
			t.Errorf("Lookup(%q).Kind = %v, want %v", tt.path, e.Kind, tt.kind)
		}
	}
}

func TestLookupRootEntry(t *testing.T) {
	f := newFixture(t)
	e, err := f.tr.Lookup(context.Background(), f.root, "")
	if err != nil {
		t.Fatal(err)
	}
	if !e.Target.Equals(f.root) || e.Kind != schema.KindDirectory || e.Name != "" {
		t.Errorf("Lookup(\"\") = %+v, want a nameless directory entry targeting %s", e, f.root)
	}
	_, err = f.tr.Lookup(context.Background(), cid.Undef, "")
	wantKind(t, "Lookup(Undef, \"\")", err, acerr.NotExist)
}

var joinPathTests = []struct{ dir, name, want string }{
	{"", "", ""},
	{"", "root", "root"},
	{"root", "", "root"},
	{"root", "a.txt", "root/a.txt"},
	{"root/projects", "a.jpg", "root/projects/a.jpg"},
	{"nodes/x/root", "b/c", "nodes/x/root/b/c"},
}

func TestJoinPath(t *testing.T) {
	for _, tt := range joinPathTests {
		if got := tree.JoinPath(tt.dir, tt.name); got != tt.want {
			t.Errorf("JoinPath(%q, %q) = %q, want %q", tt.dir, tt.name, got, tt.want)
		}
	}
	// What Walk reports is where Lookup finds it.
	ctx, f := context.Background(), newFixture(t)
	err := f.tr.Walk(ctx, f.root, "root", func(p string, e schema.Entry) error {
		dir := strings.TrimSuffix(p, "/"+e.Name)
		got, err := f.tr.Lookup(ctx, f.root, tree.JoinPath(dir, e.Name))
		if err != nil || !schema.SameEntry(&got, &e) {
			t.Errorf("Lookup(JoinPath(%q, %q)) = %v, %v; want the entry Walk saw", dir, e.Name, got, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMutationErrors(t *testing.T) {
	f := newFixture(t)
	noReplica := tree.New(f.st, tree.Config{})
	dir := schema.Entry{Kind: schema.KindDirectory, Target: f.root}
	put := func(tr *tree.Tree, path string, e schema.Entry) func() error {
		return func() error { _, err := tr.Put(context.Background(), f.root, path, e); return err }
	}
	del := func(path string) func() error {
		return func() error { _, err := f.tr.Delete(context.Background(), f.root, path); return err }
	}
	tests := []struct {
		name string
		op   func() error
		want acerr.Kind
	}{
		{"Put root", put(f.tr, "", file("x")), acerr.Invalid},
		{"Put unclean path", put(f.tr, "root//x", file("x")), acerr.Invalid},
		{"Put dotdot", put(f.tr, "root/../x", file("x")), acerr.Invalid},
		{"Put file over directory", put(f.tr, "root/projects", file("x")), acerr.IsDir},
		{"Put directory over file", put(f.tr, "root/projects/a.jpg", dir), acerr.NotDir},
		{"Put under file", put(f.tr, "root/projects/a.jpg/x", file("x")), acerr.NotDir},
		{"Put under identity", put(f.tr, "identities/alice/x", file("x")), acerr.NotDir},
		{"Put inside node", put(f.tr, "nodes/"+f.friend+"/root/x", file("x")), acerr.Permission},
		{"Put without target", put(f.tr, "root/x", schema.Entry{Kind: schema.KindFile}), acerr.Invalid},
		{"Put tombstone with target", put(f.tr, "root/x", schema.Entry{Kind: schema.KindFile, Target: f.root, Deleted: true}), acerr.Invalid},
		{"Put unknown kind", put(f.tr, "root/x", schema.Entry{Kind: "blob_v1", Target: f.root}), acerr.Invalid},
		{"Put bad mode", put(f.tr, "root/x", schema.Entry{Kind: schema.KindFile, Target: f.root, Mode: 0o10000}), acerr.Invalid},
		{"Put without replica", put(noReplica, "root/x", file("x")), acerr.Invalid},
		{"Delete root", del(""), acerr.Invalid},
		{"Delete missing", del("root/nope"), acerr.NotExist},
		{"Delete tombstone", del("root/projects/old.txt"), acerr.NotExist},
		{"Delete under missing", del("root/nope/x"), acerr.NotExist},
		{"Delete under tombstone", del("root/projects/old.txt/x"), acerr.NotExist},
		{"Delete under file", del("root/projects/a.jpg/x"), acerr.NotDir},
		{"Delete inside node", del("nodes/" + f.friend + "/root/forum"), acerr.Permission},
	}
	for _, tt := range tests {
		wantKind(t, tt.name, tt.op(), tt.want)
	}
}

func TestErrorMessages(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, err1 := f.tr.Put(ctx, f.root, "root/projects/a.jpg/y", file("y"))
	_, err2 := f.tr.Delete(ctx, f.root, "root/nope")
	_, err3 := f.tr.Lookup(ctx, f.root, "a//b")
	_, err4 := f.tr.Put(ctx, f.root, "root/projects", file("y"))
	tests := []struct {
		err  error
		want string
	}{
		{err1, "tree.Put root/projects/a.jpg/y: not a directory: root/projects/a.jpg is a file"},
		{err2, "tree.Delete root/nope: does not exist"},
		{err3, "tree.Lookup a//b: invalid: empty path component (want a clean relative path like root/a/b)"},
		{err4, "tree.Put root/projects: root/projects is a directory; delete it first"},
	}
	for _, tt := range tests {
		if tt.err == nil || tt.err.Error() != tt.want {
			t.Errorf("error = %v, want %q", tt.err, tt.want)
		}
	}
}

func TestCopyOnWrite(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	old := f.root
	forumBefore, err := f.tr.Lookup(ctx, old, "root/forum")
	if err != nil {
		t.Fatal(err)
	}
	r := mustPut(t, f.tr, old, "root/projects/b.jpg", file("b"))
	r, err = f.tr.Delete(ctx, r, "root/projects/a.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if r.Equals(old) {
		t.Fatalf("Put and Delete returned the old root")
	}
	// The old root still reads as it was.
	if e, err := f.tr.Lookup(ctx, old, "root/projects/a.jpg"); err != nil || e.Deleted {
		t.Errorf("Lookup(old root, a.jpg) = %+v, %v; want the live file", e, err)
	}
	_, err = f.tr.Lookup(ctx, old, "root/projects/b.jpg")
	wantKind(t, "Lookup(old root, b.jpg)", err, acerr.NotExist)
	// The new root sees the changes.
	_, err = f.tr.Lookup(ctx, r, "root/projects/a.jpg")
	wantKind(t, "Lookup(new root, a.jpg)", err, acerr.NotExist)
	if _, err := f.tr.Lookup(ctx, r, "root/projects/b.jpg"); err != nil {
		t.Errorf("Lookup(new root, b.jpg) error: %v", err)
	}
	// Directories off the path are shared, not rewritten.
	for _, p := range []string{"root/forum", "identities", "nodes"} {
		a, err1 := f.tr.Lookup(ctx, old, p)
		b, err2 := f.tr.Lookup(ctx, r, p)
		if err1 != nil || err2 != nil || !a.Target.Equals(b.Target) {
			t.Errorf("Lookup(%q).Target = %v / %v, want one shared CID (%v, %v)", p, a.Target, b.Target, err1, err2)
		}
	}
	if forumAfter, _ := f.tr.Lookup(ctx, r, "root/forum"); !maps.Equal(forumAfter.VV, forumBefore.VV) {
		t.Errorf("root/forum VV = %v, want unchanged %v", forumAfter.VV, forumBefore.VV)
	}
}

func vvOf(t *testing.T, tr *tree.Tree, root cid.Cid, path string) schema.VV {
	t.Helper()
	e, err := tr.Lookup(context.Background(), root, path)
	if err != nil {
		// Tombstones are invisible to Lookup; find them with ReadDir.
		dir, name := path[:strings.LastIndex(path, "/")], path[strings.LastIndex(path, "/")+1:]
		d, err2 := tr.Lookup(context.Background(), root, dir)
		if err2 != nil {
			t.Fatalf("Lookup(%q) error: %v", path, err)
		}
		entries, err2 := tr.ReadDir(context.Background(), d.Target)
		if err2 != nil {
			t.Fatal(err2)
		}
		for _, e := range entries {
			if e.Name == name {
				return e.VV
			}
		}
		t.Fatalf("Lookup(%q) error: %v", path, err)
	}
	return e.VV
}

func TestVersionVectors(t *testing.T) {
	ctx := context.Background()
	r1, st := newTree(t, tree.Config{})
	r2 := tree.New(st, tree.Config{Replica: "r2", Now: fixedNow})
	var root cid.Cid
	var err error
	steps := []struct {
		name string
		do   func() (cid.Cid, error)
		want map[string]schema.VV // path → VV after the step
	}{
		{"r1 creates", func() (cid.Cid, error) { return r1.Put(ctx, root, "a/b/f", file("1")) },
			map[string]schema.VV{"a": {"r1": 1}, "a/b": {"r1": 1}, "a/b/f": {"r1": 1}}},
		{"r1 rewrites", func() (cid.Cid, error) { return r1.Put(ctx, root, "a/b/f", file("2")) },
			map[string]schema.VV{"a": {"r1": 2}, "a/b": {"r1": 2}, "a/b/f": {"r1": 2}}},
		{"r2 rewrites", func() (cid.Cid, error) { return r2.Put(ctx, root, "a/b/f", file("3")) },
			map[string]schema.VV{"a": {"r1": 2, "r2": 1}, "a/b": {"r1": 2, "r2": 1}, "a/b/f": {"r1": 2, "r2": 1}}},
		{"r2 adds a sibling", func() (cid.Cid, error) { return r2.Put(ctx, root, "a/b/g", file("4")) },
			map[string]schema.VV{"a": {"r1": 2, "r2": 2}, "a/b/f": {"r1": 2, "r2": 1}, "a/b/g": {"r2": 1}}},
		{"r1 deletes", func() (cid.Cid, error) { return r1.Delete(ctx, root, "a/b/f") },
			map[string]schema.VV{"a": {"r1": 3, "r2": 2}, "a/b": {"r1": 3, "r2": 2}, "a/b/f": {"r1": 3, "r2": 1}}},
		{"r2 recreates over the tombstone", func() (cid.Cid, error) { return r2.Put(ctx, root, "a/b/f", file("5")) },
			map[string]schema.VV{"a/b/f": {"r1": 3, "r2": 2}}},
		{"r1 deletes a directory", func() (cid.Cid, error) { return r1.Delete(ctx, root, "a/b") },
			map[string]schema.VV{"a": {"r1": 4, "r2": 3}, "a/b": {"r1": 4, "r2": 3}}},
		{"r1 recreates it as a parent", func() (cid.Cid, error) { return r1.Put(ctx, root, "a/b/h", file("6")) },
			map[string]schema.VV{"a": {"r1": 5, "r2": 3}, "a/b": {"r1": 5, "r2": 3}, "a/b/h": {"r1": 1}}},
	}
	for _, s := range steps {
		if root, err = s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		for path, want := range s.want {
			if got := vvOf(t, r1, root, path); !maps.Equal(got, want) {
				t.Errorf("%s: VV(%q) = %v, want %v", s.name, path, got, want)
			}
		}
	}
	// The recreated directory starts empty: what was in it stays deleted.
	_, err = r1.Lookup(ctx, root, "a/b/g")
	wantKind(t, "Lookup(a/b/g) after recreating a/b", err, acerr.NotExist)
}

func TestEntryFields(t *testing.T) {
	ctx := context.Background()
	by := rawCID("carol")
	other := rawCID("dave")
	plain, st := newTree(t, tree.Config{})
	signed := tree.New(st, tree.Config{Replica: "r1", Now: fixedNow, By: by})

	e := file("x")
	e.Name = "ignored"
	e.VV = schema.VV{"zz": 9} // ignored too: the tree keeps the VV
	e.By = other
	root := mustPut(t, plain, cid.Undef, "d/f", e)
	got, _ := plain.Lookup(ctx, root, "d/f")
	if got.Name != "f" || got.Mtime != testTime.UnixNano() || !got.By.Equals(other) || !maps.Equal(got.VV, schema.VV{"r1": 1}) {
		t.Errorf("Put without Config.By stored %+v, want name f, mtime now, by %s, vv r1:1", got, other)
	}
	e.Mtime = 42
	root = mustPut(t, signed, root, "d/f", e)
	got, _ = signed.Lookup(ctx, root, "d/f")
	if got.Mtime != 42 || !got.By.Equals(by) || got.Size != 1 || got.Mode != 0o644 {
		t.Errorf("Put with Config.By stored %+v, want mtime 42, by %s, size 1, mode 644", got, by)
	}
	if d, _ := signed.Lookup(ctx, root, "d"); !d.By.Equals(by) || d.Mtime != testTime.UnixNano() {
		t.Errorf("parent entry = %+v, want by %s and mtime now", d, by)
	}
	root, err := signed.Delete(ctx, root, "d/f")
	if err != nil {
		t.Fatal(err)
	}
	if got := vvOf(t, signed, root, "d/f"); !maps.Equal(got, schema.VV{"r1": 3}) {
		t.Errorf("tombstone VV = %v, want r1:3", got)
	}
}

func TestTombstones(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	list, err := f.tr.List(ctx, f.root, "root/projects")
	if err != nil {
		t.Fatal(err)
	}
	if got := names(list); !slices.Equal(got, []string{"a.jpg"}) {
		t.Errorf("List(root/projects) = %q, want [a.jpg]", got)
	}
	d, _ := f.tr.Lookup(ctx, f.root, "root/projects")
	all, err := f.tr.ReadDir(ctx, d.Target)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(all); !slices.Equal(got, []string{"a.jpg", "old.txt"}) {
		t.Errorf("ReadDir(root/projects) = %q, want [a.jpg old.txt]", got)
	}
	tomb := all[1]
	if !tomb.Deleted || tomb.Target.Defined() || tomb.Kind != schema.KindFile || tomb.Mtime != testTime.UnixNano() {
		t.Errorf("tombstone = %+v, want deleted file_v1 without target, mtime now", tomb)
	}
}

func names(entries []schema.Entry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.Name)
	}
	return out
}

func TestList(t *testing.T) {
	f := newFixture(t)
	nodes := "nodes/" + f.friend
	tests := []struct {
		path string
		want []string
		err  acerr.Kind
	}{
		{"", []string{"identities", "nodes", "root"}, 0},
		{"root", []string{"forum", "projects"}, 0},
		{"root/forum", nil, 0},
		{nodes, []string{"root"}, 0},
		{nodes + "/root", []string{"forum"}, 0},
		{"root/projects/a.jpg", nil, acerr.NotDir},
		{"root/projects/old.txt", nil, acerr.NotExist},
		{"root//forum", nil, acerr.Invalid},
	}
	for _, tt := range tests {
		got, err := f.tr.List(context.Background(), f.root, tt.path)
		if tt.err != 0 {
			wantKind(t, "List("+tt.path+")", err, tt.err)
			continue
		}
		if err != nil || !slices.Equal(names(got), tt.want) {
			t.Errorf("List(%q) = %q, %v, want %q", tt.path, names(got), err, tt.want)
		}
	}
}

func TestReadDirErrors(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if got, err := f.tr.ReadDir(ctx, cid.Undef); err != nil || len(got) != 0 {
		t.Errorf("ReadDir(Undef) = %v, %v, want no entries", got, err)
	}
	alice, _ := f.tr.Lookup(ctx, f.root, "identities/alice")
	_, err := f.tr.ReadDir(ctx, alice.Target)
	wantKind(t, "ReadDir(identity)", err, acerr.NotDir)
	if err != nil && !strings.Contains(err.Error(), alice.Target.String()) {
		t.Errorf("ReadDir(identity) error = %v, want it to name %s", err, alice.Target)
	}
	_, err = f.tr.ReadDir(ctx, rawCID("nothing"))
	wantKind(t, "ReadDir(raw CID)", err, acerr.Integrity)
	_, err = f.tr.ReadDir(ctx, schema.Sum([]byte("not stored")))
	wantKind(t, "ReadDir(missing block)", err, acerr.NotExist)
}

func TestWalk(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	errStop := errors.New("stop")
	nodes := "nodes/" + f.friend
	tests := []struct {
		name string
		path string
		ret  map[string]error // what fn returns for a path
		want []string
		err  error
	}{
		{"all", "", nil, []string{"identities", "identities/alice", "nodes", nodes, "root", "root/forum",
			"root/projects", "root/projects/a.jpg"}, nil},
		{"subtree", "root", nil, []string{"root/forum", "root/projects", "root/projects/a.jpg"}, nil},
		{"friend", nodes, nil, []string{nodes + "/root", nodes + "/root/forum", nodes + "/root/forum/hi.txt"}, nil},
		{"skip a directory", "", map[string]error{"root/projects": fs.SkipDir},
			[]string{"identities", "identities/alice", "nodes", nodes, "root", "root/forum", "root/projects"}, nil},
		{"skip the rest", "", map[string]error{"identities/alice": fs.SkipDir},
			[]string{"identities", "identities/alice", "nodes", nodes, "root", "root/forum", "root/projects", "root/projects/a.jpg"}, nil},
		{"skip all", "", map[string]error{"root/forum": fs.SkipAll},
			[]string{"identities", "identities/alice", "nodes", nodes, "root", "root/forum"}, nil},
		{"error", "", map[string]error{"root": errStop},
			[]string{"identities", "identities/alice", "nodes", nodes, "root"}, errStop},
	}
	for _, tt := range tests {
		var got []string
		err := f.tr.Walk(ctx, f.root, tt.path, func(p string, e schema.Entry) error {
			got = append(got, p)
			if e.Deleted {
				t.Errorf("Walk visited tombstone %s", p)
			}
			return tt.ret[p]
		})
		if err != tt.err || !slices.Equal(got, tt.want) {
			t.Errorf("%s: Walk(%q) visited %q, returned %v; want %q, %v", tt.name, tt.path, got, err, tt.want, tt.err)
		}
	}
	err := f.tr.Walk(ctx, f.root, "root/projects/a.jpg", func(string, schema.Entry) error { return nil })
	wantKind(t, "Walk(file)", err, acerr.NotDir)
}

// fakeSigner signs with a fixed signature, or fails.
type fakeSigner struct {
	err   error
	calls int
}

func (s *fakeSigner) SignDirectory(ctx context.Context, d *schema.Directory) error {
	s.calls++
	if s.err != nil {
		return s.err
	}
	if d.Sig != nil {
		return errors.New("asked to sign a directory that still has a signature")
	}
	d.Sig = bytes.Repeat([]byte{7}, schema.SigSize)
	return nil
}

func TestOwnedDirectories(t *testing.T) {
	ctx := context.Background()
	tr, st := newTree(t, tree.Config{})
	owner := rawCID("alice")
	mine := putBlock(t, st, &schema.Directory{Owner: owner, Seq: 3, Prev: rawCID("v2"),
		Entries: []schema.Entry{{Name: "f", Kind: schema.KindFile, Target: rawCID("f"), Mtime: 1, VV: schema.VV{"x": 1}}},
		Sig:     bytes.Repeat([]byte{1}, schema.SigSize)})
	root := mustPut(t, tr, cid.Undef, "root/mine", schema.Entry{Kind: schema.KindDirectory, Target: mine})

	_, err := tr.Put(ctx, root, "root/mine/g", file("g"))
	wantKind(t, "Put into owned directory without signer", err, acerr.Permission)
	if err != nil && !strings.Contains(err.Error(), "root/mine is owned by") {
		t.Errorf("error = %v, want it to name root/mine", err)
	}
	_, err = tr.Delete(ctx, root, "root/mine/f")
	wantKind(t, "Delete in owned directory without signer", err, acerr.Permission)

	refuse := &fakeSigner{err: acerr.E("identity.Sign", "", acerr.Permission, errors.New("not my key"))}
	_, err = tree.New(st, tree.Config{Replica: "r1", Signer: refuse}).Put(ctx, root, "root/mine/g", file("g"))
	wantKind(t, "Put with a refusing signer", err, acerr.Permission)

	signer := &fakeSigner{}
	tr = tree.New(st, tree.Config{Replica: "r1", Now: fixedNow, Signer: signer})
	root2 := mustPut(t, tr, root, "root/mine/sub/g", file("g"))
	e, _ := tr.Lookup(ctx, root2, "root/mine")
	n, _, err := getBlock(st, e.Target)
	if err != nil {
		t.Fatal(err)
	}
	d := n.(*schema.Directory)
	if !d.Owner.Equals(owner) || d.Seq != 4 || !d.Prev.Equals(mine) || len(d.Sig) != schema.SigSize || signer.calls != 1 {
		t.Errorf("re-signed directory = owner %s seq %d prev %s sig %d bytes after %d signatures; want %s, 4, %s, %d bytes, 1",
			d.Owner, d.Seq, d.Prev, len(d.Sig), signer.calls, owner, mine, schema.SigSize)
	}
	// The new subdirectory is shared, so changing it again re-signs only root/mine.
	sub, _ := tr.Lookup(ctx, root2, "root/mine/sub")
	if n, _, _ := getBlock(st, sub.Target); n.(*schema.Directory).Owned() {
		t.Errorf("root/mine/sub is owned, want shared")
	}
}

// getBlock reads and decodes a block.
func getBlock(st ipfsstore.Store, c cid.Cid) (schema.Object, int, error) {
	data, err := st.Get(context.Background(), c)
	if err != nil {
		return nil, 0, err
	}
	n, err := schema.Decode(data)
	return n, len(data), err
}

func TestMakeDir(t *testing.T) {
	tr, _ := newTree(t, tree.Config{})
	ctx := context.Background()
	valid := file("a")
	valid.Name, valid.VV = "a", schema.VV{"r9": 4}
	tests := []struct {
		name    string
		entries []schema.Entry
		err     acerr.Kind
	}{
		{"empty", nil, 0},
		{"one", []schema.Entry{valid}, 0},
		{"duplicate", []schema.Entry{valid, valid}, acerr.Invalid},
		{"bad name", []schema.Entry{{Name: "a/b", Kind: schema.KindFile, Target: valid.Target}}, acerr.Invalid},
		{"no target", []schema.Entry{{Name: "a", Kind: schema.KindFile}}, acerr.Invalid},
		{"bad replica", []schema.Entry{{Name: "a", Kind: schema.KindFile, Target: valid.Target, VV: schema.VV{"": 1}}}, acerr.Invalid},
	}
	for _, tt := range tests {
		c, err := tr.MakeDir(ctx, tt.entries)
		if tt.err != 0 {
			wantKind(t, "MakeDir("+tt.name+")", err, tt.err)
			continue
		}
		if err != nil {
			t.Errorf("MakeDir(%s) error: %v", tt.name, err)
			continue
		}
		got, err := tr.ReadDir(ctx, c)
		if err != nil || len(got) != len(tt.entries) || (len(got) == 1 && !maps.Equal(got[0].VV, valid.VV)) {
			t.Errorf("ReadDir(MakeDir(%s)) = %+v, %v; want the entries as given", tt.name, got, err)
		}
	}
}

// TestHostileBlocks feeds the tree damaged and lying blocks: each must give
// an error of the right kind, never a panic or a wrong answer.
func TestHostileBlocks(t *testing.T) {
	ctx := context.Background()
	mem := ipfsstore.NewMemory()
	st := &tamperStore{Store: mem}
	tr := tree.New(st, tree.Config{Replica: "r1", Now: fixedNow})

	leafEntry := func(name string) schema.Entry {
		return schema.Entry{Name: name, Kind: schema.KindFile, Target: rawCID(name), Mtime: 1, VV: schema.VV{"r": 1}}
	}
	x, y := "x", "y"
	validDir := putBlock(t, mem, &schema.Directory{Entries: []schema.Entry{leafEntry(x)}})
	leafX := putBlock(t, mem, &schema.DirNode{Entries: []schema.Entry{leafEntry(x)}})
	leafY := putBlock(t, mem, &schema.DirNode{Entries: []schema.Entry{leafEntry(y)}})
	inner := func(level int, kids ...schema.DirChild) cid.Cid {
		return putBlock(t, mem, &schema.DirNode{Level: level, Children: kids})
	}
	big := func(level int, kids ...schema.DirChild) cid.Cid {
		return putBlock(t, mem, &schema.Directory{Level: level, Children: kids})
	}
	garbage := schema.Sum([]byte("garbage"))
	st.set(garbage, []byte{0xff, 0x00})
	swapped := schema.Sum([]byte("swapped"))
	st.set(swapped, schema.Encode(&schema.Directory{}))
	wellFormed := big(1, schema.DirChild{Name: x, Link: leafX}, schema.DirChild{Name: y, Link: leafY})

	tests := []struct {
		name   string
		target cid.Cid // of entry "d" in the root
		want   acerr.Kind
		msg    string // in the error
	}{
		{"missing block", schema.Sum([]byte("absent")), acerr.NotExist, "does not exist"},
		{"garbage bytes", garbage, acerr.Integrity, "block does not match its CID"},
		{"bytes of another block", swapped, acerr.Integrity, "block does not match its CID"},
		{"raw link", rawCID("data"), acerr.Integrity, "not a dag-cbor node"},
		{"directory is a tree node", leafX, acerr.NotDir, "is a part of a directory"},
		{"leaf where level 1 belongs", big(2, schema.DirChild{Name: x, Link: leafX}, schema.DirChild{Name: y, Link: leafY}),
			acerr.Integrity, "of level 0 where level 1 belongs"},
		{"inner node where a leaf belongs", big(1, schema.DirChild{Name: x, Link: inner(1, schema.DirChild{Name: x, Link: leafX})}, schema.DirChild{Name: y, Link: leafY}),
			acerr.Integrity, "of level 1 where level 0 belongs"},
		{"child is a directory", big(1, schema.DirChild{Name: x, Link: validDir}, schema.DirChild{Name: y, Link: leafY}),
			acerr.Integrity, "is a directory, not a part of a directory"},
	}
	for _, tt := range tests {
		root := putBlock(t, mem, &schema.Directory{Entries: []schema.Entry{
			{Name: "d", Kind: schema.KindDirectory, Target: tt.target, Mtime: 1, VV: schema.VV{"r": 1}}}})
		ops := map[string]func() error{
			"Lookup": func() error { _, err := tr.Lookup(ctx, root, "d/x"); return err },
			"List":   func() error { _, err := tr.List(ctx, root, "d"); return err },
			"Put":    func() error { _, err := tr.Put(ctx, root, "d/x", file("new")); return err },
			"Walk":   func() error { return tr.Walk(ctx, root, "", func(string, schema.Entry) error { return nil }) },
		}
		for name, op := range ops {
			err := op()
			wantKind(t, tt.name+": "+name, err, tt.want)
			if err != nil && (strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), tt.msg)) {
				t.Errorf("%s: %s error = %q, want one line saying %q", tt.name, name, err, tt.msg)
			}
		}
	}
	// A well-formed version of the same shape reads fine: the cases above
	// fail for what they break, not for their shape.
	good := putBlock(t, mem, &schema.Directory{Entries: []schema.Entry{
		{Name: "d", Kind: schema.KindDirectory, Target: wellFormed, Mtime: 1, VV: schema.VV{"r": 1}}}})
	if e, err := tr.Lookup(ctx, good, "d/x"); err != nil || e.Name != x {
		t.Errorf("Lookup(d/x) in a well-formed hand-made tree = %+v, %v", e, err)
	}

	// The node_v1 link must lead to a node.
	root := putBlock(t, mem, &schema.Directory{Entries: []schema.Entry{
		{Name: "n", Kind: schema.KindNode, Target: validDir, Mtime: 1, VV: schema.VV{"r": 1}}}})
	_, err := tr.Lookup(ctx, root, "n/root")
	wantKind(t, "Lookup through a node_v1 that is a directory", err, acerr.Integrity)
}
