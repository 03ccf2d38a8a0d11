package cli

import (
	"context"
	"flag"
	"fmt"
)

func cmdDelete() *command {
	return &command{
		usage: "ac-delete PATH",
		help: `Ac-delete removes the entry at PATH. In a shared directory the deletion
is recorded as a tombstone, so it reaches friends when they merge. The
old content stays reachable through ac-log until it is collected. The
top-level directories (root, identities, friends, aliases, nodes)
cannot be deleted.

example:
  ac-delete root/projects/pictures`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			return func(ctx context.Context, args []string) error { return runDelete(ctx, e, args) }
		},
	}
}

func runDelete(ctx context.Context, e *Env, args []string) error {
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
	if err := h.Delete(ctx, p, e.Name+" "+p); err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "deleted %s\n", quote(p))
	return nil
}
