// Package home owns the local home of a user: the directory (AC_HOME,
// default ~/.archivecache) that holds the config, the embedded block store,
// the keystore, HEAD with its lock and history log, and the layout of the
// tree database inside HEAD:
//
//	root/                 the user's filesystem (what the mount shows)
//	  forum/  projects/   shared directories created by Init
//	identities/NAME       my identities (public part; private key in keys/)
//	friends/<id-cid>      friend identities
//	nodes/<id-cid>        friends' latest signed node references
//	node                  my published node (signed; links root)
//
// Home wires the lower packages together; it adds no rules of its own.
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
	"time"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/identity"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/archivecache/archivecache/schema"
	"github.com/archivecache/archivecache/tree"
	"github.com/ipfs/go-cid"
)

// Top-level names in the tree database.
const (
	Root       = "root"
	Identities = "identities"
	Friends    = "friends"
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
	Head   *tree.Head
	Keys   *identity.Keystore
	now    func() time.Time
}

// Options selects how a home is opened.
type Options struct {
	Dir string // the home directory
	API string // kubo RPC address; empty uses the config's, then the embedded store
	Now func() time.Time
	// Rehash makes the embedded store hash-check every block it reads
	// against its CID, not only against the checksum it keeps (see
	// ipfsstore.Config.Rehash). ac-verify sets it.
	Rehash bool
}

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
// with acerr.Exist if the directory is already a home.
func Init(ctx context.Context, opts Options) (*Home, error) {
	const op = "home.Init"
	if _, err := os.Stat(filepath.Join(opts.Dir, "config")); err == nil {
		return nil, acerr.E(op, opts.Dir, acerr.Exist, errors.New("already initialised"))
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, acerr.E(op, opts.Dir, acerr.IO, err)
	}
	id := make([]byte, 10)
	if _, err := rand.Read(id); err != nil {
		return nil, acerr.E(op, opts.Dir, acerr.IO, err)
	}
	cfg := Config{Version: 1, Replica: strings.ToLower(base32.StdEncoding.EncodeToString(id)), API: opts.API}
	h, err := open(ctx, opts, cfg)
	if err != nil {
		return nil, err
	}
	t := h.Tree(cid.Undef)
	// A HEAD without a config is what an init that failed half-way left
	// behind: it is replaced. The config is written last, so a home
	// counts as initialised only once everything else is in place.
	_, err = h.Update(ctx, "ac-init", func(old cid.Cid) (cid.Cid, error) {
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
		data, _ := json.MarshalIndent(cfg, "", "  ")
		if werr := writeFileAtomic(filepath.Join(opts.Dir, "config"), append(data, '\n'), 0o600); werr != nil {
			err = acerr.E(op, opts.Dir, acerr.IO, werr)
		}
	}
	if err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

func (h *Home) dirEntry(name string, c cid.Cid) schema.Entry {
	return schema.Entry{Name: name, Kind: schema.KindDirectory, Target: c,
		Mtime: h.now().UnixNano(), VV: schema.VV{h.Config.Replica: 1}}
}

// Open opens an initialised home.
func Open(ctx context.Context, opts Options) (*Home, error) {
	const op = "home.Open"
	data, err := os.ReadFile(filepath.Join(opts.Dir, "config"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, acerr.E(op, opts.Dir, acerr.NotInit, errors.New("no home here (run ac-init, or set AC_HOME or --home)"))
	}
	if err != nil {
		return nil, acerr.E(op, opts.Dir, acerr.IO, err)
	}
	var cfg Config
	if err := json.Unmarshal(data, &cfg); err != nil || cfg.Version != 1 || cfg.Replica == "" {
		return nil, acerr.E(op, filepath.Join(opts.Dir, "config"), acerr.Integrity, errors.New("config is damaged"))
	}
	return open(ctx, opts, cfg)
}

func open(ctx context.Context, opts Options, cfg Config) (*Home, error) {
	api := opts.API
	if api == "" {
		api = cfg.API
	}
	store, err := ipfsstore.Open(ctx, ipfsstore.Config{Dir: filepath.Join(opts.Dir, "blocks"), API: api, Rehash: opts.Rehash})
	if err != nil {
		return nil, err
	}
	return &Home{
		Dir:    opts.Dir,
		Config: cfg,
		Store:  store,
		Head:   tree.OpenHead(opts.Dir, store, tree.HeadConfig{Replica: cfg.Replica}),
		Keys:   identity.OpenKeystore(filepath.Join(opts.Dir, "keys")),
		now:    opts.now(),
	}, nil
}

// Close releases the store.
func (h *Home) Close() error { return h.Store.Close() }

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

// Update runs fn under the home's lock as one compare-and-swap of HEAD,
// recorded in the history log as command.
func (h *Home) Update(ctx context.Context, command string, fn func(old cid.Cid) (cid.Cid, error)) (cid.Cid, error) {
	return h.Head.Update(ctx, command, fn)
}

// Get returns the current HEAD.
func (h *Home) Get() (cid.Cid, error) { return h.Head.Get() }

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename: %w", err)
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
