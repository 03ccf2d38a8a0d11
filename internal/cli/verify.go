package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/home"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/ipfsstore/car"
	"github.com/archivecache/archivecache/progress"
)

func cmdVerify() *command {
	return &command{
		usage: "ac-verify [--content [--json]] [--repair SOURCE] PATH",
		help: `Ac-verify checks the node at PATH and prints OK or FAIL with the reason
(exit 0 or 1). An identity must verify its own signature; a node or an
owned directory must be signed by its owner, who must be me or a friend;
a directory is checked all the way down, as a merge checks a friend's
tree, every block read hash-checked against its CID. With --content the
bytes of every file are read and checked too; stderr then shows, when it
is a terminal, the files and bytes read and the rate, and --json makes
that a stream of JSON status lines on stderr (see ac-add -h).

With --repair, each block found damaged or missing is read again from
SOURCE, a CAR file (as ac-export writes, from this home earlier or from
a friend) or a kubo daemon's RPC address, and the check goes on;
"repaired CID" is printed for each. What SOURCE lacks stays a FAIL.

example:
  ac-verify identities/alice
  ac-verify node
  ac-verify --content root
  ac-verify --content --repair backup.car root`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			var o verifyOpts
			fs.BoolVar(&o.content, "content", false, "also read and hash-check every file's blocks")
			fs.StringVar(&o.repair, "repair", "", "read damaged or missing blocks again from `source`: a CAR file or a kubo RPC address")
			fs.BoolVar(&o.asJSON, "json", false, "progress of --content as JSON status lines on stderr")
			return func(ctx context.Context, args []string) error { return runVerify(ctx, e, o, args) }
		},
	}
}

type verifyOpts struct {
	content, asJSON bool
	repair          string
}

func runVerify(ctx context.Context, e *Env, o verifyOpts, args []string) error {
	if err := nargs(args, 1, 1); err != nil {
		return err
	}
	p, err := treePath(args[0])
	if err != nil {
		return err
	}
	ho := e.options()
	ho.Rehash = true
	h, err := home.Open(ctx, ho)
	if err != nil {
		return err
	}
	defer h.Close()
	if p, err = friendPath(ctx, h, p); err != nil {
		return err
	}
	name := p
	if name == "" {
		name = "/" // the whole tree database
	}
	var from ipfsstore.Store
	if o.repair != "" {
		if from, err = repairSource(ctx, o.repair); err != nil {
			return err
		}
		defer from.Close()
	}
	var counts *progress.Counter
	if o.content {
		counts = &progress.Counter{}
	}
	m := e.startMeter(counts, o.asJSON && o.content)
	repaired, err := h.Verify(ctx, p, home.VerifyOptions{Content: o.content, RepairFrom: from, Progress: m.counter()})
	m.stop(err == nil)
	for _, c := range repaired {
		fmt.Fprintf(e.Stdout, "repaired %s\n", c)
	}
	if err != nil {
		line := acerr.Brief(err)
		if !strings.HasPrefix(line, name+": ") {
			line = name + ": " + line
		}
		fmt.Fprintf(e.Stdout, "FAIL %s\n", oneLine(line))
		return silentFailure{}
	}
	fmt.Fprintf(e.Stdout, "OK %s\n", name)
	return nil
}

// repairSource opens what --repair names: a CAR file, or else a kubo
// daemon's RPC address.
func repairSource(ctx context.Context, src string) (ipfsstore.Store, error) {
	if st, err := os.Stat(src); err == nil && st.Mode().IsRegular() {
		return car.Open(src)
	}
	if !strings.HasPrefix(src, "/") && !strings.Contains(src, "://") {
		return nil, usagef("--repair %s: not a CAR file, nor a kubo RPC address such as /ip4/127.0.0.1/tcp/5001", src)
	}
	return ipfsstore.Open(ctx, ipfsstore.Config{API: src})
}

// silentFailure makes a command exit 1 without printing an error: the
// command has already said why on stdout.
type silentFailure struct{}

func (silentFailure) Error() string { return "" }
