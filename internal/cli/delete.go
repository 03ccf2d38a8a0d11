package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/archivecache/archivecache/home"
)

func cmdDelete() *command {
	return &command{
		usage: "ac-delete [--force] PATH",
		help: `Ac-delete removes the entry at PATH. In a shared directory the deletion
is recorded as a tombstone, so it reaches friends when they merge. The
old content stays reachable through ac-log until it is collected. The
top-level directories (root, identities, friends, aliases, nodes)
cannot be deleted. An identity (identities/NAME) is deleted only with
--force: nothing can be signed with it afterwards; its key stays in
keys/, and ac-restore --at 1 identities/NAME brings it back.

example:
  ac-delete root/projects/pictures`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			var o deleteOpts
			fs.BoolVar(&o.force, "force", false, "delete an identity too")
			return func(ctx context.Context, args []string) error { return runDelete(ctx, e, o, args) }
		},
	}
}

type deleteOpts struct{ force bool }

func runDelete(ctx context.Context, e *Env, o deleteOpts, args []string) error {
	if err := nargs(args, 1, 1); err != nil {
		return err
	}
	p, err := treePath(args[0])
	if err != nil {
		return err
	}
	h, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer h.Close()
	if err := h.Delete(ctx, p, home.DeleteOptions{Command: e.Name + " " + p, Force: o.force}); err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "deleted %s\n", quote(p))
	return nil
}
