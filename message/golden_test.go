package message

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/archivecache/archivecache/schema"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestGolden keeps a signed sample reference in testdata, in base64 as it
// would travel by e-mail and as the JSON ac-message to-json shows. The
// sample must keep parsing and verifying, and the format this package
// writes must not drift from it. Run with -update to rewrite both after a
// deliberate change of format.
func TestGolden(t *testing.T) {
	f := newFixture()
	msg := mustReference(t, f.nodeBlk, alice.block)
	js, err := ToJSON(msg)
	if err != nil {
		t.Fatal(err)
	}
	b64Path := filepath.Join("testdata", "node_reference.b64")
	jsonPath := filepath.Join("testdata", "node_reference.json")
	if *update {
		if err := os.WriteFile(b64Path, []byte(wrap76(b64(msg), "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(jsonPath, js, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	golden, err := os.ReadFile(b64Path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	m, err := Parse(golden)
	if err != nil {
		t.Fatalf("Parse(%s) = %v", b64Path, err)
	}
	if !m.NodeCID.Equals(f.nodeCID) || !m.OwnerCID.Equals(alice.cid) || m.Node.Kind() != schema.KindNode {
		t.Errorf("Parse(%s) = node %s owner %s, want %s, %s", b64Path, m.NodeCID, m.OwnerCID, f.nodeCID, alice.cid)
	}
	goldenJSON, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ToJSON(golden); err != nil || !bytes.Equal(got, goldenJSON) {
		t.Errorf("ToJSON(%s) differs from %s (err %v)", b64Path, jsonPath, err)
	}
	if !bytes.Equal(js, goldenJSON) {
		t.Errorf("the reference built now differs from %s; run go test -update if the change is deliberate:\n%s", jsonPath, js)
	}
	// The JSON form rebuilds a message that verifies.
	back, err := FromJSON(goldenJSON)
	if err != nil {
		t.Fatalf("FromJSON(%s) = %v", jsonPath, err)
	}
	if _, err := Parse(back); err != nil {
		t.Errorf("Parse(FromJSON(%s)) = %v", jsonPath, err)
	}
}
