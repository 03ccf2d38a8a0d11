package ipfsstore

import (
	"hash/maphash"
)

// bloom is a Bloom filter of block keys: a pack this process rolled
// keeps one beside its mapped table, so that a lookup of a block the
// pack does not hold (every new block of an import) skips the table's
// search. It answers "maybe" for every key added: no false negatives.
type bloom struct {
	bits []uint64
	seed maphash.Seed
}

// bloomBitsPerKey and bloomHashes give about 0.007% false positives
// (20 bits and 14 hashes a key): at 1%, the searches of a million new
// blocks' false positives touched most pages of every rolled table, and
// those pages counted in the process's RSS.
const (
	bloomBitsPerKey = 20
	bloomHashes     = 14
)

// newBloom returns an empty filter sized for n keys.
func newBloom(n int) *bloom {
	words := max(8, (n*bloomBitsPerKey+63)/64)
	return &bloom{bits: make([]uint64, words), seed: maphash.MakeSeed()}
}

// probes returns the two hashes the filter's probes derive from (double
// hashing, as Kirsch and Mitzenmacher describe).
func (b *bloom) probes(key string) (h1, h2 uint64) {
	h := maphash.String(b.seed, key)
	return h, h>>32 | h<<32 | 1
}

func (b *bloom) add(key string) {
	m := uint64(len(b.bits)) * 64
	h1, h2 := b.probes(key)
	for i := range uint64(bloomHashes) {
		bit := (h1 + i*h2) % m
		b.bits[bit/64] |= 1 << (bit % 64)
	}
}

// mayHave reports whether key may have been added; false is certain.
func (b *bloom) mayHave(key string) bool {
	m := uint64(len(b.bits)) * 64
	h1, h2 := b.probes(key)
	for i := range uint64(bloomHashes) {
		bit := (h1 + i*h2) % m
		if b.bits[bit/64]&(1<<(bit%64)) == 0 {
			return false
		}
	}
	return true
}
