package progress

import (
	"io"
	"sync/atomic"
)

// Counter counts the files and bytes of long work as it goes, and the
// totals to be done where they are known. Its methods are safe for
// concurrent use, and do nothing on a nil *Counter.
type Counter struct {
	files, bytes           atomic.Int64
	totalFiles, totalBytes atomic.Int64
	final                  atomic.Bool
}

// Add counts files and bytes done.
func (c *Counter) Add(files, bytes int64) {
	if c == nil {
		return
	}
	c.files.Add(files)
	c.bytes.Add(bytes)
}

// AddTotal counts files and bytes to be done, as a pre-count finds them.
func (c *Counter) AddTotal(files, bytes int64) {
	if c == nil {
		return
	}
	c.totalFiles.Add(files)
	c.totalBytes.Add(bytes)
}

// Final says that the totals are complete.
func (c *Counter) Final() {
	if c != nil {
		c.final.Store(true)
	}
}

// Snapshot is what a Counter says at one moment.
type Snapshot struct {
	Files, Bytes           int64 // done
	TotalFiles, TotalBytes int64 // to be done, as far as counted
	Final                  bool  // whether the totals are complete
}

// Snapshot returns the counts now.
func (c *Counter) Snapshot() Snapshot {
	if c == nil {
		return Snapshot{}
	}
	final := c.final.Load() // before the totals, so that a true Final has them whole
	return Snapshot{
		Files: c.files.Load(), Bytes: c.bytes.Load(),
		TotalFiles: c.totalFiles.Load(), TotalBytes: c.totalBytes.Load(),
		Final: final,
	}
}

// Reader returns r counting the bytes read from it as bytes done in c
// (r itself if c is nil), so that progress moves inside one large file.
func Reader(r io.Reader, c *Counter) io.Reader {
	if c == nil {
		return r
	}
	return &reader{r, c}
}

type reader struct {
	r io.Reader
	c *Counter
}

func (r *reader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.c.bytes.Add(int64(n))
	return n, err
}

// Writer returns w counting the bytes written to it as bytes done in c
// (w itself if c is nil).
func Writer(w io.Writer, c *Counter) io.Writer {
	if c == nil {
		return w
	}
	return &writer{w, c}
}

type writer struct {
	w io.Writer
	c *Counter
}

func (w *writer) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	w.c.bytes.Add(int64(n))
	return n, err
}
