package message

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/identity"
	"github.com/archivecache/archivecache/policy"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

type sample struct {
	name     string
	msg      []byte
	kind     Kind
	policy   schema.Kind
	nodeCID  cid.Cid
	blocks   int
	seq      uint64
	ownerCID cid.Cid
}

func samples(t testing.TB) []sample {
	f := newFixture()
	return []sample{
		{"identity reference", mustReference(t, alice.block, nil), KindReference, schema.KindIdentity, alice.cid, 1, 0, alice.cid},
		{"identity reference, owner given", mustReference(t, alice.block, alice.block), KindReference, schema.KindIdentity, alice.cid, 1, 0, alice.cid},
		{"node reference", mustReference(t, f.nodeBlk, alice.block), KindReference, schema.KindNode, f.nodeCID, 2, 3, alice.cid},
		{"owned directory reference", mustReference(t, f.bobBlk, bob.block), KindReference, schema.KindDirectory, schema.Sum(f.bobBlk), 2, 2, bob.cid},
		{"node content", f.content(t), KindContent, schema.KindNode, f.nodeCID, 2 + f.dirCount, 3, alice.cid},
	}
}

// wrap76 line-wraps s as base64(1) and e-mail do, with the given newline.
func wrap76(s, nl string) string {
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76] + nl)
		s = s[76:]
	}
	b.WriteString(s + nl)
	return b.String()
}

func TestRoundTrip(t *testing.T) {
	for _, s := range samples(t) {
		std := b64(s.msg)
		forms := map[string][]byte{
			"raw":            s.msg,
			"base64":         []byte(std),
			"base64 wrapped": []byte(wrap76(std, "\n")),
			"base64 CRLF":    []byte("  " + wrap76(std, "\r\n") + "\t"),
			"raw URL base64": []byte(base64.RawURLEncoding.EncodeToString(s.msg)),
			"URL base64":     []byte(base64.URLEncoding.EncodeToString(s.msg)),
			"unpadded std":   []byte(base64.RawStdEncoding.EncodeToString(s.msg)),
		}
		for form, input := range forms {
			t.Run(s.name+"/"+form, func(t *testing.T) {
				m, err := Parse(input)
				if err != nil {
					t.Fatalf("Parse = %v", err)
				}
				if m.Kind != s.kind || m.Policy != s.policy || !m.NodeCID.Equals(s.nodeCID) ||
					!m.OwnerCID.Equals(s.ownerCID) || m.Seq != s.seq || len(m.Blocks) != s.blocks {
					t.Errorf("Parse = {kind %s policy %s node %s owner %s seq %d blocks %d}, want {%s %s %s %s %d %d}",
						m.Kind, m.Policy, m.NodeCID, m.OwnerCID, m.Seq, len(m.Blocks),
						s.kind, s.policy, s.nodeCID, s.ownerCID, s.seq, s.blocks)
				}
				if m.Node.Kind() != s.policy || m.Owner.Name != m.Name {
					t.Errorf("Parse: node kind %s, owner name %q, envelope name %q", m.Node.Kind(), m.Owner.Name, m.Name)
				}
				if !bytes.Equal(schema.Encode(m.Node), m.Blocks[m.NodeCID]) {
					t.Errorf("Parse: Node does not encode to its block")
				}
			})
		}
	}
}

func TestReferenceCarriesOnlyNodeAndOwner(t *testing.T) {
	f := newFixture()
	m, err := Parse(mustReference(t, f.nodeBlk, alice.block))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Blocks) != 2 || m.Blocks[f.nodeCID] == nil || m.Blocks[alice.cid] == nil {
		t.Errorf("reference blocks = %d, want exactly the node's and alice's", len(m.Blocks))
	}
	if _, ok := m.Blocks[f.root]; ok {
		t.Errorf("reference carries the root directory")
	}
}

func TestContentCarriesNoFiles(t *testing.T) {
	f := newFixture()
	m, err := Parse(f.content(t))
	if err != nil {
		t.Fatal(err)
	}
	for c := range m.Blocks {
		if c.Prefix().Codec != cid.DagCBOR {
			t.Errorf("content carries %s, which is not a node", c)
		}
		if _, ok := f.s[c]; !ok {
			t.Errorf("content carries %s, which is not in the tree", c)
		}
	}
	if _, ok := m.Blocks[f.root]; !ok {
		t.Errorf("content lacks the root directory")
	}
}

func TestToFromJSON(t *testing.T) {
	for _, s := range samples(t) {
		t.Run(s.name, func(t *testing.T) {
			js, err := ToJSON(s.msg)
			if err != nil {
				t.Fatalf("ToJSON = %v", err)
			}
			if !bytes.HasPrefix(js, []byte("{\n  \"version\": 1,\n  \"kind\": ")) {
				t.Errorf("ToJSON is not indented:\n%s", js)
			}
			back, err := FromJSON(js)
			if err != nil {
				t.Fatalf("FromJSON(ToJSON) = %v", err)
			}
			if !bytes.Equal(back, s.msg) {
				t.Errorf("FromJSON(ToJSON(msg)) differs from msg")
			}
			// Compact JSON, keys in any order, works too.
			compact, _ := open(s.msg)
			if back, err := FromJSON(compact); err != nil || !bytes.Equal(back, s.msg) {
				t.Errorf("FromJSON(compact) = %v, equal %v", err, bytes.Equal(back, s.msg))
			}
			// The base64 form gives the same JSON.
			if js2, err := ToJSON([]byte(b64(s.msg))); err != nil || !bytes.Equal(js, js2) {
				t.Errorf("ToJSON(base64) = %v, equal %v", err, bytes.Equal(js, js2))
			}
		})
	}
}

func TestFromJSONReordered(t *testing.T) {
	msg := mustReference(t, alice.block, nil)
	js, _ := open(msg)
	var env Envelope
	if e, err := decodeJSON(js, true); err != nil {
		t.Fatal(err)
	} else {
		env = *e
	}
	reordered := fmt.Sprintf(`{"blocks":{%q:%q},"signature":%q,"name":%q,"owner":%q,"ipfs_hash":%q,"policy":%q,"kind":%q,"version":1}`,
		env.Owner, env.Blocks[env.Owner], env.Signature, env.Name, env.Owner, env.IPFSHash, env.Policy, env.Kind)
	out, err := FromJSON([]byte(reordered))
	if err != nil {
		t.Fatalf("FromJSON(reordered) = %v", err)
	}
	if !bytes.Equal(out, msg) {
		t.Errorf("FromJSON(reordered) is not the canonical message")
	}
}

// TestForgedDoesNotParseButInspects: a forged message is refused by
// Parse, yet ToJSON shows it, and FromJSON rebuilds it, for inspection.
func TestForgedDoesNotParseButInspects(t *testing.T) {
	f := newFixture()
	forged := reseal(t, mustReference(t, f.nodeBlk, alice.block), func(e *Envelope) {
		n := *f.node
		n.Seq = 99 // the signature no longer covers the fields
		c, b := schema.Block(&n)
		delete(e.Blocks, e.IPFSHash)
		e.IPFSHash, e.Seq = c.String(), 99
		e.Blocks[c.String()] = base64.StdEncoding.EncodeToString(b)
	})
	if _, err := Parse(forged); !acerr.Is(acerr.Signature, err) {
		t.Fatalf("Parse(forged) = %v, want Signature", err)
	}
	js, err := ToJSON(forged)
	if err != nil {
		t.Fatalf("ToJSON(forged) = %v", err)
	}
	if !bytes.Contains(js, []byte(`"seq": 99`)) {
		t.Errorf("ToJSON(forged) does not show the forged seq:\n%s", js)
	}
	back, err := FromJSON(js)
	if err != nil || !bytes.Equal(back, forged) {
		t.Errorf("FromJSON(ToJSON(forged)) = %v, equal %v", err, bytes.Equal(back, forged))
	}
}

// tamper is one way of changing a valid message, and the kind of error
// Parse must answer it with.
type tamper struct {
	name string
	kind acerr.Kind
	msg  func(t *testing.T, f *fixture) []byte
}

func setBlock(e *Envelope, n schema.Object) string {
	c, b := schema.Block(n)
	e.Blocks[c.String()] = base64.StdEncoding.EncodeToString(b)
	return c.String()
}

func nodeRef(t *testing.T, f *fixture) []byte { return mustReference(t, f.nodeBlk, alice.block) }

func nodeRefEdit(edit func(e *Envelope, f *fixture)) func(t *testing.T, f *fixture) []byte {
	return func(t *testing.T, f *fixture) []byte {
		return reseal(t, nodeRef(t, f), func(e *Envelope) { edit(e, f) })
	}
}

func nodeRefText(edit func(js []byte) []byte) func(t *testing.T, f *fixture) []byte {
	return func(t *testing.T, f *fixture) []byte { return rewrite(t, nodeRef(t, f), edit) }
}

var tampers = []tamper{
	{"forged signature field", acerr.Signature, nodeRefEdit(func(e *Envelope, f *fixture) {
		e.Signature = base64.StdEncoding.EncodeToString(f.bobDir.Sig) // a real signature, of something else
	})},
	{"node changed under its signature", acerr.Signature, nodeRefEdit(func(e *Envelope, f *fixture) {
		n := *f.node
		n.Root = alice.cid
		delete(e.Blocks, e.IPFSHash)
		e.IPFSHash = setBlock(e, &n)
	})},
	{"node signed by someone else", acerr.Signature, nodeRefEdit(func(e *Envelope, f *fixture) {
		n := *f.node
		n.Seq = 4
		identity.Sign(bob.priv, &n) // claims alice as owner
		delete(e.Blocks, e.IPFSHash)
		e.IPFSHash, e.Seq = setBlock(e, &n), 4
		e.Signature = base64.StdEncoding.EncodeToString(n.Sig)
	})},
	{"owner swapped for a new key with the same name", acerr.Invalid, nodeRefEdit(func(e *Envelope, f *fixture) {
		delete(e.Blocks, e.Owner)
		e.Owner = setBlock(e, alice2.id)
	})},
	{"owner block replaced under the owner's CID", acerr.Integrity, nodeRefEdit(func(e *Envelope, f *fixture) {
		e.Blocks[e.Owner] = base64.StdEncoding.EncodeToString(alice2.block)
	})},
	{"block bytes do not match the CID", acerr.Integrity, nodeRefEdit(func(e *Envelope, f *fixture) {
		b := bytes.Clone(f.nodeBlk)
		b[len(b)-1] ^= 1
		e.Blocks[e.IPFSHash] = base64.StdEncoding.EncodeToString(b)
	})},
	{"extra block", acerr.Invalid, nodeRefEdit(func(e *Envelope, f *fixture) { setBlock(e, bob.id) })},
	{"extra block from the tree", acerr.Invalid, nodeRefEdit(func(e *Envelope, f *fixture) {
		e.Blocks[f.root.String()] = base64.StdEncoding.EncodeToString(f.s[f.root])
	})},
	{"extra unreachable block in content", acerr.Invalid, func(t *testing.T, f *fixture) []byte {
		return reseal(t, f.content(t), func(e *Envelope) { setBlock(e, &schema.Directory{}) })
	}},
	{"content missing a directory", acerr.Invalid, func(t *testing.T, f *fixture) []byte {
		return reseal(t, f.content(t), func(e *Envelope) { delete(e.Blocks, schema.Sum(f.bobBlk).String()) })
	}},
	{"reference relabelled as content", acerr.Invalid, nodeRefEdit(func(e *Envelope, f *fixture) { e.Kind = KindContent })},
	{"node block missing", acerr.Invalid, nodeRefEdit(func(e *Envelope, f *fixture) { delete(e.Blocks, e.IPFSHash) })},
	{"owner block missing", acerr.Invalid, nodeRefEdit(func(e *Envelope, f *fixture) { delete(e.Blocks, e.Owner) })},
	{"ipfs_hash names the owner", acerr.Invalid, nodeRefEdit(func(e *Envelope, f *fixture) { e.IPFSHash = e.Owner })},
	{"name changed", acerr.Invalid, nodeRefEdit(func(e *Envelope, f *fixture) { e.Name = "alicia" })},
	{"seq changed", acerr.Invalid, nodeRefEdit(func(e *Envelope, f *fixture) { e.Seq = 4 })},
	{"seq dropped", acerr.Invalid, nodeRefEdit(func(e *Envelope, f *fixture) { e.Seq = 0 })},
	{"policy changed", acerr.Invalid, nodeRefEdit(func(e *Envelope, f *fixture) { e.Policy = schema.KindDirectory })},
	{"unknown policy", acerr.Invalid, nodeRefEdit(func(e *Envelope, f *fixture) { e.Policy = "shard_v1" })},
	{"unknown version", acerr.Invalid, nodeRefEdit(func(e *Envelope, f *fixture) { e.Version = 2 })},
	{"unknown kind", acerr.Invalid, nodeRefEdit(func(e *Envelope, f *fixture) { e.Kind = "gossip" })},
	{"short signature", acerr.Invalid, nodeRefEdit(func(e *Envelope, f *fixture) { e.Signature = "AAAA" })},
	{"no blocks", acerr.Invalid, nodeRefEdit(func(e *Envelope, f *fixture) { e.Blocks = nil })},
	{"empty block", acerr.Invalid, nodeRefEdit(func(e *Envelope, f *fixture) { e.Blocks[schema.Sum(nil).String()] = "" })},
	{"CID in another base", acerr.Invalid, nodeRefEdit(func(e *Envelope, f *fixture) {
		e.Blocks[strings.ToUpper(e.Owner)] = e.Blocks[e.Owner]
		delete(e.Blocks, e.Owner)
		e.Owner = strings.ToUpper(e.Owner)
	})},
	{"CIDv0", acerr.Invalid, nodeRefEdit(func(e *Envelope, f *fixture) {
		e.Owner = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"
	})},
	{"raw CID", acerr.Invalid, nodeRefEdit(func(e *Envelope, f *fixture) { e.IPFSHash = fileCID("x").String() })},
	{"base64 with a line break", acerr.Invalid, nodeRefEdit(func(e *Envelope, f *fixture) {
		v := e.Blocks[e.Owner]
		e.Blocks[e.Owner] = v[:10] + "\n" + v[10:]
	})},
	{"shared directory", acerr.Invalid, func(t *testing.T, f *fixture) []byte {
		return reseal(t, nodeRef(t, f), func(e *Envelope) {
			e.Blocks = map[string]string{e.Owner: e.Blocks[e.Owner]}
			e.IPFSHash, e.Policy, e.Seq = f.root.String(), schema.KindDirectory, 0
			e.Blocks[e.IPFSHash] = base64.StdEncoding.EncodeToString(f.s[f.root])
		})
	}},
	{"extra JSON field", acerr.Invalid, nodeRefText(func(js []byte) []byte {
		return append(js[:len(js)-1], `,"extra":1}`...)
	})},
	{"extra JSON field first", acerr.Invalid, nodeRefText(func(js []byte) []byte {
		return append([]byte(`{"note":"hi",`), js[1:]...)
	})},
	{"duplicate field", acerr.Invalid, nodeRefText(func(js []byte) []byte {
		return append([]byte(`{"version":1,`), js[1:]...)
	})},
	{"duplicate block", acerr.Invalid, nodeRefText(func(js []byte) []byte {
		i := bytes.Index(js, []byte(`"blocks":{`)) + len(`"blocks":{`)
		j := bytes.IndexByte(js[i:], ',') + i
		return append(append(bytes.Clone(js[:j+1]), js[i:j+1]...), js[j+1:]...)
	})},
	{"miscased field", acerr.Invalid, nodeRefText(func(js []byte) []byte {
		return bytes.Replace(js, []byte(`"version"`), []byte(`"Version"`), 1)
	})},
	{"null field", acerr.Invalid, nodeRefText(func(js []byte) []byte {
		return bytes.Replace(js, []byte(`"seq":3`), []byte(`"seq":null`), 1)
	})},
	{"indented JSON", acerr.Invalid, nodeRefText(func(js []byte) []byte {
		return bytes.Replace(js, []byte(`,"kind"`), []byte(",\n  \"kind\""), 1)
	})},
	{"trailing data", acerr.Invalid, nodeRefText(func(js []byte) []byte { return append(js, `{}`...) })},
	{"trailing newline", acerr.Invalid, nodeRefText(func(js []byte) []byte { return append(js, '\n') })},
	{"escaped character", acerr.Invalid, nodeRefText(func(js []byte) []byte {
		return bytes.Replace(js, []byte(`"alice"`), []byte(`"\u0061lice"`), 1)
	})},
	{"seq as float", acerr.Invalid, nodeRefText(func(js []byte) []byte {
		return bytes.Replace(js, []byte(`"seq":3`), []byte(`"seq":3.0`), 1)
	})},
	{"not an object", acerr.Invalid, nodeRefText(func(js []byte) []byte { return []byte(`[1,2,3]`) })},
	{"invalid UTF-8", acerr.Invalid, nodeRefText(func(js []byte) []byte {
		return bytes.Replace(js, []byte(`"alice"`), []byte("\"al\xffce\""), 1)
	})},
	{"bytes after the zlib stream", acerr.Invalid, func(t *testing.T, f *fixture) []byte {
		return append(nodeRef(t, f), 0)
	}},
}

func TestTampered(t *testing.T) {
	for _, tt := range tampers {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture()
			msg := tt.msg(t, f)
			_, err := Parse(msg)
			if !acerr.Is(tt.kind, err) {
				t.Fatalf("Parse(%s) = %v, want kind %q", tt.name, err, tt.kind)
			}
			checkErr(t, "message.Parse", err)
			// The base64 form fails the same way.
			if _, err := Parse([]byte(b64(msg))); !acerr.Is(tt.kind, err) {
				t.Errorf("Parse(base64 of %s) = %v, want kind %q", tt.name, err, tt.kind)
			}
		})
	}
}

// checkErr checks that err is one line naming the operation.
func checkErr(t *testing.T, op string, err error) {
	t.Helper()
	var e *acerr.Error
	if !errors.As(err, &e) || e.Op != op {
		t.Errorf("error %v is not an *acerr.Error of %s", err, op)
	}
	if msg := err.Error(); strings.ContainsAny(msg, "\n\r") || !strings.HasPrefix(msg, op) {
		t.Errorf("error %q is not one line starting with %s", msg, op)
	}
}

// TestFriendsNewKey: a stranger who takes a friend's name with a new key
// can send a well-formed message in their own name, but it does not pass
// for the friend: the reader's policy refuses it.
func TestFriendsNewKey(t *testing.T) {
	f := newFixture()
	n := *f.node
	n.Owner, n.Seq = alice2.cid, 9
	identity.Sign(alice2.priv, &n)
	msg := mustReference(t, schema.Encode(&n), alice2.block)
	m, err := Parse(msg)
	if err != nil {
		t.Fatalf("Parse(alice2's own node) = %v", err)
	}
	if m.Name != "alice" {
		t.Fatalf("name = %q", m.Name)
	}
	friends := resolver{alice.cid: alice.id}
	if err := policy.Check(context.Background(), friends, m.NodeCID, m.Node); !acerr.Is(acerr.Permission, err) {
		t.Errorf("policy.Check(alice2's node) = %v, want Permission", err)
	}
	if !policy.ConfusableNames(alice.id.Name, m.Owner.Name) {
		t.Errorf("ConfusableNames(%q, %q) = false: befriending alice2 would not be refused", alice.id.Name, m.Owner.Name)
	}
}

type resolver map[cid.Cid]*schema.Identity

func (r resolver) Identity(_ context.Context, c cid.Cid) (*schema.Identity, error) {
	if id, ok := r[c]; ok {
		return id, nil
	}
	return nil, acerr.E("", "", acerr.NotExist, nil)
}

func TestTruncated(t *testing.T) {
	for _, s := range samples(t)[2:] {
		text := b64(s.msg)
		for i := 0; i < len(s.msg); i++ {
			if _, err := Parse(s.msg[:i]); err == nil {
				t.Fatalf("Parse(%s cut at %d of %d) succeeded", s.name, i, len(s.msg))
			} else {
				checkErr(t, "message.Parse", err)
			}
			if _, err := ToJSON(s.msg[:i]); err == nil {
				t.Fatalf("ToJSON(%s cut at %d of %d) succeeded", s.name, i, len(s.msg))
			}
		}
		// Dropping only the padding loses nothing: unpadded base64 is accepted.
		unpadded := len(strings.TrimRight(text, "="))
		if _, err := Parse([]byte(text[:unpadded])); err != nil {
			t.Errorf("Parse(%s without base64 padding) = %v", s.name, err)
		}
		for i := 0; i < unpadded; i++ {
			if _, err := Parse([]byte(text[:i])); err == nil {
				t.Fatalf("Parse(base64 of %s cut at %d of %d) succeeded", s.name, i, len(text))
			}
		}
	}
}

// TestBitFlips flips every bit of a message. A flip may land where the
// decompressor ignores it (the padding after the last deflate block); then
// the message must still be the very same message. Anywhere else it must
// be refused.
func TestBitFlips(t *testing.T) {
	for _, s := range samples(t)[:3] {
		want, _ := open(s.msg)
		refused := 0
		for i := range s.msg {
			for bit := range 8 {
				flipped := bytes.Clone(s.msg)
				flipped[i] ^= 1 << bit
				m, err := Parse(flipped)
				if err != nil {
					checkErr(t, "message.Parse", err)
					refused++
					continue
				}
				if got := marshal(&m.Envelope); !bytes.Equal(got, want) {
					t.Fatalf("%s: flipping bit %d of byte %d gave another valid message", s.name, bit, i)
				}
			}
		}
		if min := len(s.msg)*8 - 8; refused < min {
			t.Errorf("%s: %d of %d flips refused, want at least %d", s.name, refused, len(s.msg)*8, min)
		}
	}
}

// allocDuring returns the bytes allocated while fn runs.
func allocDuring(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// maxBombAlloc bounds what refusing a bomb may allocate: a few times
// MaxJSON (the output buffer grows in steps, and the race detector adds
// its own), against the 1 GiB the bomb would expand to.
const maxBombAlloc = 8 * MaxJSON

func TestZlibBomb(t *testing.T) {
	bomb := zlibZeros(1 << 30)
	t.Logf("1 GiB of zeros compresses by hand to %d bytes", len(bomb))

	// The decompressor stops at the limit: it neither inflates the whole
	// stream nor holds much more than MaxJSON.
	var err error
	start := time.Now()
	alloc := allocDuring(func() { _, err = inflate(bomb) })
	if !acerr.Is(acerr.TooLarge, err) {
		t.Fatalf("inflate(1 GiB bomb) = %v, want TooLarge", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("inflate(1 GiB bomb) took %v", d)
	}
	if alloc > maxBombAlloc {
		t.Errorf("inflate(1 GiB bomb) allocated %d bytes, want at most %d", alloc, maxBombAlloc)
	}

	// Through the front door the bomb is refused before decompression, as
	// raw bytes and as base64.
	for name, input := range map[string][]byte{"raw": bomb, "base64": []byte(b64(bomb))} {
		if _, err := Parse(input); !acerr.Is(acerr.TooLarge, err) {
			t.Errorf("Parse(%s 1 GiB bomb) = %v, want TooLarge", name, err)
		}
		if _, err := ToJSON(input); !acerr.Is(acerr.TooLarge, err) {
			t.Errorf("ToJSON(%s 1 GiB bomb) = %v, want TooLarge", name, err)
		}
	}

	// A bomb that fits the compressed limit is stopped by the
	// decompression limit, with bounded memory.
	small := zlibZeros(8 << 20)
	if len(small) > MaxCompressed {
		t.Fatalf("small bomb is %d bytes, want at most %d", len(small), MaxCompressed)
	}
	for name, input := range map[string][]byte{"raw": small, "base64": []byte(b64(small)), "cut": bomb[:60000]} {
		alloc := allocDuring(func() { _, err = Parse(input) })
		if !acerr.Is(acerr.TooLarge, err) {
			t.Errorf("Parse(%s 8 MiB bomb) = %v, want TooLarge", name, err)
		}
		if alloc > maxBombAlloc {
			t.Errorf("Parse(%s 8 MiB bomb) allocated %d bytes, want at most %d", name, alloc, maxBombAlloc)
		}
	}
	// And the bomb really is what it claims to be.
	if js, err := inflateAll(small); err != nil || len(js) != 8<<20 || bytes.Count(js, []byte{0}) != len(js) {
		t.Errorf("small bomb inflates to %d bytes, err %v; want 8 MiB of zeros", len(js), err)
	}
}

func TestTooLarge(t *testing.T) {
	big := make([]byte, MaxCompressed+1)
	big[0], big[1] = 0x78, 0x9c
	text := strings.Repeat("QUFB", MaxText/4+1)
	tests := []struct {
		name  string
		input []byte
	}{
		{"zlib over 64 KiB", big},
		{"input over MaxInput", make([]byte, MaxInput+1)},
		{"base64 over MaxText", []byte(text)},
		{"wrapped base64 over MaxText", []byte(wrap76(text, "\n"))},
	}
	for _, tt := range tests {
		if _, err := Parse(tt.input); !acerr.Is(acerr.TooLarge, err) {
			t.Errorf("Parse(%s) = %v, want TooLarge", tt.name, err)
		}
		if _, err := ToJSON(tt.input); !acerr.Is(acerr.TooLarge, err) {
			t.Errorf("ToJSON(%s) = %v, want TooLarge", tt.name, err)
		}
	}
	if _, err := ReadInput(bytes.NewReader(make([]byte, MaxInput+1))); !acerr.Is(acerr.TooLarge, err) {
		t.Errorf("ReadInput(MaxInput+1) = %v, want TooLarge", err)
	}
	if got, err := ReadInput(bytes.NewReader(make([]byte, MaxInput))); err != nil || len(got) != MaxInput {
		t.Errorf("ReadInput(MaxInput) = %d bytes, %v", len(got), err)
	}
	if _, err := ReadJSON(bytes.NewReader(make([]byte, MaxJSONInput+1))); !acerr.Is(acerr.TooLarge, err) {
		t.Errorf("ReadJSON(MaxJSONInput+1) = %v, want TooLarge", err)
	}
	if got, err := ReadJSON(bytes.NewReader(make([]byte, MaxJSONInput))); err != nil || len(got) != MaxJSONInput {
		t.Errorf("ReadJSON(MaxJSONInput) = %d bytes, %v", len(got), err)
	}
	// JSON over the limit, whether it would compress well or not.
	huge := fmt.Sprintf(`{"version":1,"kind":"reference","policy":"node_v1","ipfs_hash":"x","owner":"x","name":%q,"signature":"","blocks":{}}`,
		strings.Repeat("a", MaxJSON))
	if _, err := Parse(compress([]byte(huge))); !acerr.Is(acerr.TooLarge, err) {
		t.Errorf("Parse(JSON over MaxJSON) = %v, want TooLarge", err)
	}
	if _, err := FromJSON([]byte(huge)); !acerr.Is(acerr.Invalid, err) && !acerr.Is(acerr.TooLarge, err) {
		t.Errorf("FromJSON(JSON over MaxJSON) = %v, want refused", err)
	}
	if _, err := FromJSON(make([]byte, 2*MaxJSON+1)); !acerr.Is(acerr.TooLarge, err) {
		t.Errorf("FromJSON(over 2 MiB) = %v, want TooLarge", err)
	}
}

func TestBadInput(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  string
	}{
		{"empty", "", "empty input"},
		{"spaces", " \n\t ", "empty input"},
		{"prose", "hello, world!", "neither zlib data nor base64 text"},
		{"base64 of prose", b64([]byte("hello, world")), "does not hold zlib data"},
		{"mixed alphabets", "eNo+-_/", "neither zlib data nor base64 text"},
		{"zlib header only", "\x78\x9c", "truncated"},
		{"zlib with a dictionary", "\x78\xbb\x00\x00\x00\x01", "neither"},
		{"zlib of garbage", "\x78\x9c\xff\xff\xff", "corrupt"},
		{"JSON text", `{"version":1}`, "neither"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.input))
		if !acerr.Is(acerr.Invalid, err) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%s) = %v, want Invalid saying %q", tt.name, err, tt.want)
		}
	}
}

func TestNewReferenceRefuses(t *testing.T) {
	f := newFixture()
	leaf := newFixture().s
	var shard []byte
	for _, b := range leaf {
		if n, err := schema.Decode(b); err == nil && n.Kind() == schema.KindDirNode {
			shard = b
			break
		}
	}
	tests := []struct {
		name        string
		node, owner []byte
		kind        acerr.Kind
	}{
		{"shared directory", f.s[f.root], alice.block, acerr.Invalid},
		{"shard", shard, alice.block, acerr.Invalid},
		{"owner not an identity", f.nodeBlk, f.s[f.root], acerr.Invalid},
		{"wrong owner", f.nodeBlk, bob.block, acerr.Invalid},
		{"identity with another owner", alice.block, bob.block, acerr.Invalid},
		{"garbage node", []byte("garbage"), alice.block, acerr.Invalid},
		{"no owner", f.nodeBlk, nil, acerr.Invalid},
	}
	for _, tt := range tests {
		_, err := NewReference(tt.node, tt.owner)
		if !acerr.Is(tt.kind, err) {
			t.Errorf("NewReference(%s) = %v, want kind %q", tt.name, err, tt.kind)
		}
	}
	// A node whose signature is bad is refused by the built-in Parse.
	n := *f.node
	n.Seq = 7
	if _, err := NewReference(schema.Encode(&n), alice.block); !acerr.Is(acerr.Signature, err) {
		t.Errorf("NewReference(badly signed) = %v, want Signature", err)
	}
}

func TestNewContent(t *testing.T) {
	ctx := context.Background()
	f := newFixture()

	// A store that lies about a block.
	lying := store{}
	for c, b := range f.s {
		lying[c] = b
	}
	lying[f.root] = []byte("not the root")
	if _, err := NewContent(ctx, lying.get, f.nodeCID, alice.block); !acerr.Is(acerr.Integrity, err) {
		t.Errorf("NewContent(lying store) = %v, want Integrity", err)
	}

	// A store that lacks a block.
	partial := store{}
	for c, b := range f.s {
		partial[c] = b
	}
	delete(partial, schema.Sum(f.bobBlk))
	if _, err := NewContent(ctx, partial.get, f.nodeCID, alice.block); !acerr.Is(acerr.NotExist, err) {
		t.Errorf("NewContent(partial store) = %v, want NotExist", err)
	}

	// A cancelled context stops the walk.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := NewContent(cctx, f.s.get, f.nodeCID, alice.block); !errors.Is(err, context.Canceled) {
		t.Errorf("NewContent(cancelled) = %v, want context.Canceled", err)
	}

	// An identity's content is its reference, relabelled.
	m, err := NewContent(ctx, store{alice.cid: alice.block}.get, alice.cid, nil)
	if err != nil {
		t.Fatalf("NewContent(identity) = %v", err)
	}
	if p, err := Parse(m); err != nil || p.Kind != KindContent || len(p.Blocks) != 1 {
		t.Errorf("Parse(identity content) = %v", err)
	}
}

// TestNewContentTooLarge: a tree whose structure passes the limits is
// refused with advice, not truncated: early when the blocks pass the JSON
// limit, at the end when they pass the compressed one.
func TestNewContentTooLarge(t *testing.T) {
	tests := []struct {
		name        string
		dirs, files int
		fetchAll    bool
	}{
		{"over 1 MiB of JSON", 40, 200, false},
		{"over 64 KiB compressed", 15, 200, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := store{}
			var dirs []schema.Entry
			for d := range tt.dirs {
				var files []schema.Entry
				for i := range tt.files {
					files = append(files, file(fmt.Sprintf("d%d-file%03d", d, i)))
				}
				dirs = append(dirs, entry(fmt.Sprintf("dir%02d", d), schema.KindDirectory, s.put(&schema.Directory{Entries: files})))
			}
			root := s.put(&schema.Directory{Entries: dirs})
			node := &schema.Node{Owner: alice.cid, Seq: 1, Root: root, Created: 1}
			identity.Sign(alice.priv, node)
			nodeCID := s.put(node)
			fetched := 0
			get := func(ctx context.Context, c cid.Cid) ([]byte, error) { fetched++; return s.get(ctx, c) }
			_, err := NewContent(context.Background(), get, nodeCID, alice.block)
			if !acerr.Is(acerr.TooLarge, err) || !strings.Contains(err.Error(), "ac-export") {
				t.Fatalf("NewContent(big tree) = %v, want TooLarge advising ac-export", err)
			}
			if all := fetched == len(s); all != tt.fetchAll {
				t.Errorf("NewContent fetched %d of %d blocks, want all: %v", fetched, len(s), tt.fetchAll)
			}
			// The same node as a reference is fine.
			if _, err := NewReference(s[nodeCID], alice.block); err != nil {
				t.Errorf("NewReference(big tree's node) = %v", err)
			}
		})
	}
}

func TestEnvelopeFieldOrder(t *testing.T) {
	msg := mustReference(t, newFixture().nodeBlk, alice.block)
	js, _ := open(msg)
	order := []string{"version", "kind", "policy", "ipfs_hash", "owner", "name", "seq", "signature", "blocks"}
	last := -1
	for _, k := range order {
		i := bytes.Index(js, []byte(`"`+k+`":`))
		if i <= last {
			t.Fatalf("field %q at %d, after %d: want the order %v in %s", k, i, last, order, js)
		}
		last = i
	}
	// An identity has no seq.
	js, _ = open(mustReference(t, alice.block, nil))
	if bytes.Contains(js, []byte(`"seq"`)) {
		t.Errorf("identity reference has a seq: %s", js)
	}
}

func TestClip(t *testing.T) {
	tests := []struct{ in, want string }{
		{"short", "short"},
		{strings.Repeat("a", 64), strings.Repeat("a", 64)},
		{strings.Repeat("a", 65), strings.Repeat("a", 64) + "…"},
		{strings.Repeat("a", 63) + "é" + "tail", strings.Repeat("a", 63) + "…"}, // é would be cut in half
	}
	for _, tt := range tests {
		if got := clip(tt.in); got != tt.want {
			t.Errorf("clip(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// An unknown kind of any length is named in a short error.
	msg := reseal(t, mustReference(t, alice.block, nil), func(e *Envelope) { e.Kind = Kind(strings.Repeat("k", 10000)) })
	if _, err := Parse(msg); !acerr.Is(acerr.Invalid, err) || len(err.Error()) > 200 {
		t.Errorf("Parse(long kind) = %.300v, want a short Invalid error", err)
	}
}
