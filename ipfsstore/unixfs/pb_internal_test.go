package unixfs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"reflect"
	"testing"

	"github.com/ipfs/go-cid"
)

// appendPBNode is a general dag-pb encoder (canonical field order), for
// checking the decoder and appendFileNode.
func appendPBNode(b []byte, nd pbNode) []byte {
	for _, l := range nd.links {
		var lb []byte
		h := l.cid.KeyString()
		lb = append(lb, 1<<3|wireBytes)
		lb = appendUvarint(lb, uint64(len(h)))
		lb = append(lb, h...)
		lb = append(lb, 2<<3|wireBytes)
		lb = appendUvarint(lb, uint64(len(l.name)))
		lb = append(lb, l.name...)
		lb = append(lb, 3<<3|wireVarint)
		lb = appendUvarint(lb, l.tsize)
		b = append(b, 2<<3|wireBytes)
		b = appendUvarint(b, uint64(len(lb)))
		b = append(b, lb...)
	}
	if nd.data != nil {
		b = append(b, 1<<3|wireBytes)
		b = appendUvarint(b, uint64(len(nd.data)))
		b = append(b, nd.data...)
	}
	return b
}

// appendFSData is a general UnixFS Data encoder (blocksizes not packed).
func appendFSData(b []byte, d fsData) []byte {
	b = append(b, 1<<3|wireVarint)
	b = appendUvarint(b, d.typ)
	if d.data != nil {
		b = append(b, 2<<3|wireBytes)
		b = appendUvarint(b, uint64(len(d.data)))
		b = append(b, d.data...)
	}
	if d.hasSize {
		b = append(b, 3<<3|wireVarint)
		b = appendUvarint(b, d.filesize)
	}
	for _, s := range d.blocksizes {
		b = append(b, 4<<3|wireVarint)
		b = appendUvarint(b, s)
	}
	if d.hashType != 0 {
		b = append(b, 5<<3|wireVarint)
		b = appendUvarint(b, d.hashType)
	}
	if d.fanout != 0 {
		b = append(b, 6<<3|wireVarint)
		b = appendUvarint(b, d.fanout)
	}
	if d.hasMode {
		b = append(b, 7<<3|wireVarint)
		b = appendUvarint(b, d.mode)
	}
	return b
}

func testCID(codec uint64, s string) cid.Cid {
	sum := sha256.Sum256([]byte(s))
	return sumCID(codec, &sum)
}

// TestAppendFileNode checks the importer's node encoder against the
// general encoders and the decoders.
func TestAppendFileNode(t *testing.T) {
	children := []Child{
		{testCID(cid.Raw, "a"), ChunkSize, ChunkSize},
		{testCID(cid.DagProtobuf, "b"), 1 << 40, 1<<40 - 9000},
		{testCID(cid.Raw, "c"), 0, 0},
	}
	got := appendFileNode(nil, children)

	var want pbNode
	fd := fsData{typ: typeFile, hasSize: true}
	for _, c := range children {
		want.links = append(want.links, link{cid: c.CID, tsize: c.Tsize})
		fd.blocksizes = append(fd.blocksizes, c.FileSize)
		fd.filesize += c.FileSize
	}
	want.data = appendFSData(nil, fd)
	if enc := appendPBNode(nil, want); !bytes.Equal(got, enc) {
		t.Fatalf("appendFileNode = %x\nwant            %x", got, enc)
	}

	pn, err := decodePBNode(got)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(pn, want) {
		t.Fatalf("decodePBNode = %+v, want %+v", pn, want)
	}
	gd, err := decodeFSData(pn.data, len(pn.links))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gd, fd) {
		t.Fatalf("decodeFSData = %+v, want %+v", gd, fd)
	}
}

// TestDecodePacked checks that packed blocksizes, which protobuf allows,
// are read like unpacked ones.
func TestDecodePacked(t *testing.T) {
	b := []byte{0x08, 0x02, 0x18, 0x03, 0x22, 0x02, 0x01, 0x02}
	d, err := decodeFSData(b, 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint64{1, 2}; !reflect.DeepEqual(d.blocksizes, want) || d.filesize != 3 {
		t.Fatalf("decodeFSData(packed) = %+v", d)
	}
}

var badPBNodes = []struct {
	name string
	b    []byte
}{
	{"truncated tag", []byte{0x80}},
	{"truncated length", []byte{0x0a}},
	{"length past the end", []byte{0x0a, 0x05, 0x01}},
	{"varint overflow", []byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
	{"eleven-byte varint", []byte{0x0a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}},
	{"field 0", []byte{0x02, 0x00}},
	{"unknown field", []byte{0x1a, 0x00}},
	{"varint Data", []byte{0x08, 0x01}},
	{"two Data", []byte{0x0a, 0x00, 0x0a, 0x00}},
	{"split links", append(append(append([]byte{0x12, 0x00 + 38}, linkBytes()...), 0x0a, 0x00, 0x12, 38), linkBytes()...)},
	{"link without hash", []byte{0x12, 0x02, 0x18, 0x01}},
	{"link hash not a CID", []byte{0x12, 0x03, 0x0a, 0x01, 0x07}},
	{"link hash with trailing bytes", append([]byte{0x12, 39, 0x0a, 37}, append(linkCID(), 0x00)...)},
	{"link fields out of order", []byte{0x12, 0x04, 0x18, 0x01, 0x12, 0x00}},
	{"link Tsize as bytes", append(append([]byte{0x12, 40, 0x0a, 36}, linkCID()...), 0x1a, 0x00)},
	{"link unknown field", append(append([]byte{0x12, 40, 0x0a, 36}, linkCID()...), 0x20, 0x00)},
}

func linkCID() []byte { return []byte(testCID(cid.Raw, "x").KeyString()) }

// linkBytes is a PBLink with a 36-byte CID and no other fields.
func linkBytes() []byte { return append([]byte{0x0a, 36}, linkCID()...) }

func TestDecodePBNodeBad(t *testing.T) {
	for _, tc := range badPBNodes {
		if nd, err := decodePBNode(tc.b); err == nil {
			t.Errorf("%s: decodePBNode(%x) = %+v, want an error", tc.name, tc.b, nd)
		}
	}
}

var badFSData = []struct {
	name string
	b    []byte
}{
	{"no type", []byte{0x18, 0x01}},
	{"two types", []byte{0x08, 0x02, 0x08, 0x02}},
	{"type as bytes", []byte{0x0a, 0x00}},
	{"two filesizes", []byte{0x08, 0x02, 0x18, 0x01, 0x18, 0x01}},
	{"truncated data", []byte{0x08, 0x02, 0x12, 0x05, 0x00}},
	{"truncated packed sizes", []byte{0x08, 0x02, 0x22, 0x01, 0x80}},
	{"too many blocksizes", []byte{0x08, 0x02, 0x20, 0x01, 0x20, 0x01}},
	{"too many packed blocksizes", []byte{0x08, 0x02, 0x22, 0x02, 0x01, 0x01}},
	{"group wire type", []byte{0x08, 0x02, 0x2b}},
	{"truncated fixed64", []byte{0x08, 0x02, 0x29, 0x00}},
}

func TestDecodeFSDataBad(t *testing.T) {
	for _, tc := range badFSData {
		if d, err := decodeFSData(tc.b, 1); err == nil {
			t.Errorf("%s: decodeFSData(%x) = %+v, want an error", tc.name, tc.b, d)
		}
	}
}

// FuzzDecodeNode checks that the decoders never panic and that whatever
// they accept encodes back to something they decode to the same value.
func FuzzDecodeNode(f *testing.F) {
	f.Add(appendFileNode(nil, []Child{{testCID(cid.Raw, "a"), 10, 10}, {testCID(cid.Raw, "b"), 5, 5}}))
	f.Add(appendPBNode(nil, pbNode{data: appendFSData(nil, fsData{typ: typeFile, data: []byte("hi"), filesize: 2, hasSize: true})}))
	f.Add([]byte{0x0a, 0x02, 0x08, 0x01})
	f.Add([]byte{0x0a, 0x08, 0x08, 0x02, 0x18, 0x03, 0x22, 0x02, 0x01, 0x02})
	for _, tc := range badPBNodes {
		f.Add(tc.b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pn, err := decodePBNode(b)
		if err != nil {
			return
		}
		pn2, err := decodePBNode(appendPBNode(nil, pn))
		if err != nil {
			t.Fatalf("re-encoded node does not decode: %v", err)
		}
		if !reflect.DeepEqual(normPB(pn), normPB(pn2)) {
			t.Fatalf("round trip: %+v, then %+v", pn, pn2)
		}
		if pn.data == nil {
			return
		}
		fd, err := decodeFSData(pn.data, len(pn.links))
		if err != nil {
			return
		}
		fd2, err := decodeFSData(appendFSData(nil, fd), len(pn.links))
		if err != nil {
			t.Fatalf("re-encoded UnixFS data does not decode: %v", err)
		}
		if !reflect.DeepEqual(normFS(fd), normFS(fd2)) {
			t.Fatalf("round trip: %+v, then %+v", fd, fd2)
		}
		// And the whole block, as the reader sees it.
		c := sumCID(cid.DagProtobuf, new([32]byte))
		_, _ = decodeNode("fuzz", c, b)
	})
}

// normPB and normFS make empty and nil slices compare equal.
func normPB(n pbNode) pbNode {
	if len(n.links) == 0 {
		n.links = nil
	}
	return n
}

func normFS(d fsData) fsData {
	if len(d.blocksizes) == 0 {
		d.blocksizes = nil
	}
	if d.data != nil && len(d.data) == 0 {
		d.data = []byte{}
	}
	return d
}

// balancedRef is boxo's balanced layout transcribed as it is written
// there: recursive, over a known number of leaves. It returns the root's
// CID, encoding nodes with FileNode. TestLayoutMatchesReference
// checks the streaming layout against it.
func balancedRef(leaves []Child) cid.Cid {
	next := 0
	done := func() bool { return next == len(leaves) }
	leaf := func() Child { c := leaves[next]; next++; return c }
	mk := func(cs []Child) Child {
		_, nd := FileNode(cs)
		return nd
	}
	var fill func(cs []Child, depth int) Child
	fill = func(cs []Child, depth int) Child {
		for len(cs) < MaxLinks && !done() {
			if depth == 1 {
				cs = append(cs, leaf())
			} else {
				cs = append(cs, fill(nil, depth-1))
			}
		}
		return mk(cs)
	}
	root := leaf()
	for depth := 1; !done(); depth++ {
		root = fill([]Child{root}, depth)
	}
	return root.CID
}

func TestLayoutMatchesReference(t *testing.T) {
	const k = MaxLinks
	counts := []int{1, 2, k - 1, k, k + 1, 2 * k, 2*k + 1, k*k - 1, k * k, k*k + 1, k*k + k, k*k + k + 1}
	if !testing.Short() {
		counts = append(counts, 3*k*k+5)
	}
	ctx := context.Background()
	discard := func(context.Context, cid.Cid, []byte) error { return nil }
	for _, n := range counts {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			leaves := make([]Child, n)
			for i := range leaves {
				// Sizes vary so that a misplaced leaf changes the sizes too.
				sz := uint64(ChunkSize - i%7)
				leaves[i] = Child{testCID(cid.Raw, fmt.Sprint(i)), sz, sz}
			}
			var l layout
			for _, c := range leaves {
				if err := l.add(ctx, discard, 0, c); err != nil {
					t.Fatal(err)
				}
			}
			got, err := l.finish(ctx, discard)
			if err != nil {
				t.Fatal(err)
			}
			if want := balancedRef(leaves); !got.Equals(want) {
				t.Fatalf("%d leaves: layout root %s, reference %s", n, got, want)
			}
		})
	}
}

// TestImportOrder checks that Import puts each node after its children,
// and the root last.
func TestImportOrder(t *testing.T) {
	pos := make(map[cid.Cid]int)
	var nodes [][]byte
	var order []cid.Cid
	put := func(_ context.Context, c cid.Cid, data []byte) error {
		pos[c] = len(order)
		order = append(order, c)
		if c.Type() == cid.DagProtobuf {
			nodes = append(nodes, append([]byte(nil), data...))
		}
		return nil
	}
	data := make([]byte, 200*ChunkSize+5)
	for i := range data {
		data[i] = byte(i / ChunkSize) // distinct leaves
	}
	root, _, err := Import(t.Context(), bytes.NewReader(data), put)
	if err != nil {
		t.Fatal(err)
	}
	if last := order[len(order)-1]; !last.Equals(root) {
		t.Fatalf("last block put = %s, want the root %s", last, root)
	}
	if len(nodes) != 3 { // two of height 1, the root
		t.Fatalf("%d nodes put, want 3", len(nodes))
	}
	for _, b := range nodes {
		sum := sha256.Sum256(b)
		c := sumCID(cid.DagProtobuf, &sum)
		pn, err := decodePBNode(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range pn.links {
			if p, ok := pos[l.cid]; !ok || p >= pos[c] {
				t.Fatalf("child %s of %s put at %d (put: %v), after its parent at %d", l.cid, c, p, ok, pos[c])
			}
		}
	}
}
