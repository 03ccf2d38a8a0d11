package home

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/ipfsstore/car"
	"github.com/archivecache/archivecache/ipfsstore/storetest"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// TestExportSinceFollowsTheDifference: an update of one file in a tree
// of 60 directories of 300 files reads the blocks on the path
// to the change, on both sides, and not the tree: the cost of an update
// follows what changed, whatever the size of the home. What it carries
// is what the receiver lacks.
func TestExportSinceFollowsTheDifference(t *testing.T) {
	ctx := context.Background()
	mem := ipfsstore.NewMemory()
	tr := tree.New(mem, tree.Config{Replica: "r1"})
	file := func(s string) schema.Entry {
		c, n, err := mem.AddFile(ctx, strings.NewReader(s))
		if err != nil {
			t.Fatal(err)
		}
		return schema.Entry{Kind: schema.KindFile, Target: c, Size: n, Mode: 0o644, Mtime: 1, VV: schema.VV{"r1": 1}}
	}
	var dirs []schema.Entry
	for d := range 60 {
		var files []schema.Entry
		for f := range 300 {
			e := file(fmt.Sprintf("file %d of directory %d", f, d))
			e.Name = fmt.Sprintf("f%03d", f)
			files = append(files, e)
		}
		c, err := tr.MakeDir(ctx, files)
		if err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, schema.Entry{Name: fmt.Sprintf("d%02d", d), Kind: schema.KindDirectory, Target: c, Mtime: 1, VV: schema.VV{"r1": 1}})
	}
	before, err := tr.MakeDir(ctx, dirs)
	if err != nil {
		t.Fatal(err)
	}
	after, err := tr.Put(ctx, before, "d17/f123", file("changed"))
	if err != nil {
		t.Fatal(err)
	}

	st := &storetest.Counting{Store: mem}
	var buf bytes.Buffer
	x, err := WriteCAR(ctx, &buf, st, "root", after, schema.KindDirectory, ExportOptions{Since: before})
	if err != nil {
		t.Fatal(err)
	}
	// The new and old root and directory d17 on each side, and the new
	// file: not the 60 directories (64 reads when the whole old tree was
	// walked to find what the receiver holds).
	gets := st.Gets.Load()
	t.Logf("the update read %d blocks", gets)
	if gets > 16 {
		t.Errorf("the update read %d blocks, want those on the path to the change on both sides (at most 16)", gets)
	}
	// What it carries is what the full export holds and the old one lacks.
	full := func(root cid.Cid) map[cid.Cid]bool {
		var b bytes.Buffer
		if _, err := WriteCAR(ctx, &b, mem, "root", root, schema.KindDirectory, ExportOptions{}); err != nil {
			t.Fatal(err)
		}
		return carBlocks(t, b.Bytes())
	}
	oldSet, newSet := full(before), full(after)
	got := carBlocks(t, buf.Bytes())
	for c := range newSet {
		if !oldSet[c] && !got[c] {
			t.Errorf("block %s is new but not in the update", c)
		}
	}
	for c := range got {
		if oldSet[c] {
			t.Errorf("block %s is in the update though the receiver holds it", c)
		}
	}
	if x.Blocks != len(got) {
		t.Errorf("Export says %d blocks, the CAR holds %d", x.Blocks, len(got))
	}
}

func carBlocks(t *testing.T, data []byte) map[cid.Cid]bool {
	t.Helper()
	r, err := car.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	out := map[cid.Cid]bool{}
	for {
		c, _, err := r.Next()
		if err != nil {
			break
		}
		out[c] = true
	}
	return out
}

// TestBlockSet: a CID is in the set once added, under its codec (the
// same digest under another codec is another block), whatever its hash.
func TestBlockSet(t *testing.T) {
	s := newBlockSet()
	sum := func(codec uint64, mh uint64, data string) cid.Cid {
		c, err := cid.Prefix{Version: 1, Codec: codec, MhType: mh, MhLength: -1}.Sum([]byte(data))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	raw, cbor := sum(cid.Raw, multihash.SHA2_256, "x"), sum(cid.DagCBOR, multihash.SHA2_256, "x")
	id, other := sum(cid.Raw, multihash.IDENTITY, "small"), sum(cid.Raw, multihash.SHA2_512, "x")
	for _, c := range []cid.Cid{raw, id, other} {
		if s.has(c) {
			t.Errorf("%s is in the empty set", c)
		}
		s.add(c)
		if !s.has(c) {
			t.Errorf("%s is not in the set after add", c)
		}
	}
	if s.has(cbor) {
		t.Errorf("the same digest under another codec counts as held")
	}
	if s.shortLen() != 1 || len(s.other) != 2 {
		t.Errorf("the set keeps %d short and %d whole CIDs, want 1 and 2", s.shortLen(), len(s.other))
	}
	// Enough to grow every part several times: all found, no other.
	var in []cid.Cid
	for i := range 50000 {
		c := sum(cid.Raw, multihash.SHA2_256, fmt.Sprint("in", i))
		s.add(c)
		s.add(c)
		in = append(in, c)
	}
	for i, c := range in {
		if !s.has(c) {
			t.Fatalf("CID %d of %d added is not in the set", i, len(in))
		}
		if s.has(sum(cid.Raw, multihash.SHA2_256, fmt.Sprint("out", i))) {
			t.Fatalf("a CID never added is in the set")
		}
	}
	if got := s.shortLen(); got != 1+len(in) {
		t.Errorf("the set counts %d short CIDs, want %d", got, 1+len(in))
	}
}
