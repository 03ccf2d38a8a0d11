package ipfsstore_test

import (
	"bytes"
	"context"
	"io"
	"math/rand"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/ipfsstore/kubotest"
)

// TestBenchKuboPeerRead times reading a 32 MiB file that only a peer
// holds, five fresh files each way, taking turns: streamed with Read (one
// `cat`, as ac-cat and ac-get read) and walked with ReadAt in 1 MiB
// pieces (Get block by block, as a mount reads). It only reports:
//
//	AC_BENCH=1 go test ./ipfsstore -run TestBenchKuboPeerRead -v
func TestBenchKuboPeerRead(t *testing.T) {
	if os.Getenv("AC_BENCH") == "" {
		t.Skip("a benchmark: set AC_BENCH=1")
	}
	a, b := kubotest.StartPair(t)
	kb := openKubo(t, b.API)
	ka, err := ipfsstore.OpenKubo(t.Context(), ipfsstore.Config{API: a.API, FetchTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer ka.Close()
	times := map[string][]time.Duration{}
	for i := range 5 {
		for _, way := range []string{"read", "readat"} {
			data := make([]byte, 32<<20)
			rand.New(rand.NewSource(int64(10*i + len(way)))).Read(data)
			c, _, err := kb.AddFile(t.Context(), bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			f, err := ka.OpenFile(t.Context(), c)
			if err != nil {
				t.Fatal(err)
			}
			var n int64
			if way == "read" {
				n, err = io.Copy(io.Discard, f)
			} else {
				buf := make([]byte, 1<<20)
				for n < int64(len(data)) && err == nil {
					var m int
					m, err = f.ReadAt(context.Background(), buf, n)
					n += int64(m)
				}
				if err == io.EOF {
					err = nil
				}
			}
			f.Close()
			if err != nil || n != int64(len(data)) {
				t.Fatalf("%s: %d bytes, %v", way, n, err)
			}
			times[way] = append(times[way], time.Since(start))
		}
	}
	med := func(x []time.Duration) time.Duration { x = slices.Clone(x); slices.Sort(x); return x[len(x)/2] }
	t.Logf("32 MiB from a peer, median of 5: Read (cat) %v %v, ReadAt (Get by block) %v %v, ratio %.2f",
		med(times["read"]), times["read"], med(times["readat"]), times["readat"],
		float64(med(times["readat"]))/float64(med(times["read"])))
}
