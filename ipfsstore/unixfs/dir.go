package unixfs

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

// Limits of what ReadDir takes in.
const (
	// MaxDirEntries is the most entries ReadDir lists of one directory,
	// sharded or not.
	MaxDirEntries = 1 << 20
	// MaxFanout is the widest HAMT shard ReadDir reads: kubo makes 256.
	MaxFanout = 1024
)

// murmur3x64 is the multicodec of the one hash function kubo's HAMT
// directories use.
const murmur3x64 = 0x22

// Kind is what a UnixFS DAG is, as its root block says.
type Kind int

// The kinds of UnixFS DAG.
const (
	KindFile Kind = iota + 1
	KindDirectory
	KindSymlink
)

// Node is what the root block of a UnixFS DAG says of it (Stat).
type Node struct {
	Kind    Kind
	Size    uint64 // a file's length in bytes
	Mode    uint32 // permission bits stored with it (UnixFS 1.5), if HasMode
	HasMode bool
	Mtime   int64  // modification time stored with it (UnixFS 1.5), in ns since 1970; 0 if none
	Target  string // a symlink's target
	sharded bool   // a HAMT-sharded directory
	fanout  uint64
	links   []link
	data    []byte // a shard's bitfield
}

// DirEntry is one entry of a directory: its name, the CID of its root,
// and the size of the DAG under it as the directory states it (Tsize:
// for a raw block, its length).
type DirEntry struct {
	Name  string
	CID   cid.Cid
	Tsize uint64
}

// Stat decodes b, the root block of the UnixFS DAG c: a file (raw or
// dag-pb), a directory (plain or HAMT-sharded) or a symlink. Other
// codecs and UnixFS types are refused (kind Invalid), as are blocks that
// Open or ReadDir would refuse.
func Stat(c cid.Cid, b []byte) (Node, error) {
	const op = "unixfs.Stat"
	fail := func(kind acerr.Kind, format string, args ...any) (Node, error) {
		return Node{}, acerr.E(op, "", kind, fmt.Errorf(format, args...)).WithCID(c.String())
	}
	if len(b) > schema.MaxForeignBlockSize {
		return fail(acerr.TooLarge, "block is %d bytes, limit %d", len(b), schema.MaxForeignBlockSize)
	}
	switch c.Type() {
	case cid.Raw:
		return Node{Kind: KindFile, Size: uint64(len(b))}, nil
	case cid.DagProtobuf:
	default:
		return fail(acerr.Invalid, "codec %s is not UnixFS (raw or dag-pb)", codecName(c.Type()))
	}
	pn, err := decodePBNode(b)
	if err != nil {
		return fail(acerr.Invalid, "dag-pb: %v", err)
	}
	if pn.data == nil {
		return fail(acerr.Invalid, "dag-pb node has no UnixFS data")
	}
	fd, err := decodeFSData(pn.data, len(pn.links))
	if err != nil {
		return fail(acerr.Invalid, "UnixFS data: %v", err)
	}
	nd := Node{Mode: uint32(fd.mode & 0o7777), HasMode: fd.hasMode}
	if fd.hasMtime {
		nd.Mtime = fd.mtime
	}
	switch fd.typ {
	case typeFile, typeRaw:
		f, err := decodeNode(op, c, b)
		if err != nil {
			return Node{}, err
		}
		nd.Kind, nd.Size = KindFile, f.size
	case typeSymlink:
		if len(pn.links) > 0 {
			return fail(acerr.Invalid, "a symlink with %d links", len(pn.links))
		}
		nd.Kind, nd.Target = KindSymlink, string(fd.data)
	case typeDirectory:
		nd.Kind, nd.links = KindDirectory, pn.links
	case typeHAMTShard:
		if err := checkShard(fd, len(pn.links)); err != nil {
			return fail(acerr.Invalid, "HAMT shard: %v", err)
		}
		nd.Kind, nd.links, nd.sharded, nd.fanout, nd.data = KindDirectory, pn.links, true, fd.fanout, fd.data
	case typeMetadata:
		return fail(acerr.Invalid, "a UnixFS metadata node, which nothing reads")
	default:
		return fail(acerr.Invalid, "unknown UnixFS type %d", fd.typ)
	}
	return nd, nil
}

func codecName(c uint64) string {
	switch c {
	case cid.DagCBOR:
		return "dag-cbor"
	case 0x51:
		return "cbor"
	case cid.DagJSON:
		return "dag-json"
	case cid.Libp2pKey:
		return "libp2p-key"
	}
	return fmt.Sprintf("0x%x", c)
}

// checkShard checks what a HAMT shard's data says: the hash function
// kubo uses, a fanout that is a power of two within MaxFanout, and a
// bitfield with one bit set per link.
func checkShard(fd fsData, nlinks int) error {
	switch {
	case fd.hashType != murmur3x64:
		return fmt.Errorf("hash function 0x%x, only murmur3-x64-64 (0x22) is read", fd.hashType)
	case fd.fanout < 2 || fd.fanout > MaxFanout || fd.fanout&(fd.fanout-1) != 0:
		return fmt.Errorf("fanout %d: a power of two from 2 to %d is read", fd.fanout, MaxFanout)
	case uint64(len(fd.data)) > (fd.fanout+7)/8:
		return fmt.Errorf("bitfield of %d bytes for a fanout of %d", len(fd.data), fd.fanout)
	}
	set := 0
	for _, x := range fd.data {
		set += bits.OnesCount8(x)
	}
	if set != nlinks {
		return fmt.Errorf("bitfield has %d bits set for %d links", set, nlinks)
	}
	return nil
}

// ReadDir returns the entries of the directory whose root block Stat
// decoded as nd, in name order. A plain directory is its block; a
// HAMT-sharded one is read through its shards, fetched with get, each
// checked as Stat checks a root (and its links' places against its
// bitfield). Names must be distinct and not empty; more than
// MaxDirEntries entries, a shard linked twice (or in a cycle), or shards
// nested deeper than their hash allows, are refused.
func ReadDir(ctx context.Context, get GetFunc, c cid.Cid, nd Node) ([]DirEntry, error) {
	const op = "unixfs.ReadDir"
	if nd.Kind != KindDirectory {
		return nil, acerr.E(op, "", acerr.NotDir, nil).WithCID(c.String())
	}
	var out []DirEntry
	if !nd.sharded {
		for _, l := range nd.links {
			out = append(out, DirEntry{Name: l.name, CID: l.cid, Tsize: l.tsize})
		}
	} else {
		get = WithInline(get)
		maxLevel := 64 / bits.TrailingZeros64(nd.fanout) // levels a 64-bit hash can tell apart
		// A shard's entries sit in it by the hash of their names, so no
		// shard can be in two places: one linked twice (or in a cycle)
		// would list its entries over and over.
		seen := map[cid.Cid]bool{c: true}
		var walk func(c cid.Cid, nd Node, level int) error
		walk = func(c cid.Cid, nd Node, level int) error {
			if level >= maxLevel {
				return acerr.E(op, "", acerr.Invalid, fmt.Errorf("HAMT shards nested more than %d deep", maxLevel)).WithCID(c.String())
			}
			width := len(strconv.FormatUint(nd.fanout-1, 16))
			last := -1
			for _, l := range nd.links {
				idx, err := strconv.ParseUint(l.name[:min(width, len(l.name))], 16, 64)
				if err != nil || len(l.name) < width || strings.ToUpper(l.name[:width]) != l.name[:width] || idx >= nd.fanout {
					return acerr.E(op, "", acerr.Invalid, fmt.Errorf("HAMT link %q does not start with a slot of %d hex digits", l.name, width)).WithCID(c.String())
				}
				if int(idx) <= last || !bitSet(nd.data, idx) {
					return acerr.E(op, "", acerr.Invalid, fmt.Errorf("HAMT link %q is out of order or not in the bitfield", l.name)).WithCID(c.String())
				}
				last = int(idx)
				if len(l.name) > width {
					out = append(out, DirEntry{Name: l.name[width:], CID: l.cid, Tsize: l.tsize})
					if len(out) > MaxDirEntries {
						return acerr.E(op, "", acerr.TooLarge, fmt.Errorf("more than %d entries", MaxDirEntries)).WithCID(c.String())
					}
					continue
				}
				if seen[l.cid] {
					return acerr.E(op, "", acerr.Invalid, errors.New("a HAMT shard linked twice")).WithCID(l.cid.String())
				}
				seen[l.cid] = true
				if err := ctx.Err(); err != nil {
					return err
				}
				b, err := get(ctx, l.cid)
				if err != nil {
					return getError(op, l.cid, err)
				}
				sub, err := Stat(l.cid, b)
				if err != nil {
					return err
				}
				if !sub.sharded || sub.fanout != nd.fanout {
					return acerr.E(op, "", acerr.Invalid, errors.New("a HAMT link to something other than a shard of the same fanout")).WithCID(l.cid.String())
				}
				if err := walk(l.cid, sub, level+1); err != nil {
					return err
				}
			}
			return nil
		}
		if err := walk(c, nd, 0); err != nil {
			return nil, err
		}
	}
	if len(out) > MaxDirEntries {
		return nil, acerr.E(op, "", acerr.TooLarge, fmt.Errorf("more than %d entries", MaxDirEntries)).WithCID(c.String())
	}
	slices.SortFunc(out, func(a, b DirEntry) int { return strings.Compare(a.Name, b.Name) })
	for i, e := range out {
		if e.Name == "" {
			return nil, acerr.E(op, "", acerr.Invalid, errors.New("an entry with no name")).WithCID(c.String())
		}
		if i > 0 && out[i-1].Name == e.Name {
			return nil, acerr.E(op, "", acerr.Invalid, fmt.Errorf("two entries named %q", e.Name)).WithCID(c.String())
		}
	}
	return out, nil
}

// bitSet reports whether bit i of a HAMT bitfield is set: the field is
// big-endian, bit 0 the lowest bit of its last byte.
func bitSet(field []byte, i uint64) bool {
	byteAt := len(field) - 1 - int(i/8)
	return byteAt >= 0 && field[byteAt]&(1<<(i%8)) != 0
}
