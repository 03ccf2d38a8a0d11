package schema

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/archivecache/archivecache/acerr"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// Kind is the value of a node's "policy" field.
type Kind string

// The node kinds. file_v1 appears only as an Entry kind: a file is an entry
// whose target is a UnixFS root.
const (
	KindIdentity  Kind = "identity_v1"
	KindDirectory Kind = "directory_v2"
	KindFile      Kind = "file_v1"
	KindNode      Kind = "node_v1"
	KindDirNode   Kind = "dirnode_v2"
)

// ErrOldFormat is the error of a block in the data format of an earlier
// version of ArchiveCache. Format changes are not converted: such blocks
// are refused by name, never read wrongly.
var ErrOldFormat = errors.New("made by an older ArchiveCache data format, which this version does not read (see the README on format changes)")

// oldKinds are the kinds of an earlier data format, which this version
// refuses by name rather than as unknown.
var oldKinds = map[Kind]bool{"directory_v1": true, "shard_v1": true}

// OldFormat reports whether data is a node of an earlier data format
// (the error Decode gives it wraps ErrOldFormat). It costs a scan for
// the encoded policy field of each old kind, and a decode only where
// one occurs, so it can be asked of every block of a CAR.
func OldFormat(data []byte) bool {
	for k := range oldKinds {
		e := &encoder{}
		e.text("policy")
		e.text(string(k))
		if bytes.Contains(data, e.buf) {
			_, err := Decode(data)
			return errors.Is(err, ErrOldFormat)
		}
	}
	return false
}

// Noun names the kind for a user: "a file", "a directory".
func (k Kind) Noun() string {
	switch k {
	case KindIdentity:
		return "an identity"
	case KindDirectory:
		return "a directory"
	case KindFile:
		return "a file"
	case KindNode:
		return "a published node"
	case KindDirNode:
		return "a part of a directory"
	}
	return fmt.Sprintf("a node of kind %q", string(k))
}

// Block size limits, for every codec.
const (
	// MaxBlockSize is the largest block ArchiveCache makes, stores or
	// accepts: every node, every block of a file it imports, every block
	// in a CAR. Bitswap and kubo refuse larger ones by default.
	MaxBlockSize = 1 << 20
	// MaxForeignBlockSize is the largest block a reader of data made
	// elsewhere takes in before judging it: the largest block bitswap
	// moves, which a UnixFS file added by another tool may reach.
	MaxForeignBlockSize = 2 << 20
)

// Limits applied by Decode.
const (
	MaxNameLen    = 255     // bytes in an entry name
	MaxReplicas   = 4096    // keys in one version vector
	MaxReplicaLen = 64      // bytes in a replica id
	MaxConflicts  = 256     // concurrent versions kept beside one entry
	MaxMode       = 0o7777  // permission bits of a file
	MaxUint       = 1 << 62 // a seq, a size
	MaxLevel      = 32      // levels of one directory's tree above its leaves
	MaxAddrs      = 16      // addresses in a node_v1
	MaxAddrLen    = 256     // bytes in one address
	KeySize       = 32      // ed25519 public key
	SigSize       = 64      // ed25519 signature
)

// Object is a node of any kind, what one block decodes to: an *Identity,
// *Directory, *DirNode or *Node. (A Node is the node_v1 kind only.)
type Object interface {
	Kind() Kind
	encode(e *encoder, withSig bool)
}

// Signed is a node kind that carries a signature.
type Signed interface {
	Object
	Signature() []byte
}

// Identity is an identity_v1 node.
type Identity struct {
	Name    string
	Key     []byte // ed25519 public key
	Created int64  // unix seconds
	Sig     []byte
}

// Directory is a directory_v2 node. Owner.Defined() tells owned from shared.
// It holds the root of its tree of entries (see DirNode): a directory
// whose entries make one leaf holds them, a larger one the children of
// its tree's root, a node of Level 1 or more. At most one of Entries and
// Children is set.
type Directory struct {
	Owner    cid.Cid
	Seq      uint64
	Prev     cid.Cid
	Level    int        // of the root; 0 when it holds Entries
	Entries  []Entry    // sorted by Name, unique
	Children []DirChild // ascending Name, at least two
	Sig      []byte
}

// Entry is one name in a directory or shard.
type Entry struct {
	Name    string
	Kind    Kind
	Target  cid.Cid // undefined only when Deleted
	Size    uint64
	Mode    uint32
	Mtime   int64 // unix nanoseconds
	VV      VV
	Deleted bool
	By      cid.Cid

	// Owner is, for a directory whose target is owned (a version of it,
	// or the last, empty one its owner links from a tombstone), that
	// directory's owner. Only a version with the same Owner supersedes
	// such a version (see Supersedes).
	Owner cid.Cid

	// Conflicts are the other versions of this name (see Versions and
	// FromVersions), each with the same Name and no Conflicts of its own,
	// ascending by encoding. This entry is the version shown.
	Conflicts []Entry
}

// VV is a version vector: replica id → counter.
type VV map[string]uint64

// DirNode is a dirnode_v2 node of a directory's tree: a leaf (level 0)
// holds entries sorted by name, an inner node (level 1 or more) links
// the nodes of the level below in name order, each under its first name.
type DirNode struct {
	Level    int
	Entries  []Entry    // a leaf
	Children []DirChild // an inner node, ascending Name
}

// DirChild links one child of an inner DirNode.
type DirChild struct {
	Name string // the child's first name
	Link cid.Cid
}

// Node is a node_v1: a user's published, signed node.
type Node struct {
	Owner   cid.Cid
	Seq     uint64
	Prev    cid.Cid
	Root    cid.Cid
	Addrs   []string
	Created int64 // unix seconds
	Sig     []byte
}

func (*Identity) Kind() Kind  { return KindIdentity }
func (*Directory) Kind() Kind { return KindDirectory }
func (*DirNode) Kind() Kind   { return KindDirNode }
func (*Node) Kind() Kind      { return KindNode }

func (n *Identity) Signature() []byte  { return n.Sig }
func (n *Directory) Signature() []byte { return n.Sig }
func (n *Node) Signature() []byte      { return n.Sig }

// Owned reports whether d has an owner.
func (d *Directory) Owned() bool { return d.Owner.Defined() }

// Encode returns the canonical dag-cbor encoding of n.
func Encode(n Object) []byte {
	e := &encoder{}
	n.encode(e, true)
	return e.buf
}

// EncodeUnsigned returns the encoding of n without its "sig" field: the
// bytes a signature covers, after the domain prefix.
func EncodeUnsigned(n Signed) []byte {
	e := &encoder{}
	n.encode(e, false)
	return e.buf
}

// Sum returns the CID of an encoded node: CIDv1, dag-cbor, sha2-256.
func Sum(data []byte) cid.Cid {
	h, err := multihash.Sum(data, multihash.SHA2_256, -1)
	if err != nil {
		panic("schema: sha2-256 unavailable: " + err.Error()) // cannot happen: sha2-256 is built in
	}
	return cid.NewCidV1(cid.DagCBOR, h)
}

// Block encodes n and returns its CID and bytes.
func Block(n Object) (cid.Cid, []byte) {
	b := Encode(n)
	return Sum(b), b
}

func (n *Identity) encode(e *encoder, withSig bool) {
	m := mapWriter{e: e}
	m.add("policy", func(e *encoder) { e.text(string(KindIdentity)) })
	m.add("name", func(e *encoder) { e.text(n.Name) })
	m.add("key", func(e *encoder) { e.bytes(n.Key) })
	m.add("created", func(e *encoder) { e.int(n.Created) })
	if withSig && len(n.Sig) > 0 {
		m.add("sig", func(e *encoder) { e.bytes(n.Sig) })
	}
	m.finish()
}

func (n *Directory) encode(e *encoder, withSig bool) {
	m := mapWriter{e: e}
	m.add("policy", func(e *encoder) { e.text(string(KindDirectory)) })
	if n.Owner.Defined() {
		m.add("owner", func(e *encoder) { e.cid(n.Owner) })
	}
	if n.Seq != 0 {
		m.add("seq", func(e *encoder) { e.uint(n.Seq) })
	}
	if n.Prev.Defined() {
		m.add("prev", func(e *encoder) { e.cid(n.Prev) })
	}
	if len(n.Entries) > 0 {
		m.add("entries", func(e *encoder) { encodeEntries(e, n.Entries) })
	}
	if n.Level != 0 {
		m.add("level", func(e *encoder) { e.uint(uint64(n.Level)) })
	}
	encodeChildren(&m, n.Children)
	if withSig && len(n.Sig) > 0 {
		m.add("sig", func(e *encoder) { e.bytes(n.Sig) })
	}
	m.finish()
}

func encodeEntries(e *encoder, entries []Entry) {
	if e.rawEntries != nil {
		e.buf = append(e.buf, e.rawEntries...)
		return
	}
	e.head(majArray, uint64(len(entries)))
	for i := range entries {
		entries[i].encode(e)
	}
}

// encode writes the entry with its keys in dag-cbor's canonical order
// (by, vv, kind, mode, name, size, mtime, owner, target, deleted,
// conflicts) without the
// generic mapWriter: entries are the bulk of every directory block.
func (n *Entry) encode(e *encoder) {
	count := 4 // vv, kind, name, mtime
	for _, present := range [...]bool{n.By.Defined(), n.Mode != 0, n.Size != 0, n.Owner.Defined(), n.Target.Defined(), n.Deleted, len(n.Conflicts) > 0} {
		if present {
			count++
		}
	}
	e.head(majMap, uint64(count))
	if n.By.Defined() {
		e.text("by")
		e.cid(n.By)
	}
	e.text("vv")
	n.VV.encode(e)
	e.text("kind")
	e.text(string(n.Kind))
	if n.Mode != 0 {
		e.text("mode")
		e.uint(uint64(n.Mode))
	}
	e.text("name")
	e.text(n.Name)
	if n.Size != 0 {
		e.text("size")
		e.uint(n.Size)
	}
	e.text("mtime")
	e.int(n.Mtime)
	if n.Owner.Defined() {
		e.text("owner")
		e.cid(n.Owner)
	}
	if n.Target.Defined() {
		e.text("target")
		e.cid(n.Target)
	}
	if n.Deleted {
		e.text("deleted")
		e.bool(true)
	}
	if len(n.Conflicts) > 0 {
		e.text("conflicts")
		encodeEntries(e, n.Conflicts)
	}
}

func (vv VV) encode(e *encoder) {
	e.head(majMap, uint64(len(vv)))
	if len(vv) == 1 {
		for k, v := range vv {
			e.text(k)
			e.uint(v)
		}
		return
	}
	keys := make([]string, 0, len(vv))
	for k := range vv {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if keyLess(a, b) {
			return -1
		}
		if keyLess(b, a) {
			return 1
		}
		return 0
	})
	for _, k := range keys {
		e.text(k)
		e.uint(vv[k])
	}
}

// EncodeEntry returns the dag-cbor encoding of e on its own.
func EncodeEntry(e *Entry) []byte {
	enc := &encoder{buf: make([]byte, 0, 256)}
	e.encode(enc)
	return enc.buf
}

// EntrySize returns the number of bytes e adds to an encoded entry list.
func EntrySize(e *Entry) int {
	enc := scratch.Get().(*encoder)
	enc.buf = enc.buf[:0]
	e.encode(enc)
	n := len(enc.buf)
	scratch.Put(enc)
	return n
}

// scratch holds encoders for measuring, so that measuring allocates
// nothing.
var scratch = sync.Pool{New: func() any { return &encoder{buf: make([]byte, 0, 512)} }}

// BlockWithEntries returns the CID and bytes of n, a DirNode leaf or a
// Directory, whose entries are given encoded as well, each as
// EncodeEntry gives it: what Block gives, without encoding the entries
// again.
func BlockWithEntries(n Object, encoded [][]byte) (cid.Cid, []byte) {
	size := 9
	for _, b := range encoded {
		size += len(b)
	}
	raw := &encoder{buf: make([]byte, 0, size)}
	raw.head(majArray, uint64(len(encoded)))
	for _, b := range encoded {
		raw.buf = append(raw.buf, b...)
	}
	e := &encoder{buf: make([]byte, 0, size+64), rawEntries: raw.buf}
	n.encode(e, true)
	return Sum(e.buf), e.buf
}

func (n *DirNode) encode(e *encoder, _ bool) {
	m := mapWriter{e: e}
	m.add("level", func(e *encoder) { e.uint(uint64(n.Level)) })
	m.add("policy", func(e *encoder) { e.text(string(KindDirNode)) })
	if len(n.Entries) > 0 {
		m.add("entries", func(e *encoder) { encodeEntries(e, n.Entries) })
	}
	encodeChildren(&m, n.Children)
	m.finish()
}

func encodeChildren(m *mapWriter, children []DirChild) {
	if len(children) > 0 {
		m.add("children", func(e *encoder) {
			e.head(majArray, uint64(len(children)))
			for _, c := range children {
				c.encode(e)
			}
		})
	}
}

// encode writes the child as the pair [name, link].
func (c *DirChild) encode(e *encoder) {
	e.head(majArray, 2)
	e.text(c.Name)
	e.cid(c.Link)
}

// DirChildSize returns the number of bytes c adds to an encoded list of
// children.
func DirChildSize(c *DirChild) int {
	enc := scratch.Get().(*encoder)
	enc.buf = enc.buf[:0]
	c.encode(enc)
	n := len(enc.buf)
	scratch.Put(enc)
	return n
}

func (n *Node) encode(e *encoder, withSig bool) {
	m := mapWriter{e: e}
	m.add("policy", func(e *encoder) { e.text(string(KindNode)) })
	m.add("owner", func(e *encoder) { e.cid(n.Owner) })
	m.add("seq", func(e *encoder) { e.uint(n.Seq) })
	if n.Prev.Defined() {
		m.add("prev", func(e *encoder) { e.cid(n.Prev) })
	}
	m.add("root", func(e *encoder) { e.cid(n.Root) })
	if len(n.Addrs) > 0 {
		m.add("addrs", func(e *encoder) {
			e.head(majArray, uint64(len(n.Addrs)))
			for _, a := range n.Addrs {
				e.text(a)
			}
		})
	}
	m.add("created", func(e *encoder) { e.int(n.Created) })
	if withSig && len(n.Sig) > 0 {
		m.add("sig", func(e *encoder) { e.bytes(n.Sig) })
	}
	m.finish()
}

// Decode decodes a node of any kind. It rejects input over MaxBlockSize,
// malformed or non-canonical dag-cbor, unknown kinds, unknown, missing or
// mistyped fields, and values out of range. It does not check signatures:
// that is policy's job.
func Decode(data []byte) (Object, error) {
	n, err := decode(data)
	if err != nil {
		kind := acerr.Invalid
		if len(data) > MaxBlockSize {
			kind = acerr.TooLarge
		}
		return nil, acerr.E("schema.Decode", "", kind, err)
	}
	return n, nil
}

// DecodeAs decodes a node that must be of type T.
func DecodeAs[T Object](data []byte) (T, error) {
	var zero T
	n, err := Decode(data)
	if err != nil {
		return zero, err
	}
	t, ok := n.(T)
	if !ok {
		return zero, acerr.E("schema.Decode", "", acerr.Invalid,
			fmt.Errorf("is %s, not %s", n.Kind().Noun(), zero.Kind().Noun()))
	}
	return t, nil
}

func decode(data []byte) (Object, error) {
	if len(data) > MaxBlockSize {
		return nil, fmt.Errorf("%d bytes, limit %d", len(data), MaxBlockSize)
	}
	v, err := decodeTop(data)
	if err != nil {
		return nil, err
	}
	m, ok := v.(*cmap)
	if !ok {
		return nil, errors.New("node is not a map")
	}
	f := &fields{m: m}
	var n Object
	switch k := Kind(f.text("policy", true)); k {
	case KindIdentity:
		n = f.identity()
	case KindDirectory:
		n = f.directory()
	case KindDirNode:
		n = f.dirNode()
	case KindNode:
		n = f.node()
	default:
		if f.err != nil {
			return nil, f.err
		}
		if oldKinds[k] {
			return nil, fmt.Errorf("%s block: %w", k, ErrOldFormat)
		}
		return nil, fmt.Errorf("unknown policy %q", k)
	}
	if err := f.done(); err != nil {
		return nil, err
	}
	// One value, one encoding: anything that does not re-encode to the same
	// bytes (an explicit zero for an omitted field, say) is refused. The
	// entries were checked as they were decoded, so their bytes are
	// copied in rather than encoded again.
	e := &encoder{buf: make([]byte, 0, len(data)), rawEntries: f.raw}
	n.encode(e, true)
	if string(e.buf) != string(data) {
		return nil, fmt.Errorf("%s is not in canonical form", n.Kind())
	}
	return n, nil
}

// fields reads the fields of one map, remembering the first error and
// which keys were used so that unknown keys can be refused.
type fields struct {
	m    *cmap
	read []string
	err  error
	ctx  string
	raw  []byte // the bytes of the node's entries, once read
}

func (f *fields) setErr(format string, args ...any) {
	if f.err == nil {
		msg := fmt.Sprintf(format, args...)
		if f.ctx != "" {
			msg = f.ctx + ": " + msg
		}
		f.err = errors.New(msg)
	}
}

func (f *fields) get(key string, required bool) (value, bool) {
	v, ok := f.m.vals[key]
	if !ok {
		if required {
			f.setErr("missing field %q", key)
		}
		return nil, false
	}
	f.read = append(f.read, key)
	return v, true
}

func (f *fields) text(key string, required bool) string {
	v, ok := f.get(key, required)
	if !ok {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		f.setErr("field %q is not a string", key)
	}
	return s
}

func (f *fields) bytes(key string, required bool, size int) []byte {
	v, ok := f.get(key, required)
	if !ok {
		return nil
	}
	b, ok := v.([]byte)
	if !ok || (size > 0 && len(b) != size) {
		f.setErr("field %q is not %d bytes", key, size)
	}
	return b
}

func (f *fields) uint(key string, required bool, max uint64) uint64 {
	v, ok := f.get(key, required)
	if !ok {
		return 0
	}
	n, ok := v.(uint64)
	if !ok || n > max {
		f.setErr("field %q is not an integer in 0..%d", key, max)
	}
	return n
}

func (f *fields) int(key string, required bool) int64 {
	v, ok := f.get(key, required)
	if !ok {
		return 0
	}
	switch n := v.(type) {
	case uint64:
		if n > 1<<63-1 {
			f.setErr("field %q out of range", key)
		}
		return int64(n)
	case int64:
		return n
	}
	f.setErr("field %q is not an integer", key)
	return 0
}

func (f *fields) bool(key string) bool {
	v, ok := f.get(key, false)
	if !ok {
		return false
	}
	b, ok := v.(bool)
	if !ok {
		f.setErr("field %q is not a boolean", key)
	}
	return b
}

func (f *fields) cid(key string, required bool) cid.Cid {
	v, ok := f.get(key, required)
	if !ok {
		return cid.Undef
	}
	c, ok := v.(cid.Cid)
	if !ok {
		f.setErr("field %q is not a link", key)
	}
	return c
}

func (f *fields) list(key string, max int) []value {
	v, ok := f.get(key, false)
	if !ok {
		return nil
	}
	l, ok := v.([]value)
	if !ok || len(l) > max {
		f.setErr("field %q is not a list of at most %d items", key, max)
		return nil
	}
	return l
}

func (f *fields) sub(v value, ctx string) *fields {
	m, ok := v.(*cmap)
	if !ok {
		f.setErr("%s is not a map", ctx)
		return &fields{m: &cmap{vals: map[string]value{}}, err: f.err}
	}
	return &fields{m: m, ctx: ctx}
}

// done refuses keys that no field read, and returns the first error.
func (f *fields) done() error {
	if f.err == nil && len(f.read) != len(f.m.keys) {
		for _, k := range f.m.keys {
			if !slices.Contains(f.read, k) {
				f.setErr("unknown field %q", k)
				break
			}
		}
	}
	return f.err
}

func (f *fields) identity() *Identity {
	n := &Identity{
		Name:    f.text("name", true),
		Key:     f.bytes("key", true, KeySize),
		Created: f.int("created", true),
		Sig:     f.bytes("sig", false, SigSize),
	}
	if f.err == nil && (n.Name == "" || len(n.Name) > MaxNameLen) {
		f.setErr("identity name must be 1..%d bytes", MaxNameLen)
	}
	return n
}

func (f *fields) directory() *Directory {
	n := &Directory{
		Owner: f.cid("owner", false),
		Seq:   f.uint("seq", false, MaxUint),
		Prev:  f.cid("prev", false),
		Level: int(f.uint("level", false, MaxLevel)),
		Sig:   f.bytes("sig", false, SigSize),
	}
	n.Entries = f.entries()
	n.Children = f.children()
	if f.err != nil {
		return n
	}
	switch {
	case len(n.Entries) > 0 && len(n.Children) > 0:
		f.setErr("directory has both entries and children")
	case (n.Level > 0) != (len(n.Children) > 0):
		f.setErr("directory's level and children disagree")
	case len(n.Children) == 1:
		f.setErr("directory's tree root has one child")
	case !n.Owner.Defined() && (n.Seq != 0 || n.Prev.Defined() || n.Sig != nil):
		f.setErr("shared directory carries seq, prev or sig")
	case n.Owner.Defined() && n.Seq == 0:
		f.setErr("owned directory lacks seq")
	}
	return n
}

// entries returns the node's entries, decoded directly (entrydec.go).
func (f *fields) entries() []Entry {
	v, ok := f.get("entries", false)
	if !ok {
		return nil
	}
	re, ok := v.(*rawEntries)
	if !ok {
		f.setErr("entries is not a list of entries")
		return nil
	}
	if len(re.list) == 0 {
		f.setErr("entries is present but empty")
		return nil
	}
	f.raw = re.raw
	return re.list
}

// children returns the node's children, if any (decoded directly,
// childList).
func (f *fields) children() []DirChild {
	v, ok := f.get("children", false)
	if !ok {
		return nil
	}
	cs, ok := v.([]DirChild)
	if !ok {
		f.setErr("children is not a list of children")
	}
	return cs
}

func (f *fields) dirNode() *DirNode {
	n := &DirNode{Level: int(f.uint("level", true, MaxLevel))}
	n.Entries = f.entries()
	n.Children = f.children()
	switch {
	case f.err != nil:
	case n.Level == 0 && len(n.Children) > 0:
		f.setErr("a leaf (level 0) has children")
	case n.Level > 0 && len(n.Entries) > 0:
		f.setErr("an inner node (level %d) has entries", n.Level)
	case n.Level > 0 && len(n.Children) == 0:
		f.setErr("an inner node (level %d) has no children", n.Level)
	}
	return n
}

func (f *fields) node() *Node {
	n := &Node{
		Owner:   f.cid("owner", true),
		Seq:     f.uint("seq", true, MaxUint),
		Prev:    f.cid("prev", false),
		Root:    f.cid("root", true),
		Created: f.int("created", true),
		Sig:     f.bytes("sig", false, SigSize),
	}
	for i, v := range f.list("addrs", MaxAddrs) {
		s, ok := v.(string)
		if !ok || s == "" || len(s) > MaxAddrLen {
			f.setErr("addrs[%d] is not an address", i)
			break
		}
		n.Addrs = append(n.Addrs, s)
	}
	if f.err == nil && n.Seq == 0 {
		f.setErr("node seq must be >= 1")
	}
	return n
}

// SortEntries sorts entries by name, the order every encoding uses.
func SortEntries(entries []Entry) {
	slices.SortFunc(entries, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
}
