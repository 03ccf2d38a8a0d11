package merge_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"strings"
	"sync/atomic"
	"time"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/identity"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/merge"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

var ctx = context.Background()

// tb is what the helpers need of a *testing.T or a *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// person is an identity with its key.
type person struct {
	id   *schema.Identity
	cid  cid.Cid
	priv ed25519.PrivateKey
}

func newPerson(t tb, st ipfsstore.Store, name string) *person {
	t.Helper()
	id, priv, err := identity.New(name, time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	c, data := schema.Block(id)
	if err := st.Put(ctx, c, data); err != nil {
		t.Fatal(err)
	}
	return &person{id: id, cid: c, priv: priv}
}

// SignDirectory signs d if p owns it.
func (p *person) SignDirectory(_ context.Context, d *schema.Directory) error {
	if !d.Owner.Equals(p.cid) {
		return acerr.E("test.Sign", "", acerr.Permission, errors.New("not my directory"))
	}
	identity.Sign(p.priv, d)
	return nil
}

func (p *person) Holds(owner cid.Cid) bool { return owner.Equals(p.cid) }

// friends resolves the identities it holds.
type friends map[cid.Cid]*schema.Identity

func (f friends) Identity(_ context.Context, c cid.Cid) (*schema.Identity, error) {
	if id, ok := f[c]; ok {
		return id, nil
	}
	return nil, acerr.E("test.Resolve", "", acerr.NotExist, errors.New("not a friend")).WithCID(c.String())
}

func trusting(ps ...*person) friends {
	f := friends{}
	for _, p := range ps {
		f[p.cid] = p.id
	}
	return f
}

// clock is a shared clock that moves one second at every reading, so
// that every change has its own mtime.
type clock struct{ n atomic.Int64 }

func (c *clock) now() time.Time { return time.Unix(1767225600+c.n.Add(1), 0) }

// fileEntry stands for a file with content s, stored as a raw block.
func fileEntry(t tb, st ipfsstore.Store, s string) schema.Entry {
	t.Helper()
	c, _, err := st.AddFile(ctx, strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	return schema.Entry{Kind: schema.KindFile, Target: c, Size: uint64(len(s)), Mode: 0o644}
}

func newMerger(st ipfsstore.Store, r merge.Config) *merge.Merger {
	r.Store = st
	return merge.New(r)
}

func mustMerge(t tb, m *merge.Merger, a, b cid.Cid) cid.Cid {
	t.Helper()
	c, _, err := m.Merge(ctx, a, b)
	if err != nil {
		t.Fatalf("Merge(%s, %s): %v", a, b, err)
	}
	return c
}

// ownedDir writes an empty directory owned by p, continuing after prev
// (a version of it, or undefined), and returns its CID.
func ownedDir(t tb, st ipfsstore.Store, p *person, seq uint64, prev cid.Cid) cid.Cid {
	t.Helper()
	d := &schema.Directory{Owner: p.cid, Seq: seq, Prev: prev}
	identity.Sign(p.priv, d)
	c, data := schema.Block(d)
	if err := st.Put(ctx, c, data); err != nil {
		t.Fatal(err)
	}
	return c
}
