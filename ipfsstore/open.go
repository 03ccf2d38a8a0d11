package ipfsstore

import (
	"context"
	"time"

	"github.com/archivecache/archivecache/progress"
)

// Config selects and configures a Store. The zero value of every field
// except Dir means its default.
type Config struct {
	// Dir is the embedded store's directory (inside the user's home). It
	// is created if missing.
	Dir string
	// API, when non-empty, selects the kubo store instead: the daemon's RPC
	// address as a multiaddr (/ip4/127.0.0.1/tcp/5001, /unix/path) or an
	// http(s) URL (http://127.0.0.1:5001).
	API string
	// FetchTimeout bounds how long the kubo store's Get and OpenFile wait
	// for a block the daemon does not hold to arrive from its peers, when
	// the caller's context has no deadline of its own. After it the block is
	// reported as not existing. Zero means DefaultFetchTimeout.
	FetchTimeout time.Duration
	// Rehash makes the embedded store check every block it reads against
	// its CID's hash as well as against the checksum kept beside it, at
	// about 80 times the CPU cost (see pack.go). The other stores hash
	// every block they read whatever this says.
	Rehash bool
	// Fetched, if not nil, counts the blocks the kubo store asks of the
	// daemon's peers (AddTotal, one each) and those that come (Add, one
	// and its bytes each), for a progress line while they come. The
	// other stores fetch nothing and leave it alone.
	Fetched *progress.Counter
	// KeepName names the home whose roots the kubo store keeps, in the
	// daemon's files API under KeepDir (Collector); home sets it to its
	// replica id. Empty means "default".
	KeepName string
}

// DefaultFetchTimeout is the kubo store's FetchTimeout when none is set:
// long enough for a block a connected peer has to arrive (milliseconds on
// a LAN, a second or two from a peer that must first be found), short
// enough that a block no peer has does not keep a command waiting.
const DefaultFetchTimeout = 10 * time.Second

// Open opens the store cfg describes: the kubo store if cfg.API is set,
// otherwise the embedded store in cfg.Dir.
func Open(ctx context.Context, cfg Config) (Store, error) {
	switch {
	case cfg.API != "":
		k, err := OpenKubo(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return k, nil
	default:
		e, err := OpenEmbedded(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return e, nil
	}
}
