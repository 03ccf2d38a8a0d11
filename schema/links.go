package schema

import "github.com/ipfs/go-cid"

// LinkRole says what a link of a node is for.
type LinkRole uint8

const (
	// LinkStructure is the directory structure under a node: a node's
	// root, a directory's shard and the directories its entries link (of
	// every version, tombstones included), a shard's children and the
	// directories its entries link.
	LinkStructure LinkRole = iota
	// LinkContent is what an entry links that is not a directory: a
	// file's UnixFS root, an identity, a published node.
	LinkContent
	// LinkIdentity is who made or owns something: a node's or an owned
	// directory's owner, an entry's by and owner.
	LinkIdentity
	// LinkHistory is an earlier version: a node's or an owned directory's
	// prev.
	LinkHistory
)

// A Link is one link of a node: the block, what it must be (a node kind,
// or KindFile for the root of a UnixFS file) and what it is for.
type Link struct {
	CID  cid.Cid
	Kind Kind
	Role LinkRole
}

// Links returns the links of n, each defined one, in the order an export
// writes what they lead to: the structure and contents under n first, in
// the order of its fields and entries (every version of each), then the
// identities and earlier versions, which a reader can do without.
func Links(n Object) []Link {
	var out, later []Link
	add := func(c cid.Cid, kind Kind, role LinkRole) {
		if !c.Defined() {
			return
		}
		if role == LinkIdentity || role == LinkHistory {
			later = append(later, Link{c, kind, role})
		} else {
			out = append(out, Link{c, kind, role})
		}
	}
	entries := func(es []Entry) {
		entry := func(e *Entry) {
			role := LinkContent
			if e.Kind == KindDirectory {
				role = LinkStructure
			}
			add(e.Target, e.Kind, role)
			add(e.By, KindIdentity, LinkIdentity)
			add(e.Owner, KindIdentity, LinkIdentity)
		}
		for i := range es {
			entry(&es[i])
			for j := range es[i].Conflicts {
				entry(&es[i].Conflicts[j])
			}
		}
	}
	switch n := n.(type) {
	case *Node:
		add(n.Owner, KindIdentity, LinkIdentity)
		add(n.Root, KindDirectory, LinkStructure)
		add(n.Prev, KindNode, LinkHistory)
	case *Directory:
		add(n.Owner, KindIdentity, LinkIdentity)
		add(n.Shard, KindShard, LinkStructure)
		entries(n.Entries)
		add(n.Prev, KindDirectory, LinkHistory)
	case *Shard:
		for _, ch := range n.Children {
			add(ch.Link, KindShard, LinkStructure)
		}
		entries(n.Entries)
	}
	return append(out, later...)
}
