package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/home"
	"github.com/archivecache/archivecache/policy"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
)

func cmdVerify() *command {
	return &command{
		usage: "ac-verify [--content] PATH",
		help: `Ac-verify checks the node at PATH and prints OK or FAIL with the reason
(exit 0 or 1). An identity must verify its own signature; a node or an
owned directory must be signed by its owner, who must be me or a friend;
a directory is checked all the way down, every block read is hash-checked
against its CID. With --content the bytes of every file are read and
checked too.

example:
  ac-verify identities/alice
  ac-verify node
  ac-verify --content root`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			content := fs.Bool("content", false, "also read and hash-check every file's blocks")
			return func(ctx context.Context, args []string) error {
				if err := nargs(args, 1, 1); err != nil {
					return err
				}
				p, err := treePath(args[0])
				if err != nil {
					return err
				}
				h, err := home.Open(ctx, home.Options{Dir: e.HomeDir, API: e.API, Rehash: true})
				if err != nil {
					return err
				}
				defer h.Close()
				name := p
				if name == "" {
					name = "/" // the whole tree database
				}
				if err := verify(ctx, h, p, *content); err != nil {
					fmt.Fprintf(e.Stdout, "FAIL %s: %s\n", name, oneLine(err.Error()))
					return silentFailure{}
				}
				fmt.Fprintf(e.Stdout, "OK %s\n", name)
				return nil
			}
		},
	}
}

// silentFailure makes a command exit 1 without printing an error: the
// command has already said why on stdout.
type silentFailure struct{}

func (silentFailure) Error() string { return "" }

// verify checks the entry at p, and all below it, as a merge checks what
// it takes in (tree.Check under policy.Rules), once per distinct block;
// with content, every distinct file's bytes are read too. The tree
// database itself ("") is checked part by part: root/ as a filesystem,
// identities/, friends/, nodes/ and node as what they hold.
func verify(ctx context.Context, h *home.Home, p string, content bool) error {
	head, err := h.Get()
	if err != nil {
		return err
	}
	t := h.Tree(cid.Undef)
	ent, err := t.Lookup(ctx, head, p)
	if err != nil {
		return err
	}
	trust := h.Trust(head)
	check := func(p string, e schema.Entry) error {
		// root/ and what a node publishes (nodes/ID/root/...) are filesystems.
		comps := strings.Split(p, "/")
		filesystem := comps[0] == home.Root || comps[0] == home.Nodes && len(comps) > 2
		var chk tree.Checker = policy.NewRules(policy.RulesConfig{Resolver: trust, Store: h.Store, Filesystem: filesystem})
		if content {
			chk = &contentRules{Checker: chk, t: t, read: map[cid.Cid]bool{}}
		}
		if e.Kind == schema.KindDirectory {
			return t.NewCheck(chk).Dir(ctx, cid.Undef, e.Target)
		}
		return chk.CheckEntry(ctx, &e, nil)
	}
	if p != "" {
		return check(p, ent)
	}
	// The tree database: its top block, then each part.
	top, err := t.ReadDir(ctx, head)
	if err != nil {
		return err
	}
	for _, e := range top {
		if e.Deleted {
			continue
		}
		if err := check(e.Name, e); err != nil {
			return acerr.E("verify", e.Name, acerr.KindOf(err), err)
		}
	}
	return nil
}

// contentRules are Rules that also read every distinct file whole: each
// block hash-checked, the size the one its entry states.
type contentRules struct {
	tree.Checker
	t    *tree.Tree
	read map[cid.Cid]bool
}

func (c *contentRules) CheckEntry(ctx context.Context, v *schema.Entry, target *tree.Linked) error {
	if err := c.Checker.CheckEntry(ctx, v, target); err != nil {
		return err
	}
	if v.Kind != schema.KindFile || v.Deleted || c.read[v.Target] {
		return nil
	}
	f, err := c.t.Open(ctx, *v)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.Copy(io.Discard, f); err != nil {
		return err
	}
	c.read[v.Target] = true
	return nil
}
