package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/archivecache/archivecache/home"
	"github.com/archivecache/archivecache/progress"
)

func cmdAdd() *command {
	return &command{
		usage: "ac-add [--dry-run] [-v] [--json] SRC DEST",
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
skipped with a warning.

SRC /ipfs/CID[/PATH] or ipfs://CID[/PATH] is a UnixFS file or directory
already in IPFS, as "ipfs add" makes it with any of its options (CIDv0
or v1, balanced or trickle, any chunker, raw or dag-pb leaves, --inline,
HAMT-sharded directories). Its directories are read and each file is
taken as it is, by its CID: only a file's root block is read, for its
size, so no contents are fetched. With a daemon (--api) they come from
its peers when read; with the embedded store they must be in a CAR
imported before (ac-import), or they will not be found when read. Modes
and modification times are kept where the DAG stores them (ipfs add
--preserve-mode --preserve-mtime); else files get 0644, directories
0755, and both the time they are added. Adding the same CID again
changes nothing. Symlinks are skipped with a warning.

It prints the CID of the entry at DEST, its path, and the files and
bytes read, then what changed, counted: "3 added, 1 modified, 0
deleted" (a directory that is new counts once, as ac-merge shows it);
-v lists the changes before that line, "A path", "M path", "D path", as
ac-merge and ac-log -p do. --dry-run reads and hashes SRC and prints
the changes and their count, keeping nothing: no block is stored and
HEAD does not move.

While it works, stderr shows, when it is a terminal, the files and
bytes done of those SRC holds (counted by a walk beside the import),
the rate and the time left, moving inside a large file. --json makes
that a stream of JSON lines on stderr, as restic's: {"message_type":
"status", "percent_done", "total_files", "files_done", "total_bytes",
"bytes_done", "seconds_elapsed", "seconds_remaining"} about once a
second, then {"message_type":"summary", ...} at the end; an error is
then one JSON object, and stdout stays as it is.

example:
  ac-add ~/Pictures root/projects/pictures
  ac-add --dry-run ~/Pictures root/projects/pictures
  ac-add notes.txt root/projects/
  date | ac-add - root/projects/when.txt
  ac-add /ipfs/bafybei.../photos root/projects/photos`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			var o addOpts
			fs.IntVar(&o.jobs, "j", 0, "import `n` files at a time (default: 2 per CPU)")
			fs.BoolVar(&o.dry, "dry-run", false, "print what would change, change nothing")
			fs.BoolVar(&o.verbose, "v", false, "list the changes, one A/M/D line each")
			fs.BoolVar(&o.asJSON, "json", false, "progress as JSON status lines on stderr")
			return func(ctx context.Context, args []string) error { return runAdd(ctx, e, o, args) }
		},
	}
}

type addOpts struct {
	jobs                 int
	dry, verbose, asJSON bool
}

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
	counts := &progress.Counter{}
	m := e.startMeter(counts, o.asJSON)
	added, err := h.AddLocal(ctx, args[0], dest, home.AddOptions{
		Command:  e.Name + " " + dest,
		Into:     strings.HasSuffix(args[1], "/"),
		Stdin:    e.Stdin,
		DryRun:   o.dry,
		Workers:  o.jobs,
		Progress: m.counter(),
		Skipped: func(p, why string) {
			fmt.Fprintf(e.Stderr, "%s: skipping %s: %s\n", e.Name, quote(p), oneLine(why))
		},
	})
	m.stop(err == nil)
	if err != nil {
		return err
	}
	if !o.dry {
		fmt.Fprintf(e.Stdout, "%s %s (%d files, %d bytes)\n", added.Entry.Target, quote(added.Path), added.Files, added.Bytes)
	}
	if o.dry || o.verbose {
		printChanges(e, added.Changes, false)
	}
	fmt.Fprintln(e.Stdout, countChanges(added.Changes).summary(0))
	return nil
}
