package message

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"io"
	"testing"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/identity"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// user is a test identity made from a fixed seed, so that every block,
// signature and message in these tests is the same on every run.
type user struct {
	id    *schema.Identity
	cid   cid.Cid
	block []byte
	priv  ed25519.PrivateKey
}

func newUser(name string, seed byte) user {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
	id := &schema.Identity{Name: name, Key: priv.Public().(ed25519.PublicKey), Created: 1700000000}
	identity.Sign(priv, id)
	c, b := schema.Block(id)
	return user{id: id, cid: c, block: b, priv: priv}
}

var (
	alice = newUser("alice", 1)
	bob   = newUser("bob", 2)
	// alice2 took alice's name with a new key.
	alice2 = newUser("alice", 4)
)

// store is an in-memory block store.
type store map[cid.Cid][]byte

func (s store) put(n schema.Object) cid.Cid {
	c, b := schema.Block(n)
	s[c] = b
	return c
}

func (s store) get(_ context.Context, c cid.Cid) ([]byte, error) {
	if b, ok := s[c]; ok {
		return b, nil
	}
	return nil, acerr.E("store.Get", "", acerr.NotExist, nil).WithCID(c.String())
}

func fileCID(s string) cid.Cid {
	h, _ := multihash.Sum([]byte(s), multihash.SHA2_256, -1)
	return cid.NewCidV1(cid.Raw, h)
}

func entry(name string, kind schema.Kind, target cid.Cid) schema.Entry {
	e := schema.Entry{Name: name, Kind: kind, Target: target, Mtime: 1700000000000000000, VV: schema.VV{"r1": 1}, By: alice.cid}
	if kind == schema.KindFile {
		e.Size, e.Mode = 12, 0o644
	}
	return e
}

func file(name string) schema.Entry { return entry(name, schema.KindFile, fileCID(name)) }

// fixture is a small tree with every kind of structure a content message
// carries: plain, owned and sharded directories, a tombstone and a
// directory linked twice.
type fixture struct {
	s        store
	root     cid.Cid
	node     *schema.Node
	nodeCID  cid.Cid
	nodeBlk  []byte
	bobDir   *schema.Directory
	bobBlk   []byte
	dirCount int // directory and tree blocks under the node
}

func newFixture() *fixture {
	s := store{}
	docs := s.put(&schema.Directory{Entries: []schema.Entry{file("a.txt"), file("b.txt")}})
	bobDir := &schema.Directory{Owner: bob.cid, Seq: 2, Entries: []schema.Entry{file("notes.md")}}
	identity.Sign(bob.priv, bobDir)
	bobCID := s.put(bobDir)

	// A directory's tree: an inner node over two leaves.
	leafA := []schema.Entry{entry("x0", schema.KindDirectory, docs), file("x1")} // docs again, by another name
	leafB := []schema.Entry{file("x2")}
	children := []schema.DirChild{
		{Name: "x0", Link: s.put(&schema.DirNode{Entries: leafA})},
		{Name: "x2", Link: s.put(&schema.DirNode{Entries: leafB})},
	}
	big := s.put(&schema.Directory{Level: 1, Children: children})

	gone := schema.Entry{Name: "gone", Kind: schema.KindFile, Mtime: 5, VV: schema.VV{"r1": 2}, Deleted: true}
	root := s.put(&schema.Directory{Entries: []schema.Entry{
		entry("big", schema.KindDirectory, big),
		entry("bob", schema.KindDirectory, bobCID),
		entry("docs", schema.KindDirectory, docs),
		gone,
		file("readme"),
	}})
	node := &schema.Node{Owner: alice.cid, Seq: 3, Root: root, Addrs: []string{"alice.example:4001"}, Created: 1700000000}
	identity.Sign(alice.priv, node)
	nodeCID := s.put(node)
	s[alice.cid] = alice.block
	return &fixture{s: s, root: root, node: node, nodeCID: nodeCID, nodeBlk: s[nodeCID],
		bobDir: bobDir, bobBlk: s[bobCID], dirCount: 6}
}

func mustReference(t testing.TB, nodeBlock, ownerBlock []byte) []byte {
	t.Helper()
	msg, err := NewReference(nodeBlock, ownerBlock)
	if err != nil {
		t.Fatalf("NewReference: %v", err)
	}
	return msg
}

func (f *fixture) content(t testing.TB) []byte {
	t.Helper()
	msg, err := NewContent(context.Background(), f.s.get, f.nodeCID, alice.block)
	if err != nil {
		t.Fatalf("NewContent: %v", err)
	}
	return msg
}

// reseal decodes msg without verifying it, lets edit change the
// envelope, and writes it back in canonical form.
func reseal(t testing.TB, msg []byte, edit func(*Envelope)) []byte {
	t.Helper()
	js, err := open(msg)
	if err != nil {
		t.Fatal(err)
	}
	env, err := decodeJSON(js, true)
	if err != nil {
		t.Fatal(err)
	}
	edit(env)
	return compress(marshal(env))
}

// rewrite lets edit change the JSON text of msg, then recompresses it.
func rewrite(t testing.TB, msg []byte, edit func([]byte) []byte) []byte {
	t.Helper()
	js, err := open(msg)
	if err != nil {
		t.Fatal(err)
	}
	return compress(edit(bytes.Clone(js)))
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// inflateAll decompresses z with no limit, for checking test data.
func inflateAll(z []byte) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

// zlibZeros returns a zlib stream that inflates to n zero bytes, built by
// hand in 13 bits per 258 bytes: one fixed-Huffman block of a few literal
// zeros, then copies of length 258 at distance 1. A compressor would take
// seconds to produce it for n = 1 GiB; this takes milliseconds.
func zlibZeros(n int64) []byte {
	var w bitWriter
	w.buf = append(w.buf, 0x78, 0xda)
	w.bits(1, 1) // BFINAL
	w.bits(1, 2) // BTYPE = fixed Huffman
	lits := n % 258
	copies := n / 258
	if lits == 0 {
		lits, copies = 258, copies-1
	}
	for range lits {
		w.code(0x30, 8) // literal 0
	}
	for range copies {
		w.code(0xc5, 8) // length code 285: 258 bytes
		w.code(0, 5)    // distance code 0: distance 1
	}
	w.code(0, 7) // end of block
	w.flush()
	// Adler-32 of n zeros: a stays 1, b gains 1 per byte.
	b := uint32(n % 65521)
	return append(w.buf, byte(b>>8), byte(b), 0, 1)
}

type bitWriter struct {
	buf  []byte
	acc  uint64
	nacc uint
}

// bits writes the low n bits of v, least significant first.
func (w *bitWriter) bits(v uint64, n uint) {
	w.acc |= v << w.nacc
	w.nacc += n
	for w.nacc >= 8 {
		w.buf = append(w.buf, byte(w.acc))
		w.acc >>= 8
		w.nacc -= 8
	}
}

// code writes a Huffman code of n bits, most significant first.
func (w *bitWriter) code(c uint64, n uint) {
	var r uint64
	for i := uint(0); i < n; i++ {
		r = r<<1 | (c>>i)&1
	}
	w.bits(r, n)
}

func (w *bitWriter) flush() {
	if w.nacc > 0 {
		w.buf = append(w.buf, byte(w.acc))
		w.acc, w.nacc = 0, 0
	}
}
