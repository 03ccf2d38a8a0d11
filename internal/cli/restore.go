package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/home"
	"github.com/ipfs/go-cid"
)

func cmdRestore() *command {
	return &command{
		usage: "ac-restore --at WHEN PATH",
		help: `Ac-restore brings back the file or directory at PATH as it was before
a change: WHEN is the number of an entry of ac-log (1 is the newest; the
state before that change is restored) or a root CID of the tree
database. The restored entries are new changes, so they reach friends
when they merge, and win over the deletion they undo. What is at PATH
now and was not then stays.

example:
  ac-log -n 3
  ac-restore --at 2 root/forum/notes.txt`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			var o restoreOpts
			fs.StringVar(&o.at, "at", "", "restore as before ac-log entry `N`, or as in root CID")
			fs.StringVar(&o.passFile, "passphrase-file", "", "read the passphrase of sealed keys from `file` (default $AC_PASSPHRASE)")
			return func(ctx context.Context, args []string) error { return runRestore(ctx, e, o, args) }
		},
	}
}

type restoreOpts struct{ at, passFile string }

func runRestore(ctx context.Context, e *Env, o restoreOpts, args []string) error {
	if err := nargs(args, 1, 1); err != nil {
		return err
	}
	if o.at == "" {
		return usagef("--at is required")
	}
	p, err := treePath(args[0])
	if err != nil {
		return err
	}
	if (!home.InRoot(p) || p == home.Root) && !strings.HasPrefix(p, home.Identities+"/") {
		return acerr.E("restore", args[0], acerr.Invalid, fmt.Errorf("only paths under %s/ (or an identity under %s/) can be restored", home.Root, home.Identities))
	}
	h, err := e.openSigning(ctx, o.passFile)
	if err != nil {
		return err
	}
	defer h.Close()
	then, err := restorePoint(ctx, h, o.at)
	if err != nil {
		return err
	}
	r, err := h.Restore(ctx, p, then, e.Name+" --at "+o.at+" "+p)
	if err != nil {
		return err
	}
	unit := "entries"
	if r.Entries == 1 {
		unit = "entry"
	}
	fmt.Fprintf(e.Stdout, "restored %s (%d %s)\n", quote(p), r.Entries, unit)
	return nil
}

// restorePoint returns the root of the tree database that --at names.
func restorePoint(ctx context.Context, h *home.Home, at string) (cid.Cid, error) {
	if c, err := cid.Decode(at); err == nil {
		return c, nil
	}
	var n int
	if _, err := fmt.Sscanf(at, "%d", &n); err != nil || n < 1 || fmt.Sprint(n) != at {
		return cid.Undef, usagef("--at %q: want an ac-log entry number (1 is the newest) or a root CID", at)
	}
	c, err := h.Before(ctx, n)
	if e, ok := err.(*acerr.Error); ok && e.Op == "log" {
		return cid.Undef, acerr.E("restore", "--at "+at, e.Kind, e.Err).WithHint(e.Hint)
	}
	if err != nil {
		return cid.Undef, err
	}
	return c, nil
}
