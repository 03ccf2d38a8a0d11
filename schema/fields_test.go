package schema

import (
	"bufio"
	"bytes"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ipld/go-ipld-prime/codec/dagcbor"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/node/basicnode"
)

// schemaFields returns the fields of every struct type declared in
// archivecache.ipldsch, by type name, in their declared order.
func schemaFields(t *testing.T) map[string][]string {
	t.Helper()
	types := map[string][]string{}
	var cur string
	sc := bufio.NewScanner(bytes.NewReader(Source))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case len(f) >= 3 && f[0] == "type" && f[2] == "struct":
			cur = f[1]
			types[cur] = nil
		case f[0] == "}":
			cur = ""
		case cur != "":
			types[cur] = append(types[cur], f[0])
		}
	}
	if len(types) == 0 {
		t.Fatal("no struct types found in archivecache.ipldsch")
	}
	return types
}

// full returns a value of every struct type, by schema type name, with
// every Go field set to a value that is not zero, so that the encoder
// writes every field it knows. The values need not be valid.
func full() map[string]any {
	version := Entry{Name: "n", Kind: KindFile, Target: testCID("t"), Size: 1, Mode: 0o644, Mtime: 1,
		VV: VV{"r": 1}, Deleted: true, By: testCID("by"), Owner: testCID("owner")}
	entry := version
	entry.Conflicts = []Entry{version}
	child := DirChild{Name: "c", Link: testCID("c")}
	return map[string]any{
		"Identity": &Identity{Name: "a", Key: pub(1), Created: 1, Sig: sig(1)},
		"Directory": &Directory{Owner: testCID("o"), Seq: 1, Prev: testCID("p"), Entries: []Entry{entry},
			Level: 1, Children: []DirChild{child}, Sig: sig(2)},
		"Entry":    &entry,
		"Version":  &version,
		"DirNode":  &DirNode{Level: 1, Entries: []Entry{entry}, Children: []DirChild{child}},
		"DirChild": &child,
		"Node": &Node{Owner: testCID("o"), Seq: 1, Prev: testCID("p"), Root: testCID("r"), Addrs: []string{"a:1"},
			Created: 1, Sig: sig(3)},
	}
}

// encodedKeys returns the keys the encoder writes for v, a value of full.
func encodedKeys(t *testing.T, name string, v any) []string {
	t.Helper()
	var enc []byte
	switch v := v.(type) {
	case Object:
		enc = Encode(v)
	case *Entry:
		enc = EncodeEntry(v)
	case *DirChild:
		enc = Encode(&DirNode{Level: 1, Children: []DirChild{*v}})
	}
	nb := basicnode.Prototype.Any.NewBuilder()
	if err := dagcbor.Decode(nb, bytes.NewReader(enc)); err != nil {
		t.Fatalf("%s: decode with go-ipld-prime: %v", name, err)
	}
	n := nb.Build()
	if _, ok := v.(*DirChild); ok {
		// A tuple: its fields are its positions.
		ch, _ := n.LookupByString("children")
		pair, _ := ch.LookupByIndex(0)
		first, _ := pair.LookupByIndex(0)
		link, _ := pair.LookupByIndex(1)
		if pair.Length() != 2 || first.Kind() != datamodel.Kind_String || link.Kind() != datamodel.Kind_Link {
			t.Fatalf("%s: not encoded as [name, link]", name)
		}
		return []string{"name", "link"}
	}
	var keys []string
	for it := n.MapIterator(); it != nil && !it.Done(); {
		k, _, err := it.Next()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		s, _ := k.AsString()
		keys = append(keys, s)
	}
	if n.Kind() != datamodel.Kind_Map {
		t.Fatalf("%s: encoding is a %s, not a map", name, n.Kind())
	}
	return keys
}

// TestFieldsMatchSchema holds the Go types, the encoder and the decoder to
// archivecache.ipldsch: for every struct type the schema declares, the Go
// struct's fields (lowercased; a Version is an Entry without conflicts,
// and a node's kind is its Go type, not a field), the keys the encoder
// writes when every field is set, and the keys the decoder knows for an
// entry are the schema's fields. A field added in one place and not the
// others fails here; schema/doc.go lists the rest of what a new entry
// field needs.
func TestFieldsMatchSchema(t *testing.T) {
	values := full()
	for name, want := range schemaFields(t) {
		v, ok := values[name]
		if !ok {
			t.Errorf("schema type %s has no Go value in this test", name)
			continue
		}
		want = slices.Sorted(slices.Values(want))
		rv := reflect.ValueOf(v).Elem()
		var goFields []string
		if _, ok := v.(Object); ok {
			goFields = append(goFields, "policy")
		}
		for i := range rv.NumField() {
			f := rv.Type().Field(i)
			if name == "Version" && f.Name == "Conflicts" {
				continue
			}
			if rv.Field(i).IsZero() {
				t.Errorf("%s.%s is zero in this test's value: set it, so its encoding is checked", name, f.Name)
			}
			goFields = append(goFields, strings.ToLower(f.Name))
		}
		if slices.Sort(goFields); !slices.Equal(goFields, want) {
			t.Errorf("Go struct %s has fields %v, schema %v", name, goFields, want)
		}
		keys := slices.Sorted(slices.Values(encodedKeys(t, name, v)))
		if name == "Version" {
			keys = slices.DeleteFunc(keys, func(k string) bool { return k == "conflicts" })
		}
		if !slices.Equal(keys, want) {
			t.Errorf("encoder writes %s with keys %v, schema declares %v", name, keys, want)
		}
		if name == "Entry" {
			if dec := slices.Sorted(slices.Values(entryKeys[:])); !slices.Equal(dec, want) {
				t.Errorf("decoder knows entry keys %v, schema declares %v", dec, want)
			}
		}
	}
}

// TestSameEntryComparesEveryField: two entries that differ in any one
// field are not the same entry, so a new field cannot be forgotten in
// SameEntry (and so in merge's and Check's comparisons).
func TestSameEntryComparesEveryField(t *testing.T) {
	a := *full()["Entry"].(*Entry)
	b := Entry{Name: "m", Kind: KindDirectory, Target: testCID("t2"), Size: 2, Mode: 0o600, Mtime: 2,
		VV: VV{"r": 2}, By: testCID("by2"), Owner: testCID("owner2"), Conflicts: []Entry{{Name: "m"}}}
	ra, rb := reflect.ValueOf(&a).Elem(), reflect.ValueOf(b)
	for i := range ra.NumField() {
		x := a
		reflect.ValueOf(&x).Elem().Field(i).Set(rb.Field(i))
		if SameEntry(&a, &x) {
			t.Errorf("SameEntry ignores Entry.%s", ra.Type().Field(i).Name)
		}
	}
}
