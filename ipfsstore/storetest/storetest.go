// Package storetest is the contract suite every ipfsstore.Store must pass.
//
// A backend's test hands Run a constructor:
//
//	func TestMemory(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) ipfsstore.Store {
//			s := ipfsstore.NewMemory()
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// Each entry of the table below runs as a named subtest on a store of its
// own. The suite does not assume the store starts empty (a kubo daemon may
// be shared by every subtest): blocks that must be absent are made from
// fresh random bytes. Known-answer CIDs were computed once with kubo's
// `ipfs add --cid-version=1` and are written here as constants.
package storetest

import (
	"bytes"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// Test is one named check of the contract.
type Test struct {
	Name string
	Fn   func(t *testing.T, s ipfsstore.Store)
}

// Tests is the contract, in the order Run runs it.
func Tests() []Test {
	return []Test{
		{"put-get", testPutGet},
		{"put-get-codecs", testPutGetCodecs},
		{"get-missing", testGetMissing},
		{"has", testHas},
		{"block-size", testBlockSize},
		{"put-wrong-bytes", testPutWrongBytes},
		{"put-too-large", testPutTooLarge},
		{"put-max-size", testPutMaxSize},
		{"put-idempotent", testPutIdempotent},
		{"put-concurrent", testPutConcurrent},
		{"known-cids", testKnownCIDs},
		{"addfile-sizes", testAddFileSizes},
		{"addfile-two-levels", testAddFileTwoLevels},
		{"addfile-reader-error", testAddFileReaderError},
		{"openfile-missing", testOpenFileMissing},
		{"openfile-not-a-file", testOpenFileNotAFile},
		{"seek", testSeek},
		{"readat", testReadAt},
		{"readat-concurrent", testReadAtConcurrent},
		{"readat-blocks", testReadAtBlocks},
		{"readat-cancel", testReadAtCancel},
		{"undefined-cid", testUndefinedCID},
		{"close", testClose},
	}
}

// Run runs every test of the contract against stores made by newStore.
// newStore is called once per subtest; it must return a ready store and
// arrange for it to be closed (t.Cleanup). Closing an already closed store
// must be harmless.
func Run(t *testing.T, newStore func(t *testing.T) ipfsstore.Store) {
	t.Helper()
	for _, tc := range Tests() {
		t.Run(tc.Name, func(t *testing.T) {
			tc.Fn(t, newStore(t))
		})
	}
}

// Known answers from kubo 0.41 `ipfs add --cid-version=1` (and, for single
// blocks, `ipfs block put`).
const (
	// EmptyFileCID is the CID of a file of no bytes.
	EmptyFileCID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
	// HelloCID is the CID of "hello world\n".
	HelloCID = "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"
	// ACID is the CID of "a".
	ACID = "bafkreigks6arfsq3xxfpvqrrwonchxcnu6do76auprhhfomao6c273sixm"
	// Zeros300kCID is the CID of 300,000 zero bytes: two leaves and a root.
	Zeros300kCID = "bafybeieb4dp5tj5rew3jhfqqsoyfx77y3ovw2xcdhelmp5hyot3xi3wjwu"
	// Seeded3MiBCID is the CID of SeededBytes(1, 3<<20+17).
	Seeded3MiBCID = "bafybeigdo6vnjj6amm337gbkxoyu5u5xvt2pyioigccjj6pfo5uothc6m4"
	// Seeded45MiBCID is the CID of SeededBytes(2, 45<<20): a root over
	// internal nodes over leaves.
	Seeded45MiBCID = "bafybeieajoikglbr45cevz3jc5dpmlkwvvbwtr67gxb6equkbie5ci7cvm"
)

// SeededBytes returns n bytes from a PRNG seeded with seed, the same on
// every run and platform.
func SeededBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// freshBytes returns n random bytes that no store has seen.
func freshBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := crand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func rawCID(t *testing.T, data []byte) cid.Cid {
	t.Helper()
	return sumCID(t, cid.Raw, data)
}

func sumCID(t *testing.T, codec uint64, data []byte) cid.Cid {
	t.Helper()
	c, err := cid.V1Builder{Codec: codec, MhType: multihash.SHA2_256}.Sum(data)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wantKind fails unless err is an *acerr.Error of kind k naming c.
func wantKind(t *testing.T, what string, err error, k acerr.Kind, c cid.Cid) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: err = nil, want kind %q", what, k)
	}
	if !acerr.Is(k, err) {
		t.Fatalf("%s: err = %v (kind %q), want kind %q", what, err, acerr.KindOf(err), k)
	}
	var ae *acerr.Error
	if !errors.As(err, &ae) {
		t.Fatalf("%s: err = %T, want *acerr.Error", what, err)
	}
	if c.Defined() && ae.CID != c.String() {
		t.Errorf("%s: error names CID %q, want %q (err %v)", what, ae.CID, c, err)
	}
	if bytes.ContainsAny([]byte(err.Error()), "\r\n") {
		t.Errorf("%s: error is not one line: %q", what, err)
	}
}

func testPutGet(t *testing.T, s ipfsstore.Store) {
	ctx := t.Context()
	for _, n := range []int{0, 1, 1000, ipfsstore.ChunkSize} {
		data := freshBytes(t, n)
		c := rawCID(t, data)
		if err := s.Put(ctx, c, data); err != nil {
			t.Fatalf("Put(%d bytes) = %v", n, err)
		}
		got, err := s.Get(ctx, c)
		if err != nil {
			t.Fatalf("Get(%s) = %v", c, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("Get(%s) = %d bytes, want the %d put", c, len(got), n)
		}
	}
}

func testPutGetCodecs(t *testing.T, s ipfsstore.Store) {
	ctx := t.Context()
	cbor := append([]byte{0xa1, 0x61, 0x6e, 0x58, 0x10}, freshBytes(t, 16)...) // {"n": h'…'}
	pb := []byte{0x0a, 0x02, 0x08, 0x01}                                       // an empty UnixFS directory
	v0, err := cid.V0Builder{}.Sum(pb)
	if err != nil {
		t.Fatal(err)
	}
	blocks := []struct {
		name string
		c    cid.Cid
		data []byte
	}{
		{"dag-cbor", sumCID(t, cid.DagCBOR, cbor), cbor},
		{"dag-pb", sumCID(t, cid.DagProtobuf, pb), pb},
		{"dag-pb-v0", v0, pb},
	}
	for _, b := range blocks {
		if err := s.Put(ctx, b.c, b.data); err != nil {
			t.Fatalf("%s: Put(%s) = %v", b.name, b.c, err)
		}
		got, err := s.Get(ctx, b.c)
		if err != nil {
			t.Fatalf("%s: Get(%s) = %v", b.name, b.c, err)
		}
		if !bytes.Equal(got, b.data) {
			t.Fatalf("%s: Get(%s) = %x, want %x", b.name, b.c, got, b.data)
		}
	}
}

func testGetMissing(t *testing.T, s ipfsstore.Store) {
	c := rawCID(t, freshBytes(t, 64))
	_, err := s.Get(t.Context(), c)
	wantKind(t, fmt.Sprintf("Get(%s)", c), err, acerr.NotExist, c)
}

func testHas(t *testing.T, s ipfsstore.Store) {
	ctx := t.Context()
	data := freshBytes(t, 100)
	c := rawCID(t, data)
	if ok, err := s.Has(ctx, c); err != nil || ok {
		t.Fatalf("Has(%s) before Put = %v, %v; want false, nil", c, ok, err)
	}
	if err := s.Put(ctx, c, data); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Has(ctx, c); err != nil || !ok {
		t.Fatalf("Has(%s) after Put = %v, %v; want true, nil", c, ok, err)
	}
}

// testBlockSize checks ipfsstore.BlockSize, and with it the store's
// BlockSize where it is a Sizer: a held block's length, whatever its
// codec, and NotExist for one not held.
func testBlockSize(t *testing.T, s ipfsstore.Store) {
	ctx := t.Context()
	// Fresh blocks of 8 bytes and more: one random byte is one of 256
	// blocks, which another test on the same daemon may have put.
	for _, n := range []int{8, 1000, schema.MaxBlockSize} {
		data := freshBytes(t, n)
		c := rawCID(t, data)
		if _, err := ipfsstore.BlockSize(ctx, s, c); !acerr.Is(acerr.NotExist, err) {
			t.Fatalf("BlockSize(%s) before Put = %v, want does not exist", c, err)
		}
		if err := s.Put(ctx, c, data); err != nil {
			t.Fatal(err)
		}
		if got, err := ipfsstore.BlockSize(ctx, s, c); err != nil || got != n {
			t.Fatalf("BlockSize(%s) = %d, %v; want %d", c, got, err, n)
		}
		if size, held, err := ipfsstore.HeldFileSize(ctx, s, c); err != nil || !held || size != uint64(n) {
			t.Fatalf("HeldFileSize(%s) = %d, %v, %v; want %d, held", c, size, held, err, n)
		}
	}
}

func testPutWrongBytes(t *testing.T, s ipfsstore.Store) {
	ctx := t.Context()
	data := freshBytes(t, 100)
	c := rawCID(t, data)
	bad := append([]byte(nil), data...)
	bad[17] ^= 1
	wantKind(t, "Put(wrong bytes)", s.Put(ctx, c, bad), acerr.Integrity, c)
	if ok, err := s.Has(ctx, c); err != nil || ok {
		t.Fatalf("Has(%s) after failed Put = %v, %v; want false, nil", c, ok, err)
	}
	_, err := s.Get(ctx, c)
	wantKind(t, "Get after failed Put", err, acerr.NotExist, c)
	// The bytes that were sent must not be stored under their own CID either.
	if ok, err := s.Has(ctx, rawCID(t, bad)); err != nil || ok {
		t.Fatalf("Has(CID of the wrong bytes) = %v, %v; want false, nil", ok, err)
	}
}

func testPutTooLarge(t *testing.T, s ipfsstore.Store) {
	ctx := t.Context()
	data := freshBytes(t, schema.MaxBlockSize+1)
	c := rawCID(t, data)
	wantKind(t, "Put(MaxBlockSize+1)", s.Put(ctx, c, data), acerr.TooLarge, c)
	if ok, err := s.Has(ctx, c); err != nil || ok {
		t.Fatalf("Has after oversize Put = %v, %v; want false, nil", ok, err)
	}
}

func testPutMaxSize(t *testing.T, s ipfsstore.Store) {
	ctx := t.Context()
	data := freshBytes(t, schema.MaxBlockSize)
	c := rawCID(t, data)
	if err := s.Put(ctx, c, data); err != nil {
		t.Fatalf("Put(MaxBlockSize bytes) = %v", err)
	}
	got, err := s.Get(ctx, c)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get(MaxBlockSize block) = %d bytes, %v", len(got), err)
	}
}

func testPutIdempotent(t *testing.T, s ipfsstore.Store) {
	ctx := t.Context()
	data := freshBytes(t, 5000)
	c := rawCID(t, data)
	for i := range 3 {
		if err := s.Put(ctx, c, data); err != nil {
			t.Fatalf("Put #%d = %v", i+1, err)
		}
	}
	got, err := s.Get(ctx, c)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get after repeated Put = %d bytes, %v", len(got), err)
	}
	// A wrong Put of a block already held still fails and changes nothing.
	bad := append([]byte{0}, data[1:]...)
	if bad[0] == data[0] {
		bad[0] = 1
	}
	wantKind(t, "Put(wrong bytes, CID held)", s.Put(ctx, c, bad), acerr.Integrity, c)
	if got, err := s.Get(ctx, c); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get after wrong Put = %d bytes, %v", len(got), err)
	}
}

func testPutConcurrent(t *testing.T, s ipfsstore.Store) {
	ctx := t.Context()
	const workers, each = 16, 25
	type blk struct {
		c    cid.Cid
		data []byte
	}
	all := make([][]blk, workers)
	for w := range all {
		for i := range each {
			// Some blocks are shared by all workers, most are not.
			var data []byte
			if i%5 == 0 {
				data = SeededBytes(uint64(1000+i), 3000)
			} else {
				data = freshBytes(t, 1+(w*each+i)*97%70000)
			}
			all[w] = append(all[w], blk{rawCID(t, data), data})
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, b := range all[w] {
				if err := s.Put(ctx, b.c, b.data); err != nil {
					errs <- err
					return
				}
				got, err := s.Get(ctx, b.c)
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(got, b.data) {
					errs <- fmt.Errorf("Get(%s) returned other bytes", b.c)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, bs := range all {
		for _, b := range bs {
			if got, err := s.Get(ctx, b.c); err != nil || !bytes.Equal(got, b.data) {
				t.Fatalf("Get(%s) after concurrent Puts = %d bytes, %v", b.c, len(got), err)
			}
		}
	}
}

func testKnownCIDs(t *testing.T, s ipfsstore.Store) {
	ctx := t.Context()
	files := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, EmptyFileCID},
		{"a", []byte("a"), ACID},
		{"hello", []byte("hello world\n"), HelloCID},
		{"zeros-300000", make([]byte, 300000), Zeros300kCID},
		{"seeded-3MiB+17", SeededBytes(1, 3<<20+17), Seeded3MiBCID},
	}
	for _, f := range files {
		c, n, err := s.AddFile(ctx, bytes.NewReader(f.data))
		if err != nil {
			t.Fatalf("%s: AddFile = %v", f.name, err)
		}
		if c.String() != f.want || n != uint64(len(f.data)) {
			t.Errorf("%s: AddFile = %s, %d; want %s, %d", f.name, c, n, f.want, len(f.data))
		}
	}
	// A single-chunk file is one raw block: Put and AddFile agree.
	data := []byte("hello world\n")
	want, _ := cid.Decode(HelloCID)
	if got := rawCID(t, data); !got.Equals(want) {
		t.Fatalf("raw CID of %q = %s, want %s", data, got, want)
	}
	if err := s.Put(ctx, want, data); err != nil {
		t.Fatal(err)
	}
}

// addAndRead imports data and reads it back whole, checking CID version,
// reported sizes and bytes.
func addAndRead(t *testing.T, s ipfsstore.Store, data []byte) cid.Cid {
	t.Helper()
	ctx := t.Context()
	c, n, err := s.AddFile(ctx, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("AddFile(%d bytes) = %v", len(data), err)
	}
	if n != uint64(len(data)) {
		t.Errorf("AddFile(%d bytes) size = %d", len(data), n)
	}
	if c.Version() != 1 {
		t.Errorf("AddFile(%d bytes) = %s, want a CIDv1", len(data), c)
	}
	if len(data) <= ipfsstore.ChunkSize && c.Type() != cid.Raw {
		t.Errorf("AddFile(%d bytes) = %s, want a single raw leaf", len(data), c)
	}
	if len(data) > ipfsstore.ChunkSize && c.Type() != cid.DagProtobuf {
		t.Errorf("AddFile(%d bytes) = %s, want a dag-pb root", len(data), c)
	}
	f, err := s.OpenFile(ctx, c)
	if err != nil {
		t.Fatalf("OpenFile(%s) = %v", c, err)
	}
	defer f.Close()
	if f.Size() != uint64(len(data)) {
		t.Errorf("OpenFile(%s).Size() = %d, want %d", c, f.Size(), len(data))
	}
	got, err := io.ReadAll(f)
	if err != nil {
		t.Fatalf("reading %s: %v", c, err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("reading %s: got %d bytes, not the %d added", c, len(got), len(data))
	}
	return c
}

func testAddFileSizes(t *testing.T, s ipfsstore.Store) {
	const k = ipfsstore.ChunkSize
	for i, n := range []int{0, 1, k - 1, k, k + 1, 3<<20 + 17} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			addAndRead(t, s, SeededBytes(uint64(100+i), n))
		})
	}
}

func testAddFileTwoLevels(t *testing.T, s ipfsstore.Store) {
	ctx := t.Context()
	data := SeededBytes(2, 45<<20)
	c := addAndRead(t, s, data)
	if c.String() != Seeded45MiBCID {
		t.Errorf("AddFile(45 MiB) = %s, want %s", c, Seeded45MiBCID)
	}
	// root → internal nodes → raw leaves.
	depth := 0
	for cur := c; cur.Type() == cid.DagProtobuf; depth++ {
		b, err := s.Get(ctx, cur)
		if err != nil {
			t.Fatal(err)
		}
		next, err := firstLink(b)
		if err != nil {
			t.Fatalf("node %s: %v", cur, err)
		}
		cur = next
	}
	if depth != 2 {
		t.Errorf("45 MiB file has %d levels of links, want 2", depth)
	}
}

// firstLink returns the CID of the first link of a dag-pb node as the
// importer writes it: the node starts with its first PBLink (field 2),
// which starts with the link's Hash (field 1).
func firstLink(b []byte) (cid.Cid, error) {
	field := func(b []byte, tag byte) ([]byte, error) {
		if len(b) == 0 || b[0] != tag {
			return nil, errors.New("no link where the first link should be")
		}
		l, n := binary.Uvarint(b[1:])
		if n <= 0 || l > uint64(len(b)-1-n) {
			return nil, errors.New("truncated link")
		}
		return b[1+n : 1+n+int(l)], nil
	}
	lnk, err := field(b, 2<<3|2)
	if err != nil {
		return cid.Undef, err
	}
	h, err := field(lnk, 1<<3|2)
	if err != nil {
		return cid.Undef, err
	}
	return cid.Cast(h)
}

type failingReader struct {
	n   int
	err error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, r.err
	}
	n := min(len(p), r.n)
	clear(p[:n])
	r.n -= n
	return n, nil
}

func testAddFileReaderError(t *testing.T, s ipfsstore.Store) {
	errBroken := errors.New("source is broken")
	_, _, err := s.AddFile(t.Context(), &failingReader{n: 600 << 10, err: errBroken})
	if err == nil {
		t.Fatal("AddFile(failing reader) = nil error")
	}
}

func testOpenFileMissing(t *testing.T, s ipfsstore.Store) {
	c := rawCID(t, freshBytes(t, 64))
	_, err := s.OpenFile(t.Context(), c)
	wantKind(t, fmt.Sprintf("OpenFile(%s)", c), err, acerr.NotExist, c)
}

func testOpenFileNotAFile(t *testing.T, s ipfsstore.Store) {
	ctx := t.Context()
	cbor := append([]byte{0xa1, 0x61, 0x6e, 0x58, 0x10}, freshBytes(t, 16)...)
	c := sumCID(t, cid.DagCBOR, cbor)
	if err := s.Put(ctx, c, cbor); err != nil {
		t.Fatal(err)
	}
	if f, err := s.OpenFile(ctx, c); err == nil {
		f.Close()
		t.Fatalf("OpenFile(dag-cbor block) = nil error")
	}
	dir := []byte{0x0a, 0x02, 0x08, 0x01}
	dc := sumCID(t, cid.DagProtobuf, dir)
	if err := s.Put(ctx, dc, dir); err != nil {
		t.Fatal(err)
	}
	_, err := s.OpenFile(ctx, dc)
	wantKind(t, "OpenFile(directory)", err, acerr.IsDir, dc)
}

func testSeek(t *testing.T, s ipfsstore.Store) {
	ctx := t.Context()
	const k = ipfsstore.ChunkSize
	data := SeededBytes(3, 3<<20+17)
	c, _, err := s.AddFile(ctx, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	f, err := s.OpenFile(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	size := int64(len(data))

	steps := []struct {
		offset  int64
		whence  int
		wantPos int64
		read    int // bytes to read after the seek (0: none)
	}{
		{k + 100, io.SeekStart, k + 100, 1000},
		{-500, io.SeekCurrent, k + 600, k}, // backwards, then across a leaf boundary
		{2 * k, io.SeekStart, 2 * k, 10},   // exactly on a boundary
		{-10, io.SeekEnd, size - 10, 10},   // the last bytes
		{0, io.SeekStart, 0, 100},
		{7, io.SeekCurrent, 107, 5},
		{0, io.SeekCurrent, 112, 0},
		{size, io.SeekStart, size, 0},
	}
	for i, st := range steps {
		pos, err := f.Seek(st.offset, st.whence)
		if err != nil || pos != st.wantPos {
			t.Fatalf("step %d: Seek(%d, %d) = %d, %v; want %d", i, st.offset, st.whence, pos, err, st.wantPos)
		}
		if st.read == 0 {
			continue
		}
		buf := make([]byte, st.read)
		if _, err := io.ReadFull(f, buf); err != nil {
			t.Fatalf("step %d: reading %d bytes at %d: %v", i, st.read, pos, err)
		}
		if !bytes.Equal(buf, data[pos:pos+int64(st.read)]) {
			t.Fatalf("step %d: bytes at %d differ", i, pos)
		}
	}

	// At the end and past it, Read reports io.EOF.
	for _, off := range []int64{size, size + 12345} {
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			t.Fatalf("Seek(%d) = %v", off, err)
		}
		if n, err := f.Read(make([]byte, 10)); n != 0 || err != io.EOF {
			t.Fatalf("Read at %d = %d, %v; want 0, EOF", off, n, err)
		}
	}
	// A negative position is refused and the position is kept.
	if _, err := f.Seek(100, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(-1, io.SeekStart); err == nil {
		t.Fatal("Seek(-1, SeekStart) = nil error")
	}
	if _, err := f.Seek(-101, io.SeekCurrent); err == nil {
		t.Fatal("Seek(-101, SeekCurrent) from 100 = nil error")
	}
	if _, err := f.Seek(0, 42); err == nil {
		t.Fatal("Seek(0, 42) = nil error")
	}
	buf := make([]byte, 50)
	if _, err := io.ReadFull(f, buf); err != nil || !bytes.Equal(buf, data[100:150]) {
		t.Fatalf("Read after refused seeks = %v; want the bytes at 100", err)
	}
	// Reading after a seek backwards re-reads the same bytes.
	if _, err := f.Seek(100, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(f, buf); err != nil || !bytes.Equal(buf, data[100:150]) {
		t.Fatalf("Read after seeking back = %v; want the bytes at 100", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if _, err := f.Read(buf); err == nil {
		t.Fatal("Read after Close = nil error")
	}
}

func testClose(t *testing.T, s ipfsstore.Store) {
	ctx := t.Context()
	data := freshBytes(t, 10)
	c := rawCID(t, data)
	if err := s.Put(ctx, c, data); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if _, err := s.Get(ctx, c); err == nil {
		t.Fatal("Get after Close = nil error")
	}
	if err := s.Put(ctx, c, data); err == nil {
		t.Fatal("Put after Close = nil error")
	}
}

func testUndefinedCID(t *testing.T, s ipfsstore.Store) {
	ctx := t.Context()
	_, err := s.Get(ctx, cid.Undef)
	wantKind(t, "Get(cid.Undef)", err, acerr.Invalid, cid.Undef)
	_, err = s.Has(ctx, cid.Undef)
	wantKind(t, "Has(cid.Undef)", err, acerr.Invalid, cid.Undef)
	wantKind(t, "Put(cid.Undef)", s.Put(ctx, cid.Undef, []byte("x")), acerr.Invalid, cid.Undef)
	_, err = s.OpenFile(ctx, cid.Undef)
	wantKind(t, "OpenFile(cid.Undef)", err, acerr.Invalid, cid.Undef)
}
