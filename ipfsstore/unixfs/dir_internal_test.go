package unixfs

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"

	"github.com/archivecache/archivecache/acerr"
	"github.com/ipfs/go-cid"
)

// dagStore holds dag-pb blocks made by the encoders, and counts reads.
type dagStore struct {
	m     map[cid.Cid][]byte
	reads int
}

func (s *dagStore) put(nd pbNode) cid.Cid {
	b := appendPBNode(nil, nd)
	sum := sha256.Sum256(b)
	c := sumCID(cid.DagProtobuf, &sum)
	s.m[c] = b
	return c
}

func (s *dagStore) get(_ context.Context, c cid.Cid) ([]byte, error) {
	s.reads++
	b, ok := s.m[c]
	if !ok {
		return nil, acerr.E("test.get", "", acerr.NotExist, nil).WithCID(c.String())
	}
	return b, nil
}

func dirNode(links ...link) pbNode {
	return pbNode{links: links, data: appendFSData(nil, fsData{typ: typeDirectory})}
}

func shardNode(fanout uint64, bitfield []byte, links ...link) pbNode {
	return pbNode{links: links, data: appendFSData(nil, fsData{typ: typeHAMTShard, data: bitfield, hashType: murmur3x64, fanout: fanout})}
}

func readDir(s *dagStore, c cid.Cid) ([]DirEntry, error) {
	b, err := s.get(context.Background(), c)
	if err != nil {
		return nil, err
	}
	nd, err := Stat(c, b)
	if err != nil {
		return nil, err
	}
	return ReadDir(context.Background(), s.get, c, nd)
}

func names(ents []DirEntry) string {
	var n []string
	for _, e := range ents {
		n = append(n, e.Name)
	}
	return strings.Join(n, ",")
}

// A HAMT-sharded directory lists as its entries, through nested shards,
// in name order, reading only its shard blocks.
func TestReadDirHAMT(t *testing.T) {
	s := &dagStore{m: map[cid.Cid][]byte{}}
	f := testCID(cid.Raw, "file")
	inner := s.put(shardNode(16, []byte{0x00, 0x06}, link{cid: f, name: "1b.txt"}, link{cid: f, name: "2a.txt"}))
	top := s.put(shardNode(16, []byte{0x80, 0x21}, link{cid: f, name: "0z"}, link{cid: inner, name: "5"}, link{cid: f, name: "Fm"}))
	ents, err := readDir(s, top)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(ents); got != "a.txt,b.txt,m,z" {
		t.Errorf("entries %s, want a.txt,b.txt,m,z", got)
	}
	if s.reads != 2 {
		t.Errorf("%d blocks read, want the 2 shards", s.reads)
	}
}

// Directories that are not what they claim are refused, each with one
// line naming what is wrong.
func TestReadDirBad(t *testing.T) {
	s := &dagStore{m: map[cid.Cid][]byte{}}
	f := testCID(cid.Raw, "file")
	missing := testCID(cid.DagProtobuf, "not held")
	plainSub := s.put(dirNode(link{cid: f, name: "x"}))
	tests := []struct {
		name string
		root cid.Cid
		kind acerr.Kind
		msg  string
	}{
		{"two entries of one name", s.put(dirNode(link{cid: f, name: "a"}, link{cid: f, name: "a"})), acerr.Invalid, `two entries named "a"`},
		{"an entry with no name", s.put(dirNode(link{cid: f})), acerr.Invalid, "an entry with no name"},
		{"huge fanout", s.put(shardNode(1<<20, []byte{1}, link{cid: f, name: "00000a"})), acerr.Invalid, "fanout 1048576: a power of two from 2 to 1024"},
		{"fanout not a power of two", s.put(shardNode(100, []byte{1}, link{cid: f, name: "00a"})), acerr.Invalid, "fanout 100"},
		{"other hash", s.put(pbNode{data: appendFSData(nil, fsData{typ: typeHAMTShard, hashType: 0x12, fanout: 256})}), acerr.Invalid, "hash function 0x12, only murmur3-x64-64"},
		{"bitfield and links disagree", s.put(shardNode(16, []byte{0x03}, link{cid: f, name: "0a"})), acerr.Invalid, "bitfield has 2 bits set for 1 links"},
		{"link not in the bitfield", s.put(shardNode(16, []byte{0x01}, link{cid: f, name: "3a"})), acerr.Invalid, `HAMT link "3a" is out of order or not in the bitfield`},
		{"link without a slot", s.put(shardNode(16, []byte{0x01}, link{cid: f, name: "xa"})), acerr.Invalid, `HAMT link "xa" does not start with a slot of 1 hex digits`},
		{"shard links a plain directory", s.put(shardNode(16, []byte{0x01}, link{cid: plainSub, name: "0"})), acerr.Invalid, "a HAMT link to something other than a shard"},
		{"shard links a missing shard", s.put(shardNode(16, []byte{0x01}, link{cid: missing, name: "0"})), acerr.NotExist, missing.String()},
	}
	// Shards nested deeper than a 64-bit hash can place entries, each
	// level a new shard.
	deep := s.put(shardNode(16, []byte{0x01}, link{cid: f, name: "0a"}))
	for i := range 17 {
		deep = s.put(shardNode(16, []byte{0x03}, link{cid: deep, name: "0"}, link{cid: f, name: fmt.Sprintf("1x%d", i)}))
	}
	// A shard linked from 16 slots, each of those from 16 more: listed
	// over and over, it would make 16^n entries of a few blocks.
	fan := s.put(shardNode(16, []byte{0x01}, link{cid: f, name: "0a"}))
	for range 2 {
		var ls []link
		for i := range 16 {
			ls = append(ls, link{cid: fan, name: fmt.Sprintf("%X", i)})
		}
		fan = s.put(shardNode(16, []byte{0xff, 0xff}, ls...))
	}
	tests = append(tests, struct {
		name string
		root cid.Cid
		kind acerr.Kind
		msg  string
	}{"a shard linked twice", fan, acerr.Invalid, "a HAMT shard linked twice"})
	tests = append(tests, struct {
		name string
		root cid.Cid
		kind acerr.Kind
		msg  string
	}{"shards too deep", deep, acerr.Invalid, "HAMT shards nested more than 16 deep"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readDir(s, tt.root)
			if !acerr.Is(tt.kind, err) || err == nil || !strings.Contains(err.Error(), tt.msg) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %v (kind %v), want one line of kind %v containing %q", err, acerr.KindOf(err), tt.kind, tt.msg)
			}
		})
	}
}

// Stat tells the kinds apart and refuses what is not UnixFS.
func TestStat(t *testing.T) {
	s := &dagStore{m: map[cid.Cid][]byte{}}
	link := s.put(pbNode{data: appendFSData(nil, fsData{typ: typeSymlink, data: []byte("../target")})})
	nd, err := Stat(link, s.m[link])
	if err != nil || nd.Kind != KindSymlink || nd.Target != "../target" {
		t.Errorf("symlink: %+v, %v", nd, err)
	}
	file := s.put(pbNode{data: appendFSData(nil, fsData{typ: typeFile, data: []byte("abc"), filesize: 3, hasSize: true, mode: 0o100640, hasMode: true})})
	nd, err = Stat(file, s.m[file])
	if err != nil || nd.Kind != KindFile || nd.Size != 3 || !nd.HasMode || nd.Mode != 0o640 {
		t.Errorf("file: %+v, %v", nd, err)
	}
	lying := s.put(pbNode{data: appendFSData(nil, fsData{typ: typeFile, data: []byte("abc"), filesize: 300, hasSize: true})})
	if _, err := Stat(lying, s.m[lying]); !acerr.Is(acerr.Integrity, err) {
		t.Errorf("a file whose filesize lies: %v, want Integrity", err)
	}
	cbor := testCID(cid.DagCBOR, "x")
	if _, err := Stat(cbor, []byte{0xa0}); !acerr.Is(acerr.Invalid, err) || !strings.Contains(err.Error(), "codec dag-cbor is not UnixFS") {
		t.Errorf("dag-cbor: %v", err)
	}
	if _, err := ReadDir(context.Background(), s.get, file, Node{Kind: KindFile}); !acerr.Is(acerr.NotDir, err) {
		t.Errorf("ReadDir of a file: %v, want NotDir", err)
	}
}

// FuzzStat checks that Stat and ReadDir never panic and fail in one line,
// even when every link leads back to the same block: a cycle, which a
// GetFunc that checks hashes can never give, ends at the depth limit.
func FuzzStat(f *testing.F) {
	s := &dagStore{m: map[cid.Cid][]byte{}}
	fc := testCID(cid.Raw, "file")
	f.Add(s.m[s.put(dirNode(link{cid: fc, name: "a"}, link{cid: fc, name: "b"}))])
	f.Add(s.m[s.put(shardNode(16, []byte{0x00, 0x06}, link{cid: fc, name: "1b.txt"}, link{cid: fc, name: "2"}))])
	f.Add(s.m[s.put(shardNode(256, []byte{0x01}, link{cid: fc, name: "00"}))])
	f.Add(s.m[s.put(pbNode{data: appendFSData(nil, fsData{typ: typeSymlink, data: []byte("x")})})])
	f.Fuzz(func(t *testing.T, b []byte) {
		sum := sha256.Sum256(b)
		c := sumCID(cid.DagProtobuf, &sum)
		nd, err := Stat(c, b)
		if err == nil && nd.Kind == KindDirectory {
			_, err = ReadDir(context.Background(), func(context.Context, cid.Cid) ([]byte, error) { return b, nil }, c, nd)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("error %q is not one line", err)
		}
	})
}
