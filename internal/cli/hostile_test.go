package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/archivecache/archivecache/home"
	"github.com/archivecache/archivecache/internal/forge"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

// A hostile friend: mallory's real home, whose HEAD is rewritten by hand
// to hold forged blocks, published with her real key (ac-node new) and
// handed over as a CAR and a signed reference, as her own software would.

// friendPair makes the homes of alice and of her friend mallory. Both
// changed root/projects since they met; alice holds the blocks of
// mallory's honest tree.
func friendPair(t *testing.T) (alice, mallory string) {
	t.Helper()
	alice, mallory = newHome(t), newHome(t)
	ac(t, alice, nil, "ac-identity", "new", "identities/alice")
	ac(t, mallory, nil, "ac-identity", "new", "identities/mallory")
	dir := t.TempDir()
	for _, f := range []string{"mine.txt", "hers.txt"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(f+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ac(t, alice, nil, "ac-add", filepath.Join(dir, "mine.txt"), "root/projects/mine.txt")
	ac(t, mallory, nil, "ac-add", filepath.Join(dir, "hers.txt"), "root/projects/hers.txt")
	ac(t, mallory, nil, "ac-node", "new", "node", "identities/mallory")
	ac(t, alice, []byte(ac(t, mallory, nil, "ac-message", "ref", "identities/mallory")), "ac-friend", "add")
	ac(t, alice, []byte(ac(t, mallory, nil, "ac-export", "node")), "ac-import")
	return alice, mallory
}

// identityOf returns the identity CID of the only identity of a home.
func identityOf(t *testing.T, h *home.Home) cid.Cid {
	t.Helper()
	head, err := h.Get()
	if err != nil {
		t.Fatal(err)
	}
	ids, err := h.Tree(cid.Undef).List(context.Background(), head, home.Identities)
	if err != nil || len(ids) != 1 {
		t.Fatalf("identities: %v, %v", ids, err)
	}
	return ids[0].Target
}

// forgeHead rewrites the HEAD of the home at dir to hold e in
// root/projects, ground so that mallory's root/projects CID sorts on the
// order side (-1, 1; 0 for either) of victim's, publishes it with ac-node
// new, and returns the forged blocks as a CAR and the signed reference.
func forgeHead(t *testing.T, dir, victim string, mk func(*forge.Forger) (schema.Entry, error), order int) (carFile, ref []byte) {
	return forgeHeadIn(t, dir, victim, "root/projects", mk, order)
}

// forgeHeadIn is forgeHead with e placed in the directory at where.
func forgeHeadIn(t *testing.T, dir, victim, where string, mk func(*forge.Forger) (schema.Entry, error), order int) (carFile, ref []byte) {
	t.Helper()
	ctx := context.Background()
	target := func(hd string) cid.Cid {
		h, err := home.Open(ctx, home.Options{Dir: hd})
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		head, _ := h.Get()
		e, err := h.Tree(cid.Undef).Lookup(ctx, head, where)
		if err != nil {
			t.Fatal(err)
		}
		return e.Target
	}
	// The victim's copy must not sort near either end, or a forgery on
	// that side of it takes long to grind: the victim adds files until.
	mine := target(victim)
	for i := 0; order != 0 && (mine.Hash()[2] < 0x40 || mine.Hash()[2] >= 0xc0); i++ {
		src := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(src, []byte(strconv.Itoa(i)), 0o644); err != nil {
			t.Fatal(err)
		}
		ac(t, victim, nil, "ac-add", src, where+"/filler-"+strconv.Itoa(i))
		mine = target(victim)
	}
	v, err := home.Open(ctx, home.Options{Dir: victim})
	if err != nil {
		t.Fatal(err)
	}
	victimID := identityOf(t, v)
	v.Close()

	h, err := home.Open(ctx, home.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	id := identityOf(t, h)
	key, err := h.Keys.Load(id, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &forge.Forger{Store: h.Store, ID: id, Key: key, Victim: victimID, Replica: h.Config.Replica, Mtime: h.Now().UnixNano()}
	e, err := mk(f)
	if err != nil {
		t.Fatal(err)
	}
	head, _ := h.Get()
	var root cid.Cid
	for i := 0; ; i++ {
		if i == 200 {
			t.Fatal("no forgery in 200 tries sorts on the wanted side")
		}
		if root, err = f.Place(ctx, head, where, e); err != nil {
			t.Fatal(err)
		}
		if order == 0 {
			break
		}
		if e, err := h.Tree(cid.Undef).Lookup(ctx, root, where); err == nil && bytes.Compare(e.Target.Bytes(), mine.Bytes()) == order {
			break
		}
		filler := f.Clone()
		filler.Mtime += int64(i + 1)
		if head, err = filler.Place(ctx, head, where, filler.File("filler", "x")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.Update(ctx, "forge", func(cid.Cid) (cid.Cid, error) { return root, nil }); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := f.WriteCAR(&buf, root); err != nil {
		t.Fatal(err)
	}
	h.Close()
	ac(t, dir, nil, "ac-node", "new", "node", "identities/mallory")
	return buf.Bytes(), []byte(ac(t, dir, nil, "ac-message", "ref", "node"))
}

// TestHostileFriendRefused hands alice every forged tree of package forge
// from her friend mallory, in both orders of the CIDs of root/projects,
// which both changed. ac-import takes the blocks (it trusts nothing and
// links nothing) and ac-node add the signed reference, but ac-merge-all
// refuses each with one line, HEAD stays, and alice's tree verifies.
func TestHostileFriendRefused(t *testing.T) {
	alice, mallory := friendPair(t)
	ac(t, alice, []byte(ac(t, mallory, nil, "ac-message", "ref", "node")), "ac-node", "add")
	if out := ac(t, alice, nil, "ac-merge-all"); out != "A root/projects/hers.txt\n" {
		t.Fatalf("the honest merge printed %q", out)
	}
	cases := forge.Cases()
	orders := []int{-1, 1}
	if testing.Short() {
		cases, orders = cases[:4], orders[:1]
	}
	for _, c := range cases {
		for _, order := range orders {
			car, ref := forgeHead(t, mallory, alice, func(f *forge.Forger) (schema.Entry, error) {
				return c.Entry(context.Background(), f)
			}, order)
			ac(t, alice, car, "ac-import")
			ac(t, alice, ref, "ac-node", "add")
			before := readHead(t, alice)
			_, errOut, err := acRun(alice, nil, "ac-merge-all")
			if err == nil {
				t.Errorf("%s (order %d): ac-merge-all succeeded", c.Name, order)
			}
			if strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "ac-merge-all: ") || !strings.Contains(errOut, c.Want.String()) {
				t.Errorf("%s (order %d): stderr = %q, want one line saying %q", c.Name, order, errOut, c.Want)
			}
			if after := readHead(t, alice); after != before {
				t.Errorf("%s (order %d): HEAD moved", c.Name, order)
			}
			if out := ac(t, alice, nil, "ac-verify", "root"); out != "OK root\n" {
				t.Errorf("%s (order %d): ac-verify root = %q", c.Name, order, out)
			}
		}
	}
}

// TestSharedSubtreesFromFriend merges a friend's tree of 2^24 paths
// through 25 directory blocks (a CAR of a few KB), then a change deep in
// it, and verifies the result: each finishes, as its cost follows the
// distinct blocks (merge's TestSharedSubtreesCostDistinctBlocks counts
// them), where following paths would take years.
func TestSharedSubtreesFromFriend(t *testing.T) {
	alice, mallory := friendPair(t)
	for i, leaf := range []string{"one", "two"} {
		car, ref := forgeHead(t, mallory, alice, func(f *forge.Forger) (schema.Entry, error) {
			f.Mtime += int64(i)
			return f.Shared(24, leaf)
		}, -1)
		if len(car) > 64<<10 {
			t.Errorf("the CAR of the shared tree has %d bytes", len(car))
		}
		ac(t, alice, car, "ac-import")
		ac(t, alice, ref, "ac-node", "add")
		start := time.Now()
		out := ac(t, alice, nil, "ac-merge-all")
		merged := time.Since(start)
		want := "A root/projects/evil/\n"
		if i > 0 {
			want = "M root/projects/evil/b/\n" // the pair met again under b: once
		}
		if !strings.Contains(out, want) || strings.Count(out, "\n") > 30 {
			t.Errorf("merge %d printed %q, want it to hold %q", i, out, want)
		}
		start = time.Now()
		if out := ac(t, alice, nil, "ac-verify", "root"); out != "OK root\n" {
			t.Errorf("merge %d: ac-verify root = %q", i, out)
		}
		t.Logf("merge %d of a %d-byte CAR: ac-merge-all %v, ac-verify root %v", i, len(car), merged, time.Since(start))
	}
}

// TestFileSizeLieFailsRead reads a friend's file whose entry says it
// holds 10 bytes where its content holds a MiB, through nodes/ID/root
// (a tree read, not merged): ac-cat and ac-get fail with an integrity
// error, and ac-get leaves no file.
func TestFileSizeLieFailsRead(t *testing.T) {
	alice, mallory := friendPair(t)
	var lie forge.Case
	for _, c := range forge.Cases() {
		if c.Name == "size-too-small" {
			lie = c
		}
	}
	car, ref := forgeHead(t, mallory, alice, func(f *forge.Forger) (schema.Entry, error) {
		return lie.Entry(context.Background(), f)
	}, -1)
	ac(t, alice, car, "ac-import")
	ac(t, alice, ref, "ac-node", "add")
	p := "nodes/" + friendID(t, alice) + "/root/projects/evil"
	out, errOut, err := acRun(alice, nil, "ac-cat", p)
	if err == nil || out != "" || !strings.Contains(errOut, "integrity check failed: the content has 1048576 bytes, the entry says 10") {
		t.Errorf("ac-cat of a lying entry: %v, stdout %d bytes, stderr %q", err, len(out), errOut)
	}
	dest := filepath.Join(t.TempDir(), "evil")
	if _, errOut, err := acRun(alice, nil, "ac-get", p, dest); err == nil || !strings.Contains(errOut, "integrity check failed") {
		t.Errorf("ac-get of a lying entry: %v, stderr %q", err, errOut)
	}
	if _, err := os.Lstat(dest); err == nil {
		t.Errorf("ac-get left %s", dest)
	}
}

// TestConflictNameSquatted has alice and mallory write notes.txt at the
// same time, so that alice's listing shows a conflict copy, and then
// mallory store a file under exactly the copy's name: alice's listing
// keeps one name per entry, and ac-get of the directory writes all three.
func TestConflictNameSquatted(t *testing.T) {
	alice, mallory := friendPair(t)
	dir := t.TempDir()
	for _, who := range []string{alice, mallory} {
		src := filepath.Join(dir, "notes.txt")
		if err := os.WriteFile(src, []byte("notes of "+filepath.Base(filepath.Dir(who))+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		ac(t, who, nil, "ac-add", src, "root/forum/notes.txt")
	}
	ac(t, mallory, nil, "ac-node", "new", "node", "identities/mallory")
	ac(t, alice, []byte(ac(t, mallory, nil, "ac-export", "node")), "ac-import")
	ac(t, alice, []byte(ac(t, mallory, nil, "ac-message", "ref", "node")), "ac-node", "add")
	out := ac(t, alice, nil, "ac-merge-all")
	i := strings.Index(out, "C root/forum/")
	if i < 0 {
		t.Fatalf("no conflict copy in %q", out)
	}
	copyName := strings.TrimSuffix(strings.SplitN(out[i+len("C root/forum/"):], "\n", 2)[0], "/")

	car, ref := forgeHeadIn(t, mallory, alice, "root/forum", func(f *forge.Forger) (schema.Entry, error) {
		e, err := f.StoredFile(context.Background(), copyName, "squatted")
		e.Mtime += 1e9
		return e, err
	}, 0)
	ac(t, alice, car, "ac-import")
	ac(t, alice, ref, "ac-node", "add")
	ac(t, alice, nil, "ac-merge-all")
	names := strings.Fields(ac(t, alice, nil, "ac-ls", "root/forum"))
	if len(names) != 3 || names[0] == names[1] || names[1] == names[2] || !slices.Contains(names, copyName) {
		t.Fatalf("ac-ls root/forum = %q, want three names, %q among them", names, copyName)
	}
	dest := filepath.Join(t.TempDir(), "forum")
	if _, errOut, err := acRun(alice, nil, "ac-get", "root/forum", dest); err != nil {
		t.Fatalf("ac-get root/forum: %v: %s", err, errOut)
	}
	got, err := os.ReadDir(dest)
	if err != nil || len(got) != 3 {
		t.Errorf("ac-get wrote %d files (%v), want 3", len(got), err)
	}
}
