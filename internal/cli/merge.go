package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/home"
)

func cmdMerge() *command {
	return &command{
		usage: "ac-merge [--dry-run] [--json] DEST SRC",
		help: `Ac-merge merges the directory at SRC (usually a friend's filesystem,
nodes/ID/root) into the directory at DEST (usually root), and prints what
changed in DEST: "A path" added, "M path" changed, "D path" deleted,
"C path" a conflict copy kept beside a concurrent edit. Nothing is lost:
concurrent edits of a file keep both versions, and deletions win only
over what their author had seen. Owned directories change only by their
owners' signatures. The blocks of SRC must be here: taken in with
ac-import, or fetched through a kubo daemon (--api). --dry-run prints
what would change and writes nothing. With a daemon, stderr shows, when
it is a terminal, the bytes of the blocks read (those fetched among
them) and the rate; --json prints the changes as JSON and makes that
progress a stream of JSON status lines on stderr (see ac-add -h).

example:
  ac-merge root nodes/bafyrei.../root`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			var o mergeOpts
			o.flags(fs)
			return func(ctx context.Context, args []string) error { return runMerge(ctx, e, o, args) }
		},
	}
}

// mergeOpts are the flags of ac-merge and ac-merge-all.
type mergeOpts struct {
	dry, asJSON bool
	passFile    string
}

func (o *mergeOpts) flags(fs *flag.FlagSet) {
	fs.BoolVar(&o.dry, "dry-run", false, "print what would change, change nothing")
	fs.BoolVar(&o.asJSON, "json", false, "print the changes as JSON")
	fs.StringVar(&o.passFile, "passphrase-file", "", "read the passphrase of sealed keys from `file` (default $AC_PASSPHRASE)")
}

func runMerge(ctx context.Context, e *Env, o mergeOpts, args []string) error {
	if err := nargs(args, 2, 2); err != nil {
		return err
	}
	dst, err := treePath(args[0])
	if err != nil {
		return err
	}
	src, err := treePath(args[1])
	if err != nil {
		return err
	}
	if dst == "" {
		return acerr.E("merge", "", acerr.Invalid, fmt.Errorf("DEST must name a directory, such as root"))
	}
	h, err := e.openSigning(ctx, o.passFile)
	if err != nil {
		return err
	}
	defer h.Close()
	if src, err = friendPath(ctx, h, src); err != nil {
		return err
	}
	return mergeJobs(ctx, e, h, []home.MergeJob{{Dst: dst, Src: src}}, o, e.Name+" "+dst+" "+src)
}
