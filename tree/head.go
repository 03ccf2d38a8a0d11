package tree

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/ipfs/go-cid"
)

// The files of a home that Head owns.
const (
	headFile = "HEAD" // the root CID and a newline
	lockName = "lock" // flock'ed for the whole of an Update
	logFile  = "log"  // one JSON line per HEAD change
)

// maxHeadSize bounds how much of HEAD is read: a CID string is far shorter.
const maxHeadSize = 4 << 10

// Head is the HEAD pointer of a home: the CID of the root of the tree
// database, its lock and its history log. See the package documentation
// for the protocol and its crash guarantees.
type Head struct {
	dir   string
	store ipfsstore.Store
}

// LogEntry is one change of HEAD.
type LogEntry struct {
	Time    time.Time
	Command string  // what made the change, such as "ac-add"
	Old     cid.Cid // undefined for the first
	New     cid.Cid
}

// logLine is a LogEntry as stored: one JSON object per line.
type logLine struct {
	Time    string `json:"time"` // RFC 3339 with nanoseconds
	Command string `json:"command"`
	Old     string `json:"old"` // "" when undefined
	New     string `json:"new"`
}

// OpenHead returns the HEAD of the home directory dir, whose blocks are in
// store. It touches no file: a home without HEAD is one not yet
// initialised, and the first Update creates it.
func OpenHead(dir string, store ipfsstore.Store) *Head {
	return &Head{dir: dir, store: store}
}

// Get returns the current root. A home without HEAD fails with
// acerr.NotInit.
func (h *Head) Get() (cid.Cid, error) {
	const op = "tree.Head.Get"
	c, err := h.read()
	if err != nil {
		return cid.Undef, wrap(op, h.dir, err)
	}
	if !c.Defined() {
		return cid.Undef, acerr.E(op, h.dir, acerr.NotInit, nil)
	}
	return c, nil
}

// read returns the CID in HEAD, or Undef if there is no HEAD.
func (h *Head) read() (cid.Cid, error) {
	name := filepath.Join(h.dir, headFile)
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return cid.Undef, nil
	}
	if err != nil {
		return cid.Undef, fail(acerr.IO, "%v", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxHeadSize))
	if err != nil {
		return cid.Undef, fail(acerr.IO, "%v", err)
	}
	s, ok := bytes.CutSuffix(data, []byte("\n"))
	c, err := cid.Decode(string(s))
	if !ok || err != nil {
		return cid.Undef, fail(acerr.Integrity, "%s does not hold a CID and a newline", name)
	}
	return c, nil
}

// Update changes HEAD under the home's lock: it waits for the lock
// (in the kernel, until ctx ends: acerr.Locked), reads HEAD (undefined when
// there is none yet, which is how a home is initialised), and calls fn
// with it. If fn fails, Update returns fn's error unchanged and nothing
// changes. If fn returns a different CID, Update checks that the store
// holds it, syncs the store (when it is an ipfsstore.Syncer), replaces
// HEAD atomically and appends a line to the log, before it releases the
// lock. It returns the CID HEAD holds afterwards (and, should only the
// log append fail, the new CID with the error). Because every change of
// HEAD happens this way, read → compute → swap under one lock, no two
// processes lose each other's changes.
func (h *Head) Update(ctx context.Context, command string, fn func(old cid.Cid) (cid.Cid, error)) (cid.Cid, error) {
	const op = "tree.Head.Update"
	unlock, err := h.lock(ctx)
	if err != nil {
		return cid.Undef, wrap(op, h.dir, err)
	}
	defer unlock()
	old, err := h.read()
	if err != nil {
		return cid.Undef, wrap(op, h.dir, err)
	}
	nc, err := fn(old)
	if err != nil {
		return cid.Undef, err
	}
	if !nc.Defined() {
		return cid.Undef, wrap(op, h.dir, fail(acerr.Invalid, "the new root is undefined"))
	}
	if nc.Equals(old) {
		return old, nil
	}
	if ok, err := h.store.Has(ctx, nc); err != nil || !ok {
		if err == nil {
			err = fail(acerr.NotExist, "the new root is not in the store").WithCID(nc.String())
		}
		return cid.Undef, wrap(op, h.dir, err)
	}
	if s, ok := h.store.(ipfsstore.Syncer); ok {
		if err := s.Sync(ctx); err != nil {
			return cid.Undef, wrap(op, h.dir, err)
		}
	}
	if err := h.writeHead(nc); err != nil {
		return cid.Undef, wrap(op, h.dir, err)
	}
	if err := h.appendLog(LogEntry{Time: time.Now(), Command: command, Old: old, New: nc}); err != nil {
		// HEAD has moved; only the history lacks the line.
		return nc, wrap(op, h.dir, err)
	}
	return nc, nil
}

// lock takes the home's lock, waiting until it is free or ctx ends.
func (h *Head) lock(ctx context.Context) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(h.dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fail(acerr.NotInit, "%v", err)
		}
		return nil, fail(acerr.IO, "%v", err)
	}
	unlock = func() { f.Close() } // closing releases the lock
	// Wait in the kernel, which wakes the waiter as soon as the holder
	// lets go (a poll could miss every short gap between one holder's
	// changes); ctx is honoured by leaving the wait behind.
	got := make(chan error, 1)
	go func() { got <- lockFile(f) }()
	select {
	case err := <-got:
		if err != nil {
			f.Close()
			return nil, fail(acerr.IO, "lock %s: %v", f.Name(), err)
		}
		return unlock, nil
	case <-ctx.Done():
		// The abandoned wait releases the lock as soon as it gets it.
		go func() { <-got; f.Close() }()
		return nil, fail(acerr.Locked, "another process holds %s: %v", f.Name(), ctx.Err())
	}
}

// writeHead replaces HEAD atomically and durably: write a temporary file
// in the home, fsync it, rename it over HEAD, fsync the directory.
func (h *Head) writeHead(c cid.Cid) error {
	// Temporary files left by a process killed here earlier are garbage;
	// the lock says no one else is writing one now.
	if old, _ := filepath.Glob(filepath.Join(h.dir, headFile+".tmp*")); len(old) > 0 {
		for _, name := range old {
			os.Remove(name)
		}
	}
	f, err := os.CreateTemp(h.dir, headFile+".tmp*")
	if err != nil {
		return fail(acerr.IO, "%v", err)
	}
	tmp := f.Name()
	_, err = f.WriteString(c.String() + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(h.dir, headFile))
	}
	if err != nil {
		os.Remove(tmp)
		return fail(acerr.IO, "write HEAD: %v", err)
	}
	return syncDir(h.dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fail(acerr.IO, "%v", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fail(acerr.IO, "sync %s: %v", dir, err)
	}
	return nil
}

// appendLog appends one line to the log and fsyncs it. A torn last line,
// left by a crash during an earlier append, is cut off first.
func (h *Head) appendLog(e LogEntry) error {
	line, err := json.Marshal(logLine{
		Time:    e.Time.UTC().Format(time.RFC3339Nano),
		Command: e.Command,
		Old:     cidString(e.Old),
		New:     cidString(e.New),
	})
	if err != nil {
		return fail(acerr.IO, "encode log line: %v", err) // cannot happen: strings only
	}
	f, err := os.OpenFile(filepath.Join(h.dir, logFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fail(acerr.IO, "%v", err)
	}
	defer f.Close()
	end, err := completeLines(f)
	if err == nil {
		_, err = f.WriteAt(append(line, '\n'), end)
	}
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		return fail(acerr.IO, "append to log: %v", err)
	}
	return nil
}

// completeLines returns the length of f up to its last newline, cutting
// off anything after it.
func completeLines(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := st.Size()
	buf := make([]byte, 4<<10)
	end := size
	for end > 0 {
		n := int64(len(buf))
		if n > end {
			n = end
		}
		if _, err := f.ReadAt(buf[:n], end-n); err != nil {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			end = end - n + int64(i) + 1
			break
		}
		end -= n
	}
	if end != size {
		if err := f.Truncate(end); err != nil {
			return 0, err
		}
	}
	return end, nil
}

func cidString(c cid.Cid) string {
	if !c.Defined() {
		return ""
	}
	return c.String()
}

// Log returns the history of HEAD, newest first. A torn last line, left
// by a crash during an append, is ignored; any other damaged line fails
// with acerr.Integrity. A home without a log has an empty history.
func (h *Head) Log() ([]LogEntry, error) {
	const op = "tree.Head.Log"
	name := filepath.Join(h.dir, logFile)
	data, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, acerr.E(op, h.dir, acerr.IO, err)
	}
	var out []LogEntry
	for n := 1; len(data) > 0; n++ {
		line, rest, complete := bytes.Cut(data, []byte("\n"))
		data = rest
		if !complete {
			break // torn
		}
		e, err := parseLogLine(line)
		if err != nil {
			return nil, acerr.E(op, name, acerr.Integrity, fmt.Errorf("line %d: %v", n, err))
		}
		out = append(out, e)
	}
	slices.Reverse(out)
	return out, nil
}

func parseLogLine(line []byte) (LogEntry, error) {
	var l logLine
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return LogEntry{}, err
	}
	var e LogEntry
	var err error
	if e.Time, err = time.Parse(time.RFC3339Nano, l.Time); err != nil {
		return e, err
	}
	e.Command = l.Command
	if l.Old != "" {
		if e.Old, err = cid.Decode(l.Old); err != nil {
			return e, fmt.Errorf("old: %v", err)
		}
	}
	if e.New, err = cid.Decode(l.New); err != nil {
		return e, fmt.Errorf("new: %v", err)
	}
	return e, nil
}
