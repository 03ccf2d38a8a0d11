package walkthrough

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestWalkthrough builds the commands and runs walkthrough.sh, which exits
// non-zero on any failed step (set -e, diff -r, a forged reference that is
// accepted).
func TestWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every command")
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "./tools/...")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./tools/...: %v\n%s", err, out)
	}
	cmd := exec.Command("bash", "walkthrough.sh", t.TempDir())
	cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "AC_HOME=", "AC_API=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("walkthrough.sh: %v\n%s", err, out)
	}
	for _, want := range []string{"OK identities/alice", "added friend alice", "already up to date",
		"bob's copy is identical", "C root/projects/pictures/2024/notes.conflict-", "D root/projects/pictures/a.jpg",
		"notes, as bob remembers them", "both hold the same root"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("walkthrough output lacks %q:\n%s", want, out)
		}
	}
}
