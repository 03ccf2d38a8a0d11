package schema

import (
	"errors"
	"fmt"
	"slices"
	"strings"

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
	KindDirectory Kind = "directory_v1"
	KindFile      Kind = "file_v1"
	KindNode      Kind = "node_v1"
	KindShard     Kind = "shard_v1"
)

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
	case KindShard:
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
	MaxUint       = 1 << 62 // a seq, a size, a shard's byte count
	MaxAddrs      = 16      // addresses in a node_v1
	MaxAddrLen    = 256     // bytes in one address
	KeySize       = 32      // ed25519 public key
	SigSize       = 64      // ed25519 signature
)

// Object is a node of any kind, what one block decodes to: an *Identity,
// *Directory, *Shard or *Node. (A Node is the node_v1 kind only.)
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

// Directory is a directory_v1 node. Owner.Defined() tells owned from shared.
// At most one of Entries and Shard is set.
type Directory struct {
	Owner   cid.Cid
	Seq     uint64
	Prev    cid.Cid
	Entries []Entry // sorted by Name, unique
	Shard   cid.Cid
	Sig     []byte
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

// Shard is a shard_v1 node of a directory's hash trie.
type Shard struct {
	Depth    int
	Entries  []Entry      // a leaf
	Children []ShardChild // an inner node, ascending Index
}

// ShardChild links one child of an inner shard node.
type ShardChild struct {
	Index int
	Link  cid.Cid
	Bytes uint64 // encoded size of all entries below
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
func (*Shard) Kind() Kind     { return KindShard }
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
	if n.Shard.Defined() {
		m.add("shard", func(e *encoder) { e.cid(n.Shard) })
	}
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
	enc := &encoder{}
	e.encode(enc)
	return enc.buf
}

// EntrySize returns the number of bytes e adds to an encoded entry list.
func EntrySize(e *Entry) int {
	enc := &encoder{}
	e.encode(enc)
	return len(enc.buf)
}

func (n *Shard) encode(e *encoder, _ bool) {
	m := mapWriter{e: e}
	m.add("policy", func(e *encoder) { e.text(string(KindShard)) })
	m.add("depth", func(e *encoder) { e.uint(uint64(n.Depth)) })
	if len(n.Entries) > 0 {
		m.add("entries", func(e *encoder) { encodeEntries(e, n.Entries) })
	}
	if len(n.Children) > 0 {
		m.add("children", func(e *encoder) {
			e.head(majArray, uint64(len(n.Children)))
			for _, c := range n.Children {
				cm := mapWriter{e: e}
				cm.add("index", func(e *encoder) { e.uint(uint64(c.Index)) })
				cm.add("link", func(e *encoder) { e.cid(c.Link) })
				cm.add("bytes", func(e *encoder) { e.uint(c.Bytes) })
				cm.finish()
			}
		})
	}
	m.finish()
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
	case KindShard:
		n = f.shard()
	case KindNode:
		n = f.node()
	default:
		if f.err != nil {
			return nil, f.err
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
		Shard: f.cid("shard", false),
		Sig:   f.bytes("sig", false, SigSize),
	}
	n.Entries = f.entries()
	if f.err != nil {
		return n
	}
	switch {
	case len(n.Entries) > 0 && n.Shard.Defined():
		f.setErr("directory has both entries and shard")
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

func (f *fields) shard() *Shard {
	n := &Shard{Depth: int(f.uint("depth", true, 31))}
	n.Entries = f.entries()
	for i, v := range f.list("children", 256) {
		cf := f.sub(v, fmt.Sprintf("child %d", i))
		c := ShardChild{
			Index: int(cf.uint("index", true, 255)),
			Link:  cf.cid("link", true),
			Bytes: cf.uint("bytes", true, MaxUint),
		}
		if err := cf.done(); err != nil {
			if f.err == nil {
				f.err = err
			}
			return n
		}
		if i > 0 && n.Children[i-1].Index >= c.Index {
			f.setErr("shard children not in ascending order")
			return n
		}
		n.Children = append(n.Children, c)
	}
	if f.err == nil && len(n.Entries) > 0 && len(n.Children) > 0 {
		f.setErr("shard has both entries and children")
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
