package cli

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

func cmdLs() *command {
	return &command{
		usage: "ac-ls [-l] [--json] [PATH]",
		help: `Ac-ls lists the directory at PATH (default: the top of the tree
database). Directories end in "/". -l adds kind, size, modification time
and CID; --json prints everything as JSON. A name with a control or
format character, a '"' or a '\' is printed in double quotes with C
escapes, as git quotes paths ("a\nb", "\033[31m").

example:
  ac-ls root/projects/pictures
  ac-ls -l nodes`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			var o lsOpts
			fs.BoolVar(&o.long, "l", false, "long listing")
			fs.BoolVar(&o.asJSON, "json", false, "list as JSON")
			return func(ctx context.Context, args []string) error { return runLs(ctx, e, o, args) }
		},
	}
}

type lsOpts struct {
	long   bool
	asJSON bool
}

func runLs(ctx context.Context, e *Env, o lsOpts, args []string) error {
	if err := nargs(args, 0, 1); err != nil {
		return err
	}
	p := ""
	if len(args) == 1 {
		var err error
		if p, err = treePath(args[0]); err != nil {
			return err
		}
	}
	h, head, err := openHead(ctx, e)
	if err != nil {
		return err
	}
	defer h.Close()
	if p, err = h.ResolvePath(ctx, head, p); err != nil {
		return err
	}
	ents, err := h.Tree(cid.Undef).List(ctx, head, p)
	if err != nil {
		return err
	}
	if o.asJSON {
		rows := make([]entryJSON, 0, len(ents))
		for _, en := range ents {
			rows = append(rows, toJSON(en))
		}
		return writeJSON(e, rows)
	}
	for _, en := range ents {
		name := en.Name
		if en.Kind == schema.KindDirectory {
			name += "/"
		}
		name = quote(name)
		if o.long {
			fmt.Fprintf(e.Stdout, "%-12s %12d %s %s %s\n", en.Kind, en.Size,
				time.Unix(0, en.Mtime).UTC().Format("2006-01-02 15:04:05"), short(en.Target), name)
		} else {
			fmt.Fprintln(e.Stdout, name)
		}
	}
	return nil
}

type entryJSON struct {
	Name  string            `json:"name"`
	Kind  schema.Kind       `json:"kind"`
	CID   string            `json:"cid"`
	Size  uint64            `json:"size"`
	Mode  string            `json:"mode,omitempty"`
	Mtime string            `json:"mtime"`
	VV    map[string]uint64 `json:"vv"`
	By    string            `json:"by,omitempty"`
}

func toJSON(en schema.Entry) entryJSON {
	j := entryJSON{Name: en.Name, Kind: en.Kind, CID: en.Target.String(), Size: en.Size,
		Mtime: time.Unix(0, en.Mtime).UTC().Format(time.RFC3339Nano), VV: en.VV}
	if en.Mode != 0 {
		j.Mode = fmt.Sprintf("%04o", en.Mode)
	}
	if en.By.Defined() {
		j.By = en.By.String()
	}
	return j
}
