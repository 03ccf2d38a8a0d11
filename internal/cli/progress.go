package cli

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/archivecache/archivecache/progress"
)

// How a command shows the progress of long work (ac-add, ac-get,
// ac-import, ac-export, ac-verify --content, ac-merge fetching blocks,
// and any other that counts into a progress.Counter):
//
//   - on a terminal, one line on stderr redrawn in place at most
//     meterRedraw apart: files and bytes done, of the totals once they
//     are counted, the rate, the percentage and the time left, e.g.
//     "ac-get: 12/40 files, 118M/300M, 41M/s, 39%, 0:04 left";
//   - with --json, wherever stderr goes, one JSON status line at most
//     meterStatus apart, restic's, then a summary line once the work is
//     done. It goes to stderr, as the error object of --json does,
//     because stdout keeps each command's result (a CAR, the changes);
//     what else the command writes to stderr meanwhile (a file skipped,
//     a wait for the lock) becomes a line {"message_type":"warning"};
//   - elsewhere, nothing.
//
// stdout is never written. A command gets a meter with startMeter and
// ends it with stop; ac-gc and any other command use the same two calls.
//
// Blocks a kubo daemon fetches from its peers are shown on a terminal
// whatever the command (ac-cat, ac-ls, ...): from the first block asked
// of the peers, a line "ac-cat: fetching from peers: 3 of 4 blocks, 1.2M,
// 400K/s" redrawn as the others are, or, while a command's own meter
// shows, the same counts at the end of its line. A command that fetches
// nothing draws nothing: the meter only reads two counters ten times a
// second until the command ends.

const (
	meterRedraw = 100 * time.Millisecond // a terminal's line
	meterStatus = time.Second            // a JSON status line
)

// meter shows a progress.Counter while a command works.
type meter struct {
	e      *Env
	c      *progress.Counter
	noun   string // what the counter's files are: "files", or ac-gc's "blocks"
	asJSON bool
	fetch  bool      // the meter of blocks fetched: drawn once a fetch is asked
	shown  int64     // of the fetch meter: the blocks asked that a command's line showed
	stderr io.Writer // the command's own, which the meter writes to
	start  time.Time

	mu     sync.Mutex // over what is written to stderr
	drawn  bool       // a line is on the terminal, not ended
	paused bool       // a prompt is on the terminal, waiting for its answer

	done chan struct{}
	wg   sync.WaitGroup
}

// jsonFlag reports whether the command was run with --json.
func jsonFlag(fs *flag.FlagSet) bool {
	f := fs.Lookup("json")
	return f != nil && f.Value.String() == "true"
}

// startMeter starts showing c as the command works: redrawn on stderr
// if it is a terminal, as JSON status lines if asJSON (the command's
// --json), else not at all; nor if c is nil, for a command that has no
// long work this time. Until stop, what the command writes to
// e.Stderr goes around the line (or, with asJSON, into a warning line).
func (e *Env) startMeter(c *progress.Counter, asJSON bool) *meter {
	return e.startMeterOf(c, "files", asJSON)
}

// startMeterOf is startMeter for work whose files are other things
// (noun): the line says "12/40 blocks"; the JSON lines keep restic's
// field names.
func (e *Env) startMeterOf(c *progress.Counter, noun string, asJSON bool) *meter {
	return e.start(&meter{e: e, c: c, noun: noun, asJSON: asJSON})
}

// start starts showing m.
func (e *Env) start(m *meter) *meter {
	c, asJSON := m.c, m.asJSON
	m.stderr, m.start, m.done = e.Stderr, time.Now(), make(chan struct{})
	if c == nil || !asJSON && !e.interactive() {
		return m
	}
	e.Stderr = meterWriter{m}
	every := meterRedraw
	if asJSON {
		every = meterStatus
	}
	m.wg.Go(func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-m.done:
				return
			case <-tick.C:
				m.show()
			}
		}
	})
	return m
}

// counter is the meter's counter while it is shown, and nil when it is
// not: what the work need not count (a walk beside it for the totals)
// it then leaves out.
func (m *meter) counter() *progress.Counter {
	if m.e.Stderr != (meterWriter{m}) {
		return nil
	}
	return m.c
}

// stop ends the meter: it shows the counts once more, ending the line
// on a terminal, and with --json, if the work succeeded, the summary.
func (m *meter) stop(ok bool) {
	if m.e.Stderr != (meterWriter{m}) {
		return // not shown, or stopped already
	}
	close(m.done)
	m.wg.Wait()
	m.e.Stderr = m.stderr
	m.show()
	if fm := m.e.fetchMeter; fm != nil && fm != m {
		// What this line showed of the fetches is not shown again.
		fm.mu.Lock()
		fm.shown = m.e.fetched.Snapshot().TotalFiles
		fm.mu.Unlock()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.drawn {
		fmt.Fprintln(m.stderr)
		m.drawn = false
	}
	if m.asJSON && ok {
		s := m.c.Snapshot()
		m.writeJSON(summaryLine{"summary", m.e.Name, s.Files, s.Bytes, seconds(time.Since(m.start))})
	}
}

// show writes the counts now: the line redrawn, or a status line.
func (m *meter) show() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.paused {
		return
	}
	s, elapsed := m.c.Snapshot(), time.Since(m.start)
	if m.fetch {
		if s.TotalFiles <= m.shown {
			return // nothing asked of the peers yet, or since a command's line showed it
		}
		fmt.Fprintf(m.stderr, "\r%s: fetching from peers: %s, %s/s\x1b[K", m.e.Name, fetchCounts(s),
			humanSize(uint64(float64(s.Bytes)/max(elapsed.Seconds(), 0.001))))
		m.drawn = true
		return
	}
	pct, left, known := estimate(s, elapsed)
	if m.asJSON {
		st := statusLine{MessageType: "status", FilesDone: s.Files, BytesDone: s.Bytes, SecondsElapsed: seconds(elapsed)}
		if known {
			st.PercentDone, st.TotalFiles, st.TotalBytes = &pct, &s.TotalFiles, &s.TotalBytes
			st.SecondsRemaining = new(seconds(left))
		}
		m.writeJSON(st)
		return
	}
	line := fmt.Sprintf("%s: %s, %s/s", m.e.Name, meterCounts(s, m.noun), humanSize(uint64(float64(s.Bytes)/max(elapsed.Seconds(), 0.001))))
	if known {
		line += fmt.Sprintf(", %.0f%%, %s left", math.Floor(pct*100), clock(left))
	}
	if f := m.e.fetched.Snapshot(); f.TotalFiles > 0 {
		line += ", fetched from peers " + fetchCounts(f)
	}
	fmt.Fprintf(m.stderr, "\r%s\x1b[K", line)
	m.drawn = true
}

// watchFetches starts, on a terminal and once, the meter of the blocks
// the kubo store fetches from its daemon's peers (e.fetched): it draws
// nothing until a block is asked of them.
func (e *Env) watchFetches() {
	if e.fetched != nil || e.noFetchLine || !e.interactive() {
		return
	}
	e.fetched = &progress.Counter{}
	e.fetchMeter = e.start(&meter{e: e, c: e.fetched, noun: "blocks", fetch: true})
}

// fetchCounts says how many of the blocks asked of the peers came, and
// their bytes: "3 of 4 blocks, 1.2M".
func fetchCounts(s progress.Snapshot) string {
	return fmt.Sprintf("%d of %d blocks, %s", s.Files, s.TotalFiles, humanSize(uint64(s.Bytes)))
}

// statusLine is a JSON status line, restic's; the totals, the fraction
// done and the time left are there once the totals are counted.
type statusLine struct {
	MessageType      string   `json:"message_type"`
	PercentDone      *float64 `json:"percent_done,omitempty"`
	TotalFiles       *int64   `json:"total_files,omitempty"`
	FilesDone        int64    `json:"files_done"`
	TotalBytes       *int64   `json:"total_bytes,omitempty"`
	BytesDone        int64    `json:"bytes_done"`
	SecondsElapsed   int64    `json:"seconds_elapsed"`
	SecondsRemaining *int64   `json:"seconds_remaining,omitempty"`
}

// summaryLine is the JSON line that ends the stream of a command that
// succeeded.
type summaryLine struct {
	MessageType    string `json:"message_type"`
	Command        string `json:"command"`
	FilesDone      int64  `json:"files_done"`
	BytesDone      int64  `json:"bytes_done"`
	SecondsElapsed int64  `json:"seconds_elapsed"`
}

// warningLine is a line the command wrote to stderr, in the JSON stream.
type warningLine struct {
	MessageType string `json:"message_type"`
	Message     string `json:"message"`
}

// meterCounts says what is done, of the totals once they are counted:
// "12/40 files, 118M/300M" (noun: "files").
func meterCounts(s progress.Snapshot, noun string) string {
	switch {
	case s.Files == 0 && s.TotalFiles == 0 && !s.Final:
		return humanSize(uint64(s.Bytes)) // bytes alone: a CAR read
	case s.Files == 0 && s.TotalFiles == 0:
		return humanSize(uint64(s.Bytes)) + "/" + humanSize(uint64(s.TotalBytes))
	case !s.Final:
		return fmt.Sprintf("%d %s, %s", s.Files, noun, humanSize(uint64(s.Bytes)))
	}
	// A pre-count that is an estimate (each place of a file, where the
	// work does each content once) never shows less than is done.
	return fmt.Sprintf("%d/%d %s, %s/%s", s.Files, max(s.TotalFiles, s.Files), noun, humanSize(uint64(s.Bytes)), humanSize(uint64(max(s.TotalBytes, s.Bytes))))
}

// estimate gives the fraction done (of the bytes, or of the files where
// there are no bytes to do) and the time left at the rate so far, once
// the totals are complete.
func estimate(s progress.Snapshot, elapsed time.Duration) (done float64, left time.Duration, known bool) {
	if !s.Final {
		return 0, 0, false
	}
	switch {
	case s.TotalBytes > 0:
		done = float64(s.Bytes) / float64(s.TotalBytes)
	case s.TotalFiles > 0:
		done = float64(s.Files) / float64(s.TotalFiles)
	default:
		done = 1
	}
	done = min(done, 1)
	if done > 0 {
		left = time.Duration(float64(elapsed) * (1 - done) / done)
	}
	return done, left, true
}

// seconds is d in whole seconds, as restic's status lines give it.
func seconds(d time.Duration) int64 { return int64(d / time.Second) }

// clock is d as a clock shows it: "0:04", "1:02:03".
func clock(d time.Duration) string {
	t := int64(d.Round(time.Second) / time.Second)
	if t >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", t/3600, t/60%60, t%60)
	}
	return fmt.Sprintf("%d:%02d", t/60, t%60)
}

func (m *meter) writeJSON(v any) {
	b, _ := json.Marshal(v)
	m.stderr.Write(append(b, '\n'))
}

// meterWriter is the command's stderr while a meter shows: a line goes
// around the meter's (which the next redraw puts back), or, with
// --json, into a warning line.
type meterWriter struct{ m *meter }

func (w meterWriter) Write(p []byte) (int, error) {
	m := w.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.asJSON {
		for line := range strings.Lines(string(p)) {
			m.writeJSON(warningLine{"warning", strings.TrimSuffix(line, "\n")})
		}
		return len(p), nil
	}
	if m.drawn {
		io.WriteString(m.stderr, "\r\x1b[K")
		m.drawn = false
	}
	if _, err := m.stderr.Write(p); err != nil {
		return 0, err
	}
	// A prompt stays until what ends its line is written.
	m.paused = !bytes.HasSuffix(p, []byte("\n"))
	return len(p), nil
}
