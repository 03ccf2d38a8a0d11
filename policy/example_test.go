package policy_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/archivecache/archivecache/identity"
	"github.com/archivecache/archivecache/policy"
	"github.com/archivecache/archivecache/schema"
)

// A replayed old version of a friend's node is refused, whatever its
// signature says.
func ExampleNewer() {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize))
	alice := &schema.Identity{Name: "alice", Key: priv.Public().(ed25519.PublicKey), Created: 1700000000}
	identity.Sign(priv, alice)
	owner := schema.Sum(schema.Encode(alice))

	version := func(seq uint64) (*schema.Node, []byte) {
		n := &schema.Node{Owner: owner, Seq: seq, Root: schema.Sum([]byte{byte(seq)}), Created: 1700000000}
		identity.Sign(priv, n)
		return n, schema.Encode(n)
	}
	v3, b3 := version(3)
	v5, b5 := version(5)

	ok, err := policy.Newer(v3, schema.Sum(b3), v5, schema.Sum(b5))
	fmt.Println("5 over 3:", ok, err)
	ok, err = policy.Newer(v5, schema.Sum(b5), v3, schema.Sum(b3))
	fmt.Println("3 over 5:", ok, errors.Is(err, policy.ErrRollback))
	// Output:
	// 5 over 3: true <nil>
	// 3 over 5: false true
}
