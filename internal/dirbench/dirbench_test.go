package dirbench

import (
	"context"
	"testing"

	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
)

// TestProllyCanonical checks that a prolly tree is a function of its
// entries: incremental inserts in random order, replacements and removals
// give the root a build of the same entries from scratch gives.
func TestProllyCanonical(t *testing.T) {
	ctx := context.Background()
	store, err := ipfsstore.OpenEmbedded(ctx, ipfsstore.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	n := 3000
	if testing.Short() {
		n = 800
	}
	for _, p := range []Prolly{{Codec: Today{}, Target: 1024}, {Codec: Compact{}, Target: 512, Inner: 256}} {
		t.Run(p.Codec.Name(), func(t *testing.T) {
			s := NewSample(1)
			entries := s.Files(n)
			want := build(t, p, store, entries)
			if d := depth(t, p, store, want); d < 3 {
				t.Fatalf("tree of %d entries has depth %d; want at least 3 so that inner levels are exercised", n, d)
			}

			root := build(t, p, store, nil)
			for _, i := range s.Perm(n) {
				if root, err = p.Set(ctx, store, root, entries[i]); err != nil {
					t.Fatal(err)
				}
			}
			if !root.Equals(want) {
				t.Fatalf("inserts in random order give %s, a build gives %s", root, want)
			}

			// Replace a third, remove a third, in random order.
			perm := s.Perm(n)
			kept := map[string]schema.Entry{}
			for _, e := range entries {
				kept[e.Name] = e
			}
			for k, i := range perm[:2*n/3] {
				name := entries[i].Name
				if k%2 == 0 {
					kept[name] = s.Change(entries[i])
					root, err = p.Set(ctx, store, root, kept[name])
				} else {
					delete(kept, name)
					root, err = p.Remove(ctx, store, root, name)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			var rest []schema.Entry
			for _, e := range kept {
				rest = append(rest, e)
			}
			if want := build(t, p, store, rest); !root.Equals(want) {
				t.Fatalf("after changes the root is %s, a build of the result gives %s", root, want)
			}
			if d, err := p.Diff(ctx, store, root, build(t, p, store, entries)); err != nil || d != 2*n/3 {
				t.Fatalf("Diff = %d, %v; want %d", d, err, 2*n/3)
			}
			for _, e := range rest[:50] {
				got, ok, err := p.Lookup(ctx, store, root, e.Name)
				if err != nil || !ok || !schema.SameEntry(&got, &e) {
					t.Fatalf("Lookup(%q) = %v, %v, %v; want the entry", e.Name, got, ok, err)
				}
			}

			// Removing everything leaves the empty tree.
			for _, e := range rest {
				if root, err = p.Remove(ctx, store, root, e.Name); err != nil {
					t.Fatal(err)
				}
			}
			if want := build(t, p, store, nil); !root.Equals(want) {
				t.Fatalf("removing every entry gives %s, the empty tree is %s", root, want)
			}
		})
	}
}

func build(t *testing.T, l Layout, b Blocks, entries []schema.Entry) cid.Cid {
	t.Helper()
	c, err := l.Build(context.Background(), b, entries)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func depth(t *testing.T, l Layout, b Blocks, root cid.Cid) int {
	t.Helper()
	d := 0
	if err := l.Walk(context.Background(), b, root, func(_ cid.Cid, _, depth int) bool { d = max(d, depth+1); return true }); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestTrieIsToday checks that the study's trie with today's knobs builds
// the very blocks package tree builds, so its figures are today's.
func TestTrieIsToday(t *testing.T) {
	ctx := context.Background()
	store := ipfsstore.NewMemory()
	entries := NewSample(2).Files(3000)
	cfg := tree.DefaultConfig()
	cfg.LeafLimit = 64 << 10
	dc, err := tree.New(store, cfg).MakeDir(ctx, entries)
	if err != nil {
		t.Fatal(err)
	}
	data, err := store.Get(ctx, dc)
	if err != nil {
		t.Fatal(err)
	}
	d, err := schema.DecodeAs[*schema.Directory](data)
	if err != nil {
		t.Fatal(err)
	}
	if got := build(t, Trie{Bits: 8, LeafLimit: cfg.LeafLimit}, store, entries); !got.Equals(d.Shard) {
		t.Fatalf("the study's trie is %s, package tree's shard is %s", got, d.Shard)
	}
}

// TestCompactRoundTrip checks that a compact leaf gives back the entries
// it was made of, every field included.
func TestCompactRoundTrip(t *testing.T) {
	s := NewSample(3)
	entries := append(s.Files(20), s.Dirs(5)...)
	entries[3] = s.Tombstone(entries[3])
	entries[4].Conflicts = []schema.Entry{s.Change(entries[4]), s.Tombstone(entries[4])}
	entries[21].Owner = entries[0].By
	schema.SortEntries(entries)
	got, err := Compact{}.DecodeLeaf(Compact{}.EncodeLeaf(entries))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(entries) {
		t.Fatalf("decoded %d entries, want %d", len(got), len(entries))
	}
	for i := range got {
		if !schema.SameEntry(&got[i], &entries[i]) {
			t.Errorf("entry %d = %+v, want %+v", i, got[i], entries[i])
		}
	}
}
