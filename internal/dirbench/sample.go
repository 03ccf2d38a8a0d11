package dirbench

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// Sample makes typical entries from a seed: names of 12 bytes, files of
// log-uniform sizes from 1 B to 16 MiB (a raw target up to 256 KiB, a
// dag-pb one above), mode 0644, mtimes in 2026, version vectors over 1 to
// 3 of three replicas (60 %, 30 %, 10 %) with counters up to 20, and By
// one of two identities (the owner of the home 80 % of the time, a friend
// otherwise): a shared directory two people write to.
type Sample struct {
	rng      *rand.Rand
	ids      [2]cid.Cid
	replicas [3]string
	serial   int
}

// NewSample returns a Sample whose entries depend only on seed.
func NewSample(seed uint64) *Sample {
	s := &Sample{rng: rand.New(rand.NewPCG(seed, 0))}
	for i := range s.ids {
		s.ids[i] = s.cid(cid.DagCBOR)
	}
	for i := range s.replicas {
		id := make([]byte, 10) // as home makes them: 16 characters of base32
		for j := range id {
			id[j] = byte(s.rng.UintN(256))
		}
		s.replicas[i] = strings.ToLower(base32.StdEncoding.EncodeToString(id))
	}
	return s
}

func (s *Sample) cid(codec uint64) cid.Cid {
	s.serial++
	sum := sha256.Sum256(fmt.Appendf(nil, "%d/%d", s.rng.Uint64(), s.serial))
	h, _ := multihash.Encode(sum[:], multihash.SHA2_256)
	return cid.NewCidV1(codec, h)
}

// Name returns the i-th name: "f0000042.dat".
func Name(i int) string { return fmt.Sprintf("f%07d.dat", i) }

func (s *Sample) vv() schema.VV {
	n := 1
	switch r := s.rng.IntN(10); {
	case r >= 9:
		n = 3
	case r >= 6:
		n = 2
	}
	vv := schema.VV{}
	for _, i := range s.rng.Perm(3)[:n] {
		vv[s.replicas[i]] = 1 + s.rng.Uint64N(20)
	}
	return vv
}

func (s *Sample) by() cid.Cid {
	if s.rng.IntN(10) < 8 {
		return s.ids[0]
	}
	return s.ids[1]
}

func (s *Sample) mtime() int64 {
	return 1767225600_000000000 + s.rng.Int64N(365*86400_000000000) // in 2026
}

// File returns a file entry named name.
func (s *Sample) File(name string) schema.Entry {
	size := uint64(1) << s.rng.UintN(24)
	size += s.rng.Uint64N(size)
	codec := uint64(cid.Raw)
	if size > 256<<10 {
		codec = cid.DagProtobuf
	}
	return schema.Entry{Name: name, Kind: schema.KindFile, Target: s.cid(codec), Size: size, Mode: 0o644,
		Mtime: s.mtime(), VV: s.vv(), By: s.by()}
}

// Dir returns a directory entry named name.
func (s *Sample) Dir(name string) schema.Entry {
	return schema.Entry{Name: name, Kind: schema.KindDirectory, Target: s.cid(cid.DagCBOR),
		Mtime: s.mtime(), VV: s.vv(), By: s.by()}
}

// Files returns n file entries named Name(0) ... Name(n-1).
func (s *Sample) Files(n int) []schema.Entry {
	es := make([]schema.Entry, n)
	for i := range es {
		es[i] = s.File(Name(i))
	}
	return es
}

// Dirs returns n directory entries named Name(0) ... Name(n-1).
func (s *Sample) Dirs(n int) []schema.Entry {
	es := make([]schema.Entry, n)
	for i := range es {
		es[i] = s.Dir(Name(i))
	}
	return es
}

// Change returns e as a change on the home's replica makes it: a new
// target, a later mtime, the replica's counter bumped (so the vector may
// grow by one replica).
func (s *Sample) Change(e schema.Entry) schema.Entry {
	e.VV = e.VV.Join(schema.VV{s.replicas[0]: 0})
	e.VV[s.replicas[0]]++
	e.Target, e.Mtime, e.By = s.cid(e.Target.Prefix().Codec), e.Mtime+1e9, s.ids[0]
	return e
}

// Tombstone returns e deleted as tree.Delete deletes it.
func (s *Sample) Tombstone(e schema.Entry) schema.Entry {
	vv := e.VV.Join(schema.VV{s.replicas[0]: 0})
	vv[s.replicas[0]]++
	return schema.Entry{Name: e.Name, Kind: e.Kind, Mtime: e.Mtime + 1e9, VV: vv, Deleted: true, By: s.ids[0]}
}

// Perm returns a permutation of 0..n-1 from the sample's source.
func (s *Sample) Perm(n int) []int { return s.rng.Perm(n) }
