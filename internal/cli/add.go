package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/archivecache/archivecache/home"
	"github.com/archivecache/archivecache/localfs"
)

func cmdAdd() *command {
	return &command{
		usage: "ac-add SRC DEST",
		help: `Ac-add imports the local file or directory SRC into the tree database
at DEST, a path under root/ (for example root/projects/pictures). Files
become UnixFS files with the CIDs "ipfs add --cid-version=1" gives;
modes and modification times are kept. A directory added where one is
(or was, before a deletion) changes it as the file-by-file changes
would: a file that differs becomes a new version of it, one that does
not keeps its entry, and what SRC no longer holds is deleted, so that
friends who merge get exactly those changes; conflict copies SRC never
held stay. Adding an unchanged directory again changes nothing. A file
replaces a file, and goes into a directory at DEST under its own name,
as with cp; so does a directory when DEST ends in "/" (ac-add ~/Pictures
root/projects/). A directory where a file is must be deleted first (the
old version stays reachable through ac-log). SRC "-" is standard input,
which becomes one file at DEST. Symbolic links and special files are
skipped with a warning. Progress goes to stderr when it is a terminal.

example:
  ac-add ~/Pictures root/projects/pictures
  ac-add notes.txt root/projects/
  date | ac-add - root/projects/when.txt`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			var o addOpts
			fs.IntVar(&o.jobs, "j", 0, "import `n` files at a time (default: 2 per CPU)")
			return func(ctx context.Context, args []string) error { return runAdd(ctx, e, o, args) }
		},
	}
}

type addOpts struct{ jobs int }

func runAdd(ctx context.Context, e *Env, o addOpts, args []string) error {
	if err := nargs(args, 2, 2); err != nil {
		return err
	}
	dest, err := treePath(args[1])
	if err != nil {
		return err
	}
	if !home.InRoot(dest) || dest == home.Root {
		return usagef("%s: DEST must be a path under root/, such as root/projects/NAME", args[1])
	}
	h, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer h.Close()
	progress := &localfs.Progress{}
	stop := showProgress(e, progress)
	added, err := h.AddLocal(ctx, args[0], dest, home.AddOptions{
		Command:  e.Name + " " + dest,
		Into:     strings.HasSuffix(args[1], "/"),
		Stdin:    e.Stdin,
		Workers:  o.jobs,
		Progress: progress,
		Skipped: func(p, why string) {
			fmt.Fprintf(e.Stderr, "%s: skipping %s: %s\n", e.Name, quote(p), oneLine(why))
		},
	})
	stop()
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "%s %s (%d files, %d bytes)\n", added.Entry.Target, quote(added.Path), added.Files, added.Bytes)
	return nil
}

// showProgress prints the counts of p to stderr while work goes on, if it
// is a terminal, and returns the function that stops it.
func showProgress(e *Env, p *localfs.Progress) func() {
	if !e.interactive() {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	line := func() string {
		mb := float64(p.Bytes.Load()) / 1e6
		rate := mb / max(time.Since(start).Seconds(), 0.001)
		return fmt.Sprintf("\r%s: %d files, %.1f MB, %.1f MB/s ", e.Name, p.Files.Load(), mb, rate)
	}
	wg.Go(func() {
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				fmt.Fprintln(e.Stderr, line())
				return
			case <-tick.C:
				fmt.Fprint(e.Stderr, line())
			}
		}
	})
	return func() { close(done); wg.Wait() }
}
