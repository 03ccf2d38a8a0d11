// Package forge builds hostile trees: the blocks a malicious friend, or a
// friend's compromised machine, could hand over, each breaking one rule
// that a merge must enforce before it links anything into my tree. The
// tests of merge, of the commands and the fuzzers use it; nothing else
// does.
//
// A Case makes one entry (named "evil") whose target, or whose own
// fields, lie; Place writes such an entry into a directory of a tree
// without any of the checks tree.Put makes, as a forger's own software
// would. Every block is hash-correct and within the size limit (the store
// refuses anything else), and every owned directory the forger signs is
// signed with the forger's real key: what is wrong is the content.
package forge

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/identity"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/ipfsstore/car"
	"github.com/archivecache/archivecache/ipfsstore/unixfs"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
)

// Forger is who forges: a friend with a real identity and key. It
// remembers every block it writes (Written, WriteCAR), so that they can
// be handed over as a friend's software would.
type Forger struct {
	Store   ipfsstore.Store    // where the forged blocks go; also read from
	ID      cid.Cid            // the forger's identity CID
	Key     ed25519.PrivateKey // the forger's key
	Victim  cid.Cid            // the identity of the home under attack
	Replica string             // the replica id the forged entries carry
	Mtime   int64              // unix nanoseconds of the forged changes
	Limits  tree.Config        // the directory targets of the trees attacked

	rec *recorder
}

// recorder is a Store that remembers what is put into it.
type recorder struct {
	ipfsstore.Store
	mu     sync.Mutex
	blocks map[cid.Cid][]byte
}

func (r *recorder) Put(ctx context.Context, c cid.Cid, data []byte) error {
	if err := r.Store.Put(ctx, c, data); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.blocks[c] = bytes.Clone(data)
	return nil
}

func (r *recorder) AddFile(ctx context.Context, rd io.Reader) (cid.Cid, uint64, error) {
	return unixfs.Import(ctx, rd, r.Put)
}

// store returns the recording store over f.Store.
func (f *Forger) store() *recorder {
	if f.rec == nil || f.rec.Store != f.Store {
		f.rec = &recorder{Store: f.Store, blocks: map[cid.Cid][]byte{}}
	}
	return f.rec
}

// Written returns every block f has written, by CID.
func (f *Forger) Written() map[cid.Cid][]byte {
	r := f.store()
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.blocks)
}

// WriteCAR writes every block f has written to w as a CAR file with the
// given roots, in CID order.
func (f *Forger) WriteCAR(w io.Writer, roots ...cid.Cid) error {
	cw, err := car.NewWriter(w, roots)
	if err != nil {
		return err
	}
	blocks := f.Written()
	keys := slices.SortedFunc(maps.Keys(blocks), func(a, b cid.Cid) int { return bytes.Compare(a.Bytes(), b.Bytes()) })
	for _, c := range keys {
		if err := cw.Put(c, blocks[c]); err != nil {
			return err
		}
	}
	return cw.Flush()
}

// A Case is one way to lie. Entry returns the lying entry, named "evil".
type Case struct {
	Name  string
	Want  acerr.Kind // the kind of the refusal
	Entry func(ctx context.Context, f *Forger) (schema.Entry, error)
}

// Cases returns every way to lie that a merge must refuse.
func Cases() []Case {
	var cs []Case
	for _, n := range []struct{ what, name string }{
		{"dot-dot", ".."},
		{"dot", "."},
		{"traversal", "../../etc/passwd"},
		{"slash", "a/b"},
		{"nul", "a\x00b"},
		{"long", strings.Repeat("x", 300)},
		{"empty", ""},
		{"not-utf8", "a\xffb"},
	} {
		cs = append(cs, Case{"name-" + n.what, acerr.Integrity, func(ctx context.Context, f *Forger) (schema.Entry, error) {
			return f.rawDirEntry([]schema.Entry{f.file(n.name, "x")})
		}})
	}
	cs = append(cs,
		Case{"name-duplicate", acerr.Integrity, func(ctx context.Context, f *Forger) (schema.Entry, error) {
			return f.rawDirEntry([]schema.Entry{f.file("a", "1"), f.file("a", "2")})
		}},
		Case{"name-unsorted", acerr.Integrity, func(ctx context.Context, f *Forger) (schema.Entry, error) {
			return f.rawDirEntry([]schema.Entry{f.file("b", "1"), f.file("a", "2")})
		}},
		Case{"owned-forged-signature", acerr.Signature, func(ctx context.Context, f *Forger) (schema.Entry, error) {
			return f.forgedOwned(ctx, f.ID)
		}},
		Case{"owned-claims-victim", acerr.Signature, func(ctx context.Context, f *Forger) (schema.Entry, error) {
			return f.forgedOwned(ctx, f.Victim)
		}},
		Case{"owned-by-stranger", acerr.Permission, func(ctx context.Context, f *Forger) (schema.Entry, error) {
			id, key, err := identity.New("stranger", time.Unix(1700000000, 0))
			if err != nil {
				return schema.Entry{}, err
			}
			idc, err := f.put(id)
			if err != nil {
				return schema.Entry{}, err
			}
			d := &schema.Directory{Owner: idc, Seq: 1, Entries: []schema.Entry{f.file("x", "x")}}
			identity.Sign(key, d)
			c, err := f.put(d)
			return f.entry(schema.KindDirectory, c, idc), err
		}},
		Case{"owner-hidden", acerr.Integrity, func(ctx context.Context, f *Forger) (schema.Entry, error) {
			c, err := f.owned(1, []schema.Entry{f.file("x", "x")})
			return f.entry(schema.KindDirectory, c, cid.Undef), err
		}},
		Case{"owner-invented", acerr.Integrity, func(ctx context.Context, f *Forger) (schema.Entry, error) {
			c, err := f.put(&schema.Directory{Entries: []schema.Entry{f.file("x", "x")}})
			return f.entry(schema.KindDirectory, c, f.ID), err
		}},
		Case{"retirement-with-entries", acerr.Permission, func(ctx context.Context, f *Forger) (schema.Entry, error) {
			c, err := f.owned(2, []schema.Entry{f.file("x", "x")})
			e := f.entry(schema.KindDirectory, c, f.ID)
			e.Deleted = true
			return e, err
		}},
		Case{"deep-chain", acerr.TooLarge, func(ctx context.Context, f *Forger) (schema.Entry, error) {
			c, err := f.put(&schema.Directory{Entries: []schema.Entry{f.file("leaf", "x")}})
			for i := 0; i < 10000 && err == nil; i++ {
				c, err = f.put(&schema.Directory{Entries: []schema.Entry{f.entry(schema.KindDirectory, c, cid.Undef)}})
			}
			return f.entry(schema.KindDirectory, c, cid.Undef), err
		}},
		Case{"block-missing", acerr.NotExist, func(ctx context.Context, f *Forger) (schema.Entry, error) {
			return f.entry(schema.KindDirectory, schema.Sum([]byte("a directory nobody holds")), cid.Undef), nil
		}},
		Case{"block-missing-deeper", acerr.NotExist, func(ctx context.Context, f *Forger) (schema.Entry, error) {
			gone := f.entry(schema.KindDirectory, schema.Sum([]byte("a directory nobody holds")), cid.Undef)
			gone.Name = "sub"
			return f.dirEntry(ctx, []schema.Entry{f.file("a", "1"), gone})
		}},
		Case{"size-too-small", acerr.Integrity, func(ctx context.Context, f *Forger) (schema.Entry, error) {
			c, _, err := f.store().AddFile(ctx, bytes.NewReader(bytes.Repeat([]byte("big "), (1<<20+3)/4)))
			e := f.entry(schema.KindFile, c, cid.Undef)
			e.Size = 10
			return e, err
		}},
		Case{"size-too-large", acerr.Integrity, func(ctx context.Context, f *Forger) (schema.Entry, error) {
			c, _, err := f.store().AddFile(ctx, strings.NewReader("ten bytes!"))
			e := f.entry(schema.KindFile, c, cid.Undef)
			e.Size = 10 << 20
			return e, err
		}},
		Case{"kind-identity-in-filesystem", acerr.Invalid, func(ctx context.Context, f *Forger) (schema.Entry, error) {
			return f.entry(schema.KindIdentity, f.ID, cid.Undef), nil
		}},
		Case{"directory-is-identity", acerr.NotDir, func(ctx context.Context, f *Forger) (schema.Entry, error) {
			return f.entry(schema.KindDirectory, f.ID, cid.Undef), nil
		}},
		Case{"directory-is-raw", acerr.Integrity, func(ctx context.Context, f *Forger) (schema.Entry, error) {
			c, _, err := f.store().AddFile(ctx, strings.NewReader("not a directory"))
			return f.entry(schema.KindDirectory, c, cid.Undef), err
		}},
		Case{"file-is-dag-cbor", acerr.Invalid, func(ctx context.Context, f *Forger) (schema.Entry, error) {
			c, err := f.put(&schema.Directory{Entries: []schema.Entry{f.file("x", "x")}})
			return f.entry(schema.KindFile, c, cid.Undef), err
		}},
		Case{"tree-needless-split", acerr.Integrity, func(ctx context.Context, f *Forger) (schema.Entry, error) {
			// Two entries that make one leaf, cut into two.
			kids, err := f.leaves("a", "b")
			if err != nil {
				return schema.Entry{}, err
			}
			c, err := f.put(&schema.Directory{Level: 1, Children: kids})
			return f.entry(schema.KindDirectory, c, cid.Undef), err
		}},
		Case{"tree-root-one-child", acerr.Integrity, func(ctx context.Context, f *Forger) (schema.Entry, error) {
			kids, err := f.leaves("x")
			if err != nil {
				return schema.Entry{}, err
			}
			c, err := f.put(&schema.Directory{Level: 1, Children: kids})
			return f.entry(schema.KindDirectory, c, cid.Undef), err
		}},
		Case{"tree-wrong-level", acerr.Integrity, func(ctx context.Context, f *Forger) (schema.Entry, error) {
			kids, err := f.leaves("a", "b")
			if err != nil {
				return schema.Entry{}, err
			}
			c, err := f.put(&schema.Directory{Level: 2, Children: kids})
			return f.entry(schema.KindDirectory, c, cid.Undef), err
		}},
		Case{"inline-too-large", acerr.Integrity, func(ctx context.Context, f *Forger) (schema.Entry, error) {
			var es []schema.Entry
			for i := range 1000 {
				es = append(es, f.file(fmt.Sprintf("file-%04d-%s", i, strings.Repeat("n", 40)), fmt.Sprint(i)))
			}
			return f.rawDirEntry(es)
		}},
		Case{"tree-past-a-cut", acerr.Integrity, func(ctx context.Context, f *Forger) (schema.Entry, error) {
			// The same entries, two leaves made one: another CID for them.
			return f.lyingTree(ctx, func(p *schema.DirNode, leaves []*schema.DirNode) []*schema.DirNode {
				leaves[0].Entries = append(leaves[0].Entries, leaves[1].Entries...)
				p.Children = slices.Delete(p.Children, 1, 2)
				return slices.Delete(leaves, 1, 2)
			})
		}},
		Case{"tree-child-name-lie", acerr.Integrity, func(ctx context.Context, f *Forger) (schema.Entry, error) {
			return f.lyingTree(ctx, func(p *schema.DirNode, leaves []*schema.DirNode) []*schema.DirNode {
				p.Children[1].Name += "0"
				return leaves
			})
		}},
		Case{"tree-overlap", acerr.Integrity, func(ctx context.Context, f *Forger) (schema.Entry, error) {
			// A name in the first leaf that belongs in the second.
			return f.lyingTree(ctx, func(p *schema.DirNode, leaves []*schema.DirNode) []*schema.DirNode {
				leaves[0].Entries = append(leaves[0].Entries, f.file(leaves[1].Entries[0].Name+"0", "x"))
				return leaves
			})
		}},
	)
	return cs
}

// Shared returns an entry named "evil" of a directory tree depth levels
// deep whose every directory holds entries a and b linking the same
// directory below: 2^depth paths through depth+1 blocks, the innermost
// holding one file of content leaf. It breaks no rule: what it attacks
// is a merge or check whose cost follows paths rather than blocks.
func (f *Forger) Shared(depth int, leaf string) (schema.Entry, error) {
	c, err := f.put(&schema.Directory{Entries: []schema.Entry{f.file("leaf", leaf)}})
	for range depth {
		if err != nil {
			break
		}
		a, b := f.entry(schema.KindDirectory, c, cid.Undef), f.entry(schema.KindDirectory, c, cid.Undef)
		a.Name, b.Name, a.Mode, b.Mode = "a", "b", 0, 0
		c, err = f.put(&schema.Directory{Entries: []schema.Entry{a, b}})
	}
	e := f.entry(schema.KindDirectory, c, cid.Undef)
	e.Mode = 0
	return e, err
}

// put stores n as a block and returns its CID.
func (f *Forger) put(n schema.Object) (cid.Cid, error) {
	c, data := schema.Block(n)
	return c, f.store().Put(context.Background(), c, data)
}

// entry returns an entry named "evil" of kind k linking target, saying
// it is owned by owner.
func (f *Forger) entry(k schema.Kind, target, owner cid.Cid) schema.Entry {
	return schema.Entry{Name: "evil", Kind: k, Target: target, Owner: owner, Mtime: f.Mtime, Mode: 0o644,
		VV: schema.VV{f.Replica: 1}, By: f.ID}
}

// Clone returns a copy of f, to forge with other settings; it records
// what it writes into the same record as f.
func (f *Forger) Clone() *Forger { f.store(); c := *f; return &c }

// File returns an entry of a small file with content s, whose block is not
// stored (a merge never reads file contents).
func (f *Forger) File(name, s string) schema.Entry { return f.file(name, s) }

// StoredFile is File with the content stored, so that it can be read.
func (f *Forger) StoredFile(ctx context.Context, name, s string) (schema.Entry, error) {
	e := f.file(name, s)
	c, _, err := f.store().AddFile(ctx, strings.NewReader(s))
	e.Target = c
	return e, err
}

func (f *Forger) file(name, s string) schema.Entry {
	c := cid.NewCidV1(cid.Raw, schema.Sum([]byte(s)).Hash())
	return schema.Entry{Name: name, Kind: schema.KindFile, Target: c, Size: uint64(len(s)), Mtime: f.Mtime, VV: schema.VV{f.Replica: 1}}
}

// dirEntry stores a shared directory holding entries, laid out as the
// limits want, and returns an entry linking it.
func (f *Forger) dirEntry(ctx context.Context, entries []schema.Entry) (schema.Entry, error) {
	c, err := f.tree().MakeDir(ctx, entries)
	return f.entry(schema.KindDirectory, c, cid.Undef), err
}

// rawDirEntry stores a shared directory holding entries inline, exactly
// as given (order, names and all), and returns an entry linking it.
func (f *Forger) rawDirEntry(entries []schema.Entry) (schema.Entry, error) {
	c, err := f.put(&schema.Directory{Entries: entries})
	return f.entry(schema.KindDirectory, c, cid.Undef), err
}

func (f *Forger) tree() *tree.Tree {
	lim := f.Limits
	lim.Replica, lim.Signer, lim.NodeCache = "", nil, 0
	return tree.New(f.store(), lim)
}

// owned stores a version seq of a directory owned by the forger, signed.
func (f *Forger) owned(seq uint64, entries []schema.Entry) (cid.Cid, error) {
	d := &schema.Directory{Owner: f.ID, Seq: seq, Entries: entries}
	identity.Sign(f.Key, d)
	return f.put(d)
}

// forgedOwned stores a directory that claims owner with a random
// signature and seq 999.
func (f *Forger) forgedOwned(_ context.Context, owner cid.Cid) (schema.Entry, error) {
	sig := make([]byte, ed25519.SignatureSize)
	rand.Read(sig)
	c, err := f.put(&schema.Directory{Owner: owner, Seq: 999, Sig: sig, Entries: []schema.Entry{f.file("x", "x")}})
	return f.entry(schema.KindDirectory, c, owner), err
}

// leaves stores a leaf of one file for each name and returns their
// links as the children of an inner node.
func (f *Forger) leaves(names ...string) ([]schema.DirChild, error) {
	var kids []schema.DirChild
	for _, name := range names {
		leaf, err := f.put(&schema.DirNode{Entries: []schema.Entry{f.file(name, name)}})
		if err != nil {
			return nil, err
		}
		kids = append(kids, schema.DirChild{Name: name, Link: leaf})
	}
	return kids, nil
}

// lyingTree builds a canonical directory of enough entries for a tree
// of several levels, then rewrites the first node above its leaves (and
// the path to it from the root) with lie applied to that node and its
// leaves; lie returns the leaves to link, in order, from p.Children.
func (f *Forger) lyingTree(ctx context.Context, lie func(p *schema.DirNode, leaves []*schema.DirNode) []*schema.DirNode) (schema.Entry, error) {
	var es []schema.Entry
	for i := range 2000 {
		es = append(es, f.file(fmt.Sprintf("file-%04d-%s", i, strings.Repeat("n", 40)), fmt.Sprint(i)))
	}
	c, err := f.tree().MakeDir(ctx, es)
	if err != nil {
		return schema.Entry{}, err
	}
	d, err := f.tree().ReadDirectory(ctx, c)
	if err != nil {
		return schema.Entry{}, err
	}
	read := func(c cid.Cid) (*schema.DirNode, error) {
		data, err := f.store().Get(ctx, c)
		if err != nil {
			return nil, err
		}
		return schema.DecodeAs[*schema.DirNode](data)
	}
	// The leftmost path down to level 1, from the root the directory
	// holds.
	path := []*schema.DirNode{{Level: d.Level, Children: d.Children}}
	for path[len(path)-1].Level > 1 {
		n, err := read(path[len(path)-1].Children[0].Link)
		if err != nil {
			return schema.Entry{}, err
		}
		path = append(path, n)
	}
	p := path[len(path)-1]
	if len(p.Children) < 2 {
		return schema.Entry{}, fmt.Errorf("forge: the first node above the leaves has %d children", len(p.Children))
	}
	leaves := make([]*schema.DirNode, len(p.Children))
	for i := range leaves {
		if leaves[i], err = read(p.Children[i].Link); err != nil {
			return schema.Entry{}, err
		}
	}
	leaves = lie(p, leaves)
	for i, l := range leaves {
		if p.Children[i].Link, err = f.put(l); err != nil {
			return schema.Entry{}, err
		}
	}
	for i := len(path) - 1; i > 0; i-- {
		at, err := f.put(path[i])
		if err != nil {
			return schema.Entry{}, err
		}
		path[i-1].Children[0].Link = at
	}
	c, err = f.put(&schema.Directory{Level: path[0].Level, Children: path[0].Children})
	return f.entry(schema.KindDirectory, c, cid.Undef), err
}

// Place returns root with e set in the directory at dir (a clean path,
// "" for root itself), each directory on the way rewritten with its
// entry's version vector bumped for the forger's replica, without the
// checks tree.Put makes of e (it reads nothing e links). The directories
// on the way must be shared.
func (f *Forger) Place(ctx context.Context, root cid.Cid, dir string, e schema.Entry) (cid.Cid, error) {
	t := f.tree()
	var comps []string
	if dir != "" {
		comps = strings.Split(dir, "/")
	}
	var place func(c cid.Cid, i int) (cid.Cid, error)
	place = func(c cid.Cid, i int) (cid.Cid, error) {
		set := e
		if i < len(comps) {
			entries, err := t.ReadDir(ctx, c)
			if err != nil {
				return cid.Undef, err
			}
			set = schema.Entry{Name: comps[i], Kind: schema.KindDirectory, Mtime: f.Mtime, VV: schema.VV{}}
			child := cid.Undef
			for _, x := range entries {
				if x.Name == comps[i] {
					set, child = x, x.Target
					set.VV = set.VV.Join(nil)
				}
			}
			if !child.Defined() {
				if child, err = t.MakeDir(ctx, nil); err != nil {
					return cid.Undef, err
				}
			}
			if set.Target, err = place(child, i+1); err != nil {
				return cid.Undef, err
			}
			set.Deleted, set.Conflicts = false, nil
			set.VV[f.Replica]++
		}
		nd, err := t.WithEntries(ctx, c, []schema.Entry{set})
		if err != nil {
			return cid.Undef, err
		}
		return t.PutDirectory(ctx, nd)
	}
	return place(root, 0)
}
