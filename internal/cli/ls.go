package cli

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"math"
	"strconv"
	"time"

	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
)

func cmdLs() *command {
	return &command{
		usage: "ac-ls [-l] [--human] [-R] [--json] [PATH]",
		help: `Ac-ls lists the directory at PATH (default: the top of the tree
database). Directories end in "/". -l lists as ls -l does: the kind
("-" a file, "d" a directory, "i" an identity, "n" a published node)
and the mode, the size, the modification time (local, as ac-log prints
it), the name, and the short CID; -lh (or --human) gives sizes as 1.5K,
20M. -R lists the directories below as well, each after a line "PATH:".
Short flags combine (-lR). --json prints everything as JSON. A name
with a control or format character, a '"' or a '\' is printed in
double quotes with C escapes, as git quotes paths ("a\nb", "\033[31m").

example:
  ac-ls root/projects/pictures
  ac-ls -lh nodes/alice/root`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			var o lsOpts
			fs.BoolVar(&o.long, "l", false, "long listing, as ls -l")
			fs.BoolVar(&o.human, "human", false, "with -l, sizes for people (1.5K, 20M); -lh is -l --human (-h alone is help)")
			fs.BoolVar(&o.recurse, "R", false, "list the directories below as well")
			fs.BoolVar(&o.asJSON, "json", false, "list as JSON")
			return func(ctx context.Context, args []string) error { return runLs(ctx, e, o, args) }
		},
	}
}

type lsOpts struct {
	long, human, recurse bool
	asJSON               bool
}

func runLs(ctx context.Context, e *Env, o lsOpts, args []string) error {
	h, head, p, err := openAt(ctx, e, args, "")
	if err != nil {
		return err
	}
	defer h.Close()
	t := h.Tree(cid.Undef)
	// The listing streams: a directory of any size is printed holding a
	// path of its tree (ls -l reads it twice, for the width of sizes).
	each := func(dir string, fn func(schema.Entry) error) error { return t.ListFunc(ctx, head, dir, fn) }
	if o.asJSON {
		w := newJSONArray(e.Stdout)
		list := func(dir string, fn func(schema.Entry) error) error {
			return each(dir, func(en schema.Entry) error {
				r := toJSON(en)
				if o.recurse {
					r.Name = tree.JoinPath(dir, en.Name)
				}
				if err := w.add(r); err != nil {
					return err
				}
				return fn(en)
			})
		}
		if err := lsTree(p, o.recurse, list); err != nil {
			return err
		}
		return w.close()
	}
	first := true
	list := func(dir string, fn func(schema.Entry) error) error {
		if o.recurse {
			if !first {
				fmt.Fprintln(e.Stdout)
			}
			fmt.Fprintf(e.Stdout, "%s:\n", quote(dirLabel(dir)))
		}
		first = false
		width := 0
		if o.long {
			err := each(dir, func(en schema.Entry) error {
				width = max(width, len(sizeString(en, o)))
				return nil
			})
			if err != nil {
				return err
			}
		}
		return each(dir, func(en schema.Entry) error {
			printEntry(e, en, o, width)
			return fn(en)
		})
	}
	return lsTree(p, o.recurse, list)
}

// lsTree lists the directory p with list, and with recurse each
// directory below, depth first, after it (as ls -R does). list calls fn
// for each entry it lists; only the names of the directories below are
// kept.
func lsTree(p string, recurse bool, list func(dir string, fn func(schema.Entry) error) error) error {
	var subs []string
	err := list(p, func(en schema.Entry) error {
		if recurse && en.Kind == schema.KindDirectory {
			subs = append(subs, tree.JoinPath(p, en.Name))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, sub := range subs {
		if err := lsTree(sub, recurse, list); err != nil {
			return err
		}
	}
	return nil
}

// dirLabel names a directory in -R output: the top of the tree database
// is "/".
func dirLabel(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

// sizeString is an entry's size as ls -l prints it.
func sizeString(en schema.Entry, o lsOpts) string {
	if o.human {
		return humanSize(en.Size)
	}
	return strconv.FormatUint(en.Size, 10)
}

// printEntry prints one entry, its name alone or as ls -l does, the size
// right-aligned in width.
func printEntry(e *Env, en schema.Entry, o lsOpts, width int) {
	name := en.Name
	if en.Kind == schema.KindDirectory {
		name += "/"
	}
	name = quote(name)
	if !o.long {
		fmt.Fprintln(e.Stdout, name)
		return
	}
	when := time.Unix(0, en.Mtime).Local().Format("2006-01-02 15:04:05")
	fmt.Fprintf(e.Stdout, "%s %*s %s %s  %s\n", modeString(en), width, sizeString(en, o), when, name, short(en.Target))
}

// modeString is an entry's kind and permission bits as ls -l shows
// them: "-rw-r--r--", "drwxr-xr-x".
func modeString(en schema.Entry) string {
	kind := map[schema.Kind]byte{schema.KindFile: '-', schema.KindDirectory: 'd', schema.KindIdentity: 'i', schema.KindNode: 'n'}[en.Kind]
	if kind == 0 {
		kind = '?'
	}
	mode := fs.FileMode(en.Mode).Perm()
	if en.Mode == 0 {
		mode = 0o644
		if en.Kind == schema.KindDirectory {
			mode = 0o755
		}
	}
	return string(kind) + mode.String()[1:]
}

// humanSize is a size in bytes for people, as ls -h prints it: 512,
// 1.5K, 20M (powers of 1024, one decimal below 10).
func humanSize(n uint64) string {
	if n < 1024 {
		return strconv.FormatUint(n, 10)
	}
	v := float64(n)
	unit := 0
	for v >= 1024 && unit < 6 {
		v /= 1024
		unit++
	}
	suffix := string("KMGTPE"[unit-1])
	if v < 10 {
		return strconv.FormatFloat(math.Ceil(v*10)/10, 'f', 1, 64) + suffix
	}
	return strconv.FormatFloat(math.Ceil(v), 'f', 0, 64) + suffix
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
