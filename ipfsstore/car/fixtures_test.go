package car_test

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore/car"
)

// fixtureTests are what the Reader answers to each CAR of
// testdata/fixtures (see its README for where they come from): the
// number of blocks read, and the error, if any, naming the rule broken.
var fixtureTests = []struct {
	file    string
	version int
	blocks  int
	kind    acerr.Kind // of the error, if err is set
	err     string     // a substring of the error; "" to accept
}{
	{"gateway-conformance/dag-cbor-traversal.car", 1, 3, 0, ""},
	{"gateway-conformance/dag-json-traversal.car", 1, 3, 0, ""},
	{"gateway-conformance/dag-pb.car", 1, 4, 0, ""},
	{"gateway-conformance/dir-with-dag-cbor-with-links.car", 1, 9, 0, ""},
	{"gateway-conformance/dir-with-files.car", 1, 9, 0, ""},
	{"gateway-conformance/dir-with-percent-encoded-filename.car", 1, 2, 0, ""},
	{"gateway-conformance/file-3k-and-3-blocks-missing-block.car", 1, 3, 0, ""},
	{"gateway-conformance/gateway-json-cbor.car", 1, 11, 0, ""},
	{"gateway-conformance/gateway-raw-block.car", 1, 3, 0, ""},
	{"gateway-conformance/hello_ipfs.car", 1, 1, 0, ""},
	{"gateway-conformance/issue-54.car", 1, 9, 0, ""},
	{"gateway-conformance/plain-cbor.car", 1, 1, 0, ""},
	{"gateway-conformance/plain-json.car", 1, 1, 0, ""},
	{"gateway-conformance/single-layer-hamt-with-multi-block-files.car", 1, 243, 0, ""},
	{"gateway-conformance/subdir-with-mixed-block-files.car", 1, 10, 0, ""},
	{"gateway-conformance/symlink.car", 1, 3, 0, ""},
	{"go-car/badheaderlength.car", 0, 0, acerr.TooLarge, "header at offset 0 claims 216830324832 bytes, limit 65536"},
	{"go-car/badsectionlength.car", 0, 0, acerr.Invalid, "an empty list of roots: a CAR must name at least one"},
	{"go-car/sample-corrupt-pragma.car", 0, 0, acerr.Invalid, "truncated: input ends at offset 16, inside the header at offset 1"},
	{"go-car/sample-rootless-v42.car", 0, 0, acerr.Invalid, "CAR version 42; only versions 1 and 2 are read"},
	{"go-car/sample-rw-bs-v2.car", 2, 3, 0, ""},
	{"go-car/sample-unixfs-v2.car", 2, 3, 0, ""},
	{"go-car/sample-v1-with-zero-len-section2.car", 0, 0, acerr.Invalid, "hash function blake2b-256 (0xb220): only sha2-256 and identity are accepted"},
	{"go-car/simple-unixfs-missing-blocks.car", 1, 17, 0, ""},
	{"go-car/simple-unixfs.car", 1, 22, 0, ""},
	{"go-car/wikipedia-cryptographic-hash-function.car", 1, 5, 0, ""},
	{"kubo/TestDagStat.car", 1, 4, 0, ""},
	{"kubo/TestDagStatCARv2.car", 2, 4, 0, ""},
	{"kubo/TestName.car", 1, 4, 0, ""},
	{"kubo/t0054-combined_naked_roots_genesis_and_128.car", 0, 0, acerr.Invalid, "hash function blake2b-256 (0xb220): only sha2-256 and identity are accepted"},
	{"kubo/t0054-lotus_devnet_genesis.car", 0, 0, acerr.Invalid, "hash function blake2b-256 (0xb220): only sha2-256 and identity are accepted"},
	{"kubo/t0054-lotus_devnet_genesis_shuffled_noroots.car", 0, 0, acerr.Invalid, "an empty list of roots: a CAR must name at least one"},
	{"kubo/t0054-lotus_devnet_genesis_shuffled_nulroot.car", 1, 1, acerr.Invalid, "section at offset 53: CID: hash function blake2b-256 (0xb220): only sha2-256 and identity are accepted"},
	{"kubo/t0054-lotus_devnet_genesis_v2.car", 0, 0, acerr.Invalid, "the CAR v1 inside a CAR v2: byte 12: root 0: CID: hash function blake2b-256 (0xb220)"},
	{"kubo/t0054-partial-dag-scope-entity.car", 1, 1, 0, ""},
	{"kubo/t0109-redirects.car", 1, 32, 0, ""},
	{"kubo/t0114-gateway-subdomains.car", 1, 3, acerr.Invalid, "section at offset 774: CID: hash function sha2-512 (0x13): only sha2-256 and identity are accepted"},
	{"kubo/t0115-gateway-dir-listing.car", 1, 10, 0, ""},
	{"kubo/t0116-gateway-cache.car", 1, 5, 0, ""},
	{"kubo/t0400-api-no-gateway.car", 1, 1, 0, ""},
}

// Every fixture is read to its end, or refused with one line naming the
// rule it breaks, after the blocks before the bad one.
func TestFixtures(t *testing.T) {
	listed := map[string]bool{}
	for _, tt := range fixtureTests {
		listed[tt.file] = true
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata/fixtures", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			n, version := 0, 0
			r, err := car.NewReader(f)
			if err == nil {
				version = r.Version()
				for {
					if _, _, err = r.Next(); err != nil {
						break
					}
					n++
				}
				if err == io.EOF {
					err = nil
				}
			}
			if n != tt.blocks || version != tt.version {
				t.Errorf("read %d blocks of a CAR v%d, want %d of a v%d", n, version, tt.blocks, tt.version)
			}
			if tt.err == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			checkErr(t, err, tt.kind, tt.err)
		})
	}
	files, _ := filepath.Glob("testdata/fixtures/*/*.car")
	for _, f := range files {
		name := strings.TrimPrefix(filepath.ToSlash(f), "testdata/fixtures/")
		if !listed[name] {
			t.Errorf("%s: a fixture no test names", name)
		}
	}
	if len(files) != len(fixtureTests) {
		t.Errorf("%d fixtures, %d tests", len(files), len(fixtureTests))
	}
}
