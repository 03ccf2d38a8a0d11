package message

import (
	"bytes"
	"strings"
	"testing"
)

func fuzzSeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	for _, s := range samples(f) {
		seeds = append(seeds, s.msg, []byte(b64(s.msg)), s.msg[:len(s.msg)/2])
		if text, err := EncodeText(s.msg, TextOptions{Wrap: DefaultWrap, Armor: true}); err == nil {
			seeds = append(seeds, []byte("Hi,\r\n> "+strings.ReplaceAll(text, "\n", "\r\n> ")), []byte(text[:len(text)/2]))
		}
	}
	seeds = append(seeds, []byte(armorBegin+"\n"+armorEnd), []byte(armorBegin+"\nA: b\n\nab=3D=\ncd\n"+armorEnd))
	return append(seeds,
		nil,
		[]byte("hello"),
		[]byte{0x78, 0x9c},
		compress([]byte(`{}`)),
		compress([]byte(`{"version":1,"kind":"reference"}`)),
		zlibZeros(4096),
	)
}

// FuzzParse: Parse never panics and errs in one line; whatever it accepts
// is exactly the canonical JSON of what it returns; and whatever ToJSON
// shows, FromJSON turns back into the same message.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err != nil {
			checkErr(t, "message.Parse", err)
		}
		js, jerr := ToJSON(data)
		if jerr != nil {
			checkErr(t, "message.ToJSON", jerr)
			if err == nil {
				t.Fatalf("Parse accepted what ToJSON refused: %v", jerr)
			}
			return
		}
		compact, err2 := open(data)
		if err2 != nil {
			t.Fatalf("ToJSON accepted what open refused: %v", err2)
		}
		if err == nil {
			if got := marshal(&m.Envelope); !bytes.Equal(got, compact) {
				t.Fatalf("accepted message re-serialises differently:\n got %s\nwant %s", got, compact)
			}
		}
		back, err := FromJSON(js)
		if err != nil {
			t.Fatalf("FromJSON(ToJSON(x)) = %v", err)
		}
		if got, err := open(back); err != nil || !bytes.Equal(got, compact) {
			t.Fatalf("FromJSON(ToJSON(x)) holds other JSON (err %v)", err)
		}
	})
}

// FuzzFromJSON: FromJSON never panics and errs in one line; what it makes
// holds canonical JSON, and survives ToJSON and FromJSON unchanged.
func FuzzFromJSON(f *testing.F) {
	for _, s := range samples(f) {
		js, err := ToJSON(s.msg)
		if err != nil {
			f.Fatal(err)
		}
		compact, _ := open(s.msg)
		f.Add(js)
		f.Add(compact)
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"version":1,"version":1}`))
	f.Add([]byte(`{"Version":1} `))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := FromJSON(data)
		if err != nil {
			checkErr(t, "message.FromJSON", err)
			return
		}
		compact, err := open(out)
		if err != nil {
			t.Fatalf("FromJSON made an unreadable message: %v", err)
		}
		if _, err := decodeJSON(compact, true); err != nil {
			t.Fatalf("FromJSON made non-canonical JSON: %v", err)
		}
		js, err := ToJSON(out)
		if err != nil {
			t.Fatalf("ToJSON(FromJSON(x)) = %v", err)
		}
		again, err := FromJSON(js)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("FromJSON(ToJSON(FromJSON(x))) = %v, equal %v", err, bytes.Equal(again, out))
		}
	})
}
