package identity

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/schema"
)

// Domain prefixes every signed message.
const Domain = "archivecache/v1/"

func signedMessage(kind schema.Kind, unsigned []byte) []byte {
	msg := make([]byte, 0, len(Domain)+len(kind)+len(unsigned))
	msg = append(msg, Domain...)
	msg = append(msg, kind...)
	return append(msg, unsigned...)
}

// Sign signs n with priv and stores the signature in n.
func Sign(priv ed25519.PrivateKey, n schema.Signed) {
	sig := ed25519.Sign(priv, signedMessage(n.Kind(), schema.EncodeUnsigned(n)))
	switch n := n.(type) {
	case *schema.Identity:
		n.Sig = sig
	case *schema.Directory:
		n.Sig = sig
	case *schema.Node:
		n.Sig = sig
	default:
		panic(fmt.Sprintf("identity.Sign: %T is not a signed kind", n)) // programming error
	}
}

// Verify checks n's signature against the public key of signer.
func Verify(signer *schema.Identity, n schema.Signed) error {
	const op = "identity.Verify"
	if len(signer.Key) != ed25519.PublicKeySize {
		return acerr.E(op, "", acerr.Invalid, errors.New("public key is not 32 bytes"))
	}
	sig := n.Signature()
	if len(sig) != ed25519.SignatureSize {
		return acerr.E(op, "", acerr.Signature, fmt.Errorf("%s is not signed", n.Kind()))
	}
	if !ed25519.Verify(ed25519.PublicKey(signer.Key), signedMessage(n.Kind(), schema.EncodeUnsigned(n)), sig) {
		return acerr.E(op, "", acerr.Signature, fmt.Errorf("%s signature does not verify under %q's key", n.Kind(), signer.Name))
	}
	return nil
}

// VerifySelf checks an identity node's self-signature.
func VerifySelf(id *schema.Identity) error { return Verify(id, id) }

// New makes a key pair and the self-signed identity node that publishes it.
func New(name string, created time.Time) (*schema.Identity, ed25519.PrivateKey, error) {
	if err := schema.ValidIdentityName(name); err != nil {
		return nil, nil, acerr.E("identity.New", name, acerr.Invalid, err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, acerr.E("identity.New", name, acerr.IO, err)
	}
	id := &schema.Identity{Name: name, Key: pub, Created: created.Unix()}
	Sign(priv, id)
	return id, priv, nil
}
