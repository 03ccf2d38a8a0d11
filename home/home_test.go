package home

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
)

func TestInitLayout(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "home")
	h, err := Init(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	head, err := h.Get()
	if err != nil {
		t.Fatal(err)
	}
	tr := h.Tree(cid.Undef)
	for _, p := range []string{Root, Identities, Friends, Nodes, "root/forum", "root/projects"} {
		if _, err := tr.Lookup(ctx, head, p); err != nil {
			t.Errorf("Lookup(%q) after Init: %v", p, err)
		}
	}
	if _, err := tr.Lookup(ctx, head, Node); !acerr.Is(acerr.NotExist, err) {
		t.Errorf("Lookup(node) after Init = %v, want NotExist", err)
	}
	if _, err := Init(ctx, Options{Dir: dir}); !acerr.Is(acerr.Exist, err) {
		t.Errorf("second Init = %v, want Exist", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "config")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("config: %v, %v; want mode 0600", fi, err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, Options{Dir: t.TempDir()}); !acerr.Is(acerr.NotInit, err) {
		t.Errorf("Open(empty dir) = %v, want NotInit", err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "config"), []byte("{not json"), 0o600)
	if _, err := Open(ctx, Options{Dir: dir}); !acerr.Is(acerr.Integrity, err) {
		t.Errorf("Open(damaged config) = %v, want Integrity", err)
	}
}

// TestFailedInitLeavesNoHome: an init whose store cannot be opened must
// not leave a config behind, so that a later ac-init can succeed.
func TestFailedInitLeavesNoHome(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "home")
	if _, err := Init(ctx, Options{Dir: dir, API: "not an address"}); err == nil {
		t.Fatal("Init with a malformed API succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "config")); err == nil {
		t.Fatal("a failed Init left a config behind")
	}
	h, err := Init(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatalf("Init after a failed Init: %v", err)
	}
	h.Close()
}

// richHome returns a home with an identity, a file under root/projects
// and a second replica's data, with the CID of its HEAD.
func richHome(t *testing.T) (string, cid.Cid, string) {
	t.Helper()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "home")
	h, err := Init(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	tr := h.Tree(cid.Undef)
	for _, p := range []string{"root/projects/a.txt", "root/forum/b.txt"} {
		if _, err := h.Update(ctx, "ac-add "+p, func(old cid.Cid) (cid.Cid, error) {
			return tr.Put(ctx, old, p, schema.Entry{Kind: schema.KindFile, Target: schema.Sum([]byte(p)), Size: 1})
		}); err != nil {
			t.Fatal(err)
		}
	}
	head, err := h.Get()
	if err != nil {
		t.Fatal(err)
	}
	return dir, head, h.Config.Replica
}

// TestDamagedHomes damages a home in each way it can lose what makes it
// one: Open and Init refuse it as damaged, Init leaves HEAD alone, and
// Repair brings back HEAD and the config with the old replica id.
func TestDamagedHomes(t *testing.T) {
	ctx := context.Background()
	foreign, _, _ := richHome(t)
	for _, tt := range []struct {
		name   string
		damage func(dir string)
	}{
		{"no HEAD", func(dir string) { os.Remove(filepath.Join(dir, "HEAD")) }},
		{"no config", func(dir string) { os.Remove(filepath.Join(dir, "config")) }},
		{"neither", func(dir string) {
			os.Remove(filepath.Join(dir, "HEAD"))
			os.Remove(filepath.Join(dir, "config"))
		}},
		{"neither, nor the replica file", func(dir string) {
			os.Remove(filepath.Join(dir, "HEAD"))
			os.Remove(filepath.Join(dir, "config"))
			os.Remove(filepath.Join(dir, "replica"))
		}},
		{"HEAD garbage", func(dir string) { os.WriteFile(filepath.Join(dir, "HEAD"), []byte("garbage\n"), 0o600) }},
		{"config garbage", func(dir string) { os.WriteFile(filepath.Join(dir, "config"), []byte("{"), 0o600) }},
		{"HEAD of another home", func(dir string) {
			b, _ := os.ReadFile(filepath.Join(foreign, "HEAD"))
			os.WriteFile(filepath.Join(dir, "HEAD"), b, 0o600)
		}},
	} {
		dir, head, replica := richHome(t)
		tt.damage(dir)
		before, _ := os.ReadFile(filepath.Join(dir, "HEAD"))
		if _, err := Open(ctx, Options{Dir: dir}); !acerr.Is(acerr.Integrity, err) {
			t.Errorf("%s: Open = %v, want a damaged home", tt.name, err)
		}
		if _, err := Init(ctx, Options{Dir: dir}); !acerr.Is(acerr.Integrity, err) {
			t.Errorf("%s: Init = %v, want a damaged home", tt.name, err)
		}
		if after, _ := os.ReadFile(filepath.Join(dir, "HEAD")); !bytes.Equal(after, before) {
			t.Errorf("%s: Init changed HEAD from %q to %q", tt.name, before, after)
		}
		r, err := Repair(ctx, Options{Dir: dir})
		if err != nil {
			t.Fatalf("%s: Repair: %v", tt.name, err)
		}
		h, err := Open(ctx, Options{Dir: dir})
		if err != nil {
			t.Fatalf("%s: Open after Repair: %v", tt.name, err)
		}
		got, _ := h.Get()
		if !got.Equals(head) || !r.Head.Equals(head) {
			t.Errorf("%s: HEAD after Repair = %s (reported %s), want %s", tt.name, got, r.Head, head)
		}
		if h.Config.Replica != replica || r.Replica != replica {
			t.Errorf("%s: replica after Repair = %s (reported %s), want %s", tt.name, h.Config.Replica, r.Replica, replica)
		}
		if _, err := h.Tree(cid.Undef).Lookup(ctx, got, "root/projects/a.txt"); err != nil {
			t.Errorf("%s: after Repair: %v", tt.name, err)
		}
		log, err := h.Head.Log()
		if err != nil || !log[0].New.Equals(got) {
			t.Errorf("%s: log after Repair = %+v, %v; want it to end at HEAD", tt.name, log, err)
		}
		h.Close()
		if b, _ := os.ReadFile(filepath.Join(dir, "replica")); string(b) != replica+"\n" {
			t.Errorf("%s: replica file after Repair = %q", tt.name, b)
		}
	}
}

// TestDamagedWithoutHistory: keys, a log or blocks without HEAD or config
// make a damaged home, not a new one, even when nothing can be restored.
func TestDamagedWithoutHistory(t *testing.T) {
	ctx := context.Background()
	src, _, _ := richHome(t)
	for _, keep := range []string{"keys", "log", "blocks"} {
		dir := t.TempDir()
		if keep == "keys" {
			// A key file, as identity.Keystore names them.
			os.MkdirAll(filepath.Join(dir, "keys"), 0o700)
			os.WriteFile(filepath.Join(dir, "keys", schema.Sum([]byte("k")).String()+".key"), []byte("{}"), 0o600)
		} else if out, err := exec.Command("cp", "-a", filepath.Join(src, keep), dir).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v: %s", err, out)
		}
		if _, err := Open(ctx, Options{Dir: dir}); !acerr.Is(acerr.Integrity, err) {
			t.Errorf("only %s: Open = %v, want a damaged home", keep, err)
		}
		if _, err := Init(ctx, Options{Dir: dir}); !acerr.Is(acerr.Integrity, err) {
			t.Errorf("only %s: Init = %v, want a damaged home", keep, err)
		}
		if _, err := Repair(ctx, Options{Dir: dir}); !acerr.Is(acerr.NotExist, err) {
			t.Errorf("only %s: Repair = %v, want nothing to restore", keep, err)
		}
		for _, name := range []string{"HEAD", "config"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				t.Errorf("only %s: a failed Repair made %s", keep, name)
			}
		}
	}
	if _, err := Repair(ctx, Options{Dir: t.TempDir()}); !acerr.Is(acerr.NotInit, err) {
		t.Errorf("Repair of an empty directory = %v, want NotInit", err)
	}
}

// TestRepairSkipsIncompleteEntries: a root whose own block is held but a
// directory or a shard under it is not cannot be HEAD; Repair goes back
// to the newest one whose tree blocks are all held, file contents or not.
func TestRepairSkipsIncompleteEntries(t *testing.T) {
	ctx := context.Background()
	for _, lose := range []string{"directory", "tree node"} {
		dir, whole, _ := richHome(t)
		h, err := Open(ctx, Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		// A change made in a store of its own, with small targets so
		// that the new directory is a tree of several nodes; not all of
		// it comes into the home's store.
		mem := ipfsstore.NewMemory()
		copyBlocks(t, h.Store, mem, whole, func(cid.Cid, schema.Object) bool { return false })
		cfg := h.TreeConfig(cid.Undef, nil)
		cfg.LeafTarget, cfg.InnerTarget = 512, 512
		tr := tree.New(mem, cfg)
		broken := whole
		for i := range 40 {
			name := fmt.Sprintf("root/projects/new/f%02d", i)
			if broken, err = tr.Put(ctx, broken, name, schema.Entry{Kind: schema.KindFile, Target: schema.Sum([]byte(name)), Size: 1}); err != nil {
				t.Fatal(err)
			}
		}
		dropped := 0
		copyBlocks(t, mem, h.Store, broken, func(c cid.Cid, n schema.Object) bool {
			_, isNode := n.(*schema.DirNode)
			if (lose == "directory" && !c.Equals(broken)) || (lose == "tree node" && isNode && dropped == 0) {
				dropped++
				return true
			}
			return false
		})
		mem.Close()
		if dropped == 0 {
			t.Fatalf("%s: no block was left out", lose)
		}
		if _, err := h.Update(ctx, "broken", func(cid.Cid) (cid.Cid, error) { return broken, nil }); err != nil {
			t.Fatal(err)
		}
		h.Close()

		r, err := Repair(ctx, Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if !r.Head.Equals(whole) || r.From == nil || r.From.Command != "ac-add root/forum/b.txt" {
			t.Errorf("lost %s: Repair = %+v, want HEAD %s from the entry before the broken one", lose, r, whole)
		}
		// A whole home is left as it is.
		logBefore, _ := os.ReadFile(filepath.Join(dir, "log"))
		r, err = Repair(ctx, Options{Dir: dir})
		if err != nil || r.From != nil || r.Config || !r.Head.Equals(whole) {
			t.Errorf("lost %s: Repair of a whole home = %+v, %v; want nothing done", lose, r, err)
		}
		if logAfter, _ := os.ReadFile(filepath.Join(dir, "log")); !bytes.Equal(logAfter, logBefore) {
			t.Errorf("lost %s: Repair of a whole home changed the log", lose)
		}
	}
}

// copyBlocks copies the directory and shard blocks under root from one
// store to another, but for those drop chooses (their subtrees are walked
// all the same).
func copyBlocks(t *testing.T, from, to ipfsstore.Store, root cid.Cid, drop func(cid.Cid, schema.Object) bool) {
	t.Helper()
	ctx := context.Background()
	data, err := from.Get(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	n, err := schema.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if !drop(root, n) {
		if err := to.Put(ctx, root, data); err != nil {
			t.Fatal(err)
		}
	}
	var entries []schema.Entry
	switch n := n.(type) {
	case *schema.Directory:
		entries = n.Entries
		for _, ch := range n.Children {
			copyBlocks(t, from, to, ch.Link, drop)
		}
	case *schema.DirNode:
		entries = n.Entries
		for _, ch := range n.Children {
			copyBlocks(t, from, to, ch.Link, drop)
		}
	}
	for _, e := range entries {
		if e.Kind == schema.KindDirectory && e.Target.Defined() {
			copyBlocks(t, from, to, e.Target, drop)
		}
	}
}

// TestRepairFindsReplica: with the config and the replica file gone, the
// replica id comes from the log; with no copy anywhere, a new one is made
// and Repair says so.
func TestRepairFindsReplica(t *testing.T) {
	ctx := context.Background()
	dir, _, replica := richHome(t)
	os.Remove(filepath.Join(dir, "config"))
	os.Remove(filepath.Join(dir, "replica"))
	r, err := Repair(ctx, Options{Dir: dir})
	if err != nil || r.Replica != replica || r.ReplicaFrom != FromLog || !r.Config {
		t.Errorf("Repair = %+v, %v; want replica %s from the log", r, err, replica)
	}

	dir, _, replica = richHome(t)
	os.Remove(filepath.Join(dir, "config"))
	os.Remove(filepath.Join(dir, "replica"))
	log, _ := os.ReadFile(filepath.Join(dir, "log"))
	os.WriteFile(filepath.Join(dir, "log"), bytes.ReplaceAll(log, []byte(`,"replica":"`+replica+`"`), nil), 0o600)
	r, err = Repair(ctx, Options{Dir: dir})
	if err != nil || r.ReplicaFrom != "" || r.Replica == replica || !validReplica(r.Replica) {
		t.Errorf("Repair without a copy of the replica id = %+v, %v; want a new one", r, err)
	}
}
