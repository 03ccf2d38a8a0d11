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

// gcFile is the home's record of its collections (JSON, replaced whole
// with atomicfile): what the last GC, or dry run, found it would give
// back, and which trees of log entries each GC gave back, and when. So
// ac-info tells what a GC would free without walking anything, and
// ac-log and ac-restore --at tell a tree given back from one that is
// missing for another reason. Only GC writes it.
const gcFile = "gc"

// GCRecord is what the home records of its collections.
type GCRecord struct {
	// Estimate is what the last GC or dry run found: nil if none ran.
	Estimate *GCEstimate `json:"estimate,omitempty"`
	// Runs are the GCs that gave trees of log entries back, oldest first.
	Runs []GCRun `json:"runs,omitempty"`
}

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

// GCRecord reads the home's record of its collections; a home where no
// GC ran has the zero record.
func (h *Home) GCRecord() (GCRecord, error) {
	var r GCRecord
	p := filepath.Join(h.Dir, gcFile)
	data, err := os.ReadFile(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return r, nil
	case err != nil:
		return r, acerr.E("home.GCRecord", p, acerr.IO, err)
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return GCRecord{}, acerr.E("home.GCRecord", p, acerr.Integrity, fmt.Errorf("not a record of ac-gc: %w", err)).
			WithHint("remove it: the next ac-gc --dry-run writes it again")
	}
	return r, nil
}

// writeGCRecord replaces the home's record of its collections.
func (h *Home) writeGCRecord(r GCRecord) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	p := filepath.Join(h.Dir, gcFile)
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
	r, err := h.GCRecord()
	if err != nil {
		return nil, err
	}
	g := &Given{store: h.Store, by: map[cid.Cid]*GCRun{}}
	for i := range r.Runs {
		for _, c := range r.Runs[i].Roots {
			if g.by[c] == nil {
				g.by[c] = &r.Runs[i]
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
