//go:build linux

package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestKuboFetchProgressOnATerminal: with stderr on a terminal, a command
// that has its daemon fetch blocks from a peer shows how many came, of
// those asked, and their bytes: on a line of its own for ac-cat, at the
// end of its own line for ac-get. One that fetches nothing shows nothing.
func TestKuboFetchProgressOnATerminal(t *testing.T) {
	_, _, alice, bob := kuboPair(t)
	src := filepath.Join(t.TempDir(), "notes")
	os.MkdirAll(src, 0o755)
	big := bytes.Repeat([]byte("alice's notes\n"), 40000) // three chunks and their root
	os.WriteFile(filepath.Join(src, "big.txt"), big, 0o644)
	os.WriteFile(filepath.Join(src, "small.txt"), []byte("a short note\n"), 0o644)
	ac(t, alice, nil, "ac-add", src, "root/forum/notes")
	ac(t, alice, nil, "ac-node", "new", "node", "identities/alice")
	ac(t, bob, []byte(ac(t, alice, nil, "ac-message", "ref", "identities/alice")), "ac-friend", "add")
	ac(t, bob, []byte(ac(t, alice, nil, "ac-message", "ref", "node")), "ac-node", "add")
	ac(t, bob, nil, "ac-merge", "root", "nodes/"+friendID(t, bob)+"/root")

	out, shown := onTerminal(t, bob, "ac-cat", "root/forum/notes/big.txt")
	if out != string(big) {
		t.Fatalf("ac-cat on a terminal wrote %d bytes to stdout, want %d", len(out), len(big))
	}
	last := regexp.MustCompile(`\rac-cat: fetching from peers: 1 of 1 blocks, 54[0-9.]K, [0-9.]+[KMG]?/s\x1b\[K\r?\n\z`)
	if !last.MatchString(shown) {
		t.Errorf("ac-cat fetching alice's file showed %q, want it to end with the 4 blocks fetched", shown)
	}
	if _, shown := onTerminal(t, bob, "ac-cat", "root/forum/notes/big.txt"); shown != "" {
		t.Errorf("ac-cat of a file now held showed %q, want nothing", shown)
	}
	out, shown = onTerminal(t, bob, "ac-get", "root/forum", filepath.Join(t.TempDir(), "out"))
	if !strings.HasSuffix(out, "2 added, 0 modified, 0 deleted\n") {
		t.Errorf("ac-get's stdout = %q", out)
	}
	if !regexp.MustCompile(`\rac-get: 2/2 files, [^\r]*, fetched from peers 1 of 1 blocks, 13\x1b\[K\r?\n\z`).MatchString(shown) {
		t.Errorf("ac-get fetching alice's small file showed %q, want its line to end with the block fetched", shown)
	}
}
