package ipfsstore

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	chunk "github.com/ipfs/boxo/chunker"
)

// TestLeafSplitterCutsLikeBoxo checks that leafSplitter returns the same
// chunks as boxo's size splitter, whether or not its buffers are handed
// back, and that handed-back buffers are reused.
func TestLeafSplitterCutsLikeBoxo(t *testing.T) {
	const k = ChunkSize
	for _, n := range []int{0, 1, k - 1, k, k + 1, 3 * k, 3*k + 5} {
		for _, release := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d/release=%v", n, release), func(t *testing.T) {
				data := make([]byte, n)
				rand.NewChaCha8([32]byte{byte(n)}).Read(data)
				want := chunk.NewSizeSplitter(bytes.NewReader(data), k)
				got := &leafSplitter{r: bytes.NewReader(data), out: make(map[*byte]bool)}
				allocs := 0
				for i := 0; ; i++ {
					w, werr := want.NextBytes()
					free := len(got.free)
					g, gerr := got.NextBytes()
					if free == 0 && g != nil {
						allocs++
					}
					if !bytes.Equal(g, w) || (werr == nil) != (gerr == nil) {
						t.Fatalf("chunk %d: got %d bytes, %v; want %d bytes, %v", i, len(g), gerr, len(w), werr)
					}
					if werr != nil {
						if !errors.Is(gerr, io.EOF) {
							t.Fatalf("end: got %v, want io.EOF", gerr)
						}
						break
					}
					if release {
						got.release(g)
					}
				}
				if release && allocs > 1 {
					t.Errorf("%d buffers allocated with every chunk handed back, want 1", allocs)
				}
				got.release(make([]byte, 10)) // not one of its buffers: ignored
				if len(got.out) != 0 && release {
					t.Errorf("%d buffers still out after all were handed back", len(got.out))
				}
			})
		}
	}
}

func TestLeafSplitterReaderError(t *testing.T) {
	errBroken := errors.New("broken")
	s := &leafSplitter{r: io.MultiReader(bytes.NewReader(make([]byte, ChunkSize+10)), &errReader{errBroken}), out: make(map[*byte]bool)}
	if b, err := s.NextBytes(); err != nil || len(b) != ChunkSize {
		t.Fatalf("first chunk = %d bytes, %v", len(b), err)
	}
	if _, err := s.NextBytes(); !errors.Is(err, errBroken) {
		t.Fatalf("second chunk error = %v, want %v", err, errBroken)
	}
	if _, err := s.NextBytes(); !errors.Is(err, errBroken) {
		t.Fatalf("after the error = %v, want %v again", err, errBroken)
	}
}

type errReader struct{ err error }

func (r *errReader) Read([]byte) (int, error) { return 0, r.err }
