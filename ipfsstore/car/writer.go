package car

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

const writeOp = "car.Write"

// Writer writes a CAR v1 stream: the header, then one section per Put.
// Output is buffered: call Flush at the end. It is not safe for
// concurrent use.
type Writer struct {
	bw  *bufio.Writer
	err error // sticky
	n   int64
}

// NewWriter writes the header naming roots to w and returns a Writer for
// the blocks. There must be at least one root, and every CID must be one
// a Reader accepts (CIDv0, or CIDv1 with a sha2-256 or identity hash);
// otherwise the error is of kind Invalid and nothing is written.
func NewWriter(w io.Writer, roots []cid.Cid) (*Writer, error) {
	if len(roots) == 0 {
		return nil, acerr.E(writeOp, "", acerr.Invalid, errors.New("a CAR needs at least one root"))
	}
	for _, c := range roots {
		if err := checkCID(c); err != nil {
			return nil, acerr.E(writeOp, "", acerr.Invalid, fmt.Errorf("root: %w", err))
		}
	}
	hdr := appendHeader(nil, roots)
	if len(hdr) > MaxHeaderSize {
		return nil, acerr.E(writeOp, "", acerr.TooLarge, fmt.Errorf("header of %d roots is %d bytes, limit %d", len(roots), len(hdr), MaxHeaderSize))
	}
	cw := &Writer{bw: bufio.NewWriterSize(w, 64<<10)}
	cw.write(binary.AppendUvarint(nil, uint64(len(hdr))), hdr)
	if cw.err != nil {
		return nil, cw.err
	}
	return cw, nil
}

// Put writes block c. It does not hash data: its callers pass blocks that
// a Store has already checked. A CID the Reader would refuse, or data over
// schema.MaxBlockSize, is refused (kinds Invalid and TooLarge) without writing
// anything; a failure of the underlying writer is of kind IO and sticks.
func (w *Writer) Put(c cid.Cid, data []byte) error {
	if w.err != nil {
		return w.err
	}
	if err := checkCID(c); err != nil {
		return acerr.E(writeOp, "", acerr.Invalid, err)
	}
	if len(data) > schema.MaxBlockSize {
		return acerr.E(writeOp, "", acerr.TooLarge, fmt.Errorf("block is %d bytes, limit %d", len(data), schema.MaxBlockSize)).WithCID(c.String())
	}
	cb := c.Bytes()
	var lenBuf [binary.MaxVarintLen64]byte
	w.write(binary.AppendUvarint(lenBuf[:0], uint64(len(cb)+len(data))), cb, data)
	return w.err
}

// Flush writes out what is buffered.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if err := w.bw.Flush(); err != nil {
		w.err = acerr.E(writeOp, "", acerr.IO, err)
	}
	return w.err
}

// Size returns the number of bytes written so far, flushed or not.
func (w *Writer) Size() int64 { return w.n }

func (w *Writer) write(parts ...[]byte) {
	for _, p := range parts {
		if w.err != nil {
			return
		}
		k, err := w.bw.Write(p)
		w.n += int64(k)
		if err != nil {
			w.err = acerr.E(writeOp, "", acerr.IO, err)
		}
	}
}
