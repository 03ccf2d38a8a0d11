package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/home"
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
			long := fs.Bool("l", false, "long listing")
			asJSON := fs.Bool("json", false, "list as JSON")
			return func(ctx context.Context, args []string) error {
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
				ents, err := h.Tree(cid.Undef).List(ctx, head, p)
				if err != nil {
					return err
				}
				if *asJSON {
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
					if *long {
						fmt.Fprintf(e.Stdout, "%-12s %12d %s %s %s\n", en.Kind, en.Size,
							time.Unix(0, en.Mtime).UTC().Format("2006-01-02 15:04:05"), short(en.Target), name)
					} else {
						fmt.Fprintln(e.Stdout, name)
					}
				}
				return nil
			}
		},
	}
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

func openHead(ctx context.Context, e *Env) (*home.Home, cid.Cid, error) {
	h, err := e.open(ctx)
	if err != nil {
		return nil, cid.Undef, err
	}
	head, err := h.Get()
	if err != nil {
		h.Close()
		return nil, cid.Undef, err
	}
	return h, head, nil
}

func cmdCat() *command {
	return &command{
		usage: "ac-cat PATH",
		help: `Ac-cat writes the bytes of the file at PATH to stdout. With --api the
blocks that are not local are fetched through the daemon as they are read.

example:
  ac-cat root/projects/pictures/a.jpg > a.jpg`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			return func(ctx context.Context, args []string) error {
				if err := nargs(args, 1, 1); err != nil {
					return err
				}
				p, err := treePath(args[0])
				if err != nil {
					return err
				}
				h, head, err := openHead(ctx, e)
				if err != nil {
					return err
				}
				defer h.Close()
				en, err := h.Tree(cid.Undef).Lookup(ctx, head, p)
				if err != nil {
					return err
				}
				switch en.Kind {
				case schema.KindFile:
				case schema.KindDirectory:
					return acerr.E("cat", p, acerr.IsDir, nil)
				default:
					return acerr.E("cat", p, acerr.Invalid, fmt.Errorf("is %s, not a file", en.Kind))
				}
				f, err := h.Tree(cid.Undef).Open(ctx, en)
				if err != nil {
					return acerr.E("cat", p, acerr.Other, err)
				}
				defer f.Close()
				if _, err := io.Copy(e.Stdout, f); err != nil {
					return acerr.E("cat", p, acerr.Other, err)
				}
				return nil
			}
		},
	}
}

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
