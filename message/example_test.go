package message_test

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"os"

	"github.com/archivecache/archivecache/identity"
	"github.com/archivecache/archivecache/message"
	"github.com/archivecache/archivecache/schema"
)

// newIdentity makes an identity from a fixed seed, so the example's
// output is the same on every run. Real identities come from identity.New.
func newIdentity(name string, seed byte) (*schema.Identity, ed25519.PrivateKey) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
	id := &schema.Identity{Name: name, Key: priv.Public().(ed25519.PublicKey), Created: 1700000000}
	identity.Sign(priv, id)
	return id, priv
}

// Alice publishes her node; Bob receives the message as base64 text and
// learns, from the message alone, that Alice signed it.
func Example() {
	alice, priv := newIdentity("alice", 1)
	aliceCID, aliceBlock := schema.Block(alice)

	root, _ := schema.Block(&schema.Directory{})
	node := &schema.Node{Owner: aliceCID, Seq: 1, Root: root, Created: 1700000000}
	identity.Sign(priv, node)
	msg, err := message.NewReference(schema.Encode(node), aliceBlock)
	if err != nil {
		fmt.Println(err)
		return
	}
	text, err := message.EncodeText(msg, message.TextOptions{Wrap: message.DefaultWrap, Armor: true}) // what travels by e-mail
	if err != nil {
		fmt.Println(err)
		return
	}

	m, err := message.Parse([]byte(text))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("kind:  ", m.Kind)
	fmt.Println("policy:", m.Policy)
	fmt.Println("from:  ", m.Name, m.OwnerCID)
	fmt.Println("seq:   ", m.Seq)
	fmt.Println("root:  ", m.Node.(*schema.Node).Root)
	fmt.Println("blocks:", len(m.Blocks))
	// Output:
	// kind:   reference
	// policy: node_v1
	// from:   alice bafyreic3qvyatf7lthlj3kg3nf6qfucnmzo3eomdbtrerukivvkzrceswa
	// seq:    1
	// root:   bafyreia52tcilukhal2h6gpxvig2aorpopawsbg7m665hmbv6dm3zeyyeu
	// blocks: 2
}

// ToJSON shows a message for people to read: here, the smallest message
// there is, an identity introducing itself.
func ExampleToJSON() {
	alice, _ := newIdentity("alice", 1)
	msg, err := message.NewReference(schema.Encode(alice), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	js, err := message.ToJSON(msg)
	if err != nil {
		fmt.Println(err)
		return
	}
	os.Stdout.Write(js)
	// Output:
	// {
	//   "version": 1,
	//   "kind": "reference",
	//   "policy": "identity_v1",
	//   "ipfs_hash": "bafyreic3qvyatf7lthlj3kg3nf6qfucnmzo3eomdbtrerukivvkzrceswa",
	//   "owner": "bafyreic3qvyatf7lthlj3kg3nf6qfucnmzo3eomdbtrerukivvkzrceswa",
	//   "name": "alice",
	//   "signature": "ef9JHIHdvO6e0dxN4rX2rFGEpv1y9RCbiR9O31wr4MRRzhdwK8QB7TTFfvn3BkZ+lvvJSfz0xLuFGRiVGrhcAw==",
	//   "blocks": {
	//     "bafyreic3qvyatf7lthlj3kg3nf6qfucnmzo3eomdbtrerukivvkzrceswa": "pWNrZXlYIIqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29cY3NpZ1hAef9JHIHdvO6e0dxN4rX2rFGEpv1y9RCbiR9O31wr4MRRzhdwK8QB7TTFfvn3BkZ+lvvJSfz0xLuFGRiVGrhcA2RuYW1lZWFsaWNlZnBvbGljeWtpZGVudGl0eV92MWdjcmVhdGVkGmVT8QA="
	//   }
	// }
}

// A message edited by hand still converts, but does not verify: every
// field must agree with the signed node the message carries.
func ExampleParse_forged() {
	alice, priv := newIdentity("alice", 1)
	aliceCID, aliceBlock := schema.Block(alice)
	root, _ := schema.Block(&schema.Directory{})
	node := &schema.Node{Owner: aliceCID, Seq: 1, Root: root, Created: 1700000000}
	identity.Sign(priv, node)
	msg, _ := message.NewReference(schema.Encode(node), aliceBlock)

	js, _ := message.ToJSON(msg)
	forged, err := message.FromJSON(bytes.Replace(js, []byte(`"seq": 1`), []byte(`"seq": 2`), 1))
	fmt.Println("FromJSON:", err)
	_, err = message.Parse(forged)
	fmt.Println("Parse:", err)
	// Output:
	// FromJSON: <nil>
	// Parse: message.Parse bafyreichtilq2rmd666whohzqpsuqpcus5iy7qzb5asatwbzv5z32h2c2m: invalid: the seq field 2 is not the node's seq 1
}
