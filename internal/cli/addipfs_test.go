package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// importFixture imports a CAR of ipfsstore/car/testdata/fixtures into
// home and returns its root.
func importFixture(t *testing.T, home, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("../../ipfsstore/car/testdata/fixtures", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(ac(t, home, data, "ac-import"))
}

// UnixFS directories that other implementations wrote, imported as CARs,
// go into the tree with ac-add /ipfs/CID: a HAMT-sharded directory of
// 1000 files, CIDv0 directories, names that need quoting; a symlink in
// them is skipped with a warning, and a path below the CID picks an
// entry.
func TestAddIPFSFixtures(t *testing.T) {
	home := newHome(t)
	hamt := importFixture(t, home, "gateway-conformance/single-layer-hamt-with-multi-block-files.car")
	out := ac(t, home, nil, "ac-add", "/ipfs/"+hamt, "root/hamt")
	if !strings.Contains(out, "(1000 files, 1026000 bytes)") {
		t.Errorf("ac-add of the HAMT directory printed %q", out)
	}
	if ls := ac(t, home, nil, "ac-ls", "root/hamt"); strings.Count(ls, "\n") != 1000 || !strings.Contains(ls, "\n1000.txt\n") {
		t.Errorf("ac-ls of the HAMT directory lists %d lines", strings.Count(ls, "\n"))
	}
	head := readHead(t, home)
	if out := ac(t, home, nil, "ac-add", "/ipfs/"+hamt, "root/hamt"); !strings.HasSuffix(out, "0 added, 0 modified, 0 deleted\n") || readHead(t, home) != head {
		t.Errorf("adding the same CID again printed %q and moved HEAD: %v", out, readHead(t, home) != head)
	}
	if got := ac(t, home, nil, "ac-cat", "root/hamt/1.txt"); !strings.HasPrefix(got, "Lorem ipsum dolor sit amet") || len(got) != 1026 {
		t.Errorf("ac-cat root/hamt/1.txt = %d bytes %.20q", len(got), got)
	}

	files := importFixture(t, home, "gateway-conformance/dir-with-files.car")
	ac(t, home, nil, "ac-add", "ipfs://"+files+"/hello.txt", "root/hello.txt")
	if got := ac(t, home, nil, "ac-cat", "root/hello.txt"); got != "hello world\n" {
		t.Errorf("ac-cat root/hello.txt = %q", got)
	}

	v0 := importFixture(t, home, "go-car/simple-unixfs.car")
	if !strings.HasPrefix(v0, "Qm") {
		t.Fatalf("root %s is not a CIDv0", v0)
	}
	ac(t, home, nil, "ac-add", "/ipfs/"+v0, "root/v0")
	dest := filepath.Join(t.TempDir(), "v0")
	ac(t, home, nil, "ac-get", "root/v0", dest)
	if got, err := os.ReadFile(filepath.Join(dest, "a/1/A.txt")); err != nil || len(got) == 0 {
		t.Errorf("a/1/A.txt of the CIDv0 directory: %q, %v", got, err)
	}

	for _, p := range []string{"root/v0", "root/hamt", "root"} {
		if out := ac(t, home, nil, "ac-verify", p); !strings.HasPrefix(out, "OK") {
			t.Errorf("ac-verify %s = %q", p, out)
		}
	}

	link := importFixture(t, home, "gateway-conformance/symlink.car")
	_, errOut, err := acRun(home, nil, "ac-add", "/ipfs/"+link, "root/symlink")
	if err != nil || errOut != "ac-add: skipping /ipfs/"+link+"/bar: a symbolic link\n" {
		t.Errorf("ac-add of a directory with a symlink: %v, stderr %q", err, errOut)
	}
	_, errOut, err = acRun(home, nil, "ac-add", "/ipfs/"+link+"/bar", "root/bar")
	if err == nil || errOut != "ac-add: /ipfs/"+link+"/bar: invalid: a symbolic link: only files and directories are added\n" {
		t.Errorf("ac-add of a symlink: %v, stderr %q", err, errOut)
	}
}

// ac-add /ipfs/... refuses, in one line naming the path, what is not a
// file or directory it can read.
func TestAddIPFSErrors(t *testing.T) {
	home := newHome(t)
	files := importFixture(t, home, "gateway-conformance/dir-with-files.car")
	cbor := importFixture(t, home, "gateway-conformance/plain-cbor.car")
	head := readHead(t, home)
	for _, tt := range []struct{ src, stderr string }{
		{"/ipfs/Qmnotacid", "ac-add: /ipfs/Qmnotacid: invalid: not a CID after /ipfs/ or ipfs://\n"},
		{"ipfs://" + files + "/../x", "ac-add: ipfs://" + files + "/../x: invalid: a path after the CID names entries: no empty, . or .. components\n"},
		{"/ipfs/" + files + "/nope", "ac-add: /ipfs/" + files + "/nope: does not exist\n"},
		{"/ipfs/" + files + "/hello.txt/x", "ac-add: /ipfs/" + files + "/hello.txt: bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4: not a directory\n"},
		{"/ipfs/" + cbor, "ac-add: /ipfs/" + cbor + ": invalid: codec cbor is not UnixFS (raw or dag-pb)\n"},
		{"/ipfs/bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", "ac-add: /ipfs/bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi: does not exist\n"},
	} {
		_, errOut, err := acRun(home, nil, "ac-add", tt.src, "root/x")
		if err == nil || errOut != tt.stderr {
			t.Errorf("ac-add %s: %v, stderr %q, want %q", tt.src, err, errOut, tt.stderr)
		}
	}
	if readHead(t, home) != head {
		t.Errorf("a refused ac-add moved HEAD")
	}
}

// What ac-add /ipfs/CID takes in, CIDv0 files included, travels to a
// friend as any tree does: alice's node, exported and imported, passes
// bob's checks, and he reads the same bytes.
func TestAddIPFSToFriend(t *testing.T) {
	alice := newHome(t)
	ac(t, alice, nil, "ac-identity", "new", "identities/alice")
	v0 := importFixture(t, alice, "go-car/simple-unixfs.car")
	ac(t, alice, nil, "ac-add", "/ipfs/"+v0, "root/projects/v0")
	ac(t, alice, nil, "ac-node", "new", "node", "identities/alice")
	aliceID := entryCID(t, alice, "identities/alice")
	mine := filepath.Join(t.TempDir(), "mine")
	ac(t, alice, nil, "ac-get", "root/projects/v0", mine)

	bob := newHome(t)
	ac(t, bob, []byte(ac(t, alice, nil, "ac-export", "node")), "ac-import")
	ac(t, bob, []byte(ac(t, alice, nil, "ac-message", "ref", "identities/alice")), "ac-friend", "add")
	ac(t, bob, []byte(ac(t, alice, nil, "ac-message", "ref", "node")), "ac-node", "add")
	theirs := filepath.Join(t.TempDir(), "theirs")
	ac(t, bob, nil, "ac-get", "nodes/"+aliceID.String()+"/root/projects/v0", theirs)
	sameTree(t, mine, theirs)
	if out := ac(t, bob, nil, "ac-verify", "nodes/"+aliceID.String()); !strings.HasPrefix(out, "OK") {
		t.Errorf("bob's ac-verify of alice's node = %q", out)
	}
}
