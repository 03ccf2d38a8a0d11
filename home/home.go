// Package home owns the local home of a user: the directory (AC_HOME,
// default ~/.archivecache) that holds the config, the embedded block store,
// the keystore, HEAD with its lock and history log, and the layout of the
// tree database inside HEAD:
//
//	root/                 the user's filesystem (what the mount shows)
//	  forum/  projects/   shared directories created by Init
//	identities/NAME       my identities (public part; private key in keys/)
//	friends/<id-cid>      friend identities
//	aliases/ALIAS         names I gave friends (an identity_v1 entry
//	                      linking the friend's identity); made when first used
//	nodes/<id-cid>        friends' latest signed node references
//	node                  my published node (signed; links root)
//
// Home wires the lower packages together; it adds no rules of its own.
//
// Private keys live in keys/. A Signer (Home.Signer) also holds in
// memory those it has used: it unlocks each on the first directory it
// signs, never writes it anywhere, and overwrites it when closed. Its
// maker closes it when done signing: a command at the end of its
// change, a long-running process when it stops.
//
// # New, whole and damaged homes
//
// A home is the directory's config (JSON: version, replica id, optional
// API), replica (a copy of the replica id and a newline), HEAD, log and
// lock (see package head), keys/ (the keystore), blocks/ (the embedded
// store) and, once a GC ran, gc and gc-given (what it recorded:
// GCEstimate, Given). A directory is
//
//   - new when it holds none of config, HEAD, a non-empty log, a key in
//     keys/ or a file in blocks/ (a lock, a replica file or empty
//     directories alone do not count). Init makes it a home; Open fails
//     with acerr.NotInit.
//   - whole when its config and HEAD both read and the store holds the
//     block of HEAD's root. Open opens it; Init fails with acerr.Exist.
//   - damaged otherwise: a HEAD without a config, or keys, a log or blocks
//     without a HEAD. Open and Init refuse it with acerr.Integrity, in one
//     line that names what is missing and the repair, "ac-init --repair".
//     Nothing treats a damaged home as new, so nothing replaces the HEAD
//     of a home that had one with an empty tree.
//
// Repair mends a damaged home. HEAD comes back from the newest log entry
// whose tree database blocks (directories, shards, identities and nodes,
// not file contents, which may be remote, nor the trees friends' nodes
// publish) are all in the store; the config comes back with the old
// replica id, which is kept in the replica file (written by Init after
// the first HEAD, before the config) and in every log line. Open checks only that the store
// holds HEAD's root block, which costs one lookup; Repair walks every
// tree block of each candidate.
package home

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/head"
	"github.com/archivecache/archivecache/identity"
	"github.com/archivecache/archivecache/internal/atomicfile"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/progress"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
)

// Top-level names in the tree database.
const (
	Root       = "root"
	Identities = "identities"
	Friends    = "friends"
	Aliases    = "aliases" // not made by Init: a home without it has no aliases
	Nodes      = "nodes"
	Node       = "node"
)

// InitialDirs are the shared directories Init creates under root/.
var InitialDirs = []string{"forum", "projects"}

// Config is the home's config file.
type Config struct {
	Version int    `json:"version"`
	Replica string `json:"replica"` // this home's id in version vectors
	API     string `json:"api,omitempty"`
}

// Home is an open home.
type Home struct {
	Dir    string
	Config Config
	Store  ipfsstore.Store
	Head   *head.Head
	Keys   *identity.Keystore
	now    func() time.Time
	wait   time.Duration // Options.LockTimeout
	pass   []byte        // Options.Passphrase
	ask    func() ([]byte, error)

	signerOnce sync.Once
	signer     *Signer // the home's own, made at its first use
}

// Options selects how a home is opened.
type Options struct {
	Dir string // the home directory
	API string // kubo RPC address; empty uses the config's, then the embedded store
	// FetchTimeout is the kubo store's (ipfsstore.Config.FetchTimeout):
	// how long a block the daemon does not hold is waited for. Zero:
	// ipfsstore.DefaultFetchTimeout.
	FetchTimeout time.Duration
	// Fetched, if not nil, counts the blocks the kubo store asks of its
	// daemon's peers and receives (ipfsstore.Config.Fetched).
	Fetched *progress.Counter
	Now     func() time.Time
	// Rehash makes the embedded store hash-check every block it reads
	// against its CID, not only against the checksum it keeps (see
	// ipfsstore.Config.Rehash). ac-verify sets it.
	Rehash bool
	// LockTimeout and LockWaiting configure how a change waits for the
	// home's lock: head.Config's LockTimeout and Waiting. Zero values:
	// wait until the context ends, and in silence.
	LockTimeout time.Duration
	LockWaiting func(head.LockHolder)
	// Passphrase opens the sealed private keys the home's changes sign
	// with (owned directories, nodes) and seals new ones. Nil: keys are
	// not sealed.
	Passphrase []byte
	// PassphrasePrompt, if set, is asked for the passphrase once, when a
	// sealed key does not open with Passphrase: a command run at a
	// terminal prompts for it there.
	PassphrasePrompt func() ([]byte, error)
}

// The files of a home that this package owns (HEAD, log and lock are
// package head's).
const (
	configFile  = "config"
	replicaFile = "replica"
	keysDir     = "keys"
	blocksDir   = "blocks"
)

// DefaultDir returns $AC_HOME or ~/.archivecache.
func DefaultDir() string {
	if d := os.Getenv("AC_HOME"); d != "" {
		return d
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".archivecache")
	}
	return ".archivecache"
}

func (o Options) now() func() time.Time {
	if o.Now != nil {
		return o.Now
	}
	return time.Now
}

// Init creates a home in opts.Dir with an empty tree database. It fails
// with acerr.Exist if the directory is already a home, and with
// acerr.Integrity if it is a damaged one (see the package documentation):
// it never replaces a HEAD.
func Init(ctx context.Context, opts Options) (*Home, error) {
	const op = "home.Init"
	if h, err := openWhole(ctx, op, opts); err == nil {
		h.Close()
		return nil, acerr.E(op, opts.Dir, acerr.Exist, errors.New("already initialised"))
	} else if !acerr.Is(acerr.NotInit, err) {
		return nil, err
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, acerr.E(op, opts.Dir, acerr.IO, err)
	}
	replica, err := newReplica()
	if err != nil {
		return nil, acerr.E(op, opts.Dir, acerr.IO, err)
	}
	cfg := Config{Version: configVersion, Replica: replica, API: opts.API}
	h, err := open(ctx, opts, cfg)
	if err != nil {
		return nil, err
	}
	t := h.Tree(cid.Undef)
	// A swap from no HEAD: whoever else initialises this home at the
	// same time either swaps first, and this one computes again, finds
	// HEAD and fails, or finds HEAD and fails itself. Only the winner
	// writes the replica file and then the config, last, so a home
	// counts as initialised only once everything else is in place; an
	// init cut short after HEAD leaves a home that Repair completes
	// (the log lines record the replica id too).
	_, err = h.Update(ctx, "ac-init", func(old cid.Cid) (cid.Cid, error) {
		if old.Defined() {
			return cid.Undef, acerr.E(op, opts.Dir, acerr.Exist, errors.New("already initialised"))
		}
		var sub []schema.Entry
		for _, name := range InitialDirs {
			c, err := t.MakeDir(ctx, nil)
			if err != nil {
				return cid.Undef, err
			}
			sub = append(sub, h.dirEntry(name, c))
		}
		rootDir, err := t.MakeDir(ctx, sub)
		if err != nil {
			return cid.Undef, err
		}
		empty, err := t.MakeDir(ctx, nil)
		if err != nil {
			return cid.Undef, err
		}
		top := []schema.Entry{h.dirEntry(Root, rootDir)}
		for _, name := range []string{Identities, Friends, Nodes} {
			top = append(top, h.dirEntry(name, empty))
		}
		schema.SortEntries(top)
		return t.MakeDir(ctx, top)
	})
	if err == nil {
		if werr := writeReplica(opts.Dir, replica); werr != nil {
			err = acerr.E(op, opts.Dir, acerr.IO, werr)
		}
	}
	if err == nil {
		err = writeConfig(op, opts.Dir, cfg)
	}
	if err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

func newReplica() (string, error) {
	id := make([]byte, 10)
	if _, err := rand.Read(id); err != nil {
		return "", err
	}
	return strings.ToLower(base32.StdEncoding.EncodeToString(id)), nil
}

func writeConfig(op, dir string, cfg Config) error {
	data, _ := json.MarshalIndent(cfg, "", "  ")
	if err := atomicfile.Write(filepath.Join(dir, configFile), append(data, '\n'), 0o600); err != nil {
		return acerr.E(op, dir, acerr.IO, err)
	}
	return nil
}

func writeReplica(dir, replica string) error {
	return atomicfile.Write(filepath.Join(dir, replicaFile), []byte(replica+"\n"), 0o600)
}

// Why a config does not serve.
var (
	errNoConfig  = errors.New("config is missing")
	errBadConfig = errors.New("config is damaged")
)

// readConfig reads the config in dir: errNoConfig if there is none,
// errBadConfig if it does not parse, an *acerr.Error if it cannot be read.
func readConfig(dir string) (Config, error) {
	data, err := os.ReadFile(filepath.Join(dir, configFile))
	if errors.Is(err, fs.ErrNotExist) {
		return Config{}, errNoConfig
	}
	if err != nil {
		return Config{}, acerr.E("home.readConfig", dir, acerr.IO, err)
	}
	var cfg Config
	err = json.Unmarshal(data, &cfg)
	if err == nil && cfg.Version >= 1 && cfg.Version < configVersion {
		return Config{}, acerr.E("home.Open", dir, acerr.Invalid, schema.ErrOldFormat).
			WithHint("make a new home with ac-init elsewhere; this one is left as it is")
	}
	if err != nil || cfg.Version != configVersion || !validReplica(cfg.Replica) {
		return Config{}, errBadConfig
	}
	return cfg, nil
}

// configVersion is the data format a home's config names: 2 since
// directories became trees of small nodes (version 1 homes are refused,
// not read).
const configVersion = 2

// validReplica reports whether s can be a replica id (Init makes 16
// characters of lower-case base32).
func validReplica(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// marks says which of the files that make a home a directory holds.
type marks struct {
	config, head, log, keys, blocks bool
}

func (m marks) empty() bool { return !m.config && !m.head && !m.log && !m.keys && !m.blocks }

func survey(dir string) marks {
	exists := func(name string) bool {
		_, err := os.Lstat(filepath.Join(dir, name))
		return !errors.Is(err, fs.ErrNotExist)
	}
	var m marks
	m.config = exists(configFile)
	m.head = exists("HEAD")
	if fi, err := os.Stat(filepath.Join(dir, "log")); err == nil && fi.Size() > 0 {
		m.log = true
	}
	if keys, _ := identity.OpenKeystore(filepath.Join(dir, keysDir)).List(); len(keys) > 0 {
		m.keys = true
	}
	found := errors.New("found")
	err := filepath.WalkDir(filepath.Join(dir, blocksDir), func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if fi, err := d.Info(); err == nil && fi.Size() > 0 {
			return found
		}
		return nil
	})
	m.blocks = err == found
	return m
}

// refuse says why dir, whose config is missing or damaged or whose HEAD
// is, cannot be opened: acerr.NotInit for a new home, otherwise the
// damage.
func refuse(op, dir string) error {
	_, cerr := readConfig(dir)
	if e, ok := cerr.(*acerr.Error); ok {
		return e
	}
	if survey(dir).empty() {
		return acerr.E(op, dir, acerr.NotInit, errors.New("no home here (run ac-init, or set AC_HOME or --home)"))
	}
	var problems []string
	switch _, err := head.Open(dir, nil, head.Config{}).Get(); {
	case acerr.Is(acerr.NotInit, err):
		problems = append(problems, "HEAD is missing")
	case acerr.Is(acerr.Integrity, err):
		problems = append(problems, "HEAD is damaged")
	case err != nil:
		return err
	}
	if cerr != nil {
		problems = append(problems, cerr.Error())
	}
	return damaged(op, dir, problems...)
}

// damaged is the error of a damaged home.
func damaged(op, dir string, problems ...string) error {
	what := strings.Join(problems, " and ")
	if what == "HEAD is missing and config is missing" {
		what = "HEAD and config are missing"
	}
	return acerr.E(op, dir, acerr.Integrity, fmt.Errorf("damaged home: %s (run ac-init --repair)", what))
}

func (h *Home) dirEntry(name string, c cid.Cid) schema.Entry {
	return schema.Entry{Name: name, Kind: schema.KindDirectory, Target: c,
		Mtime: h.now().UnixNano(), VV: schema.VV{h.Config.Replica: 1}}
}

// Open opens a whole home. A new one fails with acerr.NotInit, a damaged
// one with acerr.Integrity naming what is missing (see the package
// documentation).
func Open(ctx context.Context, opts Options) (*Home, error) {
	return openWhole(ctx, "home.Open", opts)
}

// OpenStore opens only the block store of the home in opts.Dir, whole or
// damaged: to bring blocks back into a home that lacks them (ac-import),
// which changes no HEAD. A home whose config is gone or unreadable uses
// the embedded store, or opts.API. A directory that is no home is refused
// as Open refuses it.
func OpenStore(ctx context.Context, opts Options) (ipfsstore.Store, error) {
	const op = "home.OpenStore"
	cfg, err := readConfig(opts.Dir)
	if err != nil && survey(opts.Dir).empty() {
		return nil, refuse(op, opts.Dir)
	}
	api := opts.API
	if api == "" {
		api = cfg.API
	}
	return ipfsstore.Open(ctx, ipfsstore.Config{Dir: filepath.Join(opts.Dir, blocksDir), API: api, FetchTimeout: opts.FetchTimeout, Fetched: opts.Fetched, Rehash: opts.Rehash, KeepName: cfg.Replica})
}

func openWhole(ctx context.Context, op string, opts Options) (*Home, error) {
	cfg, err := readConfig(opts.Dir)
	if err != nil {
		return nil, refuse(op, opts.Dir)
	}
	h, err := open(ctx, opts, cfg)
	if err != nil {
		return nil, err
	}
	if err := h.check(ctx, op); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

// check checks that HEAD reads and that the store holds its root block.
func (h *Home) check(ctx context.Context, op string) error {
	root, err := h.Head.Get()
	if err != nil {
		return refuse(op, h.Dir)
	}
	ok, err := h.Store.Has(ctx, root)
	if err != nil {
		return err
	}
	if !ok {
		return damaged(op, h.Dir, fmt.Sprintf("HEAD's root %s is not in the store", root))
	}
	return nil
}

func open(ctx context.Context, opts Options, cfg Config) (*Home, error) {
	api := opts.API
	if api == "" {
		api = cfg.API
	}
	store, err := ipfsstore.Open(ctx, ipfsstore.Config{Dir: filepath.Join(opts.Dir, blocksDir), API: api, FetchTimeout: opts.FetchTimeout, Fetched: opts.Fetched, Rehash: opts.Rehash, KeepName: cfg.Replica})
	if err != nil {
		return nil, err
	}
	return &Home{
		Dir:    opts.Dir,
		Config: cfg,
		Store:  store,
		Head: head.Open(opts.Dir, store, head.Config{
			Replica:     cfg.Replica,
			LockTimeout: opts.LockTimeout,
			Waiting:     opts.LockWaiting,
		}),
		Keys: identity.OpenKeystore(filepath.Join(opts.Dir, keysDir)),
		now:  opts.now(),
		wait: opts.LockTimeout,
		pass: opts.Passphrase,
		ask:  opts.PassphrasePrompt,
	}, nil
}

// Close releases the store.
func (h *Home) Close() error {
	if h.signer != nil {
		h.signer.Close()
	}
	return h.Store.Close()
}

// keys returns the home's own Signer, made with Options.Passphrase at its
// first use and closed with the home: every change of one process signs
// with it, so a sealed key is unlocked once however many changes a
// long-running process makes.
func (h *Home) keys() *Signer {
	h.signerOnce.Do(func() {
		h.signer = h.Signer(h.pass)
		if h.ask != nil {
			h.signer.ring.SetPrompt(h.ask)
		}
	})
	return h.signer
}

// Now is the home's clock.
func (h *Home) Now() time.Time { return h.now() }

// Tree returns a tree over the home's store that records changes as this
// replica, made by identity by (cid.Undef for none).
func (h *Home) Tree(by cid.Cid) *tree.Tree {
	return tree.New(h.Store, h.TreeConfig(by, nil))
}

// TreeConfig is the configuration of the home's trees: this replica,
// changes made by identity by, owned directories signed by signer (nil:
// none can change).
func (h *Home) TreeConfig(by cid.Cid, signer tree.Signer) tree.Config {
	cfg := tree.DefaultConfig()
	cfg.Replica = h.Config.Replica
	cfg.By = by
	cfg.Now = h.now
	cfg.Signer = signer
	return cfg
}

// Update makes one change of HEAD, recorded in the history log as
// command: fn computes the new root from the current one, outside the
// home's lock, and head.Head.Update swaps it in, calling fn again on the
// newer root should HEAD have moved meanwhile. So every function passed
// here starts from the root it is given alone and keeps nothing from an
// earlier run: what it reports is from its last run.
func (h *Home) Update(ctx context.Context, command string, fn func(old cid.Cid) (cid.Cid, error)) (cid.Cid, error) {
	return h.Head.Update(ctx, command, fn)
}

// Get returns the current HEAD.
func (h *Home) Get() (cid.Cid, error) { return h.Head.Get() }
