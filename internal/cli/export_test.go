package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/home"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/ipfsstore/car"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
	dagpb "github.com/ipld/go-codec-dagpb"
	"github.com/ipld/go-ipld-prime/codec/dagcbor"
	"github.com/ipld/go-ipld-prime/datamodel"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/ipld/go-ipld-prime/node/basicnode"
)

// carFile is a CAR read whole, for tests.
type carFile struct {
	roots  []cid.Cid
	order  []cid.Cid
	blocks map[cid.Cid][]byte
}

func readCAR(t testing.TB, data []byte) *carFile {
	t.Helper()
	r, err := car.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	f := &carFile{roots: r.Roots(), blocks: map[cid.Cid][]byte{}}
	for {
		c, b, err := r.Next()
		if err == io.EOF {
			return f
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := f.blocks[c]; dup {
			t.Errorf("block %s is in the CAR twice", c)
		}
		f.blocks[c] = bytes.Clone(b)
		f.order = append(f.order, c)
	}
}

// ipldLinks returns every link in block data, found by go-ipld-prime's
// generic decoders, which know nothing of the schema.
func ipldLinks(t testing.TB, c cid.Cid, data []byte) []cid.Cid {
	t.Helper()
	nb := basicnode.Prototype.Any.NewBuilder()
	var err error
	switch c.Type() {
	case cid.Raw:
		return nil
	case cid.DagCBOR:
		err = dagcbor.Decode(nb, bytes.NewReader(data))
	case cid.DagProtobuf:
		err = dagpb.DecodeBytes(nb, data)
	default:
		t.Fatalf("block %s: unexpected codec 0x%x", c, c.Type())
	}
	if err != nil {
		t.Fatalf("block %s: %v", c, err)
	}
	var out []cid.Cid
	var walk func(n datamodel.Node)
	walk = func(n datamodel.Node) {
		switch n.Kind() {
		case datamodel.Kind_Link:
			l, _ := n.AsLink()
			out = append(out, l.(cidlink.Link).Cid)
		case datamodel.Kind_Map:
			for it := n.MapIterator(); !it.Done(); {
				_, v, _ := it.Next()
				walk(v)
			}
		case datamodel.Kind_List:
			for it := n.ListIterator(); !it.Done(); {
				_, v, _ := it.Next()
				walk(v)
			}
		}
	}
	walk(nb.Build())
	return out
}

// closure follows every IPLD link from root through get, and returns
// the blocks found and the CIDs linked but not held.
func closure(t testing.TB, get func(cid.Cid) ([]byte, bool), root cid.Cid) (held, missing map[cid.Cid]bool) {
	t.Helper()
	held, missing = map[cid.Cid]bool{}, map[cid.Cid]bool{}
	stack := []cid.Cid{root}
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if held[c] || missing[c] {
			continue
		}
		data, ok := get(c)
		if !ok {
			missing[c] = true
			continue
		}
		held[c] = true
		stack = append(stack, ipldLinks(t, c, data)...)
	}
	return held, missing
}

func (f *carFile) get(c cid.Cid) ([]byte, bool) {
	b, ok := f.blocks[c]
	return b, ok
}

func storeGet(t testing.TB, s ipfsstore.Store) func(cid.Cid) ([]byte, bool) {
	return func(c cid.Cid) ([]byte, bool) {
		b, err := s.Get(t.Context(), c)
		if acerr.Is(acerr.NotExist, err) {
			return nil, false
		}
		if err != nil {
			t.Fatal(err)
		}
		return b, true
	}
}

func sameSet(a, b map[cid.Cid]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for c := range a {
		if !b[c] {
			return false
		}
	}
	return true
}

func keys(m map[cid.Cid][]byte) map[cid.Cid]bool {
	out := map[cid.Cid]bool{}
	for c := range m {
		out[c] = true
	}
	return out
}

// exportCAR runs the walk of ac-export over store s.
func exportCAR(t *testing.T, s ipfsstore.Store, root cid.Cid, kind schema.Kind, since cid.Cid) ([]byte, error) {
	t.Helper()
	var buf bytes.Buffer
	_, err := home.WriteCAR(t.Context(), &buf, s, "test", root, kind, home.ExportOptions{Since: since})
	return buf.Bytes(), err
}

// TestExportWalk builds every kind of link by hand in a memory store and
// checks that an export holds exactly the blocks a generic IPLD walk
// reaches, leaving out only identity and earlier-version blocks the store
// does not hold.
func TestExportWalk(t *testing.T) {
	ctx := t.Context()
	s := ipfsstore.NewMemory()
	put := func(n schema.Object) cid.Cid {
		c, b := schema.Block(n)
		if err := s.Put(ctx, c, b); err != nil {
			t.Fatal(err)
		}
		return c
	}
	id := put(&schema.Identity{Name: "alice", Key: make([]byte, 32), Created: 1, Sig: make([]byte, 64)})
	stranger := schema.Sum([]byte("an identity this store never held"))
	lostPrev := schema.Sum([]byte("a version this store never held"))
	big := make([]byte, 600<<10)
	rand.New(rand.NewSource(1)).Read(big)
	bigFile, _, err := s.AddFile(ctx, bytes.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	small, _, _ := s.AddFile(ctx, strings.NewReader("hello"))
	other, _, _ := s.AddFile(ctx, strings.NewReader("the other version"))
	last := put(&schema.Directory{Owner: id, Seq: 3, Prev: lostPrev, Sig: make([]byte, 64)})
	vv := func(r string, n uint64) schema.VV { return schema.VV{r: n} }

	// A directory of many small files: a tree of several nodes.
	var many []schema.Entry
	for i := range 1500 {
		many = append(many, schema.Entry{Name: fmt.Sprintf("f%04d", i), Kind: schema.KindFile, Target: small, Size: 5, Mtime: 1, VV: vv("a", 1)})
	}
	sharded, err := tree.New(s, tree.DefaultConfig()).MakeDir(ctx, many)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := tree.New(s, tree.DefaultConfig()).ReadDirectory(ctx, sharded); len(d.Children) == 0 {
		t.Fatal("the big directory is one leaf")
	}
	x := schema.FromVersions([]schema.Entry{
		{Name: "x", Kind: schema.KindFile, Target: bigFile, Size: uint64(len(big)), Mtime: 1, VV: vv("a", 1), By: id},
		{Name: "x", Kind: schema.KindFile, Target: other, Size: 17, Mtime: 2, VV: vv("b", 1), By: stranger},
	})
	if len(x.Conflicts) != 1 {
		t.Fatal("no conflict made")
	}
	entries := []schema.Entry{
		{Name: "big", Kind: schema.KindDirectory, Target: sharded, Mtime: 1, VV: vv("a", 1)},
		{Name: "me", Kind: schema.KindIdentity, Target: id, Mtime: 1, VV: vv("a", 1)},
		x,
		{Name: "y", Kind: schema.KindDirectory, Target: last, Owner: id, Deleted: true, Mtime: 3, VV: vv("a", 2)},
	}
	root := put(&schema.Directory{Entries: entries})
	node1 := put(&schema.Node{Owner: id, Seq: 1, Root: root, Created: 1, Sig: make([]byte, 64)})
	node2 := put(&schema.Node{Owner: id, Seq: 2, Prev: node1, Root: root, Created: 2, Sig: make([]byte, 64)})

	data, err := exportCAR(t, s, node2, schema.KindNode, cid.Undef)
	if err != nil {
		t.Fatal(err)
	}
	f := readCAR(t, data)
	if len(f.roots) != 1 || f.roots[0] != node2 || f.order[0] != node2 {
		t.Fatalf("roots %v, first block %v; want %v", f.roots, f.order[0], node2)
	}
	held, missing := closure(t, storeGet(t, s), node2)
	if !sameSet(keys(f.blocks), held) {
		t.Errorf("the CAR holds %d blocks, the store reaches %d", len(f.blocks), len(held))
	}
	if !sameSet(missing, map[cid.Cid]bool{stranger: true, lostPrev: true}) {
		t.Errorf("links to blocks not held: %v, want the stranger's identity and the lost version", missing)
	}
	for _, c := range []cid.Cid{id, bigFile, small, other, last, sharded, node1} {
		if _, ok := f.blocks[c]; !ok {
			t.Errorf("block %s is not in the CAR", c)
		}
	}
	// Complete in itself: every link in it leads into it, or to what the
	// store lacks.
	_, inCAR := closure(t, f.get, node2)
	if !sameSet(inCAR, missing) {
		t.Errorf("links out of the CAR: %v", inCAR)
	}

	// --since the first node: only the new node is new.
	data, err = exportCAR(t, s, node2, schema.KindNode, node1)
	if err != nil {
		t.Fatal(err)
	}
	if f := readCAR(t, data); len(f.blocks) != 1 || f.order[0] != node2 {
		t.Errorf("since node1: %d blocks %v, want node2 alone", len(f.blocks), f.order)
	}
	// --since itself: nothing at all, and the root still in the header.
	data, _ = exportCAR(t, s, node2, schema.KindNode, node2)
	if f := readCAR(t, data); len(f.blocks) != 0 || f.roots[0] != node2 {
		t.Errorf("since node2: %d blocks, roots %v", len(f.blocks), f.roots)
	}
	// --since a CID the store does not hold leaves out only that CID.
	data, _ = exportCAR(t, s, node2, schema.KindNode, stranger)
	if f := readCAR(t, data); len(f.blocks) != len(held) {
		t.Errorf("since a block not held: %d blocks, want %d", len(f.blocks), len(held))
	}
	// --since the sharded directory: none of its blocks.
	data, _ = exportCAR(t, s, node2, schema.KindNode, sharded)
	f = readCAR(t, data)
	shardHeld, _ := closure(t, storeGet(t, s), sharded)
	for c := range shardHeld {
		if _, ok := f.blocks[c]; ok {
			t.Errorf("since the sharded directory, its block %s is still in the CAR", c)
		}
	}
	if len(f.blocks) != len(held)-len(shardHeld) {
		t.Errorf("since the sharded directory: %d blocks, want %d", len(f.blocks), len(held)-len(shardHeld))
	}

	// A missing target is an error naming it and its parent; a target of
	// the wrong kind is refused.
	gone := schema.Sum([]byte("a directory this store never held"))
	broken := put(&schema.Directory{Entries: []schema.Entry{{Name: "d", Kind: schema.KindDirectory, Target: gone, Mtime: 1, VV: vv("a", 1)}}})
	_, err = exportCAR(t, s, broken, schema.KindDirectory, cid.Undef)
	if !acerr.Is(acerr.NotExist, err) || !strings.Contains(err.Error(), gone.String()) || !strings.Contains(err.Error(), "linked from "+broken.String()) {
		t.Errorf("export with a missing directory: %v", err)
	}
	// Under --since, the same missing block is no error.
	if _, err := exportCAR(t, s, root, schema.KindDirectory, broken); err != nil {
		t.Errorf("since a tree with a missing block: %v", err)
	}
	wrong := put(&schema.Directory{Entries: []schema.Entry{{Name: "d", Kind: schema.KindDirectory, Target: bigFile, Mtime: 1, VV: vv("a", 1)}}})
	_, err = exportCAR(t, s, wrong, schema.KindDirectory, cid.Undef)
	if !acerr.Is(acerr.Invalid, err) || !strings.Contains(err.Error(), "is part of a UnixFS file") {
		t.Errorf("export of a file linked as a directory: %v", err)
	}
	wrong = put(&schema.Directory{Entries: []schema.Entry{{Name: "f", Kind: schema.KindFile, Target: root, Mtime: 1, VV: vv("a", 1)}}})
	_, err = exportCAR(t, s, wrong, schema.KindDirectory, cid.Undef)
	if !acerr.Is(acerr.Invalid, err) || !strings.Contains(err.Error(), "not part of a UnixFS file") {
		t.Errorf("export of a directory linked as a file: %v", err)
	}
	// A link that needs a block that an optional link found missing still
	// fails.
	// (the first subdirectory is walked first, and finds it missing)
	byStranger := put(&schema.Directory{Entries: []schema.Entry{
		{Name: "f", Kind: schema.KindFile, Target: small, Mtime: 1, VV: vv("a", 1), By: stranger},
	}})
	hasStranger := put(&schema.Directory{Entries: []schema.Entry{
		{Name: "i", Kind: schema.KindIdentity, Target: stranger, Mtime: 1, VV: vv("a", 1)},
	}})
	needs := put(&schema.Directory{Entries: []schema.Entry{
		{Name: "a", Kind: schema.KindDirectory, Target: byStranger, Mtime: 1, VV: vv("a", 1)},
		{Name: "b", Kind: schema.KindDirectory, Target: hasStranger, Mtime: 1, VV: vv("a", 1)},
	}})
	_, err = exportCAR(t, s, needs, schema.KindDirectory, cid.Undef)
	if !acerr.Is(acerr.NotExist, err) || !strings.Contains(err.Error(), stranger.String()) {
		t.Errorf("export of an identity entry whose block is missing: %v", err)
	}
}

// entryCID returns the CID of the entry at p in home h.
func entryCID(t *testing.T, h, p string) cid.Cid {
	t.Helper()
	out := ac(t, h, nil, "ac-info", p)
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "cid:"); ok {
			c, err := cid.Decode(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
	}
	t.Fatalf("no cid in ac-info %s:\n%s", p, out)
	return cid.Undef
}

// withStore runs fn with the store of the home in dir, opened in this
// process.
func withStore(t *testing.T, dir string, fn func(ipfsstore.Store)) {
	t.Helper()
	h, err := home.Open(t.Context(), home.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	fn(h.Store)
}

func dirSize(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// TestExportImportRoundTrip: alice exports her node with ac-export, bob
// takes it in with ac-import. The CAR holds every block a generic IPLD
// walk reaches from her node, once; bob's HEAD does not move; a second
// import stores nothing new; and once bob takes in her node reference, he
// reads her files, byte for byte, from his own store.
func TestExportImportRoundTrip(t *testing.T) {
	alice := newHome(t)
	ac(t, alice, nil, "ac-identity", "new", "identities/alice")
	src := filepath.Join(t.TempDir(), "share")
	makeTree(t, src, 4, 60, 3000, 3)
	big := make([]byte, 3<<20+5) // a UnixFS DAG of several leaves
	rand.New(rand.NewSource(4)).Read(big)
	os.WriteFile(filepath.Join(src, "big.bin"), big, 0o644)
	ac(t, alice, nil, "ac-add", src, "root/forum/share")
	ac(t, alice, nil, "ac-node", "new", "node", "identities/alice")
	ac(t, alice, nil, "ac-delete", "root/forum/share/d000/f00000")
	ac(t, alice, nil, "ac-node", "new", "node", "identities/alice") // seq 2: a prev link
	node := entryCID(t, alice, "node")
	aliceID := entryCID(t, alice, "identities/alice")

	data := []byte(ac(t, alice, nil, "ac-export", "node"))
	f := readCAR(t, data)
	if len(f.roots) != 1 || f.roots[0] != node {
		t.Fatalf("roots %v, want [%s]", f.roots, node)
	}
	var held, missing map[cid.Cid]bool
	withStore(t, alice, func(s ipfsstore.Store) { held, missing = closure(t, storeGet(t, s), node) })
	if len(missing) != 0 || !sameSet(keys(f.blocks), held) {
		t.Errorf("the CAR holds %d blocks; %d are reachable from the node, %d missing", len(f.blocks), len(held), len(missing))
	}

	bob := newHome(t)
	head := readHead(t, bob)
	if out := ac(t, bob, data, "ac-import"); out != node.String()+"\n" {
		t.Fatalf("ac-import printed %q, want the node's CID", out)
	}
	if readHead(t, bob) != head {
		t.Errorf("ac-import moved HEAD")
	}
	size := dirSize(t, filepath.Join(bob, "blocks"))
	if out := ac(t, bob, data, "ac-import"); out != node.String()+"\n" {
		t.Fatalf("second ac-import printed %q", out)
	}
	if after := dirSize(t, filepath.Join(bob, "blocks")); after != size {
		t.Errorf("a second import of the same CAR grew the store from %d to %d bytes", size, after)
	}
	if readHead(t, bob) != head {
		t.Errorf("ac-import moved HEAD")
	}
	withStore(t, bob, func(s ipfsstore.Store) {
		for c, want := range f.blocks {
			got, err := s.Get(t.Context(), c)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("block %s in bob's store: %v", c, err)
			}
		}
	})

	ac(t, bob, []byte(ac(t, alice, nil, "ac-message", "ref", "identities/alice")), "ac-friend", "add")
	ac(t, bob, []byte(ac(t, alice, nil, "ac-message", "ref", "node")), "ac-node", "add")
	out := filepath.Join(t.TempDir(), "out")
	ac(t, bob, nil, "ac-get", "nodes/"+aliceID.String()+"/root/forum/share", out)
	filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		want, _ := os.ReadFile(p)
		got, err := os.ReadFile(filepath.Join(out, rel))
		if rel == filepath.Join("d000", "f00000") {
			if err == nil {
				t.Errorf("%s was deleted but came back", rel)
			}
			return nil
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs on bob's side: %v", rel, err)
		}
		return nil
	})
	// bob's own export of alice's node, from his store, is the same CAR.
	if again := ac(t, bob, nil, "ac-export", "nodes/"+aliceID.String()); again != string(data) {
		t.Errorf("bob's export of alice's node differs from hers")
	}
}

// deepTree writes n files (n a power of 10, at least 100) as a tree of
// directories of ten: d0/d1/.../fNNNNN.
func deepTree(t *testing.T, root string, n int) {
	t.Helper()
	r := rand.New(rand.NewSource(int64(n)))
	digits := len(fmt.Sprint(n - 1))
	for i := range n {
		s := fmt.Sprintf("%0*d", digits, i)
		d := root
		for _, c := range s[:digits-1] {
			d = filepath.Join(d, "d"+string(c))
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 1+r.Intn(2000))
		r.Read(b)
		if err := os.WriteFile(filepath.Join(d, "f"+s), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestExportSinceOneChangedFile changes one file in a tree of 10,000 and
// exports the new node --since the old one: the CAR holds exactly the
// blocks the full exports differ by (the node, the directories on the
// path, the file), a few KiB; bob, holding the first export, gets the
// whole new tree from it.
func TestExportSinceOneChangedFile(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 1000
	}
	for _, shape := range []string{"deep", "wide"} {
		t.Run(shape, func(t *testing.T) {
			alice := newHome(t)
			ac(t, alice, nil, "ac-identity", "new", "identities/alice")
			src := filepath.Join(t.TempDir(), "tree")
			var changed string
			if shape == "deep" { // directories of ten files or ten directories
				deepTree(t, src, n)
				changed = "root/projects/tree/d4/d2/d4/f04242"
				if testing.Short() {
					changed = "root/projects/tree/d4/d2/f0424"
				}
			} else { // 100 directories
				makeTree(t, src, 100, n, 2000, 5)
				changed = "root/projects/tree/d042/f00042"
			}
			ac(t, alice, nil, "ac-add", src, "root/projects/tree")
			ac(t, alice, nil, "ac-node", "new", "node", "identities/alice")
			node1 := entryCID(t, alice, "node")
			full1 := []byte(ac(t, alice, nil, "ac-export", "node"))

			one := filepath.Join(t.TempDir(), "one")
			os.WriteFile(one, []byte("the one changed file\n"), 0o644)
			ac(t, alice, nil, "ac-add", one, changed)
			ac(t, alice, nil, "ac-node", "new", "node", "identities/alice")
			node2 := entryCID(t, alice, "node")
			full2 := []byte(ac(t, alice, nil, "ac-export", "node"))
			update := []byte(ac(t, alice, nil, "ac-export", "--since", node1.String(), "node"))

			f1, f2, u := readCAR(t, full1), readCAR(t, full2), readCAR(t, update)
			want := map[cid.Cid]bool{}
			for c := range f2.blocks {
				if _, ok := f1.blocks[c]; !ok {
					want[c] = true
				}
			}
			if !sameSet(keys(u.blocks), want) {
				t.Errorf("the update holds %d blocks, the full exports differ by %d", len(u.blocks), len(want))
			}
			// node, root/, projects, tree, the directories under it (each
			// with the nodes of its tree on the path), the file
			if dirs := strings.Count(changed, "/"); len(u.blocks) < dirs+2 || len(u.blocks) > 3*dirs+2 {
				t.Errorf("the update holds %d blocks, want %d to %d", len(u.blocks), dirs+2, 3*dirs+2)
			}
			t.Logf("%d files, %s: full export %d bytes, update --since %d bytes (%d blocks)", n, shape, len(full2), len(update), len(u.blocks))
			limit := 8 << 10
			if shape == "wide" {
				limit = 32 << 10 // two directory blocks of 100 entries each
			}
			if len(update) > limit {
				t.Errorf("the update is %d bytes, want at most %d", len(update), limit)
			}

			bob := newHome(t)
			ac(t, bob, full1, "ac-import")
			if out := ac(t, bob, update, "ac-import"); out != node2.String()+"\n" {
				t.Fatalf("ac-import of the update printed %q", out)
			}
			withStore(t, bob, func(s ipfsstore.Store) {
				for c := range f2.blocks {
					if ok, err := s.Has(t.Context(), c); !ok || err != nil {
						t.Fatalf("after both imports bob lacks block %s (%v)", c, err)
					}
				}
			})
		})
	}
}

// TestExportErrors: a missing block under PATH names the CID; a corrupt
// one is an integrity error; usage errors exit 2.
func TestExportErrors(t *testing.T) {
	alice := newHome(t)
	ac(t, alice, nil, "ac-identity", "new", "identities/alice")
	ac(t, alice, nil, "ac-node", "new", "node", "identities/alice")
	aliceRoot := entryCID(t, alice, "root")

	// bob holds alice's node reference but not her tree.
	bob := newHome(t)
	ac(t, bob, []byte(ac(t, alice, nil, "ac-message", "ref", "identities/alice")), "ac-friend", "add")
	ac(t, bob, []byte(ac(t, alice, nil, "ac-message", "ref", "node")), "ac-node", "add")
	aliceID := entryCID(t, alice, "identities/alice")
	_, errOut, err := acRun(bob, nil, "ac-export", "nodes/"+aliceID.String())
	if err == nil || !strings.HasPrefix(errOut, "ac-export: ") || !strings.Contains(errOut, aliceRoot.String()) ||
		!strings.Contains(errOut, "does not exist") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("export of a node whose tree is missing: %v, stderr %q", err, errOut)
	}

	// A corrupt file block.
	src := filepath.Join(t.TempDir(), "f")
	payload := bytes.Repeat([]byte("archivecache "), 1000)
	os.WriteFile(src, payload, 0o644)
	ac(t, alice, nil, "ac-add", src, "root/f")
	packs, _ := filepath.Glob(filepath.Join(alice, "blocks", "*", "*.pack"))
	for _, p := range packs {
		b, _ := os.ReadFile(p)
		if i := bytes.Index(b, payload[:64]); i >= 0 {
			b[i+10] ^= 1
			os.WriteFile(p, b, 0o644)
		}
	}
	_, errOut, err = acRun(alice, nil, "ac-export", "root")
	if err == nil || !strings.Contains(errOut, "integrity") {
		t.Errorf("export of a corrupt block: %v, stderr %q", err, errOut)
	}

	for _, args := range [][]string{
		{"ac-export"},
		{"ac-export", "node", "root"},
		{"ac-export", "--since", "bafy-not-a-cid", "node"},
	} {
		_, errOut, err := acRun(alice, nil, args...)
		if code := exitCode(err); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d; stderr %q", args, code, ExitUsage, errOut)
		}
	}
}

func exitCode(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	return -1
}
