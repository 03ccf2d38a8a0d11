package dirbench

import (
	"fmt"
	"slices"
	"strings"

	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

// A Codec encodes the entries of a leaf: the payload every layout shares.
type Codec interface {
	Name() string
	// EntrySize is the bytes one entry adds to a leaf, as node limits and
	// chunking count them.
	EntrySize(e *schema.Entry) int
	EncodeLeaf(entries []schema.Entry) []byte
	DecodeLeaf(data []byte) ([]schema.Entry, error)
}

// Today is the encoding of version 1: a shard_v1 leaf of schema.Entry.
type Today struct{}

func (Today) Name() string                        { return "today's entries" }
func (Today) EntrySize(e *schema.Entry) int       { return schema.EntrySize(e) }
func (Today) EncodeLeaf(es []schema.Entry) []byte { return schema.Encode(&schema.Shard{Entries: es}) }

func (Today) DecodeLeaf(data []byte) ([]schema.Entry, error) {
	s, err := schema.DecodeAs[*schema.Shard](data)
	if err != nil {
		return nil, err
	}
	return s.Entries, nil
}

// Compact carries what an entry of version 1 carries, with less:
//
//   - one-letter map keys (an IPLD schema "rename"), so every field still
//     has a name and an absent one is still omitted;
//   - the kind as a small integer (kindCodes);
//   - By as an index into the leaf's table of identities ("by"), and the
//     version vector as [replica index, counter, ...] over the leaf's
//     table of replica ids ("replicas"): a leaf of one person's files
//     names them once, not in every entry. Tables are sorted and hold
//     exactly what the leaf's entries use, so a leaf still has one
//     encoding.
//
// Targets and owners stay whole IPLD links, so pinning, CAR export and
// `ipfs dag` still follow them.
type Compact struct{}

var kindCodes = []schema.Kind{schema.KindDirectory, schema.KindFile, schema.KindIdentity, schema.KindNode}

func (Compact) Name() string { return "compact entries" }

// EntrySize counts each table index as one byte: exact while a leaf
// names fewer than 24 identities and replicas, which the leaf tables'
// own bytes dominate anyway.
func (Compact) EntrySize(e *schema.Entry) int {
	w := &cborWriter{}
	encodeCompact(w, e, func(cid.Cid) int { return 0 }, func(string) int { return 0 })
	return len(w.buf)
}

func (Compact) EncodeLeaf(entries []schema.Entry) []byte {
	var ids []cid.Cid
	var reps []string
	var collect func(e *schema.Entry)
	collect = func(e *schema.Entry) {
		if e.By.Defined() {
			ids = append(ids, e.By)
		}
		for r := range e.VV {
			reps = append(reps, r)
		}
		for i := range e.Conflicts {
			collect(&e.Conflicts[i])
		}
	}
	for i := range entries {
		collect(&entries[i])
	}
	slices.SortFunc(ids, func(a, b cid.Cid) int { return strings.Compare(a.KeyString(), b.KeyString()) })
	ids = slices.Compact(ids)
	slices.Sort(reps)
	reps = slices.Compact(reps)
	idIndex := func(c cid.Cid) int {
		i, _ := slices.BinarySearchFunc(ids, c, func(a, b cid.Cid) int { return strings.Compare(a.KeyString(), b.KeyString()) })
		return i
	}
	repIndex := func(r string) int { i, _ := slices.BinarySearch(reps, r); return i }

	w := &cborWriter{}
	w.head(majMap, uint64(1+btoi(len(ids) > 0)+btoi(len(reps) > 0)))
	if len(ids) > 0 {
		w.text("by")
		w.head(majArray, uint64(len(ids)))
		for _, c := range ids {
			w.link(c)
		}
	}
	w.text("entries")
	w.head(majArray, uint64(len(entries)))
	for i := range entries {
		encodeCompact(w, &entries[i], idIndex, repIndex)
	}
	if len(reps) > 0 {
		w.text("replicas")
		w.head(majArray, uint64(len(reps)))
		for _, r := range reps {
			w.text(r)
		}
	}
	return w.buf
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// encodeCompact writes one entry, its keys in dag-cbor's order.
func encodeCompact(w *cborWriter, e *schema.Entry, idIndex func(cid.Cid) int, repIndex func(string) int) {
	n := 4 // k, n, u, v
	for _, present := range [...]bool{e.By.Defined(), len(e.Conflicts) > 0, e.Deleted, e.Mode != 0, e.Owner.Defined(), e.Size != 0, e.Target.Defined()} {
		n += btoi(present)
	}
	w.head(majMap, uint64(n))
	if e.By.Defined() {
		w.text("b")
		w.uint(uint64(idIndex(e.By)))
	}
	if len(e.Conflicts) > 0 {
		w.text("c")
		w.head(majArray, uint64(len(e.Conflicts)))
		for i := range e.Conflicts {
			encodeCompact(w, &e.Conflicts[i], idIndex, repIndex)
		}
	}
	if e.Deleted {
		w.text("d")
		w.buf = append(w.buf, cborTrue)
	}
	w.text("k")
	w.uint(uint64(slices.Index(kindCodes, e.Kind)))
	if e.Mode != 0 {
		w.text("m")
		w.uint(uint64(e.Mode))
	}
	w.text("n")
	w.text(e.Name)
	if e.Owner.Defined() {
		w.text("o")
		w.link(e.Owner)
	}
	if e.Size != 0 {
		w.text("s")
		w.uint(e.Size)
	}
	if e.Target.Defined() {
		w.text("t")
		w.link(e.Target)
	}
	w.text("u")
	w.int(e.Mtime)
	w.text("v")
	reps := make([]string, 0, len(e.VV))
	for r := range e.VV {
		reps = append(reps, r)
	}
	slices.SortFunc(reps, func(a, b string) int { return repIndex(a) - repIndex(b) })
	w.head(majArray, uint64(2*len(reps)))
	for _, r := range reps {
		w.uint(uint64(repIndex(r)))
		w.uint(e.VV[r])
	}
}

func (Compact) DecodeLeaf(data []byte) ([]schema.Entry, error) {
	r := &cborReader{b: data}
	fields := r.count(majMap)
	var ids []cid.Cid
	var reps []string
	if r.peekKey("by") {
		r.key("by")
		ids = make([]cid.Cid, r.count(majArray))
		for i := range ids {
			ids[i] = r.link()
		}
		fields--
	}
	r.key("entries")
	entries := make([]schema.Entry, r.count(majArray))
	raw := r.b // entries refer to the replica table, which follows them: skip, then come back
	for range entries {
		skipCompact(r)
	}
	if fields == 2 {
		r.key("replicas")
		reps = make([]string, r.count(majArray))
		for i := range reps {
			reps[i] = r.text()
		}
	}
	if err := r.done(); err != nil {
		return nil, fmt.Errorf("compact leaf: %w", err)
	}
	er := &cborReader{b: raw}
	for i := range entries {
		entries[i] = decodeCompact(er, ids, reps)
	}
	if er.err != nil {
		return nil, fmt.Errorf("compact leaf: %w", er.err)
	}
	return entries, nil
}

// skipCompact reads past one entry without interpreting it.
func skipCompact(r *cborReader) { decodeCompact(r, nil, nil) }

// decodeCompact reads one entry; with nil tables it only checks shape.
func decodeCompact(r *cborReader, ids []cid.Cid, reps []string) schema.Entry {
	var e schema.Entry
	n := r.count(majMap)
	for range n {
		switch k := r.text(); k {
		case "b":
			if i := r.uint(); ids != nil {
				if i >= uint64(len(ids)) {
					r.fail("identity index %d out of range", i)
					return e
				}
				e.By = ids[i]
			}
		case "c":
			e.Conflicts = make([]schema.Entry, r.count(majArray))
			for i := range e.Conflicts {
				e.Conflicts[i] = decodeCompact(r, ids, reps)
			}
		case "d":
			e.Deleted = r.isTrue()
		case "k":
			if i := r.uint(); i < uint64(len(kindCodes)) {
				e.Kind = kindCodes[i]
			} else {
				r.fail("kind %d", i)
			}
		case "m":
			e.Mode = uint32(r.uint())
		case "n":
			e.Name = r.text()
		case "o":
			e.Owner = r.link()
		case "s":
			e.Size = r.uint()
		case "t":
			e.Target = r.link()
		case "u":
			e.Mtime = r.int()
		case "v":
			m := r.count(majArray) / 2
			e.VV = make(schema.VV, m)
			for range m {
				i, c := r.uint(), r.uint()
				if reps != nil {
					if i >= uint64(len(reps)) {
						r.fail("replica index %d out of range", i)
						return e
					}
					e.VV[reps[i]] = c
				}
			}
		default:
			r.fail("unknown key %q", k)
		}
	}
	return e
}
