package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/home"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/ipfsstore/car"
	"github.com/archivecache/archivecache/policy"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
)

func cmdVerify() *command {
	return &command{
		usage: "ac-verify [--content] [--repair SOURCE] PATH",
		help: `Ac-verify checks the node at PATH and prints OK or FAIL with the reason
(exit 0 or 1). An identity must verify its own signature; a node or an
owned directory must be signed by its owner, who must be me or a friend;
a directory is checked all the way down, as a merge checks a friend's
tree, every block read hash-checked against its CID. With --content the
bytes of every file are read and checked too.

With --repair, each block found damaged or missing is read again from
SOURCE, a CAR file (as ac-export writes, from this home earlier or from
a friend) or a kubo daemon's RPC address, and the check goes on;
"repaired CID" is printed for each. What SOURCE lacks stays a FAIL.

example:
  ac-verify identities/alice
  ac-verify node
  ac-verify --content root
  ac-verify --content --repair backup.car root`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			content := fs.Bool("content", false, "also read and hash-check every file's blocks")
			repair := fs.String("repair", "", "read damaged or missing blocks again from `source`: a CAR file or a kubo RPC address")
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
				var from ipfsstore.Store
				if *repair != "" {
					if from, err = repairSource(ctx, *repair); err != nil {
						return err
					}
					defer from.Close()
				}
				err = verify(ctx, h, p, *content)
				for tried := map[cid.Cid]bool{}; err != nil && from != nil; err = verify(ctx, h, p, *content) {
					c := damagedBlock(err)
					if !c.Defined() || tried[c] {
						break
					}
					tried[c] = true
					if rerr := ipfsstore.Repair(ctx, h.Store, c, from); rerr != nil {
						err = acerr.E("verify", p, acerr.KindOf(err), fmt.Errorf("%w; not repaired: %v", err, rerr))
						break
					}
					fmt.Fprintf(e.Stdout, "repaired %s\n", c)
				}
				if err == nil && from != nil {
					if s, ok := h.Store.(ipfsstore.Syncer); ok {
						err = s.Sync(ctx)
					}
				}
				if err != nil {
					fmt.Fprintf(e.Stdout, "FAIL %s: %s\n", name, oneLine(err.Error()))
					return silentFailure{}
				}
				fmt.Fprintf(e.Stdout, "OK %s\n", name)
				return nil
			}
		},
	}
}

// repairSource opens what --repair names: a CAR file, or else a kubo
// daemon's RPC address.
func repairSource(ctx context.Context, src string) (ipfsstore.Store, error) {
	if st, err := os.Stat(src); err == nil && st.Mode().IsRegular() {
		return car.Open(src)
	}
	if !strings.HasPrefix(src, "/") && !strings.Contains(src, "://") {
		return nil, usagef("--repair %s: not a CAR file, nor a kubo RPC address such as /ip4/127.0.0.1/tcp/5001", src)
	}
	return ipfsstore.Open(ctx, ipfsstore.Config{API: src})
}

// damagedBlock returns the block that err, a failed check, names as
// damaged or missing: the innermost one named. Undefined if none.
func damagedBlock(err error) cid.Cid {
	if k := acerr.KindOf(err); k != acerr.Integrity && k != acerr.NotExist {
		return cid.Undef
	}
	found := cid.Undef
	for err != nil {
		if e, ok := err.(*acerr.Error); ok && e.CID != "" {
			if c, derr := cid.Decode(e.CID); derr == nil {
				found = c
			}
		}
		err = errors.Unwrap(err)
	}
	return found
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
