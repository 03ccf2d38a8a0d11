package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSlowMergeLeavesLockFree runs ac-merge with every read of the
// friend's blocks slowed by strace (as a slow bitswap fetch would be),
// and an ac-add on the same home meanwhile: the merge computes outside
// the home's lock, so ac-add goes through while the merge is still
// reading, and the merge, finding HEAD moved, computes again on top of
// it. Both changes are in HEAD, and in the log in that order.
func TestSlowMergeLeavesLockFree(t *testing.T) {
	strace := needStrace(t)
	alice, bob := newHome(t), newHome(t)
	ac(t, alice, nil, "ac-identity", "new", "identities/alice")
	src := filepath.Join(t.TempDir(), "src")
	makeTree(t, src, 2, 6, 512, 7)
	ac(t, alice, nil, "ac-add", src, "root/forum/a")
	ac(t, alice, nil, "ac-node", "new", "node", "identities/alice")
	ac(t, bob, []byte(ac(t, alice, nil, "ac-message", "ref", "identities/alice")), "ac-friend", "add")
	ac(t, bob, []byte(ac(t, alice, nil, "ac-message", "content", "node")), "ac-node", "add")
	aliceID := friendID(t, bob)

	// Every pread64 of bob's packs, where the merge reads its blocks,
	// waits 200 ms; the trace says when the first one came.
	packs, _ := filepath.Glob(filepath.Join(bob, "blocks", "*", "*.pack"))
	if len(packs) == 0 {
		t.Fatal("bob's store has no pack files")
	}
	trace := filepath.Join(t.TempDir(), "trace")
	args := []string{"-f", "-qq", "-o", trace, "-e", "trace=pread64", "-e", "inject=pread64:delay_enter=200000"}
	for _, p := range packs {
		args = append(args, "-P", p)
	}
	merge := exec.Command(strace, append(args, "ac-merge", "root", "nodes/"+aliceID+"/root")...)
	merge.Env = append(os.Environ(), "AC_HOME="+bob, "AC_API=", "AC_PASSPHRASE=", "AC_LOCK_TIMEOUT=")
	var mergeOut, mergeErr strings.Builder
	merge.Stdout, merge.Stderr = &mergeOut, &mergeErr
	if err := merge.Start(); err != nil {
		t.Fatal(err)
	}
	merged := make(chan error, 1)
	go func() { merged <- merge.Wait() }()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		if fi, err := os.Stat(trace); err == nil && fi.Size() > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the merge read no block in a minute")
		}
	}

	// The merge is reading, slowly; ac-add goes through meanwhile.
	ac(t, bob, nil, "ac-add", src, "root/projects/b")
	select {
	case err := <-merged:
		t.Fatalf("the merge (%v) ended before ac-add did: ac-add waited for it", err)
	default:
	}
	if err := <-merged; err != nil {
		t.Fatalf("ac-merge: %v: %s", err, mergeErr.String())
	}
	if reads, _ := os.ReadFile(trace); strings.Count(string(reads), "pread64(") < 2 {
		t.Errorf("the merge read %d blocks under strace, want several: the test proved little", strings.Count(string(reads), "pread64("))
	}

	if got := ac(t, bob, nil, "ac-ls", "root/forum"); got != "a/\n" {
		t.Errorf("ac-ls root/forum = %q, want the merged a/", got)
	}
	if got := ac(t, bob, nil, "ac-ls", "root/projects"); got != "b/\n" {
		t.Errorf("ac-ls root/projects = %q, want the added b/", got)
	}
	log := readLog(t, bob)
	var cmds []string
	for _, l := range log[len(log)-2:] {
		cmds = append(cmds, l.Command)
	}
	if want := []string{"ac-add root/projects/b", "ac-merge root nodes/" + aliceID + "/root"}; fmt.Sprint(cmds) != fmt.Sprint(want) {
		t.Errorf("the log ends with %q, want %q", cmds, want)
	}
	if log[len(log)-1].New+"\n" != readHead(t, bob) {
		t.Errorf("the log's last line ends at %s, HEAD is %s", log[len(log)-1].New, readHead(t, bob))
	}
}
