package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
)

// acEnv runs a command as acRun does, with env added to its environment.
func acEnv(home string, env []string, args ...string) (string, string, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(append(os.Environ(), "AC_HOME="+home, "AC_API=", "AC_PASSPHRASE=", "AC_FETCH_TIMEOUT="), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

// TestFetchTimeoutUsage checks that a fetch timeout that is no duration,
// or none at all, is bad usage whether it comes from --fetch-timeout or
// AC_FETCH_TIMEOUT, and that a good one is taken.
func TestFetchTimeoutUsage(t *testing.T) {
	h := newHome(t)
	for _, tt := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"ac-ls", "--fetch-timeout", "soon", "root"}, `invalid value "soon" for flag -fetch-timeout`},
		{nil, []string{"ac-cat", "--fetch-timeout=0", "root/x"}, "fetch timeout 0s: want more than 0"},
		{nil, []string{"ac-get", "--fetch-timeout", "-1s", "root", "out"}, "fetch timeout -1s: want more than 0"},
		{[]string{"AC_FETCH_TIMEOUT=soon"}, []string{"ac-ls", "root"}, `AC_FETCH_TIMEOUT="soon": not a duration`},
		{[]string{"AC_FETCH_TIMEOUT=0"}, []string{"ac-ls", "root"}, "fetch timeout 0s: want more than 0"},
	} {
		_, errOut, err := acEnv(h, tt.env, tt.args...)
		if exitCode(err) != ExitUsage {
			t.Errorf("%v %v: exit %d, want %d (bad usage); stderr %q", tt.env, tt.args, exitCode(err), ExitUsage, errOut)
			continue
		}
		lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
		if len(lines) != 2 || !strings.Contains(lines[0], tt.want) || !strings.HasPrefix(lines[1], "usage: ") {
			t.Errorf("%v %v: stderr %q, want one line saying %q and the usage", tt.env, tt.args, errOut, tt.want)
		}
	}
	for _, tt := range []struct{ env, args []string }{
		{nil, []string{"ac-ls", "--fetch-timeout", "500ms", "root"}},
		{[]string{"AC_FETCH_TIMEOUT=2s"}, []string{"ac-ls", "root"}},
		// The flag wins over the environment, as --lock-timeout does.
		{[]string{"AC_FETCH_TIMEOUT=soon"}, []string{"ac-ls", "--fetch-timeout", "1s", "root"}},
	} {
		if out, errOut, err := acEnv(h, tt.env, tt.args...); err != nil || !strings.Contains(out, "projects") {
			t.Errorf("%v %v: %v, stdout %q, stderr %q", tt.env, tt.args, err, out, errOut)
		}
	}
}

// lsCIDs returns the CIDs of the entries of the directory p, by name.
func lsCIDs(t *testing.T, home, p string) map[string]string {
	t.Helper()
	var ents []struct{ Name, CID string }
	if err := json.Unmarshal([]byte(ac(t, home, nil, "ac-ls", "--json", p)), &ents); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range ents {
		out[e.Name] = e.CID
	}
	return out
}

// failLine runs a command that must fail (exit 1) and returns its error
// line: stderr's last, or, for ac-verify, what it printed after FAIL.
func failLine(t *testing.T, home string, env []string, args ...string) string {
	t.Helper()
	out, errOut, err := acEnv(home, env, args...)
	if args[0] == "ac-verify" {
		errOut = strings.TrimPrefix(out, "FAIL ")
	}
	if exitCode(err) != ExitFailure {
		t.Errorf("%v %v: exit %d, want %d; stdout %q, stderr %q", env, args, exitCode(err), ExitFailure, out, errOut)
		return ""
	}
	lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
	return lines[len(lines)-1]
}

// TestKuboFetchNamesFriend has bob merge alice's tree over bitswap and
// then read what her daemon no longer has, then what it never sent once
// it is gone: each command that needs a block no peer sends fails after
// --fetch-timeout (or AC_FETCH_TIMEOUT) with one line that names the
// path and alice, and no CID but the one a nodes/ path spells.
func TestKuboFetchNamesFriend(t *testing.T) {
	da, _, alice, bob := kuboPair(t)
	src := filepath.Join(t.TempDir(), "notes")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "big.txt"), bytes.Repeat([]byte("alice's notes\n"), 40000), 0o644) // several chunks
	os.WriteFile(filepath.Join(src, "small.txt"), []byte("a short note\n"), 0o644)                     // one raw block
	ac(t, alice, nil, "ac-add", src, "root/forum/notes")
	ac(t, alice, nil, "ac-node", "new", "node", "identities/alice")
	ac(t, bob, []byte(ac(t, alice, nil, "ac-message", "ref", "identities/alice")), "ac-friend", "add")
	ac(t, bob, []byte(ac(t, alice, nil, "ac-message", "ref", "node")), "ac-node", "add")
	aliceID := friendID(t, bob)
	ac(t, bob, nil, "ac-merge", "root", "nodes/"+aliceID+"/root")

	check := func(line, path string) {
		t.Helper()
		if !strings.HasPrefix(line, path+": ") && !strings.Contains(line, ": "+path+": ") || !strings.Contains(line, "alice's node within 500ms") ||
			strings.Contains(strings.Replace(line, path, "", 1), "bafy") {
			t.Errorf("error %q, want one naming %s and alice's node, and no CID", line, path)
		}
	}
	// Her daemon is up but has lost the files' blocks: bob's tree holds
	// the entries her latest tree holds.
	cids := lsCIDs(t, alice, "root/forum/notes")
	da.Run(t, nil, "block", "rm", cids["small.txt"], cids["big.txt"])
	check(failLine(t, bob, nil, "ac-cat", "--fetch-timeout", "500ms", "root/forum/notes/big.txt"), "root/forum/notes/big.txt")
	check(failLine(t, bob, []string{"AC_FETCH_TIMEOUT=500ms"}, "ac-cat", "root/forum/notes/small.txt"), "root/forum/notes/small.txt")
	check(failLine(t, bob, nil, "ac-get", "--fetch-timeout", "500ms", "root/forum/notes/small.txt", filepath.Join(t.TempDir(), "s")), "root/forum/notes/small.txt")
	line := failLine(t, bob, nil, "ac-get", "--fetch-timeout", "500ms", "root/forum", filepath.Join(t.TempDir(), "f"))
	check(line, line[strings.Index(line, "root/"):strings.Index(line, ".txt")+4]) // either file, whichever failed first
	check(failLine(t, bob, nil, "ac-verify", "--content", "--fetch-timeout", "500ms", "root/forum/notes/small.txt"), "root/forum/notes/small.txt")
	line = failLine(t, bob, nil, "ac-verify", "--content", "--fetch-timeout", "500ms", "root/forum")
	check(line, "root/forum/notes/big.txt") // the first file the check reads

	// A second version of her tree, whose directory blocks bob never
	// saw, and then her daemon gone.
	os.WriteFile(filepath.Join(src, "later.txt"), []byte("written later\n"), 0o644)
	ac(t, alice, nil, "ac-add", src, "root/forum/notes")
	ac(t, alice, nil, "ac-node", "new", "node", "identities/alice")
	ac(t, bob, []byte(ac(t, alice, nil, "ac-message", "ref", "node")), "ac-node", "add")
	if err := da.Stop(); err != nil {
		t.Fatal(err)
	}
	node := "nodes/" + aliceID
	check(failLine(t, bob, nil, "ac-cat", "--fetch-timeout", "500ms", "nodes/alice/root/forum/notes/later.txt"), node+"/root/forum/notes/later.txt")
	check(failLine(t, bob, nil, "ac-cat", "--fetch-timeout", "500ms", "root/forum/notes/small.txt"), "root/forum/notes/small.txt")
	check(failLine(t, bob, nil, "ac-merge", "--fetch-timeout", "500ms", "root", "nodes/alice/root"), node+"/root")
	check(failLine(t, bob, nil, "ac-merge-all", "--fetch-timeout", "500ms"), node+"/root")

	// Commands that read a friend's tree without naming the friend still
	// name what they read, and neither the daemon's address nor a CID.
	for _, args := range [][]string{
		{"ac-ls", "--fetch-timeout", "500ms", "nodes/alice/root/forum/notes"},
		{"ac-du", "--fetch-timeout", "500ms", "nodes/alice/root/forum"},
	} {
		line := failLine(t, bob, nil, args...)
		t.Logf("%v: %s", args, line)
		if !strings.Contains(line, "did not come from") || strings.Contains(strings.Replace(line, node, "", 1), "bafy") || strings.Contains(line, "/ip4/") {
			t.Errorf("%v: error %q, want one saying the block did not come, with no CID or address", args, line)
		}
	}
}

// TestKuboEmptyFileLocal merges a friend's tree that holds an empty file
// and reads it once her daemon is gone: the empty file's block is never
// asked of the network (bob's daemon does not hold it even afterwards),
// and ac-cat, ac-get and ac-verify --content read it as empty.
func TestKuboEmptyFileLocal(t *testing.T) {
	da, db, alice, bob := kuboPair(t)
	src := filepath.Join(t.TempDir(), "empty.txt")
	os.WriteFile(src, nil, 0o644)
	ac(t, alice, nil, "ac-add", src, "root/forum/empty.txt")
	ac(t, alice, nil, "ac-node", "new", "node", "identities/alice")
	ac(t, bob, []byte(ac(t, alice, nil, "ac-message", "ref", "identities/alice")), "ac-friend", "add")
	ac(t, bob, []byte(ac(t, alice, nil, "ac-message", "ref", "node")), "ac-node", "add")
	ac(t, bob, nil, "ac-merge", "root", "nodes/"+friendID(t, bob)+"/root")
	emptyCID := lsCIDs(t, alice, "root/forum")["empty.txt"]
	if err := da.Stop(); err != nil {
		t.Fatal(err)
	}
	c, err := cid.Decode(emptyCID)
	if err != nil {
		t.Fatal(err)
	}
	if localBlocks(t, db)[blockKey(c)] {
		t.Fatalf("bob's daemon holds the empty file %s before anyone read it", c)
	}
	// A fetch timeout that would fail any fetch: nothing is fetched.
	env := []string{"AC_FETCH_TIMEOUT=1ms"}
	if out, errOut, err := acEnv(bob, env, "ac-cat", "root/forum/empty.txt"); err != nil || out != "" {
		t.Errorf("ac-cat of the empty file: %v, stdout %q, stderr %q", err, out, errOut)
	}
	dest := filepath.Join(t.TempDir(), "out")
	if _, errOut, err := acEnv(bob, env, "ac-get", "root/forum", dest); err != nil {
		t.Errorf("ac-get root/forum: %v: %s", err, errOut)
	} else if fi, err := os.Stat(filepath.Join(dest, "empty.txt")); err != nil || fi.Size() != 0 {
		t.Errorf("ac-get wrote %v, %v; want an empty file", fi, err)
	}
	if out, errOut, err := acEnv(bob, env, "ac-verify", "--content", "root/forum/empty.txt"); err != nil || !strings.HasPrefix(out, "OK") {
		t.Errorf("ac-verify --content of the empty file: %v, stdout %q, stderr %q", err, out, errOut)
	}
	if localBlocks(t, db)[blockKey(c)] {
		t.Errorf("bob's daemon fetched the empty file %s to read it", c)
	}
}
