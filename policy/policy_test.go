package policy

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/identity"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// user is a test identity made from a fixed seed.
type user struct {
	id   *schema.Identity
	cid  cid.Cid
	priv ed25519.PrivateKey
}

func newUser(name string, seed byte) user {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
	id := &schema.Identity{Name: name, Key: priv.Public().(ed25519.PublicKey), Created: 1700000000}
	identity.Sign(priv, id)
	return user{id: id, cid: schema.Sum(schema.Encode(id)), priv: priv}
}

// friends is a Resolver over a fixed set of identities.
type friends map[cid.Cid]*schema.Identity

func (f friends) Identity(_ context.Context, id cid.Cid) (*schema.Identity, error) {
	if i, ok := f[id]; ok {
		return i, nil
	}
	return nil, acerr.E("friends", id.String(), acerr.NotExist, nil)
}

// resolverFunc adapts a function to Resolver.
type resolverFunc func(context.Context, cid.Cid) (*schema.Identity, error)

func (f resolverFunc) Identity(ctx context.Context, id cid.Cid) (*schema.Identity, error) {
	return f(ctx, id)
}

func cidOf(n schema.Object) cid.Cid { return schema.Sum(schema.Encode(n)) }

func fakeCID(s string) cid.Cid { return schema.Sum([]byte(s)) }

func fileCID(s string) cid.Cid {
	h, _ := multihash.Sum([]byte(s), multihash.SHA2_256, -1)
	return cid.NewCidV1(cid.Raw, h)
}

var (
	alice   = newUser("alice", 1)
	bob     = newUser("bob", 2)
	mallory = newUser("mallory", 3)
	// alice2 is a stranger who took alice's name with a new key.
	alice2 = newUser("alice", 4)
)

func entry(name string, kind schema.Kind, target cid.Cid) schema.Entry {
	return schema.Entry{Name: name, Kind: kind, Target: target, Mtime: 1, VV: schema.VV{"r1": 1}}
}

func signedNode(u user, seq uint64, root cid.Cid) *schema.Node {
	n := &schema.Node{Owner: u.cid, Seq: seq, Root: root, Created: 1700000000}
	identity.Sign(u.priv, n)
	return n
}

func ownedDir(u user, seq uint64, entries ...schema.Entry) *schema.Directory {
	d := &schema.Directory{Owner: u.cid, Seq: seq, Entries: entries}
	identity.Sign(u.priv, d)
	return d
}

func TestCheck(t *testing.T) {
	r := friends{alice.cid: alice.id, bob.cid: bob.id}

	renamed := *alice.id
	renamed.Name = "alicia" // signature no longer covers the fields
	badName := &schema.Identity{Name: "al\u202eice", Key: mallory.priv.Public().(ed25519.PublicKey), Created: 1}
	identity.Sign(mallory.priv, badName)

	node := signedNode(alice, 3, fakeCID("root"))
	strangerNode := signedNode(mallory, 1, fakeCID("root"))
	forgedNode := &schema.Node{Owner: alice.cid, Seq: 9, Root: fakeCID("evil"), Created: 1}
	identity.Sign(mallory.priv, forgedNode) // claims alice, signed by mallory
	unsigned := &schema.Node{Owner: alice.cid, Seq: 1, Root: fakeCID("root"), Created: 1}
	badAddr := &schema.Node{Owner: alice.cid, Seq: 1, Root: fakeCID("root"), Addrs: []string{"no-port"}, Created: 1}
	identity.Sign(alice.priv, badAddr)
	goodAddr := &schema.Node{Owner: alice.cid, Seq: 1, Root: fakeCID("root"), Addrs: []string{"[::1]:4001", "host.example:80"}, Created: 1}
	identity.Sign(alice.priv, goodAddr)
	rawRoot := &schema.Node{Owner: alice.cid, Seq: 1, Root: fileCID("x"), Created: 1}
	identity.Sign(alice.priv, rawRoot)

	dir := ownedDir(bob, 2, entry("a.txt", schema.KindFile, fileCID("a")), entry("sub", schema.KindDirectory, fakeCID("sub")))
	strangerDir := ownedDir(mallory, 1)
	forgedDir := &schema.Directory{Owner: bob.cid, Seq: 5, Sig: dir.Sig}
	fileAsDir := ownedDir(bob, 1, entry("a.txt", schema.KindFile, fakeCID("a")))
	fileV0 := ownedDir(bob, 1, entry("a.txt", schema.KindFile, cid.NewCidV0(fileCID("a").Hash())))
	shared := &schema.Directory{Entries: []schema.Entry{entry("x", schema.KindDirectory, fakeCID("x"))}}
	sharedDirAsFile := &schema.Directory{Entries: []schema.Entry{entry("x", schema.KindDirectory, fileCID("x"))}}

	leaf := &schema.DirNode{Entries: []schema.Entry{entry("a", schema.KindFile, fileCID("a")), entry("b", schema.KindFile, fileCID("b"))}}
	inner := &schema.DirNode{Level: 1, Children: []schema.DirChild{{Name: "a", Link: cidOf(leaf)}, {Name: "m", Link: fakeCID("m")}}}
	fileChild := &schema.DirNode{Level: 1, Children: []schema.DirChild{{Name: "a", Link: fileCID("a")}}}
	badLeaf := &schema.DirNode{Entries: []schema.Entry{entry("x", schema.KindDirectory, fileCID("x"))}}

	tests := []struct {
		name string
		c    cid.Cid // zero: the node's own CID
		n    schema.Object
		r    Resolver   // nil: alice and bob are friends
		noR  bool       // pass a nil Resolver
		kind acerr.Kind // Other: no error
		is   error
	}{
		{name: "identity", n: alice.id},
		{name: "identity stranger is fine", n: mallory.id, r: friends{}},
		{name: "identity forged", n: &renamed, kind: acerr.Signature},
		{name: "identity bad name", n: badName, kind: acerr.Invalid},
		{name: "identity wrong CID", c: bob.cid, n: alice.id, kind: acerr.Integrity},
		{name: "node", n: node},
		{name: "node addrs", n: goodAddr},
		{name: "node by stranger", n: strangerNode, kind: acerr.Permission, is: ErrNotFriend},
		{name: "node nil resolver", n: node, noR: true, kind: acerr.Permission},
		{name: "node forged", n: forgedNode, kind: acerr.Signature},
		{name: "node unsigned", n: unsigned, kind: acerr.Signature},
		{name: "node bad addr", n: badAddr, kind: acerr.Invalid},
		{name: "node root not dag-cbor", n: rawRoot, kind: acerr.Invalid},
		{name: "owned dir", n: dir},
		{name: "owned dir by stranger", n: strangerDir, kind: acerr.Permission, is: ErrNotFriend},
		{name: "owned dir forged", n: forgedDir, kind: acerr.Signature},
		{name: "owned dir file target dag-cbor", n: fileAsDir, kind: acerr.Invalid},
		{name: "owned dir file target CIDv0", n: fileV0},
		{name: "shared dir", n: shared, r: friends{}},
		{name: "shared dir target raw", n: sharedDirAsFile, kind: acerr.Invalid},
		{name: "tree leaf", n: leaf},
		{name: "tree inner node", n: inner},
		{name: "tree node linking a file", n: fileChild, kind: acerr.Invalid},
		{name: "tree leaf with a directory entry linking a file", n: badLeaf, kind: acerr.Invalid},
		{name: "nil node", c: fakeCID("x"), kind: acerr.Invalid},
		{name: "lying resolver", n: node, r: resolverFunc(func(context.Context, cid.Cid) (*schema.Identity, error) {
			return mallory.id, nil
		}), kind: acerr.Integrity},
		{name: "failing resolver", n: node, r: resolverFunc(func(context.Context, cid.Cid) (*schema.Identity, error) {
			return nil, acerr.E("friends", "", acerr.IO, errors.New("disk on fire"))
		}), kind: acerr.IO},
		{name: "resolver answers nil", n: node, r: resolverFunc(func(context.Context, cid.Cid) (*schema.Identity, error) {
			return nil, nil
		}), kind: acerr.Permission},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.c
			if !c.Defined() {
				c = cidOf(tt.n)
			}
			res := tt.r
			if res == nil && !tt.noR {
				res = r
			}
			err := Check(context.Background(), res, c, tt.n)
			if tt.kind == acerr.Other {
				if err != nil {
					t.Fatalf("Check(%s) = %v, want nil", tt.name, err)
				}
				return
			}
			if !acerr.Is(tt.kind, err) {
				t.Fatalf("Check(%s) = %v, want kind %q", tt.name, err, tt.kind)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Check(%s) = %v, want it to wrap %q", tt.name, err, tt.is)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") || !strings.Contains(msg, c.String()) {
				t.Errorf("Check(%s) error %q: want one line naming %s", tt.name, msg, c)
			}
			if tt.n != nil && !strings.Contains(msg, string(tt.n.Kind())) {
				t.Errorf("Check(%s) error %q does not name the kind %s", tt.name, msg, tt.n.Kind())
			}
		})
	}
}

func TestCheckNotFriendMessage(t *testing.T) {
	n := signedNode(mallory, 1, fakeCID("root"))
	err := Check(context.Background(), friends{}, cidOf(n), n)
	want := "owner " + Short(mallory.cid) + " is not a friend"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Check(stranger's node) = %v, want it to say %q", err, want)
	}
}

func TestNewer(t *testing.T) {
	v3 := signedNode(alice, 3, fakeCID("r3"))
	v5 := signedNode(alice, 5, fakeCID("r5"))
	v5b := signedNode(alice, 5, fakeCID("r5-other"))
	other := signedNode(bob, 9, fakeCID("b"))
	tests := []struct {
		name      string
		held, in  *schema.Node
		want      bool
		kind      acerr.Kind
		is        error
		msgSubstr string
	}{
		{name: "same", held: v5, in: v5},
		{name: "higher", held: v3, in: v5, want: true},
		{name: "lower", held: v5, in: v3, kind: acerr.Stale, is: ErrRollback, msgSubstr: "seq 3 is older than held seq 5 (rollback refused)"},
		{name: "fork", held: v5, in: v5b, kind: acerr.Stale, is: ErrFork, msgSubstr: "fork at seq 5: held " + Short(cidOf(v5)) + " kept"},
		{name: "fork other way", held: v5b, in: v5, kind: acerr.Stale, is: ErrFork, msgSubstr: "held " + Short(cidOf(v5b)) + " kept"},
		{name: "other owner", held: v3, in: other, kind: acerr.Permission, is: ErrOwnerChanged},
		{name: "nil", held: nil, in: v3, kind: acerr.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var heldCID cid.Cid
			if tt.held != nil {
				heldCID = cidOf(tt.held)
			}
			got, err := Newer(tt.held, heldCID, tt.in, cidOf(tt.in))
			checkVersionResult(t, "Newer", got, err, tt.want, tt.kind, tt.is, tt.msgSubstr)
		})
	}
}

func checkVersionResult(t *testing.T, fn string, got bool, err error, want bool, kind acerr.Kind, is error, substr string) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", fn, got, want)
	}
	if kind == acerr.Other {
		if err != nil {
			t.Errorf("%s error = %v, want nil", fn, err)
		}
		return
	}
	if !acerr.Is(kind, err) {
		t.Fatalf("%s error = %v, want kind %q", fn, err, kind)
	}
	if is != nil && !errors.Is(err, is) {
		t.Errorf("%s error = %v, want it to wrap %q", fn, err, is)
	}
	if !strings.Contains(err.Error(), substr) {
		t.Errorf("%s error = %q, want it to contain %q", fn, err, substr)
	}
}

func TestCompareOwned(t *testing.T) {
	d1 := ownedDir(alice, 1)
	d2 := ownedDir(alice, 2, entry("a", schema.KindFile, fileCID("a")))
	f2 := ownedDir(alice, 2, entry("b", schema.KindFile, fileCID("b")))
	small, big := d2, f2
	if bytes.Compare(cidOf(small).Bytes(), cidOf(big).Bytes()) > 0 {
		small, big = big, small
	}
	tests := []struct {
		name string
		a, b *schema.Directory
		want int
	}{
		{"same", d2, d2, 0},
		{"higher seq first", d2, d1, -1},
		{"lower seq last", d1, d2, 1},
		{"fork: smaller CID first", small, big, -1},
		{"fork: bigger CID last", big, small, 1},
	}
	for _, tt := range tests {
		if got := CompareOwned(tt.a, cidOf(tt.a), tt.b, cidOf(tt.b)); got != tt.want {
			t.Errorf("%s: CompareOwned = %d, want %d", tt.name, got, tt.want)
		}
	}
}

// TestForkConverges: whichever side a replica holds, the fork resolves to
// the same directory.
func TestForkConverges(t *testing.T) {
	a := ownedDir(alice, 4, entry("a", schema.KindFile, fileCID("a")))
	b := ownedDir(alice, 4, entry("b", schema.KindFile, fileCID("b")))
	keep := func(held, in *schema.Directory) cid.Cid {
		if CompareOwned(held, cidOf(held), in, cidOf(in)) > 0 {
			return cidOf(in)
		}
		return cidOf(held)
	}
	if x, y := keep(a, b), keep(b, a); !x.Equals(y) {
		t.Errorf("fork kept %s holding a, %s holding b; want the same", x, y)
	}
}

var identityNames = []struct {
	name string
	ok   bool
}{
	{"alice", true},
	{"Ålice Ünicode", true},
	{"", false},
	{".", false},
	{"a/b", false},
	{"tab\there", false},
	{"bidi\u202eevil", false},
	{"zero\u200bwidth", false},
	{" alice", false},
	{"alice ", false},
	{strings.Repeat("x", 256), false},
	{"bad\xffutf8", false},
}

func TestValidIdentityName(t *testing.T) {
	for _, tt := range identityNames {
		if err := schema.ValidIdentityName(tt.name); (err == nil) != tt.ok {
			t.Errorf("ValidIdentityName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func TestShort(t *testing.T) {
	c := alice.cid
	s := Short(c)
	if !strings.HasPrefix(s, c.String()[:4]) || !strings.HasSuffix(s, c.String()[len(c.String())-8:]) || len(s) >= len(c.String()) {
		t.Errorf("Short(%s) = %q", c, s)
	}
	if Short(cid.Undef) != "(none)" {
		t.Errorf("Short(Undef) = %q", Short(cid.Undef))
	}
}
