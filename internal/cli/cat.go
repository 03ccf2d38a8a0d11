package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/home"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

func cmdCat() *command {
	return &command{
		usage: "ac-cat PATH",
		help: `Ac-cat writes the bytes of the file at PATH to stdout. With --api the
blocks that are not local are fetched through the daemon as they are read.

example:
  ac-cat root/projects/pictures/a.jpg > a.jpg`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			return func(ctx context.Context, args []string) error { return runCat(ctx, e, args) }
		},
	}
}

func runCat(ctx context.Context, e *Env, args []string) error {
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
	if p, err = h.ResolvePath(ctx, head, p); err != nil {
		return err
	}
	en, err := h.Tree(cid.Undef).Lookup(ctx, head, p)
	if err != nil {
		return h.NotReceived(ctx, "cat", p, err)
	}
	switch en.Kind {
	case schema.KindFile:
	case schema.KindDirectory:
		return acerr.E("cat", p, acerr.IsDir, nil)
	default:
		return acerr.E("cat", p, acerr.Invalid, fmt.Errorf("is %s, not a file", en.Kind.Noun()))
	}
	fail := func(err error) error {
		if _, ok := errors.AsType[*ipfsstore.NotReceived](err); ok {
			return h.NotReceived(ctx, "cat", p, err)
		}
		e := acerr.E("cat", p, acerr.Other, err)
		if acerr.Is(acerr.NotExist, err) && strings.HasPrefix(p, home.Nodes+"/") {
			e = e.WithHint(home.MissingBlocksHint) // a friend's content not taken in yet
		}
		return e
	}
	f, err := h.Tree(cid.Undef).Open(ctx, en)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	if _, err := io.Copy(e.Stdout, f); err != nil {
		return fail(err)
	}
	return nil
}
