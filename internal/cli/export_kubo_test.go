package cli

import (
	"bytes"
	"context"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/archivecache/archivecache/ipfsstore/kubotest"
)

// TestExportKuboDagImport checks ac-export's CARs against a real kubo
// daemon: `ipfs dag import` takes them and pins the root, which reads the
// whole DAG offline, so nothing reachable is missing; `ipfs dag export`
// of the same root holds the same blocks, so nothing is extra; `ipfs cat`
// gives the file bytes back; an update --since the node before imports
// on top of the full CAR; ac-import reads kubo's own export; and a home
// whose store is the daemon exports the same CAR as the embedded store.
func TestExportKuboDagImport(t *testing.T) {
	d := kubotest.StartDaemon(t)
	alice := newHome(t)
	ac(t, alice, nil, "ac-identity", "new", "identities/alice")
	src := filepath.Join(t.TempDir(), "share")
	makeTree(t, src, 3, 30, 4000, 9)
	big := make([]byte, 2<<20+123)
	rand.New(rand.NewSource(9)).Read(big)
	os.WriteFile(filepath.Join(src, "big.bin"), big, 0o644)
	ac(t, alice, nil, "ac-add", src, "root/forum/share")
	ac(t, alice, nil, "ac-node", "new", "node", "identities/alice")
	ac(t, alice, nil, "ac-delete", "root/forum/share/d001/f00001")
	ac(t, alice, nil, "ac-node", "new", "node", "identities/alice")
	node1 := entryCID(t, alice, "node")
	bigCID := entryCID(t, alice, "root/forum/share/big.bin")
	aliceID := entryCID(t, alice, "identities/alice")

	full := []byte(ac(t, alice, nil, "ac-export", "node"))
	out := string(ipfs(t, d, bytes.NewReader(full), "dag", "import"))
	if want := "Pinned root\t" + node1.String() + "\tsuccess\n"; out != want {
		t.Fatalf("ipfs dag import printed %q, want %q", out, want)
	}
	ours := readCAR(t, full)
	theirs := readCAR(t, ipfs(t, d, nil, "dag", "export", node1.String()))
	if !sameSet(keys(ours.blocks), keys(theirs.blocks)) {
		t.Errorf("ac-export wrote %d blocks, ipfs dag export %d", len(ours.blocks), len(theirs.blocks))
	}
	if got := ipfs(t, d, nil, "cat", bigCID.String()); !bytes.Equal(got, big) {
		t.Errorf("ipfs cat of the exported file returned %d bytes, want %d", len(got), len(big))
	}

	// An update: one changed file, exported --since the node before.
	one := filepath.Join(t.TempDir(), "one")
	os.WriteFile(one, []byte("changed\n"), 0o644)
	ac(t, alice, nil, "ac-add", one, "root/forum/share/d000/f00000")
	ac(t, alice, nil, "ac-node", "new", "node", "identities/alice")
	node2 := entryCID(t, alice, "node")
	update := []byte(ac(t, alice, nil, "ac-export", "--since", node1.String(), "node"))
	if out := string(ipfs(t, d, bytes.NewReader(update), "dag", "import")); !strings.Contains(out, node2.String()+"\tsuccess") {
		t.Fatalf("ipfs dag import of the update printed %q", out)
	}

	// kubo's own export, read by ac-import.
	kuboCAR := ipfs(t, d, nil, "dag", "export", node2.String())
	carol := newHome(t)
	if out := ac(t, carol, kuboCAR, "ac-import"); out != node2.String()+"\n" {
		t.Errorf("ac-import of ipfs dag export printed %q", out)
	}

	// bob's home is on the daemon, which now holds alice's blocks: his
	// export of her node, through the kubo store, is alice's CAR.
	bob := filepath.Join(t.TempDir(), "bob")
	ac(t, bob, nil, "ac-init", "--api", d.API)
	ac(t, bob, []byte(ac(t, alice, nil, "ac-message", "ref", "identities/alice")), "ac-friend", "add")
	ac(t, bob, []byte(ac(t, alice, nil, "ac-message", "ref", "node")), "ac-node", "add")
	fromKubo := ac(t, bob, nil, "ac-export", "nodes/"+aliceID.String())
	if want := ac(t, alice, nil, "ac-export", "node"); fromKubo != want {
		t.Errorf("export through the kubo store: %d bytes, embedded: %d", len(fromKubo), len(want))
	}
	f := readCAR(t, []byte(fromKubo))
	if f.roots[0] != node2 || f.order[0] != node2 {
		t.Errorf("export through the kubo store: roots %v", f.roots)
	}
}

// ipfs runs the ipfs command against d with a deadline, so that a DAG
// with a block missing fails the test rather than wait on the network
// for it.
func ipfs(t *testing.T, d *kubotest.Daemon, stdin io.Reader, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.Bin, args...)
	cmd.Env = append(os.Environ(), "IPFS_PATH="+d.Repo)
	cmd.Stdin = stdin
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ipfs %s: %v: %s", strings.Join(args, " "), err, errOut.String())
	}
	return out
}
