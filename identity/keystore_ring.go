package identity

import (
	"crypto/ed25519"
	"errors"
	"sync"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

// A KeyRing signs with the keys of a Keystore, unlocking each at most
// once: on its first use, with the passphrase the ring was made with, so
// a sealed key costs one scrypt run however many signatures follow. It
// holds the keys it unlocked (and its copy of the passphrase) in memory
// only, never writing them anywhere, until Close overwrites them. A key
// the passphrase does not open is refused again without another scrypt
// run; a key that is missing or cannot be read is looked for again at
// its next use.
//
// What Close overwrites is the ring's own bytes. crypto/ed25519 expands
// a key into a copy of its own for each signature and does not clear
// it, so Close shortens how long a key lingers in the process's memory
// rather than proving it gone.
//
// A KeyRing is safe for concurrent use.
type KeyRing struct {
	ks      *Keystore
	mu      sync.Mutex
	pass    []byte
	keys    map[cid.Cid]ed25519.PrivateKey
	refused map[cid.Cid]error // keys the passphrase does not open
	closed  bool
	// prompt asks for the passphrase when a sealed key needs one that
	// the ring does not have (or that does not open it); nil: none.
	prompt func() ([]byte, error)
}

// SetPrompt has the ring ask prompt for the passphrase, once, when a
// sealed key does not open with the one it has: a person at a terminal
// types it. What prompt returns replaces the ring's passphrase.
func (r *KeyRing) SetPrompt(prompt func() ([]byte, error)) {
	r.mu.Lock()
	r.prompt = prompt
	r.mu.Unlock()
}

// KeyRing returns a ring of the keys of k, opened with passphrase (nil:
// sealed keys are refused). The ring keeps a copy of passphrase; the
// caller may clear its own.
func (k *Keystore) KeyRing(passphrase []byte) *KeyRing {
	return &KeyRing{
		ks:      k,
		pass:    append([]byte(nil), passphrase...),
		keys:    map[cid.Cid]ed25519.PrivateKey{},
		refused: map[cid.Cid]error{},
	}
}

// Has reports whether the ring holds the key of id or the keystore has
// it.
func (r *KeyRing) Has(id cid.Cid) bool {
	r.mu.Lock()
	_, ok := r.keys[id]
	r.mu.Unlock()
	return ok || r.ks.Has(id)
}

// Sign signs n with the key of identity id (see the package Sign),
// unlocking the key if the ring does not hold it yet. After Close it
// fails with acerr.Invalid.
func (r *KeyRing) Sign(id cid.Cid, n schema.Signed) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return acerr.E("identity.KeyRing.Sign", id.String(), acerr.Invalid, errors.New("the key ring is closed"))
	}
	priv, ok := r.keys[id]
	if !ok {
		if err := r.refused[id]; err != nil {
			return err
		}
		var err error
		priv, err = r.ks.Load(id, r.pass)
		if errors.Is(err, ErrPassphrase) && r.prompt != nil {
			prompt := r.prompt
			r.prompt = nil // asked once
			pass, perr := prompt()
			if perr != nil {
				return perr
			}
			clear(r.pass)
			r.pass = pass
			priv, err = r.ks.Load(id, r.pass)
		}
		if err != nil {
			if errors.Is(err, ErrPassphrase) {
				r.refused[id] = err
			}
			return err
		}
		r.keys[id] = priv
	}
	Sign(priv, n)
	return nil
}

// Close overwrites the keys the ring holds and its passphrase, and
// forgets them; the ring signs no more. Closing a closed ring does
// nothing.
func (r *KeyRing) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, priv := range r.keys {
		clear(priv)
		delete(r.keys, id)
	}
	clear(r.pass)
	r.pass, r.refused, r.closed = nil, nil, true
	return nil
}
