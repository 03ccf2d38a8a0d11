package cli

import (
	"context"
	"flag"
	"fmt"
	"sort"
	"sync"

	"github.com/archivecache/archivecache/localfs"
	"github.com/archivecache/archivecache/progress"
	"github.com/archivecache/archivecache/tree"
)

func cmdGet() *command {
	return &command{
		usage: "ac-get [--dry-run] [-v] [--json] PATH DEST",
		help: `Ac-get exports the file or directory at PATH to the local path DEST,
byte-identical, with modification times. If DEST is an existing
directory the export goes inside it under PATH's name. Existing files
are never overwritten: one that already holds the entry's bytes (the
same size and content) is kept, anything else there is an error, so
running an ac-get that was interrupted (even by kill -9) again completes
the export in place. A file appears only once it is written whole: one
cut short leaves nothing behind, not even a temporary file.

It prints what it did, counted: "12 added, 0 modified, 0 deleted, 3
unchanged" (files written, and files kept as they were); -v lists each
file written before that line, "A path", as ac-merge and ac-log -p do.
--dry-run prints the files it would write and their count, writing
nothing and reading no file's content from the store.

While it works, stderr shows, when it is a terminal, the files and
bytes done of those under PATH, the rate and the time left, moving
inside a large file; --json makes that a stream of JSON status lines on
stderr, as ac-add -h describes.

Modes are kept as cp without -p keeps them: the permission bits of each
entry less those of the umask. Setuid, setgid and sticky bits are never
set, whoever wrote the entry; directories keep their owner's rwx, so
that the export can be read and removed.

example:
  ac-get root/projects/pictures ./pictures
  ac-get --dry-run root/projects/pictures ./pictures`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			var o getOpts
			fs.IntVar(&o.jobs, "j", 0, "fetch `n` files and write n directories at a time (default: one per CPU)")
			fs.BoolVar(&o.dry, "dry-run", false, "print what would be written, write nothing")
			fs.BoolVar(&o.verbose, "v", false, "list each file written, one A line each")
			fs.BoolVar(&o.asJSON, "json", false, "progress as JSON status lines on stderr")
			return func(ctx context.Context, args []string) error { return runGet(ctx, e, o, args) }
		},
	}
}

type getOpts struct {
	jobs                 int
	dry, verbose, asJSON bool
}

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
	var mu sync.Mutex
	var written []string // listed with --dry-run or -v
	added, kept := 0, 0
	list := o.dry || o.verbose
	counts := &progress.Counter{}
	m := e.startMeter(counts, o.asJSON)
	err = h.GetLocal(ctx, p, args[1], localfs.ExportConfig{
		Fetchers: o.jobs, Writers: o.jobs, DryRun: o.dry, Progress: m.counter(),
		Done: func(local string, same bool) {
			mu.Lock()
			defer mu.Unlock()
			switch {
			case same:
				kept++
			case list:
				written = append(written, local)
				fallthrough
			default:
				added++
			}
		},
	})
	m.stop(err == nil)
	if err != nil {
		return err
	}
	sort.Strings(written)
	for _, w := range written {
		changeLine(e, tree.Added, w)
	}
	fmt.Fprintln(e.Stdout, changeCounts{tree.Added: added}.summary(kept))
	return nil
}
