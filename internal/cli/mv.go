package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/archivecache/archivecache/home"
)

func cmdMv() *command {
	return &command{
		usage: "ac-mv SRC DEST",
		help: `Ac-mv moves the file or directory at SRC to DEST inside the tree, in
one change, without a round trip through the local disk: SRC is deleted
(a tombstone, so that friends see the move when they merge) and DEST
gets its entries, which continue what DEST held before. As with mv, a
directory at DEST receives SRC inside it, under its own name; anything
else at DEST must be deleted first. A friend's concurrent change to
SRC stays at SRC, as a change beats a deletion.

example:
  ac-mv root/projects/draft.txt root/projects/final.txt
  ac-mv root/projects/pictures root/archive`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			var o relocateOpts
			fs.StringVar(&o.passFile, "passphrase-file", "", "read the passphrase of a sealed key from `file` (for owned directories)")
			return func(ctx context.Context, args []string) error {
				return runRelocate(ctx, e, o, args, "moved", (*home.Home).Move)
			}
		},
	}
}

func cmdCp() *command {
	return &command{
		usage: "ac-cp SRC DEST",
		help: `Ac-cp copies the file or directory at SRC to DEST inside the tree, in
one change, without a round trip through the local disk: the copy
shares every block with the original, so it costs the directory blocks
it writes and nothing more. As with cp, a directory at DEST receives
the copy inside it, under SRC's name; anything else at DEST must be
deleted first.

example:
  ac-cp root/projects/plan.txt root/projects/plan-v2.txt
  ac-cp nodes/alice/root/forum/notes.txt root/projects`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			var o relocateOpts
			fs.StringVar(&o.passFile, "passphrase-file", "", "read the passphrase of a sealed key from `file` (for owned directories)")
			return func(ctx context.Context, args []string) error {
				return runRelocate(ctx, e, o, args, "copied", (*home.Home).Copy)
			}
		},
	}
}

type relocateOpts struct {
	passFile string
}

// runRelocate runs ac-mv or ac-cp: do moves or copies, done says so.
func runRelocate(ctx context.Context, e *Env, o relocateOpts, args []string, done string,
	do func(*home.Home, context.Context, string, string, string) (string, error)) error {
	if err := nargs(args, 2, 2); err != nil {
		return err
	}
	src, err := treePath(args[0])
	if err != nil {
		return err
	}
	dst, err := treePath(args[1])
	if err != nil {
		return err
	}
	h, err := e.openSigning(ctx, o.passFile)
	if err != nil {
		return err
	}
	defer h.Close()
	if src, err = friendPath(ctx, h, src); err != nil {
		return err
	}
	to, err := do(h, ctx, src, dst, e.Name+" "+src+" "+dst)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "%s %s to %s\n", done, quote(src), quote(to))
	return nil
}
