package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/ipfsstore/car"
	"github.com/archivecache/archivecache/ipfsstore/unixfs"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
	"golang.org/x/term"
)

func cmdExport() *command {
	return &command{
		usage: "ac-export [--since CID] PATH > FILE.car",
		help: `Ac-export writes the entry at PATH (usually "node", my published node)
to stdout as a CAR v1 file whose one root is the entry's CID, holding
every block reachable from it, each once: for a node, the node block,
its owner's identity, its earlier versions and its whole filesystem —
every directory and shard block, every file's UnixFS blocks, the
targets of conflicting versions and of tombstones. Identity blocks
(owner, by) and earlier versions (prev) that the store does not hold
are left out; any other missing block is an error naming its CID, and
the output is then incomplete.

--since CID leaves out every block reachable from CID: usually the
node or root sent last time (what ac-import printed on the other side),
so that an update carries only what changed since. The receiver must
already hold what CID reaches. A block under CID that this store lacks
is left out itself, but what lies below it cannot be found, and is not.

ac-import and "ipfs dag import" read the output. When stderr is a
terminal, the root, the number of blocks and of bytes are shown there.

example:
  ac-export node > alice.car
  ac-export --since bafyreib... node > alice-update.car`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			since := fs.String("since", "", "leave out every block reachable from `CID` (what the receiver holds)")
			return func(ctx context.Context, args []string) error {
				if err := nargs(args, 1, 1); err != nil {
					return err
				}
				p, err := treePath(args[0])
				if err != nil {
					return err
				}
				var old cid.Cid
				if *since != "" {
					if old, err = cid.Decode(*since); err != nil {
						return usagef("--since %q is not a CID: %v", *since, err)
					}
				}
				if f, ok := e.Stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
					return usagef("refusing to write a CAR to a terminal: redirect it (> FILE.car)")
				}
				h, head, err := openHead(ctx, e)
				if err != nil {
					return err
				}
				defer h.Close()
				ent, err := h.Tree(cid.Undef).Lookup(ctx, head, p)
				if err != nil {
					return err
				}
				x := &dagExport{ctx: ctx, store: h.Store, path: p}
				if old.Defined() {
					if err := x.exclude(old); err != nil {
						return err
					}
				}
				root := dagLink{c: ent.Target, kind: ent.Kind}
				if err := x.write(e.Stdout, root); err != nil {
					return err
				}
				if e.interactive() {
					fmt.Fprintf(e.Stderr, "%s: %d blocks, %d bytes\n", ent.Target, x.blocks, x.bytes)
				}
				return nil
			}
		},
	}
}

// dagLink is one link to follow: the CID, what the block must be (a node
// kind; schema.KindFile for a block of a UnixFS file; "" for anything),
// whether it may be absent, and the block that links it.
type dagLink struct {
	c        cid.Cid
	kind     schema.Kind
	optional bool
	from     cid.Cid
}

// dagExport walks the DAG under a root and writes it as a CAR, leaving
// out the blocks reachable from an older root.
type dagExport struct {
	ctx   context.Context
	store ipfsstore.Store
	path  string // for errors

	skip map[string]struct{} // blocks reachable from --since, by CID key
	seen map[string]struct{} // blocks written

	blocks int
	bytes  int64
}

func (x *dagExport) fail(err error) error { return acerr.E("export", x.path, acerr.Other, err) }

// exclude adds every CID reachable from old to x.skip. Every link is
// followed when its block is held, and a block that is not held is
// excluded all the same, without what lies under it; raw leaves, which
// link nothing, are never read.
func (x *dagExport) exclude(old cid.Cid) error {
	x.skip = make(map[string]struct{})
	stack := []dagLink{{c: old}}
	for len(stack) > 0 {
		l := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		key := l.c.KeyString()
		if _, ok := x.skip[key]; ok {
			continue
		}
		x.skip[key] = struct{}{}
		if l.c.Type() == cid.Raw {
			continue
		}
		if err := x.ctx.Err(); err != nil {
			return x.fail(err)
		}
		held, err := x.store.Has(x.ctx, l.c)
		if err != nil {
			return x.fail(err)
		}
		if !held {
			continue
		}
		data, err := x.store.Get(x.ctx, l.c)
		if err != nil {
			return x.fail(err)
		}
		links, err := blockLinks(l, data)
		if err != nil {
			return x.fail(err)
		}
		for i := len(links) - 1; i >= 0; i-- {
			if _, ok := x.skip[links[i].c.KeyString()]; !ok {
				stack = append(stack, links[i])
			}
		}
	}
	return nil
}

// write writes the CAR rooted at root to w: the blocks in depth-first
// order, each once, none that x.skip holds.
func (x *dagExport) write(w io.Writer, root dagLink) error {
	cw, err := car.NewWriter(w, []cid.Cid{root.c})
	if err != nil {
		return x.fail(err)
	}
	x.seen = make(map[string]struct{})
	absent := make(map[string]struct{}) // optional blocks found missing
	stack := []dagLink{root}
	for len(stack) > 0 {
		l := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		key := l.c.KeyString()
		if _, ok := x.seen[key]; ok {
			continue
		}
		if _, ok := x.skip[key]; ok {
			continue
		}
		if err := x.ctx.Err(); err != nil {
			return x.fail(err)
		}
		if _, ok := absent[key]; ok && l.optional {
			continue
		}
		if l.optional {
			held, err := x.store.Has(x.ctx, l.c)
			if err != nil {
				return x.fail(err)
			}
			if !held {
				// Not seen: a link that requires it still fails.
				absent[key] = struct{}{}
				continue
			}
		}
		x.seen[key] = struct{}{}
		data, err := x.store.Get(x.ctx, l.c)
		if err != nil {
			if l.from.Defined() {
				err = fmt.Errorf("block linked from %s: %w", l.from, err)
			}
			return x.fail(err)
		}
		links, err := blockLinks(l, data)
		if err != nil {
			return x.fail(err)
		}
		if err := cw.Put(l.c, data); err != nil {
			return x.fail(err)
		}
		x.blocks++
		for i := len(links) - 1; i >= 0; i-- {
			if _, ok := x.seen[links[i].c.KeyString()]; !ok {
				stack = append(stack, links[i])
			}
		}
	}
	if err := cw.Flush(); err != nil {
		return x.fail(err)
	}
	x.bytes = cw.Size()
	return nil
}

// blockLinks decodes data, the block l leads to, checks that it is what
// l says, and returns its links in order.
func blockLinks(l dagLink, data []byte) ([]dagLink, error) {
	linkedAs := func() string {
		if l.from.Defined() {
			return fmt.Sprintf(" (linked from %s as %s)", l.from, l.kind)
		}
		return ""
	}
	switch l.c.Type() {
	case cid.DagCBOR:
		if l.kind == schema.KindFile {
			return nil, acerr.E("", "", acerr.Invalid, fmt.Errorf("block %s%s is dag-cbor, not part of a UnixFS file", l.c, linkedAs()))
		}
		n, err := schema.Decode(data)
		if err != nil {
			return nil, fmt.Errorf("block %s%s: %w", l.c, linkedAs(), err)
		}
		if l.kind != "" && n.Kind() != l.kind {
			return nil, acerr.E("", "", acerr.Invalid, fmt.Errorf("block %s%s is %s", l.c, linkedAs(), n.Kind()))
		}
		return nodeLinks(n, l.c), nil
	case cid.Raw, cid.DagProtobuf:
		if l.kind != "" && l.kind != schema.KindFile {
			return nil, acerr.E("", "", acerr.Invalid, fmt.Errorf("block %s%s is part of a UnixFS file", l.c, linkedAs()))
		}
		cs, err := unixfs.Links(l.c, data)
		if err != nil {
			return nil, err
		}
		out := make([]dagLink, len(cs))
		for i, c := range cs {
			out[i] = dagLink{c: c, kind: schema.KindFile, from: l.c}
		}
		return out, nil
	}
	return nil, acerr.E("", "", acerr.Invalid, fmt.Errorf("block %s%s has codec 0x%x, not one of ArchiveCache's", l.c, linkedAs(), l.c.Type()))
}

// nodeLinks returns the links of node n, whose CID is from, in the order
// an export writes them: the structure under it first, then identities,
// then earlier versions. Links to identities (owner, by) and to earlier
// versions (prev) are optional.
func nodeLinks(n schema.Node, from cid.Cid) []dagLink {
	var out, later []dagLink
	add := func(c cid.Cid, kind schema.Kind) {
		if c.Defined() {
			out = append(out, dagLink{c: c, kind: kind, from: from})
		}
	}
	addOptional := func(c cid.Cid, kind schema.Kind) {
		if c.Defined() {
			later = append(later, dagLink{c: c, kind: kind, optional: true, from: from})
		}
	}
	entry := func(e *schema.Entry) {
		add(e.Target, e.Kind)
		addOptional(e.By, schema.KindIdentity)
		addOptional(e.Owner, schema.KindIdentity)
	}
	entries := func(es []schema.Entry) {
		for i := range es {
			entry(&es[i])
			for j := range es[i].Conflicts {
				entry(&es[i].Conflicts[j])
			}
		}
	}
	switch n := n.(type) {
	case *schema.NodeRef:
		addOptional(n.Owner, schema.KindIdentity)
		add(n.Root, schema.KindDirectory)
		addOptional(n.Prev, schema.KindNode)
	case *schema.Directory:
		addOptional(n.Owner, schema.KindIdentity)
		add(n.Shard, schema.KindShard)
		entries(n.Entries)
		addOptional(n.Prev, schema.KindDirectory)
	case *schema.Shard:
		for _, ch := range n.Children {
			add(ch.Link, schema.KindShard)
		}
		entries(n.Entries)
	}
	return append(out, later...)
}
