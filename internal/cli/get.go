package cli

import (
	"context"
	"flag"

	"github.com/archivecache/archivecache/localfs"
)

func cmdGet() *command {
	return &command{
		usage: "ac-get PATH DEST",
		help: `Ac-get exports the file or directory at PATH to the local path DEST,
byte-identical, with modification times. If DEST is an existing
directory the export goes inside it under PATH's name. Existing files
are never overwritten.

Modes are kept as cp without -p keeps them: the permission bits of each
entry less those of the umask. Setuid, setgid and sticky bits are never
set, whoever wrote the entry; directories keep their owner's rwx, so
that the export can be read and removed.

example:
  ac-get root/projects/pictures ./pictures`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			var o getOpts
			fs.IntVar(&o.jobs, "j", 0, "fetch `n` files and write n directories at a time (default: one per CPU)")
			return func(ctx context.Context, args []string) error { return runGet(ctx, e, o, args) }
		},
	}
}

type getOpts struct{ jobs int }

func runGet(ctx context.Context, e *Env, o getOpts, args []string) error {
	if err := nargs(args, 2, 2); err != nil {
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
	if p, err = friendPath(ctx, h, p); err != nil {
		return err
	}
	return h.GetLocal(ctx, p, args[1], localfs.ExportConfig{Fetchers: o.jobs, Writers: o.jobs})
}
