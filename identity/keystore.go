package identity

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/internal/atomicfile"
	"github.com/ipfs/go-cid"
	"golang.org/x/crypto/nacl/secretbox"
	"golang.org/x/crypto/scrypt"
)

// Keystore keeps private keys, one file per identity, named by the
// identity's CID. A key file is JSON:
//
//	{"version":1,"identity":"bafy…","seed":"<base64 ed25519 seed>"}
//
// or, sealed with a passphrase,
//
//	{"version":1,"identity":"bafy…","kdf":"scrypt","n":32768,"r":8,"p":1,
//	 "salt":"…","nonce":"…","sealed":"<secretbox of the seed>"}
//
// Files are created with mode 0600 in a directory of mode 0700, and never
// overwritten.
//
// Load reads a key from its file every time, and for a sealed key runs
// scrypt every time (a deliberate tenth of a second or so). What signs
// many times holds the keys in a KeyRing instead, which unlocks each
// once.
type Keystore struct {
	dir string
	// kdf derives the key that seals a seed; nil means scrypt.Key. Tests
	// count its runs through it.
	kdf func(passphrase, salt []byte, n, r, p, keyLen int) ([]byte, error)
}

// scrypt parameters for sealing new keys (the interactive-login setting
// recommended by the scrypt paper).
const (
	scryptN = 1 << 15
	scryptR = 8
	scryptP = 1
)

type keyFile struct {
	Version  int    `json:"version"`
	Identity string `json:"identity"`
	Seed     []byte `json:"seed,omitempty"`
	KDF      string `json:"kdf,omitempty"`
	N        int    `json:"n,omitempty"`
	R        int    `json:"r,omitempty"`
	P        int    `json:"p,omitempty"`
	Salt     []byte `json:"salt,omitempty"`
	Nonce    []byte `json:"nonce,omitempty"`
	Sealed   []byte `json:"sealed,omitempty"`
}

// OpenKeystore returns the keystore in dir. The directory is created on
// the first Save.
func OpenKeystore(dir string) *Keystore { return &Keystore{dir: dir} }

func (k *Keystore) path(id cid.Cid) string { return filepath.Join(k.dir, id.String()+".key") }

// Save stores priv as the key of identity id, sealed with passphrase when
// it is not empty. An existing key is never replaced.
func (k *Keystore) Save(id cid.Cid, priv ed25519.PrivateKey, passphrase []byte) error {
	const op = "identity.Keystore.Save"
	kf := keyFile{Version: 1, Identity: id.String()}
	seed := priv.Seed()
	defer clear(seed)
	if len(passphrase) == 0 {
		kf.Seed = seed
	} else {
		kf.KDF, kf.N, kf.R, kf.P = "scrypt", scryptN, scryptR, scryptP
		kf.Salt = make([]byte, 16)
		kf.Nonce = make([]byte, 24)
		if _, err := rand.Read(kf.Salt); err != nil {
			return acerr.E(op, id.String(), acerr.IO, err)
		}
		if _, err := rand.Read(kf.Nonce); err != nil {
			return acerr.E(op, id.String(), acerr.IO, err)
		}
		key, err := k.sealKey(passphrase, &kf)
		if err != nil {
			return acerr.E(op, id.String(), acerr.Invalid, err)
		}
		kf.Sealed = secretbox.Seal(nil, seed, (*[24]byte)(kf.Nonce), key)
		clear(key[:])
	}
	data, err := json.Marshal(kf)
	if err != nil {
		return acerr.E(op, id.String(), acerr.Other, err)
	}
	data = append(data, '\n')
	defer clear(data)
	if err := os.MkdirAll(k.dir, 0o700); err != nil {
		return acerr.E(op, k.dir, acerr.IO, err)
	}
	// The key file appears whole or not at all: a crash never leaves a
	// torn key, which would lose the identity.
	err = atomicfile.Create(k.path(id), data, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return acerr.E(op, id.String(), acerr.Exist, errors.New("a key for this identity is already stored"))
	}
	if err != nil {
		return acerr.E(op, id.String(), acerr.IO, err)
	}
	return nil
}

// sealKey derives the key that seals the seed of kf from passphrase.
// The caller clears it after use.
func (k *Keystore) sealKey(passphrase []byte, kf *keyFile) (*[32]byte, error) {
	if kf.N <= 1 || kf.N > 1<<20 || kf.R <= 0 || kf.R > 32 || kf.P <= 0 || kf.P > 16 {
		return nil, errors.New("key file has unreasonable scrypt parameters")
	}
	kdf := k.kdf
	if kdf == nil {
		kdf = scrypt.Key
	}
	key, err := kdf(passphrase, kf.Salt, kf.N, kf.R, kf.P, 32)
	if err != nil {
		return nil, err
	}
	return (*[32]byte)(key), nil
}

// ErrPassphrase is returned (wrapped, with kind Permission) when a sealed
// key needs a passphrase that was not given or does not open it.
var ErrPassphrase = errors.New("key is sealed: wrong or missing passphrase (set AC_PASSPHRASE)")

// Load returns the private key of identity id. For a sealed key it runs
// scrypt. It leaves no copy of the key behind but the one it returns:
// the file's bytes, the seed and the sealing key are overwritten.
func (k *Keystore) Load(id cid.Cid, passphrase []byte) (ed25519.PrivateKey, error) {
	const op = "identity.Keystore.Load"
	data, err := os.ReadFile(k.path(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, acerr.E(op, id.String(), acerr.NotExist, errors.New("no private key for this identity"))
	}
	if err != nil {
		return nil, acerr.E(op, id.String(), acerr.IO, err)
	}
	defer clear(data)
	var kf keyFile
	err = json.Unmarshal(data, &kf)
	defer clear(kf.Seed)
	if err != nil || kf.Version != 1 || kf.Identity != id.String() {
		return nil, acerr.E(op, id.String(), acerr.Integrity, errors.New("key file is damaged"))
	}
	seed := kf.Seed
	if kf.KDF != "" {
		if kf.KDF != "scrypt" || len(kf.Nonce) != 24 {
			return nil, acerr.E(op, id.String(), acerr.Integrity, errors.New("key file is damaged"))
		}
		if len(passphrase) == 0 {
			return nil, acerr.E(op, id.String(), acerr.Permission, ErrPassphrase)
		}
		key, err := k.sealKey(passphrase, &kf)
		if err != nil {
			return nil, acerr.E(op, id.String(), acerr.Integrity, err)
		}
		var ok bool
		seed, ok = secretbox.Open(nil, kf.Sealed, (*[24]byte)(kf.Nonce), key)
		clear(key[:])
		defer clear(seed)
		if !ok {
			return nil, acerr.E(op, id.String(), acerr.Permission, ErrPassphrase)
		}
	}
	if len(seed) != ed25519.SeedSize {
		return nil, acerr.E(op, id.String(), acerr.Integrity, errors.New("key file is damaged"))
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// Has reports whether a private key for id is stored.
func (k *Keystore) Has(id cid.Cid) bool {
	_, err := os.Stat(k.path(id))
	return err == nil
}

// List returns the identities whose keys are stored.
func (k *Keystore) List() ([]cid.Cid, error) {
	ents, err := os.ReadDir(k.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, acerr.E("identity.Keystore.List", k.dir, acerr.IO, err)
	}
	var ids []cid.Cid
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".key")
		if !ok {
			continue
		}
		if c, err := cid.Decode(name); err == nil {
			ids = append(ids, c)
		}
	}
	return ids, nil
}
