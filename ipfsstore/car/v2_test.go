package car_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore/car"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

var pragma = []byte{0x0a, 0xa1, 0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x02}

// wrapV2 wraps the CAR v1 inner in a CAR v2 with pad bytes of padding
// before it and index after it, whose header says dataOff, dataSize and
// indexOff (0 for the true values).
func wrapV2(inner []byte, pad int, index []byte, dataOff, dataSize, indexOff uint64) []byte {
	if dataOff == 0 {
		dataOff = uint64(len(pragma) + 40 + pad)
	}
	if dataSize == 0 {
		dataSize = uint64(len(inner))
	}
	if indexOff == 0 && len(index) > 0 {
		indexOff = dataOff + dataSize
	}
	h := make([]byte, 16, 40)
	h[0] = 0x80 // fully indexed: ignored
	h = binary.LittleEndian.AppendUint64(h, dataOff)
	h = binary.LittleEndian.AppendUint64(h, dataSize)
	h = binary.LittleEndian.AppendUint64(h, indexOff)
	return cat(pragma, h, make([]byte, pad), inner, index)
}

// A CAR v2 reads as the CAR v1 inside it, CIDv0 and identity blocks
// included, whatever padding and index surround it; the offsets of the
// blocks are those in the whole file.
func TestReadV2(t *testing.T) {
	hello := raw([]byte("hello"))
	v0 := block{cid.NewCidV0(sum(cid.DagProtobuf, []byte{0x0a, 0x00}).Hash()), []byte{0x0a, 0x00}}
	mhID, _ := multihash.Sum([]byte("inline"), multihash.IDENTITY, -1)
	id := block{cid.NewCidV1(cid.Raw, mhID), []byte("inline")}
	blocks := []block{hello, v0, id}
	inner := encode(t, []cid.Cid{v0.c}, blocks)
	for _, pad := range []int{0, 7, 4096} {
		for _, index := range [][]byte{nil, []byte("an index, never read")} {
			t.Run(fmt.Sprintf("pad=%d/index=%v", pad, index != nil), func(t *testing.T) {
				in := wrapV2(inner, pad, index, 0, 0, 0)
				cr, err := car.NewReader(bytes.NewReader(in))
				if err != nil {
					t.Fatal(err)
				}
				if cr.Version() != 2 || len(cr.Roots()) != 1 || cr.Roots()[0] != v0.c {
					t.Fatalf("version %d, roots %v; want 2, [%v]", cr.Version(), cr.Roots(), v0.c)
				}
				roots, got, err := decode(bytes.NewReader(in))
				if err != nil || len(roots) != 1 || !sameBlocks(got, blocks) {
					t.Fatalf("read %d blocks, %v; want the %d of the inner CAR", len(got), err, len(blocks))
				}
			})
		}
	}
	// A CAR v1 says version 1.
	cr, err := car.NewReader(bytes.NewReader(inner))
	if err != nil || cr.Version() != 1 {
		t.Fatalf("CAR v1: version %v, %v", cr.Version(), err)
	}
}

func TestReadV2Bad(t *testing.T) {
	hello := raw([]byte("hello"))
	inner := encode(t, []cid.Cid{hello.c}, []block{hello})
	nested := wrapV2(wrapV2(inner, 0, nil, 0, 0, 0), 0, nil, 0, 0, 0)
	tests := []struct {
		name string
		in   []byte
		kind acerr.Kind
		msg  string
	}{
		{"truncated header", wrapV2(inner, 0, nil, 0, 0, 0)[:30], acerr.Invalid, "truncated: input ends at offset 30, inside the CAR v2 header"},
		{"data inside the header", wrapV2(inner, 0, nil, 50, 0, 0), acerr.Invalid, "CAR v2 header: data offset 50 is inside the header (51 bytes)"},
		{"data far away", wrapV2(inner, 0, nil, 1<<40, 0, 0), acerr.TooLarge, "CAR v2 header: data offset 1099511627776, limit 1048576"},
		{"no data", wrapV2(inner, 0, nil, 0, 1<<63, 0), acerr.TooLarge, "data size"},
		{"index inside the data", wrapV2(inner, 0, []byte("x"), 0, 0, 60), acerr.Invalid, "index offset 60 is before the end of the data"},
		{"padding cut short", wrapV2(nil, 0, nil, 1000, 10, 0), acerr.Invalid, "inside the padding before the data at offset 1000"},
		{"data size cuts a block", wrapV2(inner, 0, []byte("index bytes"), 0, uint64(len(inner)-1), 0), acerr.Invalid, "truncated"},
		{"data size past the end", wrapV2(inner, 0, nil, 0, uint64(len(inner)+5), 0), acerr.Invalid, fmt.Sprintf("truncated: input ends at offset %d, before the end of the CAR v2 data at offset %d", 51+len(inner), 51+len(inner)+5)},
		{"nested CAR v2", nested, acerr.Invalid, "the CAR v1 inside a CAR v2: CAR version 2; only versions 1 and 2 are read, and a CAR v2 holds a CAR v1"},
		{"a CAR v1 header inside that is not one", wrapV2([]byte{0x01, 0x80}, 0, nil, 0, 0, 0), acerr.Invalid, "header at offset 52: the CAR v1 inside a CAR v2: byte 0: not a map"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := decode(bytes.NewReader(tt.in))
			checkErr(t, err, tt.kind, tt.msg)
		})
	}
}

// FuzzReadV2 checks that the Reader never panics on a CAR v2 and that
// whatever it accepts is the CAR v1 at the data offset: the same roots and
// blocks as that CAR v1 read alone.
func FuzzReadV2(f *testing.F) {
	b := raw([]byte("hello"))
	inner := encode(f, []cid.Cid{b.c}, []block{b, raw(nil)})
	f.Add(wrapV2(inner, 0, nil, 0, 0, 0))
	f.Add(wrapV2(inner, 3, []byte("index"), 0, 0, 0))
	f.Add(wrapV2(inner, 0, nil, 0, uint64(len(inner)-1), 0))
	f.Add(wrapV2(inner, 0, nil, 200, 0, 0))
	f.Add(pragma)
	f.Fuzz(func(t *testing.T, in []byte) {
		roots, blocks, err := decode(bytes.NewReader(in))
		if err != nil {
			if s := err.Error(); bytes.ContainsRune([]byte(s), '\n') {
				t.Fatalf("error %q is not one line", s)
			}
			switch k := acerr.KindOf(err); k {
			case acerr.Invalid, acerr.Integrity, acerr.TooLarge:
			default:
				t.Fatalf("error of kind %v: %v", k, err)
			}
			return
		}
		if !bytes.HasPrefix(in, pragma) {
			return // a CAR v1: FuzzRead's
		}
		off := binary.LittleEndian.Uint64(in[len(pragma)+16:])
		size := binary.LittleEndian.Uint64(in[len(pragma)+24:])
		data := in[off:min(uint64(len(in)), off+size)]
		roots1, blocks1, err := decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("CAR v2 accepted, its data alone refused: %v", err)
		}
		if fmt.Sprint(roots1) != fmt.Sprint(roots) || !sameBlocks(blocks1, blocks) {
			t.Fatalf("CAR v2 reads differently from its data alone")
		}
	})
}
