package cli

import (
	"os/exec"
	"strings"
	"testing"
)

// heavy are the packages that only the commands which need them may link:
// a FUSE library, libp2p and kubo's node, go-ipld-prime's codecs, mDNS and
// the project's own mount and receiver. Every command pays at start-up for
// what it links, so ac-ls must not carry a FUSE server.
var heavy = []string{
	"github.com/hanwen/go-fuse",
	"github.com/libp2p/",
	"github.com/ipfs/kubo",
	"github.com/ipfs/boxo",
	"github.com/ipld/go-ipld-prime",
	"github.com/grandcat/zeroconf",
	"github.com/archivecache/archivecache/mountfs",
	"github.com/archivecache/archivecache/receive",
}

// heavyUsers are the commands allowed to link heavy packages, with which.
var heavyUsers = map[string][]string{
	"ac-mount":   {"github.com/hanwen/go-fuse", "github.com/archivecache/archivecache/mountfs"},
	"ac-receive": {"github.com/archivecache/archivecache/receive", "github.com/grandcat/zeroconf"},
}

// TestSmallCommandsStaySmall lists what each command links (go list
// -deps) and fails if it links a heavy package it has no use for.
func TestSmallCommandsStaySmall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list once per command")
	}
	for _, name := range Names() {
		out, err := exec.Command("go", "list", "-deps", "../../tools/"+name).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", name, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, h := range heavy {
				if !strings.HasPrefix(dep, h) {
					continue
				}
				allowed := false
				for _, a := range heavyUsers[name] {
					allowed = allowed || strings.HasPrefix(dep, a)
				}
				if !allowed {
					t.Errorf("%s links %s", name, dep)
				}
			}
		}
	}
}
