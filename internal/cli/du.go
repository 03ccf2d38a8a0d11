package cli

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

func cmdDu() *command {
	return &command{
		usage: "ac-du [-s] [--human] [--json] [PATH]",
		help: `Ac-du prints how many bytes of files each directory under PATH
(default: root) holds, itself included, as du --apparent-size -b does:
the sizes of the files, counted once per name however many names share
their blocks; one line a directory, the deepest first, PATH last. -s
prints PATH alone; -sh (or --human) sizes for people (1.5K, 20M).

example:
  ac-du -sh root/projects
  ac-du nodes/alice/root`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			var o duOpts
			fs.BoolVar(&o.summary, "s", false, "print the total of PATH alone")
			fs.BoolVar(&o.human, "human", false, "sizes for people (1.5K, 20M); -sh is -s --human (-h alone is help)")
			fs.BoolVar(&o.asJSON, "json", false, "print as JSON")
			return func(ctx context.Context, args []string) error { return runDu(ctx, e, o, args) }
		},
	}
}

type duOpts struct {
	summary, human, asJSON bool
}

type duRow struct {
	Path  string `json:"path"`
	Bytes uint64 `json:"bytes"`
	Files int64  `json:"files"`
}

func runDu(ctx context.Context, e *Env, o duOpts, args []string) error {
	h, head, p, err := openAt(ctx, e, args, "root")
	if err != nil {
		return err
	}
	defer h.Close()
	// Walk visits a directory before what it holds: a stack of the open
	// directories gets each file's size, and a directory is done when
	// the walk leaves it.
	type open struct {
		path  string
		bytes uint64
		files int64
	}
	stack := []open{{path: p}}
	var rows []duRow
	done := func(until string) {
		for len(stack) > 1 && !strings.HasPrefix(until, stack[len(stack)-1].path+"/") {
			d := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			rows = append(rows, duRow{d.path, d.bytes, d.files})
			stack[len(stack)-1].bytes += d.bytes
			stack[len(stack)-1].files += d.files
		}
	}
	err = h.Tree(cid.Undef).Walk(ctx, head, p, func(q string, en schema.Entry) error {
		done(q)
		switch en.Kind {
		case schema.KindDirectory:
			stack = append(stack, open{path: q})
		case schema.KindFile:
			stack[len(stack)-1].bytes += en.Size
			stack[len(stack)-1].files++
		}
		return nil
	})
	if err != nil {
		return err
	}
	done("")
	rows = append(rows, duRow{stack[0].path, stack[0].bytes, stack[0].files})
	if o.summary {
		rows = rows[len(rows)-1:]
	}
	if o.asJSON {
		return writeJSON(e, rows)
	}
	for _, r := range rows {
		size := strconv.FormatUint(r.Bytes, 10)
		if o.human {
			size = humanSize(r.Bytes)
		}
		fmt.Fprintf(e.Stdout, "%s\t%s\n", size, quote(r.Path))
	}
	return nil
}
