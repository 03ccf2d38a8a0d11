package cli

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/archivecache/archivecache/home"
	"github.com/archivecache/archivecache/progress"
	"github.com/ipfs/go-cid"
	"golang.org/x/term"
)

func cmdExport() *command {
	return &command{
		usage: "ac-export [--since CID] [--json] PATH > FILE.car",
		help: `Ac-export writes the entry at PATH (usually "node", my published node)
to stdout as a CAR v1 file whose one root is the entry's CID, holding
every block reachable from it, each once: for a node, the node block,
its owner's identity, its earlier versions and its whole filesystem —
every directory and shard block, every file's UnixFS blocks, the
targets of conflicting versions and of tombstones. Identity blocks
(owner, by) and earlier versions (prev) that the store does not hold
are left out; any other missing block is an error naming its CID, and
the output is then incomplete.

--since CID leaves out what CID holds: usually the node or root sent
last time (what ac-import printed on the other side), so that an update
carries only what changed since. The two trees are walked side by side,
and where both hold the same block at one place (a directory, a file),
nothing below it is read or sent, so an update costs what changed, not
the size of the tree; a block CID holds only at another place (a file
moved) is sent again. The receiver must already hold what CID reaches.
A block of CID that this store lacks is left out itself.

ac-import and "ipfs dag import" read the output. When stderr is a
terminal, the bytes written and the rate are shown there as it goes,
then the root, the number of blocks and of bytes; --json makes the
progress a stream of JSON status lines on stderr (see ac-add -h).

example:
  ac-export node > alice.car
  ac-export --since bafyreib... node > alice-update.car`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			var o exportOpts
			fs.StringVar(&o.since, "since", "", "leave out what `CID` holds (what the receiver has), walking both side by side")
			fs.BoolVar(&o.asJSON, "json", false, "progress as JSON status lines on stderr")
			return func(ctx context.Context, args []string) error { return runExport(ctx, e, o, args) }
		},
	}
}

type exportOpts struct {
	since  string
	asJSON bool
}

func runExport(ctx context.Context, e *Env, o exportOpts, args []string) error {
	if err := nargs(args, 1, 1); err != nil {
		return err
	}
	p, err := treePath(args[0])
	if err != nil {
		return err
	}
	var old cid.Cid
	if o.since != "" {
		if old, err = cid.Decode(o.since); err != nil {
			return usagef("--since %q is not a CID: %v", o.since, err)
		}
	}
	if f, ok := e.Stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return usagef("refusing to write a CAR to a terminal: redirect it (> FILE.car)")
	}
	h, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer h.Close()
	if p, err = friendPath(ctx, h, p); err != nil {
		return err
	}
	m := e.startMeter(&progress.Counter{}, o.asJSON)
	x, err := h.Export(ctx, e.Stdout, p, home.ExportOptions{Since: old, Progress: m.counter()})
	m.stop(err == nil)
	if err != nil {
		return err
	}
	if e.interactive() {
		fmt.Fprintf(e.Stderr, "%s: %d blocks, %d bytes\n", x.Root, x.Blocks, x.Bytes)
	}
	return nil
}
