package home

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/head"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

// RepairCommand is what a repair is recorded as in the log.
const RepairCommand = "ac-init --repair"

// Where Repair found the replica id.
const (
	FromConfig      = "config"
	FromReplicaFile = "replica file"
	FromLog         = "log"
)

// Repaired says what Repair did.
type Repaired struct {
	Head cid.Cid // HEAD afterwards
	// From is the log entry HEAD was restored from; nil if HEAD was whole
	// and stays as it was.
	From *head.LogEntry
	// Config is whether the config was written anew.
	Config bool
	// Replica is the replica id in the config, found where ReplicaFrom
	// says: FromConfig, FromReplicaFile, FromLog, or "" if no copy of it
	// was found and Replica is a new one.
	Replica     string
	ReplicaFrom string
}

// Repair mends the damaged home in opts.Dir (see the package
// documentation): it keeps HEAD if every tree block under it is in the
// store, and otherwise restores it from the newest log entry for which
// that holds, as a change recorded in the log; then it writes the config
// if it is missing or damaged, with the replica id from the replica file
// or, failing that, the log (opts.API is recorded in it), and the replica
// file if it is missing. On a whole home it changes nothing. It fails with
// acerr.NotInit on a new home, and with acerr.NotExist, changing nothing,
// if no HEAD can be restored.
func Repair(ctx context.Context, opts Options) (*Repaired, error) {
	const op = "home.Repair"
	if survey(opts.Dir).empty() {
		return nil, acerr.E(op, opts.Dir, acerr.NotInit, errors.New("nothing to repair: no home here (run ac-init)"))
	}
	rep := &Repaired{ReplicaFrom: FromConfig}
	cfg, err := readConfig(opts.Dir)
	if e, ok := err.(*acerr.Error); ok {
		return nil, e
	}
	if err != nil {
		rep.Config = true
		cfg = Config{Version: configVersion, API: opts.API}
		cfg.Replica, rep.ReplicaFrom = findReplica(opts.Dir)
		if cfg.Replica == "" {
			if cfg.Replica, err = newReplica(); err != nil {
				return nil, acerr.E(op, opts.Dir, acerr.IO, err)
			}
		}
	}
	rep.Replica = cfg.Replica
	h, err := open(ctx, opts, cfg)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	seen := map[cid.Cid]cid.Cid{}
	rep.Head, err = h.Head.Repair(ctx, RepairCommand, func(cur cid.Cid, log []head.LogEntry) (cid.Cid, error) {
		rep.From = nil
		if cur.Defined() {
			missing, err := h.missingBlock(ctx, cur, schema.KindDirectory, seen)
			if err != nil || !missing.Defined() {
				return cur, err
			}
		}
		if len(log) == 0 {
			return cid.Undef, acerr.E(op, opts.Dir, acerr.NotExist, fmt.Errorf(
				"nothing to restore HEAD from: the log is empty; if the home holds nothing you need, move it aside and run ac-init"))
		}
		var first cid.Cid // what the newest entry lacks
		for i := range log {
			missing, err := h.missingBlock(ctx, log[i].New, schema.KindDirectory, seen)
			if err != nil {
				return cid.Undef, err
			}
			if !missing.Defined() {
				rep.From = &log[i]
				return log[i].New, nil
			}
			if i == 0 {
				first = missing
			}
		}
		return cid.Undef, acerr.E(op, opts.Dir, acerr.NotExist, fmt.Errorf(
			"nothing to restore HEAD from: none of the %d log entries has all its tree blocks in the store (the newest, %s, lacks %s); "+
				"with the blocks back (ac-import of a CAR that holds them, or --api to a daemon that does) the repair can restore one, or move the home aside and run ac-init",
			len(log), log[0].New, first))
	})
	if err != nil {
		return nil, err
	}
	if rep.Config {
		if err := writeConfig(op, opts.Dir, cfg); err != nil {
			return nil, err
		}
	}
	if r, _ := readReplica(opts.Dir); r != cfg.Replica {
		if err := writeReplica(opts.Dir, cfg.Replica); err != nil {
			return nil, acerr.E(op, opts.Dir, acerr.IO, err)
		}
	}
	return rep, nil
}

// findReplica returns the replica id of the home in dir from the replica
// file or, failing that, the newest log line that records one, and where
// it was found; "" if neither has it.
func findReplica(dir string) (replica, from string) {
	if r, err := readReplica(dir); err == nil {
		return r, FromReplicaFile
	}
	log, _ := head.Open(dir, nil, head.Config{}).Log()
	for _, e := range log {
		if validReplica(e.Replica) {
			return e.Replica, FromLog
		}
	}
	return "", ""
}

func readReplica(dir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(dir, replicaFile))
	if err != nil {
		return "", err
	}
	r, ok := strings.CutSuffix(string(data), "\n")
	if !ok || !validReplica(r) {
		return "", errors.New("replica file is damaged")
	}
	return r, nil
}

// missingBlock returns a block of the tree database under c, a node of
// the given kind, that the store lacks or holds damaged; cid.Undef if it
// holds them all. The blocks are those of directories, their shards, and
// the identities and nodes they name; not file contents, which may be
// fetched when read, nor what a node links (a friend's filesystem comes
// with a merge). seen remembers the answer for every subtree walked.
func (h *Home) missingBlock(ctx context.Context, c cid.Cid, kind schema.Kind, seen map[cid.Cid]cid.Cid) (cid.Cid, error) {
	if m, ok := seen[c]; ok {
		return m, nil
	}
	m, err := h.walkBlock(ctx, c, kind, seen)
	if err != nil {
		return cid.Undef, err
	}
	seen[c] = m
	return m, nil
}

func (h *Home) walkBlock(ctx context.Context, c cid.Cid, kind schema.Kind, seen map[cid.Cid]cid.Cid) (cid.Cid, error) {
	if kind == schema.KindIdentity || kind == schema.KindNode {
		ok, err := h.Store.Has(ctx, c)
		if err != nil || !ok {
			return c, err
		}
		return cid.Undef, nil
	}
	data, err := h.Store.Get(ctx, c)
	if acerr.Is(acerr.NotExist, err) || acerr.Is(acerr.Integrity, err) {
		return c, nil
	}
	if err != nil {
		return cid.Undef, err
	}
	n, err := schema.Decode(data)
	if err != nil || n.Kind() != kind {
		return c, nil // damaged: as good as missing
	}
	for _, l := range schema.Links(n) {
		if l.Role == schema.LinkIdentity || l.Role == schema.LinkHistory || l.Kind == schema.KindFile {
			continue // file contents may be remote; who made or owns it, and earlier versions, are not needed
		}
		if m, err := h.missingBlock(ctx, l.CID, l.Kind, seen); err != nil || m.Defined() {
			return m, err
		}
	}
	return cid.Undef, nil
}
