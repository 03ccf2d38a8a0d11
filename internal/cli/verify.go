package cli

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/home"
	"github.com/archivecache/archivecache/policy"
	"github.com/archivecache/archivecache/schema"
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

func verify(ctx context.Context, h *home.Home, p string, content bool) error {
	head, err := h.Get()
	if err != nil {
		return err
	}
	t := h.Tree(cid.Undef)
	trust := h.Trust(head)
	ent, err := t.Lookup(ctx, head, p)
	if err != nil {
		return err
	}
	check := func(e schema.Entry) error {
		switch e.Kind {
		case schema.KindFile:
			if !content {
				return nil
			}
			f, err := h.Store.OpenFile(ctx, e.Target)
			if err != nil {
				return err
			}
			defer f.Close()
			n, err := io.Copy(io.Discard, f)
			if err != nil {
				return err
			}
			if uint64(n) != e.Size {
				return acerr.E("verify", e.Name, acerr.Integrity, fmt.Errorf("file has %d bytes, entry says %d", n, e.Size)).WithCID(e.Target.String())
			}
			return nil
		default:
			n, err := h.LoadNode(ctx, e.Target)
			if err != nil {
				return err
			}
			if n.Kind() != e.Kind {
				return acerr.E("verify", e.Name, acerr.Integrity, fmt.Errorf("entry says %s, node is %s", e.Kind, n.Kind())).WithCID(e.Target.String())
			}
			return policy.Check(ctx, trust, e.Target, n)
		}
	}
	if err := check(ent); err != nil {
		return err
	}
	if ent.Kind != schema.KindDirectory {
		return nil
	}
	return t.Walk(ctx, head, p, func(path string, e schema.Entry) error {
		if err := check(e); err != nil {
			return acerr.E("verify", path, acerr.Other, err)
		}
		return nil
	})
}
