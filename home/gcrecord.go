package home

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/internal/atomicfile"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/ipfs/go-cid"
)

// The home's record of its collections, two JSON files replaced whole
// with atomicfile, written by GC alone: gcFile holds what the last GC,
// or dry run, found it would give back, so that ac-info tells it
// without walking anything; givenFile, for each GC that gave trees of
// log entries back, when it ran and their roots, so that ac-log and
// ac-restore --at tell a tree given back from one missing for another
// reason. They are apart because the second grows with the log and
// ac-info reads only the first.
const (
	gcFile    = "gc"
	givenFile = "gc-given"
)

// GCEstimate is the space a GC found it would give back (after a GC
// that ran, what it left: 0), at the HEAD it was computed at.
type GCEstimate struct {
	Time        time.Time `json:"time"`
	Command     string    `json:"command"` // the GC's, as GCOptions.Command names it
	Head        cid.Cid   `json:"head"`
	Reclaimable int64     `json:"reclaimable"` // bytes
}

// GCRun is a GC that gave back the trees of log entries: the roots, old
// or new, of the entries it did not keep that the store held then.
type GCRun struct {
	Time    time.Time `json:"time"`
	Command string    `json:"command"`
	Roots   []cid.Cid `json:"roots"`
}

// GCEstimate reads what the last GC or dry run found it would give
// back: nil if none ran.
func (h *Home) GCEstimate() (*GCEstimate, error) {
	var est *GCEstimate
	return est, h.readRecord(gcFile, &est)
}

// gcRuns reads the GCs that gave trees back, oldest first.
func (h *Home) gcRuns() ([]GCRun, error) {
	var runs []GCRun
	return runs, h.readRecord(givenFile, &runs)
}

// readRecord reads the record file name into v; a missing file leaves v
// as it is.
func (h *Home) readRecord(name string, v any) error {
	p := filepath.Join(h.Dir, name)
	data, err := os.ReadFile(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return acerr.E("home.GC", p, acerr.IO, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return acerr.E("home.GC", p, acerr.Integrity, fmt.Errorf("not a record of ac-gc: %w", err)).
			WithHint("remove it: ac-gc writes it again")
	}
	return nil
}

// writeRecord replaces the record file name with v.
func (h *Home) writeRecord(name string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	p := filepath.Join(h.Dir, name)
	if err := atomicfile.Write(p, append(data, '\n'), 0o644); err != nil {
		return acerr.E("home.GC", p, acerr.IO, err)
	}
	return nil
}

// Given tells which trees of the log a GC gave back.
type Given struct {
	store ipfsstore.Store
	by    map[cid.Cid]*GCRun
}

// Given reads the record of what GCs gave back.
func (h *Home) Given() (*Given, error) {
	runs, err := h.gcRuns()
	if err != nil {
		return nil, err
	}
	g := &Given{store: h.Store, by: map[cid.Cid]*GCRun{}}
	for i := range runs {
		for _, c := range runs[i].Roots {
			if g.by[c] == nil {
				g.by[c] = &runs[i]
			}
		}
	}
	return g, nil
}

// Of returns the GC that gave the tree at root back, or nil if none did
// or the store holds it again (an import brought it back, or with kubo
// the daemon has not collected it yet).
func (g *Given) Of(ctx context.Context, root cid.Cid) (*GCRun, error) {
	run := g.by[root]
	if run == nil {
		return nil, nil
	}
	held, err := g.store.Has(ctx, root)
	if err != nil || held {
		return nil, err
	}
	return run, nil
}

// GivenBackError is the error that says a tree of the log was given back
// by run, of kind acerr.NotExist.
func GivenBackError(op string, run *GCRun) error {
	return acerr.E(op, "", acerr.NotExist, fmt.Errorf("its tree was given back by ac-gc on %s", run.Time.Local().Format("2006-01-02 15:04"))).
		WithHint("ac-log lists the entries whose trees are still here")
}
