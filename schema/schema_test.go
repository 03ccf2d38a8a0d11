package schema

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/archivecache/archivecache/acerr"
	"github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime/codec/dagcbor"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	"github.com/ipld/go-ipld-prime/node/bindnode"
	ipldschema "github.com/ipld/go-ipld-prime/schema"
	schemadmt "github.com/ipld/go-ipld-prime/schema/dmt"
	schemadsl "github.com/ipld/go-ipld-prime/schema/dsl"
)

func testCID(s string) cid.Cid {
	c := Sum([]byte(s))
	return c
}

func sig(b byte) []byte { return bytes.Repeat([]byte{b}, SigSize) }
func pub(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func sampleEntries() []Entry {
	return []Entry{
		{Name: "a.txt", Kind: KindFile, Target: testCID("a"), Size: 12, Mode: 0o644, Mtime: 1700000000123456789, VV: VV{"r1": 3, "r2": 1}, By: testCID("alice")},
		{Name: "gone", Kind: KindFile, Mtime: -5, VV: VV{"r1": 9}, Deleted: true},
		{Name: "sub", Kind: KindDirectory, Target: testCID("sub"), Mtime: 1, VV: VV{}},
		{Name: "é ü", Kind: KindNode, Target: testCID("n"), Mtime: 2, VV: VV{"x": 1}},
	}
}

// conflicted returns an entry with two concurrent versions beside it, in
// canonical form, and a deleted owned directory that links its owner's
// last version.
func conflicted() []Entry {
	vs := []Entry{
		{Name: "notes.txt", Kind: KindFile, Target: testCID("n1"), Size: 3, Mtime: 10, VV: VV{"r1": 2}},
		{Name: "notes.txt", Kind: KindFile, Target: testCID("n2"), Size: 4, Mtime: 30, VV: VV{"r2": 1, "r1": 1}},
		{Name: "notes.txt", Kind: KindFile, Mtime: 20, VV: VV{"r3": 1, "r1": 1}, Deleted: true},
	}
	return []Entry{
		FromVersions(vs),
		{Name: "retired", Kind: KindDirectory, Target: testCID("last"), Mtime: 5, VV: VV{"r1": 4}, Deleted: true, Owner: testCID("alice")},
	}
}

// samples holds one node of every kind, by schema type name.
var samples = map[string]Object{
	"Directory conflicts": &Directory{Entries: conflicted()},
	"Identity":            &Identity{Name: "alice", Key: pub(7), Created: 1700000000, Sig: sig(1)},
	"Directory":           &Directory{Entries: sampleEntries()},
	"Directory owned": &Directory{Owner: testCID("alice"), Seq: 4, Prev: testCID("v3"),
		Entries: sampleEntries()[:1], Sig: sig(2)},
	"Directory large": &Directory{Level: 2, Children: []DirChild{
		{Name: "a", Link: testCID("c0")}, {Name: "m", Link: testCID("c1")}}},
	"Directory empty": &Directory{},
	"DirNode":         &DirNode{Entries: sampleEntries()},
	"DirNode inner": &DirNode{Level: 3, Children: []DirChild{
		{Name: "a", Link: testCID("c0")}, {Name: "zz", Link: testCID("c1")}}},
	"Node": &Node{Owner: testCID("alice"), Seq: 1, Root: testCID("root"), Created: 5, Sig: sig(3)},
	"Node full": &Node{Owner: testCID("alice"), Seq: 9, Prev: testCID("n8"), Root: testCID("root"),
		Addrs: []string{"127.0.0.1:4001", "[::1]:4001"}, Created: 5, Sig: sig(3)},
}

func loadSchema(t *testing.T) *ipldschema.TypeSystem {
	t.Helper()
	sch, err := schemadsl.ParseBytes(Source)
	if err != nil {
		t.Fatalf("parse archivecache.ipldsch: %v", err)
	}
	ts := new(ipldschema.TypeSystem)
	ts.Init()
	if err := schemadmt.Compile(ts, sch); err != nil {
		t.Fatalf("compile archivecache.ipldsch: %v", err)
	}
	return ts
}

// TestSchemaConformance decodes every sample's encoding with go-ipld-prime
// against the type the schema file declares for it.
func TestSchemaConformance(t *testing.T) {
	ts := loadSchema(t)
	for name, n := range samples {
		typeName := strings.Fields(name)[0]
		typ := ts.TypeByName(typeName)
		if typ == nil {
			t.Fatalf("schema lacks type %s", typeName)
		}
		proto := bindnode.Prototype(nil, typ)
		nb := proto.Representation().NewBuilder()
		if err := dagcbor.Decode(nb, bytes.NewReader(Encode(n))); err != nil {
			t.Errorf("%s: encoding does not match schema type %s: %v", name, typeName, err)
		}
	}
	// And the schema refuses what our decoder refuses: an unknown field.
	bad := withField(t, Encode(samples["Identity"]), "extra", "x")
	nb := bindnode.Prototype(nil, ts.TypeByName("Identity")).Representation().NewBuilder()
	if err := dagcbor.Decode(nb, bytes.NewReader(bad)); err == nil {
		t.Errorf("schema accepted an Identity with an unknown field")
	}
}

// TestEncodingIsDagCBOR re-encodes every sample with go-ipld-prime's
// dag-cbor codec and expects the same bytes: our encoder is canonical.
func TestEncodingIsDagCBOR(t *testing.T) {
	for name, n := range samples {
		enc := Encode(n)
		nb := basicnode.Prototype.Any.NewBuilder()
		if err := dagcbor.Decode(nb, bytes.NewReader(enc)); err != nil {
			t.Fatalf("%s: go-ipld-prime cannot decode: %v", name, err)
		}
		var out bytes.Buffer
		if err := dagcbor.Encode(nb.Build(), &out); err != nil {
			t.Fatalf("%s: re-encode: %v", name, err)
		}
		if !bytes.Equal(out.Bytes(), enc) {
			t.Errorf("%s: go-ipld-prime re-encodes differently:\n got %x\nwant %x", name, out.Bytes(), enc)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for name, n := range samples {
		enc := Encode(n)
		got, err := Decode(enc)
		if err != nil {
			t.Fatalf("Decode(%s) error: %v", name, err)
		}
		if again := Encode(got); !bytes.Equal(again, enc) {
			t.Errorf("%s: round trip changed the encoding", name)
		}
		if got.Kind() != n.Kind() {
			t.Errorf("%s: Kind = %s, want %s", name, got.Kind(), n.Kind())
		}
	}
}

func TestUnsignedOmitsOnlySig(t *testing.T) {
	id := samples["Identity"].(*Identity)
	unsigned := EncodeUnsigned(id)
	cp := *id
	cp.Sig = nil
	if !bytes.Equal(unsigned, Encode(&cp)) {
		t.Errorf("EncodeUnsigned differs from Encode without sig")
	}
	if bytes.Equal(unsigned, Encode(id)) {
		t.Errorf("EncodeUnsigned still carries the signature")
	}
}

// withField decodes enc generically, adds a field and re-encodes.
func withField(t *testing.T, enc []byte, key string, val any) []byte {
	t.Helper()
	v, err := decodeTop(enc)
	if err != nil {
		t.Fatal(err)
	}
	m := v.(*cmap)
	e := &encoder{}
	mw := mapWriter{e: e}
	for _, k := range m.keys {
		mw.add(k, writeValue(m.vals[k]))
	}
	mw.add(key, writeValue(val))
	mw.finish()
	return e.buf
}

func writeValue(v value) func(*encoder) {
	return func(e *encoder) {
		switch x := v.(type) {
		case uint64:
			e.uint(x)
		case int64:
			e.int(x)
		case int:
			e.int(int64(x))
		case string:
			e.text(x)
		case []byte:
			e.bytes(x)
		case bool:
			e.bool(x)
		case cid.Cid:
			e.cid(x)
		case []value:
			e.head(majArray, uint64(len(x)))
			for _, it := range x {
				writeValue(it)(e)
			}
		case *cmap:
			mw := mapWriter{e: e}
			for _, k := range x.keys {
				mw.add(k, writeValue(x.vals[k]))
			}
			mw.finish()
		default:
			panic("writeValue: unsupported type")
		}
	}
}

var badNodes = []struct {
	name string
	data func(t *testing.T) []byte
	kind acerr.Kind
}{
	{"empty", func(*testing.T) []byte { return nil }, acerr.Invalid},
	{"not a map", func(*testing.T) []byte { return []byte{0x01} }, acerr.Invalid},
	{"truncated", func(*testing.T) []byte { b := Encode(samples["Node"]); return b[:len(b)-3] }, acerr.Invalid},
	{"trailing byte", func(*testing.T) []byte { return append(Encode(samples["Node"]), 0) }, acerr.Invalid},
	{"unknown field", func(t *testing.T) []byte { return withField(t, Encode(samples["Node"]), "evil", "x") }, acerr.Invalid},
	{"unknown policy", func(t *testing.T) []byte {
		e := &encoder{}
		mw := mapWriter{e: e}
		mw.add("policy", writeValue("file_v0"))
		mw.finish()
		return e.buf
	}, acerr.Invalid},
	{"explicit zero", func(t *testing.T) []byte {
		return withField(t, Encode(&Directory{}), "seq", uint64(0))
	}, acerr.Invalid},
	{"missing field", func(t *testing.T) []byte {
		e := &encoder{}
		(&Identity{Name: "x", Key: pub(1), Created: 1}).encode(e, true)
		v, _ := decodeTop(e.buf)
		m := v.(*cmap)
		e2 := &encoder{}
		mw := mapWriter{e: e2}
		for _, k := range m.keys {
			if k != "key" {
				mw.add(k, writeValue(m.vals[k]))
			}
		}
		mw.finish()
		return e2.buf
	}, acerr.Invalid},
	{"bad name", func(*testing.T) []byte {
		return Encode(&Directory{Entries: []Entry{{Name: "../x", Kind: KindFile, Target: testCID("x"), VV: VV{}}}})
	}, acerr.Invalid},
	{"unsorted entries", func(*testing.T) []byte {
		e := sampleEntries()
		e[0], e[2] = e[2], e[0]
		return Encode(&Directory{Entries: e})
	}, acerr.Invalid},
	{"tombstone with target", func(*testing.T) []byte {
		return Encode(&Directory{Entries: []Entry{{Name: "x", Kind: KindFile, Target: testCID("x"), Deleted: true, VV: VV{}}}})
	}, acerr.Invalid},
	{"conflict shown first", func(*testing.T) []byte {
		e := conflicted()
		e[0].Conflicts[0], e[0].Mtime = e[0], 0 // swap the shown version below a conflict
		e[0].Conflicts[0].Conflicts = nil
		return Encode(&Directory{Entries: e})
	}, acerr.Invalid},
	{"conflicts unsorted", func(*testing.T) []byte {
		e := conflicted()
		c := e[0].Conflicts
		c[0], c[1] = c[1], c[0]
		return Encode(&Directory{Entries: e})
	}, acerr.Invalid},
	{"conflict of another name", func(*testing.T) []byte {
		e := conflicted()
		e[0].Conflicts[0].Name = "other.txt"
		return Encode(&Directory{Entries: e})
	}, acerr.Invalid},
	{"nested conflicts", func(*testing.T) []byte {
		e := conflicted()
		inner := e[0].Conflicts[1]
		e[0].Conflicts[0].Conflicts = []Entry{inner}
		return Encode(&Directory{Entries: e})
	}, acerr.Invalid},
	{"empty conflicts", func(t *testing.T) []byte {
		e := &encoder{}
		encodeEntries(e, sampleEntries()[:1])
		v, _ := decodeTop(e.buf)
		ent := v.([]value)[0].(*cmap)
		ent.keys = append(ent.keys, "conflicts")
		ent.vals["conflicts"] = []value{}
		e2 := &encoder{}
		mw := mapWriter{e: e2}
		mw.add("policy", writeValue(string(KindDirectory)))
		mw.add("entries", writeValue([]value{ent}))
		mw.finish()
		return e2.buf
	}, acerr.Invalid},
	{"old format directory", func(*testing.T) []byte { return policyOnly("directory_v1") }, acerr.Invalid},
	{"old format shard", func(*testing.T) []byte { return policyOnly("shard_v1") }, acerr.Invalid},
	{"directory with entries and children", func(*testing.T) []byte {
		return Encode(&Directory{Entries: sampleEntries(), Level: 1, Children: []DirChild{{Name: "a", Link: testCID("a")}, {Name: "b", Link: testCID("b")}}})
	}, acerr.Invalid},
	{"directory with one child", func(*testing.T) []byte {
		return Encode(&Directory{Level: 1, Children: []DirChild{{Name: "a", Link: testCID("a")}}})
	}, acerr.Invalid},
	{"directory with children and no level", func(*testing.T) []byte {
		return Encode(&Directory{Children: []DirChild{{Name: "a", Link: testCID("a")}, {Name: "b", Link: testCID("b")}}})
	}, acerr.Invalid},
	{"directory with a level and no children", func(*testing.T) []byte { return Encode(&Directory{Level: 1}) }, acerr.Invalid},
	{"tree leaf with children", func(*testing.T) []byte {
		return Encode(&DirNode{Children: []DirChild{{Name: "a", Link: testCID("a")}}})
	}, acerr.Invalid},
	{"tree inner node with entries", func(*testing.T) []byte {
		return Encode(&DirNode{Level: 1, Entries: sampleEntries()})
	}, acerr.Invalid},
	{"tree inner node without children", func(*testing.T) []byte { return Encode(&DirNode{Level: 1}) }, acerr.Invalid},
	{"tree node too high", func(*testing.T) []byte {
		return Encode(&DirNode{Level: MaxLevel + 1, Children: []DirChild{{Name: "a", Link: testCID("a")}}})
	}, acerr.Invalid},
	{"tree children unsorted", func(*testing.T) []byte {
		return Encode(&DirNode{Level: 1, Children: []DirChild{{Name: "b", Link: testCID("b")}, {Name: "a", Link: testCID("a")}}})
	}, acerr.Invalid},
	{"tree child with a bad name", func(*testing.T) []byte {
		return Encode(&DirNode{Level: 1, Children: []DirChild{{Name: "a/b", Link: testCID("b")}}})
	}, acerr.Invalid},
	{"tree child not a pair", func(t *testing.T) []byte {
		return withField(t, policyOnly(string(KindDirNode)), "children", []value{[]value{"a"}})
	}, acerr.Invalid},
	{"shared with seq", func(*testing.T) []byte { return Encode(&Directory{Seq: 3}) }, acerr.Invalid},
	{"short key", func(*testing.T) []byte { return Encode(&Identity{Name: "a", Key: []byte{1}, Created: 1}) }, acerr.Invalid},
	{"non-minimal int", func(*testing.T) []byte {
		b := Encode(&Identity{Name: "a", Key: pub(1), Created: 5})
		// created is the last field: 0x05 → 0x18 0x05
		return append(b[:len(b)-1], 0x18, 0x05)
	}, acerr.Invalid},
	{"float", func(*testing.T) []byte { return []byte{0xa1, 0x61, 'a', 0xfb, 0, 0, 0, 0, 0, 0, 0, 0} }, acerr.Invalid},
	{"too large", func(*testing.T) []byte { return make([]byte, MaxBlockSize+1) }, acerr.TooLarge},
	{"deep nesting", func(*testing.T) []byte { return append(bytes.Repeat([]byte{0x81}, 100), 0) }, acerr.Invalid},
	{"huge array claim", func(*testing.T) []byte { return []byte{0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff} }, acerr.Invalid},
}

// policyOnly encodes a map holding only a policy field.
func policyOnly(kind string) []byte {
	e := &encoder{}
	mw := mapWriter{e: e}
	mw.add("policy", writeValue(kind))
	mw.finish()
	return e.buf
}

// TestDecodeRefusesOldFormat: blocks of the earlier format are refused
// as such, with a line that says so, never read as something else.
func TestDecodeRefusesOldFormat(t *testing.T) {
	for _, k := range []string{"directory_v1", "shard_v1"} {
		_, err := Decode(policyOnly(k))
		if !errors.Is(err, ErrOldFormat) || !strings.Contains(err.Error(), "older ArchiveCache data format") {
			t.Errorf("Decode(%s) = %v, want the old-format error", k, err)
		}
		if !OldFormat(policyOnly(k)) {
			t.Errorf("OldFormat(%s) = false", k)
		}
	}
	// A current block that merely holds the bytes of an old one's policy
	// field (in a name) is no old block.
	e := &encoder{}
	e.text("policy")
	e.text("directory_v1")
	tricky := Encode(&Directory{Entries: []Entry{{Name: string(e.buf), Kind: KindFile, Target: testCID("x"), VV: VV{"r": 1}}}})
	if OldFormat(tricky) || OldFormat(Encode(samples["Directory"])) {
		t.Errorf("OldFormat is true of a current directory")
	}
}

func TestDecodeRejects(t *testing.T) {
	for _, tt := range badNodes {
		_, err := Decode(tt.data(t))
		if err == nil {
			t.Errorf("Decode(%s) = nil error, want %v", tt.name, tt.kind)
			continue
		}
		if !acerr.Is(tt.kind, err) {
			t.Errorf("Decode(%s) kind = %v, want %v (%v)", tt.name, acerr.KindOf(err), tt.kind, err)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("Decode(%s) error is not one line: %q", tt.name, err)
		}
	}
}

func TestDecodeAs(t *testing.T) {
	if _, err := DecodeAs[*Node](Encode(samples["Identity"])); !acerr.Is(acerr.Invalid, err) {
		t.Errorf("DecodeAs[*Node](identity) error = %v, want Invalid", err)
	}
	n, err := DecodeAs[*Node](Encode(samples["Node"]))
	if err != nil || n.Seq != 1 {
		t.Errorf("DecodeAs[*Node](node) = %+v, %v", n, err)
	}
}

func TestValidName(t *testing.T) {
	good := []string{"a", "a.txt", "é", strings.Repeat("x", MaxNameLen), ".hidden", "a b"}
	bad := []string{"", ".", "..", "a/b", "a\x00", strings.Repeat("x", MaxNameLen+1), "\xff"}
	for _, n := range good {
		if err := ValidName(n); err != nil {
			t.Errorf("ValidName(%q) = %v, want nil", n, err)
		}
	}
	for _, n := range bad {
		if ValidName(n) == nil {
			t.Errorf("ValidName(%q) = nil, want error", n)
		}
	}
}

// FuzzDecode checks that Decode never panics and that whatever it accepts
// re-encodes to exactly the input (one value, one encoding).
func FuzzDecode(f *testing.F) {
	for _, n := range samples {
		f.Add(Encode(n))
	}
	f.Add([]byte{0xa0})
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := Decode(data)
		if err != nil {
			if acerr.KindOf(err) == acerr.Other {
				t.Fatalf("Decode error without a kind: %v", err)
			}
			return
		}
		if enc := Encode(n); !bytes.Equal(enc, data) {
			t.Fatalf("accepted input does not re-encode to itself:\n in %x\nout %x", data, enc)
		}
	})
}

func benchDirectory(n int) *Directory {
	d := &Directory{}
	for i := 0; i < n; i++ {
		d.Entries = append(d.Entries, Entry{Name: fmt.Sprintf("file%06d.bin", i), Kind: KindFile,
			Target: testCID(fmt.Sprint(i)), Size: uint64(i) * 100, Mode: 0o644, Mtime: 1700000000000000000 + int64(i), VV: VV{"abcdefghijklmnop": 1}})
	}
	return d
}

func BenchmarkEncodeDirectory(b *testing.B) {
	d := benchDirectory(1000)
	b.ReportAllocs()
	for b.Loop() {
		Encode(d)
	}
}

func BenchmarkDecodeDirectory(b *testing.B) {
	enc := Encode(benchDirectory(1000))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSameEntryIsEncodingEquality checks that SameEntry, which compares
// fields, says what comparing encodings says: for an entry and variants
// of it that each change one field (a conflict's included), and for nil
// and empty version vectors.
func TestSameEntryIsEncodingEquality(t *testing.T) {
	c1, c2 := Sum([]byte("one")), Sum([]byte("two"))
	base := Entry{Name: "n", Kind: KindFile, Target: c1, Size: 3, Mode: 0o644, Mtime: 7, VV: VV{"a": 1},
		By: c1, Conflicts: []Entry{{Name: "n", Kind: KindFile, Target: c2, Mtime: 6, VV: VV{"b": 1}}}}
	variants := map[string]func(e *Entry){
		"same":         func(e *Entry) {},
		"name":         func(e *Entry) { e.Name = "m" },
		"kind":         func(e *Entry) { e.Kind = KindDirectory },
		"target":       func(e *Entry) { e.Target = c2 },
		"size":         func(e *Entry) { e.Size = 4 },
		"mode":         func(e *Entry) { e.Mode = 0o600 },
		"mtime":        func(e *Entry) { e.Mtime = 8 },
		"vv value":     func(e *Entry) { e.VV = VV{"a": 2} },
		"vv key":       func(e *Entry) { e.VV = VV{"b": 1} },
		"vv zero":      func(e *Entry) { e.VV = VV{"a": 1, "z": 0} },
		"deleted":      func(e *Entry) { e.Deleted = true },
		"by":           func(e *Entry) { e.By = c2 },
		"by none":      func(e *Entry) { e.By = cid.Undef },
		"owner":        func(e *Entry) { e.Owner = c2 },
		"no conflicts": func(e *Entry) { e.Conflicts = nil },
		"conflict mtime": func(e *Entry) {
			e.Conflicts = []Entry{{Name: "n", Kind: KindFile, Target: c2, Mtime: 5, VV: VV{"b": 1}}}
		},
	}
	for name, change := range variants {
		v := base
		v.VV = maps.Clone(base.VV)
		v.Conflicts = slices.Clone(base.Conflicts)
		change(&v)
		want := bytes.Equal(EncodeEntry(&base), EncodeEntry(&v))
		if got := SameEntry(&base, &v); got != want {
			t.Errorf("%s: SameEntry = %v, encodings equal = %v", name, got, want)
		}
	}
	a, b := Entry{Name: "n", Kind: KindFile, Target: c1}, Entry{Name: "n", Kind: KindFile, Target: c1, VV: VV{}}
	if !SameEntry(&a, &b) || !bytes.Equal(EncodeEntry(&a), EncodeEntry(&b)) {
		t.Errorf("nil and empty version vectors: SameEntry = %v, want true like their encodings", SameEntry(&a, &b))
	}
}

// TestSupersedesClasses checks who may supersede whom, given a later
// version vector: anything a file; only a shared directory a shared
// directory (live or deleted); only the same owner an owned directory.
func TestSupersedesClasses(t *testing.T) {
	alice, bob := Sum([]byte("alice")), Sum([]byte("bob"))
	file := Entry{Kind: KindFile}
	shared := Entry{Kind: KindDirectory}
	deleted := Entry{Kind: KindDirectory, Deleted: true}
	owned := Entry{Kind: KindDirectory, Owner: alice}
	bobs := Entry{Kind: KindDirectory, Owner: bob}
	for _, tc := range []struct {
		name string
		y, x Entry
		want bool
	}{
		{"file over file", file, file, true},
		{"directory over file", shared, file, true},
		{"file over directory", file, shared, false},
		{"file over deleted directory", file, deleted, false},
		{"directory over deleted directory", shared, deleted, true},
		{"deletion over directory", deleted, shared, true},
		{"owned over shared", owned, shared, false},
		{"shared over owned", shared, owned, false},
		{"owner over own", owned, owned, true},
		{"other owner over owned", bobs, owned, false},
	} {
		tc.x.VV, tc.y.VV = VV{"r": 1}, VV{"r": 2}
		if got := Supersedes(&tc.y, &tc.x); got != tc.want {
			t.Errorf("%s: Supersedes = %v, want %v", tc.name, got, tc.want)
		}
		if Supersedes(&tc.x, &tc.y) {
			t.Errorf("%s: the earlier version supersedes the later", tc.name)
		}
	}
}

// TestBlockWithEntries: a node given its entries encoded is the block
// Block makes of it, for a leaf and a directory.
func TestBlockWithEntries(t *testing.T) {
	entries := append(sampleEntries(), conflicted()...)
	SortEntries(entries)
	encs := make([][]byte, len(entries))
	for i := range entries {
		encs[i] = EncodeEntry(&entries[i])
		if len(encs[i]) != EntrySize(&entries[i]) {
			t.Errorf("entry %s: EncodeEntry gives %d bytes, EntrySize %d", entries[i].Name, len(encs[i]), EntrySize(&entries[i]))
		}
	}
	for _, n := range []Object{&DirNode{Entries: entries}, &Directory{Owner: testCID("o"), Seq: 2, Entries: entries, Sig: sig(1)}} {
		wc, wb := Block(n)
		gc, gb := BlockWithEntries(n, encs)
		if !gc.Equals(wc) || !bytes.Equal(gb, wb) {
			t.Errorf("%s: BlockWithEntries differs from Block", n.Kind())
		}
	}
}

// TestDecodeSharesIdentityLinks: the entries of a block that name the
// same identity (by, owner) share one copy of its CID, and an entry that
// names another gets its own, right.
func TestDecodeSharesIdentityLinks(t *testing.T) {
	alice, bob := testCID("alice"), testCID("bob")
	var entries []Entry
	for i, by := range []cid.Cid{alice, alice, bob, alice} {
		entries = append(entries, Entry{Name: fmt.Sprintf("f%d", i), Kind: KindFile, Target: testCID(fmt.Sprint(i)), Size: 1, Mtime: 1, VV: VV{"r": 1}, By: by})
	}
	entries = append(entries, Entry{Name: "g", Kind: KindDirectory, Target: testCID("g"), Mtime: 1, VV: VV{"r": 1}, Deleted: true, By: alice, Owner: alice})
	_, data := Block(&DirNode{Entries: entries})
	n, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	got := n.(*DirNode).Entries
	if !slices.EqualFunc(got, entries, func(a, b Entry) bool { return SameEntry(&a, &b) }) {
		t.Fatalf("decoded %v, want %v", got, entries)
	}
	first := unsafe.StringData(got[0].By.KeyString())
	for _, i := range []int{1, 3, 4} {
		if unsafe.StringData(got[i].By.KeyString()) != first {
			t.Errorf("entry %d's by is a copy of its own", i)
		}
	}
	if unsafe.StringData(got[4].Owner.KeyString()) != first {
		t.Errorf("the owner alice is a copy of its own")
	}
}
