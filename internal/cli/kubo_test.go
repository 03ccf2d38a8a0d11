package cli

import (
	"bytes"
	"encoding/json"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/archivecache/archivecache/ipfsstore/kubotest"
	"github.com/ipfs/go-cid"
)

// TestKuboWalkthrough runs the foundation walkthrough with every block in a
// real kubo daemon (--api): what ac-add stores, `ipfs cat` returns, and a
// second user whose home uses the same daemon exchanges messages as with
// the embedded store.
func TestKuboWalkthrough(t *testing.T) {
	d := kubotest.StartDaemon(t)
	alice := filepath.Join(t.TempDir(), "alice")
	ac(t, alice, nil, "ac-init", "--api", d.API)
	info := ac(t, alice, nil, "ac-info")
	if !strings.Contains(info, "kubo "+d.API) {
		t.Fatalf("ac-info does not show the kubo store:\n%s", info)
	}
	ac(t, alice, nil, "ac-identity", "new", "identities/alice")
	if out := ac(t, alice, nil, "ac-verify", "identities/alice"); !strings.HasPrefix(out, "OK") {
		t.Fatalf("ac-verify identities/alice = %q", out)
	}

	src := filepath.Join(t.TempDir(), "pictures")
	os.MkdirAll(filepath.Join(src, "sub"), 0o755)
	big := make([]byte, 3<<20+17) // several chunks: a UnixFS DAG, not one block
	rand.New(rand.NewSource(7)).Read(big)
	os.WriteFile(filepath.Join(src, "sub", "big.bin"), big, 0o644)
	os.WriteFile(filepath.Join(src, "a.txt"), []byte("hello from alice\n"), 0o644)
	ac(t, alice, nil, "ac-add", src, "root/projects/pictures")

	// The daemon serves the file by the CID ArchiveCache recorded.
	jsonOut := ac(t, alice, nil, "ac-ls", "--json", "root/projects/pictures/sub")
	i := strings.Index(jsonOut, `"cid": "`)
	if i < 0 {
		t.Fatalf("no cid in ac-ls --json:\n%s", jsonOut)
	}
	fileCID := strings.SplitN(jsonOut[i+len(`"cid": "`):], `"`, 2)[0]
	if got := d.Run(t, nil, "cat", fileCID); !bytes.Equal(got, big) {
		t.Fatalf("ipfs cat %s returned %d bytes, want the %d bytes added", fileCID, len(got), len(big))
	}
	if got := ac(t, alice, nil, "ac-cat", "root/projects/pictures/sub/big.bin"); got != string(big) {
		t.Fatalf("ac-cat through kubo returned %d bytes, want %d", len(got), len(big))
	}
	out := filepath.Join(t.TempDir(), "out")
	ac(t, alice, nil, "ac-get", "root/projects/pictures", out)
	if got, _ := os.ReadFile(filepath.Join(out, "sub", "big.bin")); !bytes.Equal(got, big) {
		t.Fatalf("ac-get through kubo: big.bin differs")
	}

	// Messages work the same for a second home on the same daemon.
	ac(t, alice, nil, "ac-node", "new", "node", "identities/alice")
	id := ac(t, alice, nil, "ac-message", "ref", "--base64", "identities/alice")
	ref := ac(t, alice, nil, "ac-message", "ref", "--base64", "node")
	bob := filepath.Join(t.TempDir(), "bob")
	ac(t, bob, nil, "ac-init", "--api", d.API)
	ac(t, bob, []byte(id), "ac-friend", "add")
	if got := ac(t, bob, []byte(ref), "ac-node", "add"); !strings.Contains(got, "alice seq 1") {
		t.Fatalf("ac-node add = %q", got)
	}
	ac(t, alice, nil, "ac-delete", "root/projects/pictures")
	if got := ac(t, alice, nil, "ac-ls", "root/projects"); strings.Contains(got, "pictures") {
		t.Fatalf("pictures still listed after ac-delete:\n%s", got)
	}
}

// TestKuboPeersMerge runs two users on two kubo daemons connected over a
// loopback swarm: bob merges alice's root with no CAR and no content
// message between them, bitswap bringing him her directory blocks; her
// file's bytes come only when he reads it.
func TestKuboPeersMerge(t *testing.T) {
	da, db, alice, bob := kuboPair(t)

	src := filepath.Join(t.TempDir(), "notes.txt")
	payload := bytes.Repeat([]byte("alice's notes\n"), 40000) // several chunks
	os.WriteFile(src, payload, 0o644)
	ac(t, alice, nil, "ac-add", src, "root/forum/notes.txt")
	ac(t, alice, nil, "ac-node", "new", "node", "identities/alice")
	id := ac(t, alice, nil, "ac-message", "ref", "identities/alice")
	ref := ac(t, alice, nil, "ac-message", "ref", "node")
	ac(t, bob, []byte(id), "ac-friend", "add")
	ac(t, bob, []byte(ref), "ac-node", "add")
	lsOut := ac(t, alice, nil, "ac-ls", "--json", "root/forum")
	i := strings.Index(lsOut, `"cid": "`)
	fileCID := strings.SplitN(lsOut[i+len(`"cid": "`):], `"`, 2)[0]
	// refs local names blocks by their multihash, as raw CIDs.
	fc, err := cid.Decode(fileCID)
	if err != nil {
		t.Fatal(err)
	}
	fileKey := cid.NewCidV1(cid.Raw, fc.Hash()).String()
	if local := da.Run(t, nil, "refs", "local"); !strings.Contains(string(local), fileKey) {
		t.Fatalf("alice's daemon does not list her own file %s as %s", fileCID, fileKey)
	}

	aliceID := friendID(t, bob)
	// With --json the merge's progress is a stream on stderr: it read
	// the directory blocks that came from alice's daemon.
	out, stderr, err := acRun(bob, nil, "ac-merge", "--json", "root", "nodes/"+aliceID+"/root")
	if err != nil || !strings.Contains(out, `"root/forum/notes.txt"`) {
		t.Fatalf("ac-merge --json: %v, stdout %q, stderr %q; want alice's file added", err, out, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	var summary struct {
		MessageType string `json:"message_type"`
		Command     string
		BytesDone   int64 `json:"bytes_done"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &summary); err != nil || summary.MessageType != "summary" || summary.Command != "ac-merge" || summary.BytesDone <= 0 {
		t.Errorf("ac-merge --json ended its stderr with %q, want a summary of the bytes of the blocks it read", lines[len(lines)-1])
	}
	// The merge fetched directory blocks only: the file is not on bob's
	// daemon until he reads it.
	if local := db.Run(t, nil, "refs", "local"); strings.Contains(string(local), fileKey) {
		t.Errorf("bob's daemon holds alice's file %s before anyone read it", fileCID)
	}
	if got := ac(t, bob, nil, "ac-cat", "root/forum/notes.txt"); got != string(payload) {
		t.Fatalf("ac-cat on bob's side returned %d bytes, want %d", len(got), len(payload))
	}
	if local := db.Run(t, nil, "refs", "local"); !strings.Contains(string(local), fileKey) {
		t.Errorf("bob's daemon lacks alice's file %s after reading it", fileCID)
	}
}

// kuboPair starts two connected daemons and makes a home on each, alice's
// and bob's, with an identity of their own.
func kuboPair(t *testing.T) (da, db *kubotest.Daemon, alice, bob string) {
	da, db = kubotest.StartPair(t)
	alice = filepath.Join(t.TempDir(), "alice")
	bob = filepath.Join(t.TempDir(), "bob")
	ac(t, alice, nil, "ac-init", "--api", da.API)
	ac(t, bob, nil, "ac-init", "--api", db.API)
	ac(t, alice, nil, "ac-identity", "new", "identities/alice")
	ac(t, bob, nil, "ac-identity", "new", "identities/bob")
	return da, db, alice, bob
}
