package schema

import (
	"strconv"
	"strings"

	"github.com/ipfs/go-cid"
)

// LinkRole says what a link of a node is for.
type LinkRole uint8

const (
	// LinkStructure is the directory structure under a node: a node's
	// root, a directory's or tree node's children and the directories
	// their entries link (of every version, tombstones included).
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
// or KindFile for the root of a UnixFS file), what it is for, and its
// place in the node.
type Link struct {
	CID  cid.Cid
	Kind Kind
	Role LinkRole
	// Place names where in the node the link is, the same in every
	// version of the node that has that place: a field ("root", "prev",
	// "owner"), a tree node's child by its first name ("child a.txt"), or an
	// entry's name with the index of the version among its versions and
	// the field ("target 0 notes.txt"). Two versions of one directory
	// pair their links by it, so a walk of what changed follows only the
	// places whose links differ.
	Place string
	// Size is, for an entry's target, the size the entry states (a
	// file's bytes); else 0.
	Size uint64
}

// Links returns the links of n, each defined one, in the order an export
// writes what they lead to: the structure and contents under n first, in
// the order of its fields and entries (every version of each), then the
// identities and earlier versions, which a reader can do without.
func Links(n Object) []Link {
	var out, later []Link
	add := func(c cid.Cid, kind Kind, role LinkRole, place string, size uint64) {
		if !c.Defined() {
			return
		}
		if role == LinkIdentity || role == LinkHistory {
			later = append(later, Link{c, kind, role, place, size})
		} else {
			out = append(out, Link{c, kind, role, place, size})
		}
	}
	entries := func(es []Entry) {
		entry := func(e *Entry, v int) {
			role := LinkContent
			if e.Kind == KindDirectory {
				role = LinkStructure
			}
			at := strconv.Itoa(v) + " " + e.Name
			add(e.Target, e.Kind, role, "target "+at, e.Size)
			add(e.By, KindIdentity, LinkIdentity, "by "+at, 0)
			add(e.Owner, KindIdentity, LinkIdentity, "owner "+at, 0)
		}
		for i := range es {
			entry(&es[i], 0)
			for j := range es[i].Conflicts {
				entry(&es[i].Conflicts[j], j+1)
			}
		}
	}
	children := func(cs []DirChild) {
		for _, ch := range cs {
			add(ch.Link, KindDirNode, LinkStructure, "child "+ch.Name, 0)
		}
	}
	switch n := n.(type) {
	case *Node:
		add(n.Owner, KindIdentity, LinkIdentity, "owner", 0)
		add(n.Root, KindDirectory, LinkStructure, "root", 0)
		add(n.Prev, KindNode, LinkHistory, "prev", 0)
	case *Directory:
		add(n.Owner, KindIdentity, LinkIdentity, "owner", 0)
		children(n.Children)
		entries(n.Entries)
		add(n.Prev, KindDirectory, LinkHistory, "prev", 0)
	case *DirNode:
		children(n.Children)
		entries(n.Entries)
	}
	return append(out, later...)
}

// PlaceName returns the entry name in an entry link's Place ("target 0
// notes.txt" names notes.txt); false for the place of any other link.
func PlaceName(place string) (string, bool) {
	field, rest, ok := strings.Cut(place, " ")
	if !ok || (field != "target" && field != "by" && field != "owner") {
		return "", false
	}
	_, name, ok := strings.Cut(rest, " ")
	return name, ok && name != ""
}
