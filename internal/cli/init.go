package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/archivecache/archivecache/home"
)

func cmdInit() *command {
	return &command{
		usage: "ac-init [--home DIR] [--api ADDR]",
		help: `Ac-init creates a home: the config, an empty block store, and a tree
database with root/forum, root/projects, identities/, friends/ and nodes/.
With --api the home keeps its blocks in that kubo daemon.

example:
  export AC_HOME=$HOME/.archivecache
  ac-init`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			return func(ctx context.Context, args []string) error {
				if err := nargs(args, 0, 0); err != nil {
					return err
				}
				h, err := home.Init(ctx, home.Options{Dir: e.HomeDir, API: e.API})
				if err != nil {
					return err
				}
				defer h.Close()
				head, err := h.Get()
				if err != nil {
					return err
				}
				fmt.Fprintf(e.Stdout, "initialised %s (replica %s, HEAD %s)\n", e.HomeDir, h.Config.Replica, head)
				return nil
			}
		},
	}
}
