package cli

import (
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/archivecache/archivecache/ipfsstore/kubotest"
	"github.com/ipfs/go-cid"
)

// localBlocks is the set of blocks d holds, by multihash (as refs local
// names them: raw CIDs).
func localBlocks(t *testing.T, d *kubotest.Daemon) map[string]bool {
	t.Helper()
	set := map[string]bool{}
	for _, l := range strings.Fields(string(d.Run(t, nil, "refs", "local"))) {
		set[l] = true
	}
	return set
}

// blockKey names c as refs local does.
func blockKey(c cid.Cid) string { return cid.NewCidV1(cid.Raw, c.Hash()).String() }

// refKey names the block refs printed as line as refs local does.
func refKey(t *testing.T, line string) string {
	t.Helper()
	c, err := cid.Decode(line)
	if err != nil {
		t.Fatal(err)
	}
	return blockKey(c)
}

// TestKuboRepoGCKeepsTheHome runs `ipfs repo gc` on the daemons of two
// users after each kind of change, and checks that the daemons keep every
// block their homes wrote or read, fetch nothing to do so (a friend's
// file that was never read stays remote, and a merge brings exactly the
// directory blocks that differ), and let go of what only dropped
// versions reach once ac-gc has released them.
func TestKuboRepoGCKeepsTheHome(t *testing.T) {
	da, db, alice, bob := kuboPair(t)

	src := filepath.Join(t.TempDir(), "docs")
	os.MkdirAll(filepath.Join(src, "sub"), 0o755)
	big := make([]byte, 1<<20+5) // several chunks
	rand.New(rand.NewSource(3)).Read(big)
	os.WriteFile(filepath.Join(src, "sub", "big.bin"), big, 0o644)
	os.WriteFile(filepath.Join(src, "a.txt"), []byte("alice's a\n"), 0o644)
	os.WriteFile(filepath.Join(src, "old.txt"), []byte("soon deleted\n"), 0o644)
	ac(t, alice, nil, "ac-add", src, "root/forum/docs")
	oldKey := blockKey(entryCID(t, alice, "root/forum/docs/old.txt"))
	ac(t, alice, nil, "ac-delete", "root/forum/docs/old.txt")
	ac(t, alice, nil, "ac-node", "new", "node", "identities/alice")

	// After ac-add and repo gc every file still reads, the deleted one's
	// content too (an old version reaches it), and the home verifies.
	da.Run(t, nil, "repo", "gc")
	if got := ac(t, alice, nil, "ac-cat", "root/forum/docs/sub/big.bin"); got != string(big) {
		t.Fatalf("after repo gc ac-cat read %d bytes, want %d", len(got), len(big))
	}
	if out := ac(t, alice, nil, "ac-verify", "--content", "/"); !strings.HasPrefix(out, "OK") {
		t.Fatalf("ac-verify --content / after repo gc = %q", out)
	}
	if !localBlocks(t, da)[oldKey] {
		t.Fatal("repo gc took the content of a file an old version holds")
	}

	// bob merges alice's tree: the blocks his daemon gains from hers are
	// exactly her directory blocks that differ from his, and repo gc keeps
	// them, without fetching her file contents.
	id := ac(t, alice, nil, "ac-message", "ref", "identities/alice")
	ref := ac(t, alice, nil, "ac-message", "ref", "node")
	ac(t, bob, []byte(id), "ac-friend", "add")
	ac(t, bob, []byte(ref), "ac-node", "add")
	aliceID := friendID(t, bob)
	before := localBlocks(t, db)
	ac(t, bob, nil, "ac-merge", "root", "nodes/"+aliceID+"/root")
	db.Run(t, nil, "repo", "gc")
	after := localBlocks(t, db)
	root := entryCID(t, alice, "root")
	dirs := map[string]bool{blockKey(root): true} // alice's directory blocks
	files := map[string]bool{}
	for _, l := range strings.Fields(string(da.Run(t, nil, "refs", "-r", "--unique", root.String()))) {
		if strings.HasPrefix(l, "bafyrei") {
			dirs[refKey(t, l)] = true
		} else {
			files[refKey(t, l)] = true
		}
	}
	var want, got []string
	for k := range dirs {
		if !before[k] {
			want = append(want, k)
		}
	}
	for k := range after {
		if !before[k] && (dirs[k] || files[k]) {
			got = append(got, k)
		}
	}
	if len(want) == 0 || len(got) != len(want) {
		for _, k := range got {
			t.Logf("gained %s dir=%v file=%v", k, dirs[k], files[k])
		}
		t.Fatalf("bob's daemon gained %d of alice's blocks, want the %d directory blocks that differ", len(got), len(want))
	}
	for _, k := range want {
		if !after[k] {
			t.Fatalf("after the merge and repo gc bob's daemon lacks alice's directory block %s", k)
		}
	}
	bigKey := blockKey(entryCID(t, bob, "root/forum/docs/sub/big.bin"))
	if after[bigKey] {
		t.Fatal("bob's daemon fetched alice's file content that no one read")
	}

	// What bob reads is kept too.
	if got := ac(t, bob, nil, "ac-cat", "root/forum/docs/sub/big.bin"); got != string(big) {
		t.Fatalf("bob's ac-cat read %d bytes, want %d", len(got), len(big))
	}
	db.Run(t, nil, "repo", "gc")
	if !localBlocks(t, db)[bigKey] {
		t.Fatal("repo gc took a file bob had read")
	}
	if out := ac(t, bob, nil, "ac-verify", "root"); !strings.HasPrefix(out, "OK") {
		t.Fatalf("bob's ac-verify root after repo gc = %q", out)
	}

	// ac-restore, then repo gc: the restored file reads.
	ac(t, alice, nil, "ac-restore", "--at", "2", "root/forum/docs/old.txt")
	da.Run(t, nil, "repo", "gc")
	if got := ac(t, alice, nil, "ac-cat", "root/forum/docs/old.txt"); got != "soon deleted\n" {
		t.Fatalf("after ac-restore and repo gc ac-cat = %q", got)
	}

	// ac-gc --keep 0 releases every root but HEAD's: repo gc then frees
	// the content only old versions reached, and what HEAD holds reads.
	ac(t, alice, nil, "ac-delete", "root/forum/docs/old.txt")
	if out := ac(t, alice, nil, "ac-gc", "--keep", "0"); !strings.Contains(out, "release ") {
		t.Fatalf("ac-gc with kubo printed %q", out)
	}
	// Released is not yet gone: ac-log marks an entry collected once
	// the daemon's gc has taken its tree.
	if out := ac(t, alice, nil, "ac-log", "--oneline"); strings.Contains(out, "(collected)") {
		t.Fatalf("before repo gc, ac-log says\n%s", out)
	}
	da.Run(t, nil, "repo", "gc")
	if out := ac(t, alice, nil, "ac-log", "--oneline", "-n", "1"); !strings.HasSuffix(out, "  (collected)\n") {
		t.Fatalf("after repo gc, ac-log -n 1 says\n%s", out)
	}
	if localBlocks(t, da)[oldKey] {
		t.Error("repo gc after ac-gc --keep 0 kept the content of a file only old versions held")
	}
	if got := ac(t, alice, nil, "ac-cat", "root/forum/docs/sub/big.bin"); got != string(big) {
		t.Fatalf("after ac-gc and repo gc ac-cat read %d bytes, want %d", len(got), len(big))
	}
	if out := ac(t, alice, nil, "ac-verify", "--content", "/"); !strings.HasPrefix(out, "OK") {
		t.Fatalf("ac-verify --content / after ac-gc and repo gc = %q", out)
	}
}
