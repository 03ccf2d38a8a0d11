package head

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
	"github.com/archivecache/archivecache/internal/atomicfile"
	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/ipfs/go-cid"
)

// The files of a home that Head owns.
const (
	headFile = "HEAD"     // the root CID and a newline
	headTemp = "HEAD.tmp" // the next HEAD, until it is renamed over HEAD
	lockName = "lock"     // flock'ed for the whole of a swap; names its holder
	logFile  = "log"      // one JSON line per HEAD change
)

// maxHeadSize bounds how much of HEAD (or of the lock file) is read: a CID
// string, or a holder's pid and command, is far shorter.
const maxHeadSize = 4 << 10

// RecoveredCommand is the command of a log line that a change writes for
// a HEAD it finds missing from the log (see the package documentation).
const RecoveredCommand = "(recovered)"

// DefaultNotice is how long a swap waits for the lock before it says so
// through Config.Waiting, unless Config.Notice is set.
const DefaultNotice = time.Second

// MaxTries is how many times Update computes a change before it gives up
// on a HEAD that keeps moving under it.
const MaxTries = 32

// Config configures a Head. The zero value records no replica in the
// log, waits for the lock until the context ends, tells no one that it
// waits, and has Watch poll every DefaultPoll where it must poll.
type Config struct {
	// Replica is recorded in every log line, so that the replica id
	// survives the loss of the home's config. Empty: none is recorded.
	Replica string
	// LockTimeout bounds how long a swap waits for the lock; after it,
	// the swap fails with acerr.Locked, naming the holder. Zero: until
	// the context ends.
	LockTimeout time.Duration
	// Waiting, if set, is called once per wait for the lock that lasts
	// Notice, with the holder, so that a command can tell its user.
	Waiting func(LockHolder)
	// Notice is how long a swap waits for the lock before it calls
	// Waiting. Zero: DefaultNotice.
	Notice time.Duration
	// Poll is how often Watch reads HEAD where the system cannot tell it
	// of changes. Zero: DefaultPoll.
	Poll time.Duration
}

// Head is the HEAD pointer of a home: the CID of the root of the tree
// database, its lock and its history log. See the package documentation
// for the protocol and its crash guarantees. A Head is safe for use by
// many goroutines, as the files it keeps are for many processes.
type Head struct {
	dir   string
	store ipfsstore.Store
	cfg   Config
	// fault, set only by tests, is called with the name of every file
	// operation of a change before it runs; an error it returns is that
	// operation's, which then does not run.
	fault func(op string) error
	// poll, set only by tests, makes Watch poll where it could be told.
	poll bool
}

// LogEntry is one change of HEAD.
type LogEntry struct {
	Time    time.Time
	Command string  // what made the change, such as "ac-add root/x"
	Old     cid.Cid // undefined for the first
	New     cid.Cid
	Replica string // the replica id of the home that made it; "" if not recorded
}

// logLine is a LogEntry as stored: one JSON object per line.
type logLine struct {
	Time    string `json:"time"` // RFC 3339 with nanoseconds
	Command string `json:"command"`
	Old     string `json:"old"` // "" when undefined
	New     string `json:"new"`
	Replica string `json:"replica,omitempty"`
}

// LockHolder is the process that holds a home's lock, as it wrote itself
// into the lock file once it had the lock. The zero value is a holder that
// has not (yet) said who it is.
type LockHolder struct {
	PID     int    `json:"pid"`
	Command string `json:"command"` // the command of the change it makes
}

func (l LockHolder) String() string {
	if l.PID <= 0 {
		return "an unknown process"
	}
	return fmt.Sprintf("pid %d (%s)", l.PID, l.Command)
}

// Open returns the HEAD of the home directory dir, whose blocks are in
// store. It touches no file: a home without HEAD is one not yet
// initialised (or a damaged one, if it has a log), and the first change
// creates it.
func Open(dir string, store ipfsstore.Store, cfg Config) *Head {
	return &Head{dir: dir, store: store, cfg: cfg}
}

// fail builds an error that carries a kind and a cause but no op or path;
// the exported method that returns it fills those in (see wrap).
func fail(kind acerr.Kind, format string, args ...any) *acerr.Error {
	return &acerr.Error{Kind: kind, Err: fmt.Errorf(format, args...)}
}

// wrap names op and the home in err. An error made by fail gets them
// filled in, so it prints as one flat line; any other error is nested.
func (h *Head) wrap(op string, err error) error {
	if e, ok := err.(*acerr.Error); ok && e.Op == "" && e.Path == "" {
		c := *e
		c.Op, c.Path = op, h.dir
		return &c
	}
	return acerr.E(op, h.dir, acerr.Other, err)
}

// Get returns the current root. A home without HEAD fails with
// acerr.NotInit, one whose HEAD does not hold a CID with acerr.Integrity.
func (h *Head) Get() (cid.Cid, error) {
	const op = "head.Head.Get"
	c, err := h.read()
	if err != nil {
		return cid.Undef, h.wrap(op, err)
	}
	if !c.Defined() {
		return cid.Undef, acerr.E(op, h.dir, acerr.NotInit, nil)
	}
	return c, nil
}

// read returns the CID in HEAD, or Undef if there is no HEAD. HEAD is
// replaced by rename, so a read outside the lock sees one HEAD whole.
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

// Swap moves HEAD from old (undefined: the home has no HEAD yet, which
// is how a home is initialised) to new, recording command in the log.
// It checks that the store holds new and syncs the store (when it is an
// ipfsstore.Syncer), then, under the home's lock (waited for until ctx
// ends or Config.LockTimeout passes: acerr.Locked), reads HEAD, brings
// the log into agreement with it should a crash have left them apart,
// and commits new as the package documentation describes if HEAD still
// holds old. If HEAD holds anything else, Swap fails with acerr.Stale,
// naming what HEAD holds, and changes nothing. new equal to old changes
// nothing.
//
// Swap returns nil if and only if HEAD holds new and the log records
// it; on any error HEAD is as it was. A home whose HEAD is missing but
// whose log is not empty is damaged, not new: Swap refuses it with
// acerr.Integrity (see Repair).
func (h *Head) Swap(ctx context.Context, command string, old, new cid.Cid) error {
	if err := h.swap(ctx, command, old, new); err != nil {
		return h.wrap("head.Head.Swap", err)
	}
	return nil
}

func (h *Head) swap(ctx context.Context, command string, old, new cid.Cid) error {
	if !new.Defined() {
		return fail(acerr.Invalid, "the new root is undefined")
	}
	if err := h.prepare(ctx, new); err != nil {
		return err
	}
	return h.locked(ctx, command, false, func(lg *history, cur cid.Cid) error {
		if !cur.Equals(old) {
			return fail(acerr.Stale, "HEAD moved: it holds %s, not %s", describe(cur), describe(old))
		}
		if new.Equals(cur) {
			return nil
		}
		return h.commit(lg, LogEntry{Command: command, Old: cur, New: new}, cur)
	})
}

// describe names a root for an error: its CID, or that there is none.
func describe(c cid.Cid) string {
	if !c.Defined() {
		return "nothing"
	}
	return c.String()
}

// Update changes HEAD by compare-and-swap: it reads HEAD (undefined when
// there is none yet), computes the new root with fn outside the lock,
// and swaps it in (Swap). If HEAD moved meanwhile, it reads HEAD again
// and calls fn again, up to MaxTries times in all, then fails with
// acerr.Stale. So a change that takes long to compute (a merge waiting
// on the network) holds the lock only for its swap, and a change made
// meanwhile is never lost: the next try computes from it.
//
// fn may therefore run more than once, each time given a newer root. It
// must compute from the root it is given alone and keep nothing from
// one run to the next: whatever the caller wants to report is taken from
// the last run, the one whose root Update returns. What fn writes to the
// store is harmless when its run loses: blocks nothing names.
//
// If fn fails, Update returns fn's error unchanged and nothing changes.
// If fn returns the root it was given, Update returns it and writes
// nothing. Otherwise Update returns the new root and nil if and only if
// HEAD holds it and the log records it. A home whose HEAD is missing but
// whose log is not empty is refused with acerr.Integrity before fn runs.
func (h *Head) Update(ctx context.Context, command string, fn func(old cid.Cid) (cid.Cid, error)) (cid.Cid, error) {
	const op = "head.Head.Update"
	for try := 1; ; try++ {
		old, err := h.read()
		if err != nil {
			return cid.Undef, h.wrap(op, err)
		}
		if !old.Defined() {
			// No HEAD: a new home, unless the log says it had one.
			// Whether it did is decided where every change decides it.
			if err := h.locked(ctx, command, false, func(*history, cid.Cid) error { return nil }); err != nil {
				return cid.Undef, h.wrap(op, err)
			}
		}
		nc, err := fn(old)
		if err != nil {
			return cid.Undef, err
		}
		if !nc.Defined() {
			return cid.Undef, h.wrap(op, fail(acerr.Invalid, "the new root is undefined"))
		}
		if nc.Equals(old) {
			return old, nil
		}
		err = h.swap(ctx, command, old, nc)
		switch {
		case err == nil:
			return nc, nil
		case !acerr.Is(acerr.Stale, err):
			return cid.Undef, h.wrap(op, err)
		case try == MaxTries:
			return cid.Undef, h.wrap(op, fail(acerr.Stale, "HEAD moved under each of %d tries to compute the change; try again when the home is quieter", try))
		}
	}
}

// Repair replaces HEAD under the lock with the root choose picks, whatever
// HEAD holds now: nothing, bytes that are not a CID, or a root whose
// blocks are lost. choose is given the current root (undefined unless
// HEAD holds a CID) and every entry of the log, newest first, including a
// last one that a crash kept from reaching HEAD. The change is committed
// and logged as a swap's is; if choose returns the current root, only
// the log is brought into agreement with it.
//
// Unlike Update, Repair computes under the lock: a HEAD that does not
// read cannot be compared, so the only safe swap of a damaged HEAD is
// one that no other change can come between. Repair is for mending a
// damaged home; every other change goes through Update or Swap.
func (h *Head) Repair(ctx context.Context, command string, choose func(cur cid.Cid, log []LogEntry) (cid.Cid, error)) (cid.Cid, error) {
	const op = "head.Head.Repair"
	var nc cid.Cid
	var chooseErr error
	err := h.locked(ctx, command, true, func(lg *history, cur cid.Cid) error {
		data := make([]byte, lg.end)
		if _, err := lg.f.ReadAt(data, 0); err != nil {
			return fail(acerr.IO, "read log: %v", err)
		}
		log, _ := parseLog(data, false) // a damaged line is passed over: the others may still serve
		nc, chooseErr = choose(cur, log)
		if chooseErr != nil {
			return chooseErr
		}
		if !nc.Defined() {
			return fail(acerr.Invalid, "the new root is undefined")
		}
		if nc.Equals(cur) {
			return nil
		}
		if err := h.prepare(ctx, nc); err != nil {
			return err
		}
		// The line starts where the log says HEAD was, if HEAD no longer
		// says so itself, so that every line follows the one before it.
		e := LogEntry{Command: command, Old: cur, New: nc}
		if !cur.Defined() && len(log) > 0 {
			e.Old = log[0].New
		}
		return h.commit(lg, e, cur)
	})
	switch {
	case chooseErr != nil:
		return cid.Undef, chooseErr
	case err != nil:
		return cid.Undef, h.wrap(op, err)
	}
	return nc, nil
}

// locked takes the lock, reads HEAD, opens the log and brings it into
// agreement with HEAD, and calls do with them. For a repair, a HEAD that
// does not hold a CID is given to do as undefined, and a missing one
// leaves the log as it is.
func (h *Head) locked(ctx context.Context, command string, repair bool, do func(lg *history, cur cid.Cid) error) error {
	unlock, err := h.lock(ctx, command)
	if err != nil {
		return err
	}
	defer unlock()
	cur, err := h.read()
	if err != nil && !(repair && acerr.Is(acerr.Integrity, err)) {
		return err
	}
	lg, err := h.openLog()
	if err != nil {
		return err
	}
	defer lg.f.Close()
	if cur.Defined() || !repair {
		if err := lg.reconcile(cur); err != nil {
			return err
		}
	}
	return do(lg, cur)
}

// step runs one file operation of a change, through the test hook.
func (h *Head) step(name string, op func() error) error {
	if h.fault != nil {
		if err := h.fault(name); err != nil {
			return err
		}
	}
	return op()
}

// prepare makes sure that HEAD may name root: the store holds it, has
// made it durable, and keeps it (ipfsstore.Collector).
func (h *Head) prepare(ctx context.Context, root cid.Cid) error {
	if ok, err := h.store.Has(ctx, root); err != nil || !ok {
		if err == nil {
			err = fail(acerr.NotExist, "the new root is not in the store").WithCID(root.String())
		}
		return err
	}
	if s, ok := h.store.(ipfsstore.Syncer); ok {
		if err := h.step("sync store", func() error { return s.Sync(ctx) }); err != nil {
			return err
		}
	}
	if k, ok := h.store.(ipfsstore.Collector); ok {
		// Before HEAD names it, so that no collection of the daemon's
		// comes between.
		return h.step("keep root", func() error { return k.Keep(ctx, root) })
	}
	return nil
}

// commit moves HEAD from prev (undefined: no HEAD) to e.New, under the
// lock: it writes the new CID to HEAD.tmp and syncs it, appends e to the
// log and syncs the log, renames HEAD.tmp over HEAD (the commit point) and
// syncs the directory. It returns nil if and only if HEAD holds e.New; on
// an error before the rename it removes HEAD.tmp and cuts the log line
// off again, and if the directory sync fails after the rename it puts
// prev back.
func (h *Head) commit(lg *history, e LogEntry, prev cid.Cid) error {
	tmp := filepath.Join(h.dir, headTemp)
	if err := h.writeTemp(tmp, e.New); err != nil {
		return err
	}
	at := lg.end
	if err := lg.append(e); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := h.step("rename HEAD.tmp", func() error { return os.Rename(tmp, filepath.Join(h.dir, headFile)) }); err != nil {
		os.Remove(tmp)
		lg.cut(at) // should this fail too, Log hides the line and the next change cuts it
		return fail(acerr.IO, "replace HEAD: %v", err)
	}
	if err := h.syncDir(); err != nil {
		// The rename may not outlive a power loss. Put the old HEAD back,
		// so that the error means what every other error means.
		if !h.putBack(prev) {
			return nil // HEAD holds the new root, and the log says so
		}
		lg.cut(at)
		return err
	}
	return nil
}

// writeTemp writes c and a newline to the file tmp and syncs it,
// replacing one left by a process killed there (the lock says no one
// else writes one).
func (h *Head) writeTemp(tmp string, c cid.Cid) error {
	err := h.step("write HEAD.tmp", func() error { return atomicfile.WriteTemp(tmp, []byte(c.String()+"\n"), 0o600) })
	if err != nil {
		return fail(acerr.IO, "write HEAD: %v", err)
	}
	return nil
}

// putBack makes HEAD hold old again (no HEAD if old is undefined) after a
// commit's rename, and reports whether it does.
func (h *Head) putBack(old cid.Cid) bool {
	head := filepath.Join(h.dir, headFile)
	if !old.Defined() {
		return h.step("remove HEAD", func() error { return os.Remove(head) }) == nil
	}
	tmp := filepath.Join(h.dir, headTemp)
	if h.writeTemp(tmp, old) != nil {
		return false
	}
	if h.step("rename HEAD.tmp", func() error { return os.Rename(tmp, head) }) != nil {
		os.Remove(tmp)
		return false
	}
	h.syncDir() // best effort: the old root is what readers see
	return true
}

func (h *Head) syncDir() error {
	if err := h.step("sync home", func() error { return atomicfile.SyncDir(h.dir) }); err != nil {
		return fail(acerr.IO, "sync %s: %v", h.dir, err)
	}
	return nil
}

// lock takes the home's lock, waiting until it is free, ctx ends or the
// lock timeout passes, and writes the holder (this process and command)
// into the lock file. unlock clears the holder and releases the lock.
func (h *Head) lock(ctx context.Context, command string) (unlock func(), err error) {
	var f *os.File
	err = h.step("open lock", func() (err error) {
		f, err = os.OpenFile(filepath.Join(h.dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
		return err
	})
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fail(acerr.NotInit, "%v", err)
		}
		return nil, fail(acerr.IO, "%v", err)
	}
	// Wait in the kernel, which wakes the waiter as soon as the holder
	// lets go (a poll could miss every short gap between one holder's
	// changes); ctx and the timeout are honoured by leaving the wait
	// behind, and the abandoned wait releases the lock as soon as it
	// gets it.
	got := make(chan error, 1)
	go func() { got <- lockFile(f) }()
	abandon := func() { go func() { <-got; f.Close() }() }
	wait := h.cfg.Notice
	if wait <= 0 {
		wait = DefaultNotice
	}
	notice := time.NewTimer(wait)
	defer notice.Stop()
	noticed := false
	var timeout <-chan time.Time
	if h.cfg.LockTimeout > 0 {
		t := time.NewTimer(h.cfg.LockTimeout)
		defer t.Stop()
		timeout = t.C
	}
	for {
		select {
		case err := <-got:
			if err != nil {
				f.Close()
				return nil, fail(acerr.IO, "lock %s: %v", f.Name(), err)
			}
			// Who holds the lock is for waiters to show; failing to say
			// so is no reason to fail the change.
			me, _ := json.Marshal(LockHolder{PID: os.Getpid(), Command: command})
			if f.Truncate(0) == nil {
				h.step("write lock", func() error { _, err := f.WriteAt(append(me, '\n'), 0); return err })
			}
			return func() { f.Truncate(0); f.Close() }, nil
		case <-notice.C:
			noticed = true
			if h.cfg.Waiting != nil {
				h.cfg.Waiting(readHolder(f))
			}
		case <-timeout:
			holder := readHolder(f)
			if !noticed && wait <= h.cfg.LockTimeout && h.cfg.Waiting != nil {
				h.cfg.Waiting(holder) // both were due: one who gives up has said that it waited
			}
			abandon()
			return nil, fail(acerr.Locked, "%s holds it; gave up after %v", holder, h.cfg.LockTimeout)
		case <-ctx.Done():
			holder := readHolder(f)
			abandon()
			return nil, fail(acerr.Locked, "%s holds it: %w", holder, ctx.Err())
		}
	}
}

// readHolder returns the holder the lock file names.
func readHolder(f *os.File) LockHolder {
	buf := make([]byte, maxHeadSize)
	n, _ := f.ReadAt(buf, 0)
	var l LockHolder
	if line, ok := bytes.CutSuffix(buf[:n], []byte("\n")); !ok || json.Unmarshal(line, &l) != nil {
		return LockHolder{}
	}
	return l
}

// history is the log, open for the length of one change, under the lock.
type history struct {
	h      *Head
	f      *os.File
	end    int64  // the length of the complete lines
	last   []byte // the last complete line, without its newline; nil if none
	lastAt int64  // where it begins
}

// openLog opens the log, creating it if there is none, finds its last
// complete line and cuts off a torn one after it.
func (h *Head) openLog() (*history, error) {
	name := filepath.Join(h.dir, logFile)
	var f *os.File
	err := h.step("open log", func() (err error) { f, err = os.OpenFile(name, os.O_RDWR, 0); return err })
	if errors.Is(err, fs.ErrNotExist) {
		err = h.step("create log", func() (err error) {
			f, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
			return err
		})
		if err == nil {
			// The log's name must be as durable as the lines in it.
			if err = h.syncDir(); err != nil {
				f.Close()
				return nil, err
			}
		}
	}
	if err != nil {
		return nil, fail(acerr.IO, "open log: %v", err)
	}
	lg := &history{h: h, f: f}
	if err := h.step("read log", lg.readTail); err != nil {
		f.Close()
		return nil, fail(acerr.IO, "read log: %v", err)
	}
	return lg, nil
}

// readTail finds the last complete line and cuts off anything after it
// (a line torn by a crash during an append).
func (lg *history) readTail() error {
	st, err := lg.f.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	var buf []byte // the file from pos on
	pos := size
	for pos > 0 {
		n := min(int64(4<<10), pos)
		chunk := make([]byte, n, n+int64(len(buf)))
		if _, err := lg.f.ReadAt(chunk, pos-n); err != nil {
			return err
		}
		buf = append(chunk, buf...)
		pos -= n
		i := bytes.LastIndexByte(buf, '\n')
		if i < 0 {
			continue
		}
		j := bytes.LastIndexByte(buf[:i], '\n')
		if j < 0 && pos > 0 {
			continue // the last line begins further back
		}
		lg.end = pos + int64(i) + 1
		lg.lastAt = pos + int64(j) + 1
		lg.last = buf[j+1 : i]
		break
	}
	if lg.end != size {
		return lg.h.step("truncate log", func() error { return lg.f.Truncate(lg.end) })
	}
	return nil
}

// reconcile brings the log into agreement with HEAD, which holds head,
// before a change: a last line whose change never reached HEAD (a crash,
// or an error whose clean-up failed too, between the append and the
// rename) is cut off, and a HEAD that the log lacks gets a line of its
// own. Only a holder of the lock writes the log, so a disagreement seen
// under the lock was left by a process that is gone.
func (lg *history) reconcile(head cid.Cid) error {
	if lg.last == nil {
		if !head.Defined() {
			return nil // a new home
		}
		return lg.append(LogEntry{Command: RecoveredCommand, New: head})
	}
	if !head.Defined() {
		return fail(acerr.Integrity, "HEAD is missing, but the log is not empty: the home is damaged")
	}
	e, err := parseLogLine(lg.last)
	switch {
	case err == nil && e.New.Equals(head):
		return nil
	case err == nil && e.Old.Equals(head):
		return lg.cut(lg.lastAt)
	}
	r := LogEntry{Command: RecoveredCommand, New: head}
	if err == nil {
		r.Old = e.New
	}
	return lg.append(r)
}

// append appends e to the log and syncs it; on failure it cuts off what
// it may have written.
func (lg *history) append(e LogEntry) error {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if e.Replica == "" {
		e.Replica = lg.h.cfg.Replica
	}
	line, err := json.Marshal(logLine{
		Time:    e.Time.UTC().Format(time.RFC3339Nano),
		Command: e.Command,
		Old:     cidString(e.Old),
		New:     cidString(e.New),
		Replica: e.Replica,
	})
	if err != nil {
		return fail(acerr.IO, "encode log line: %v", err) // cannot happen: strings only
	}
	line = append(line, '\n')
	err = lg.h.step("write log", func() error { _, err := lg.f.WriteAt(line, lg.end); return err })
	if err == nil {
		err = lg.h.step("sync log", lg.f.Sync)
	}
	if err != nil {
		lg.cut(lg.end) // should this fail too, the next Update cuts the line
		return fail(acerr.IO, "append to log: %v", err)
	}
	lg.lastAt, lg.last = lg.end, line[:len(line)-1]
	lg.end += int64(len(line))
	return nil
}

// cut truncates the log to n bytes, dropping the lines after it, and
// syncs it.
func (lg *history) cut(n int64) error {
	err := lg.h.step("truncate log", func() error { return lg.f.Truncate(n) })
	if err == nil {
		err = lg.h.step("sync log", lg.f.Sync)
	}
	if err != nil {
		return fail(acerr.IO, "cut the log: %v", err)
	}
	lg.end = n
	return nil
}

func cidString(c cid.Cid) string {
	if !c.Defined() {
		return ""
	}
	return c.String()
}

// Log returns the history of HEAD, newest first. A torn last line, left
// by a crash during an append, is ignored, and so is a last line whose
// change never reached HEAD (HEAD still holds its old root); any other
// damaged line fails with acerr.Integrity. A home without a log has an
// empty history.
func (h *Head) Log() ([]LogEntry, error) {
	const op = "tree.Head.Log"
	// HEAD is read first: a line appended after this is for a change
	// that HEAD, as read, does not hold yet.
	head, _ := h.read() // a damaged HEAD hides nothing; the history is still worth reading
	name := filepath.Join(h.dir, logFile)
	data, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, acerr.E(op, h.dir, acerr.IO, err)
	}
	out, err := parseLog(data, true)
	if err != nil {
		return nil, acerr.E(op, name, acerr.Integrity, err)
	}
	if len(out) > 0 && head.Defined() && out[0].Old.Equals(head) && !out[0].New.Equals(head) {
		out = out[1:]
	}
	return out, nil
}

// parseLog parses the complete lines of a log, newest first. A damaged
// line fails if strict, and is passed over otherwise.
func parseLog(data []byte, strict bool) ([]LogEntry, error) {
	var out []LogEntry
	for n := 1; len(data) > 0; n++ {
		line, rest, complete := bytes.Cut(data, []byte("\n"))
		data = rest
		if !complete {
			break // torn
		}
		e, err := parseLogLine(line)
		if err != nil {
			if strict {
				return nil, fmt.Errorf("line %d: %v", n, err)
			}
			continue
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
	e.Command, e.Replica = l.Command, l.Replica
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
