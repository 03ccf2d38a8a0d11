package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/archivecache/archivecache/home"
)

func cmdInit() *command {
	return &command{
		usage: "ac-init [--repair] [--home DIR] [--api ADDR]",
		help: `Ac-init creates a home: the config, an empty block store, and a tree
database with root/forum, root/projects, identities/, friends/ and nodes/.
With --api the home keeps its blocks in that kubo daemon.

Ac-init only creates a home where there is none: no config, HEAD, log,
key or block. It never replaces a HEAD. A home that has lost its HEAD or
its config (or whose HEAD names a root the store lacks) is damaged, not
new: every command, ac-init too, refuses it with a line that says what
is missing and to run ac-init --repair.

With --repair, ac-init mends a damaged home. HEAD comes back from the
newest log entry whose tree blocks (directories, shards, identities and
nodes; not file contents) are all in the store, as a change of its own
in the log, and the config with the home's replica id, kept in the file
replica and in every log line. On a whole home it changes nothing. If no
log entry can be restored, it says what the newest one lacks.

example:
  export AC_HOME=$HOME/.archivecache
  ac-init
  ac-init --repair`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			var o initOpts
			fs.BoolVar(&o.repair, "repair", false, "mend a damaged home instead of creating one")
			return func(ctx context.Context, args []string) error { return runInit(ctx, e, o, args) }
		},
	}
}

type initOpts struct {
	repair bool
}

func runInit(ctx context.Context, e *Env, o initOpts, args []string) error {
	if err := nargs(args, 0, 0); err != nil {
		return err
	}
	if o.repair {
		return initRepair(ctx, e)
	}
	h, err := home.Init(ctx, e.options())
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

func initRepair(ctx context.Context, e *Env) error {
	r, err := home.Repair(ctx, e.options())
	if err != nil {
		return err
	}
	if r.From != nil {
		fmt.Fprintf(e.Stdout, "restored HEAD %s from the log entry of %s (%s)\n",
			r.Head, r.From.Time.Local().Format("2006-01-02 15:04:05"), r.From.Command)
	} else {
		fmt.Fprintf(e.Stdout, "HEAD %s is whole\n", r.Head)
	}
	switch {
	case !r.Config:
		fmt.Fprintf(e.Stdout, "config is whole (replica %s)\n", r.Replica)
	case r.ReplicaFrom == "":
		fmt.Fprintf(e.Stdout, "restored config with a new replica id %s: no copy of the old one was found\n", r.Replica)
	default:
		fmt.Fprintf(e.Stdout, "restored config (replica %s, from the %s)\n", r.Replica, r.ReplicaFrom)
	}
	return nil
}
