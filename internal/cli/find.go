package cli

import (
	"context"
	"flag"
	"fmt"
	"math"
	"path"
	"time"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
)

func cmdFind() *command {
	return &command{
		usage: "ac-find [--name GLOB] [--type f|d] [--newer PATH|TIME] [--json] [PATH]",
		help: `Ac-find lists the files and directories under PATH (default: root) that
match every test given, one path a line, depth first in name order, as
find does: --name GLOB matches the last component (shell patterns: *,
?, [a-z]), --type f keeps files and --type d directories, --newer keeps
what was modified after the entry at a tree PATH was, or after a TIME
(2026-01-02, 2026-01-02T15:04:05, in local time, or RFC 3339). A
friend's tree is walked through nodes/NAME/root.

example:
  ac-find --name '*.jpg' root/projects/pictures
  ac-find --type f --newer 2026-11-01 root`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			var o findOpts
			fs.StringVar(&o.name, "name", "", "keep names that match `GLOB`")
			fs.StringVar(&o.kind, "type", "", "keep files (f) or directories (d)")
			fs.StringVar(&o.newer, "newer", "", "keep what was modified after the entry at `PATH`, or after a TIME")
			fs.BoolVar(&o.asJSON, "json", false, "list as JSON")
			return func(ctx context.Context, args []string) error { return runFind(ctx, e, o, args) }
		},
	}
}

type findOpts struct {
	name, kind, newer string
	asJSON            bool
}

func runFind(ctx context.Context, e *Env, o findOpts, args []string) error {
	if o.name != "" {
		if _, err := path.Match(o.name, ""); err != nil {
			return usagef("--name %q: %v", o.name, err)
		}
	}
	if o.kind != "" && o.kind != "f" && o.kind != "d" {
		return usagef("--type %q: want f (files) or d (directories)", o.kind)
	}
	h, head, p, err := openAt(ctx, e, args, "root")
	if err != nil {
		return err
	}
	defer h.Close()
	t := h.Tree(cid.Undef)
	var after int64
	if o.newer != "" {
		if after, err = newerThan(ctx, t, head, o.newer); err != nil {
			return err
		}
	}
	var rows []entryJSON
	err = t.Walk(ctx, head, p, func(q string, en schema.Entry) error {
		switch {
		case o.name != "" && !globMatch(o.name, en.Name),
			o.kind == "f" && en.Kind != schema.KindFile,
			o.kind == "d" && en.Kind != schema.KindDirectory,
			o.newer != "" && en.Mtime <= after:
			return nil
		}
		if o.asJSON {
			r := toJSON(en)
			r.Name = q
			rows = append(rows, r)
			return nil
		}
		if en.Kind == schema.KindDirectory {
			q += "/"
		}
		_, err := fmt.Fprintln(e.Stdout, quote(q))
		return err
	})
	if err != nil {
		return err
	}
	if o.asJSON {
		if rows == nil {
			rows = []entryJSON{}
		}
		return writeJSON(e, rows)
	}
	return nil
}

func globMatch(pattern, name string) bool {
	ok, _ := path.Match(pattern, name)
	return ok
}

// newerThan is the time --newer names, in Unix nanoseconds: the mtime of
// the entry at a tree path, or a date and time.
func newerThan(ctx context.Context, t *tree.Tree, head cid.Cid, ref string) (int64, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if at, err := time.ParseInLocation(layout, ref, time.Local); err == nil {
			if at.After(time.Unix(0, math.MaxInt64)) {
				return math.MaxInt64, nil // past what a mtime can say
			}
			return at.UnixNano(), nil
		}
	}
	p, err := treePath(ref)
	if err != nil {
		return 0, usagef("--newer %q: neither a tree path nor a time such as 2026-01-02 or 2026-01-02T15:04:05", ref)
	}
	en, err := t.Lookup(ctx, head, p)
	if err != nil {
		if acerr.Is(acerr.NotExist, err) {
			return 0, usagef("--newer %q: neither a tree path nor a time such as 2026-01-02 or 2026-01-02T15:04:05", ref)
		}
		return 0, err
	}
	return en.Mtime, nil
}
