// Package acerr defines the one error type of ArchiveCache.
//
// Every failure that crosses a package boundary is an *Error: it names the
// operation (Op, such as "tree.Put"), the object (Path and/or CID) and a
// Kind that says what class of failure it was. Callers test the class with
// Is(kind, err) or errors.Is(err, kind) and never match on message text.
// The CLI turns kinds into exit codes in one switch, and the FUSE layer
// turns them into errnos in one table.
//
// An Error prints as one line: "op path cid: kind: cause". Nested *Errors
// do not repeat the fields their parent already printed. That line is for
// logs and tests; what a user reads is Brief: the object and the cause,
// without the operations the failure passed through, and a hint of what
// to do next where the code that failed knows one.
package acerr

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"syscall"
)

// Kind classifies an error. Kinds are stored in nothing and sent nowhere,
// but scripts may depend on the exit codes derived from them, so the list
// is append-only: do not reorder or remove items.
type Kind uint8

const (
	Other      Kind = iota // unclassified
	NotExist               // the named path, block or key does not exist
	Exist                  // it already exists
	Invalid                // malformed input: bad encoding, bad field, bad path
	Permission             // a policy forbids the change (not owner, not a friend)
	Signature              // a signature does not verify
	Integrity              // bytes do not match their CID, or a stored structure is damaged
	TooLarge               // input exceeds a size or count limit
	Stale                  // an older or replayed version, or a lost compare-and-swap
	NotDir                 // a directory was needed
	IsDir                  // a non-directory was needed
	IO                     // the operating system or a daemon failed
	NotInit                // the home was never initialised
	Locked                 // another process holds the home
)

var kindNames = [...]string{
	Other:      "error",
	NotExist:   "does not exist",
	Exist:      "already exists",
	Invalid:    "invalid",
	Permission: "permission denied",
	Signature:  "signature does not verify",
	Integrity:  "integrity check failed",
	TooLarge:   "too large",
	Stale:      "stale",
	NotDir:     "not a directory",
	IsDir:      "is a directory",
	IO:         "I/O error",
	NotInit:    "home is not initialised",
	Locked:     "home is locked",
}

var kindCodes = [...]string{
	Other:      "other",
	NotExist:   "not_exist",
	Exist:      "exist",
	Invalid:    "invalid",
	Permission: "permission",
	Signature:  "signature",
	Integrity:  "integrity",
	TooLarge:   "too_large",
	Stale:      "stale",
	NotDir:     "not_dir",
	IsDir:      "is_dir",
	IO:         "io",
	NotInit:    "not_init",
	Locked:     "locked",
}

// Code is the kind's name for programs, such as "not_exist": JSON error
// output carries it. Like the kinds, the codes never change.
func (k Kind) Code() string {
	if int(k) < len(kindCodes) {
		return kindCodes[k]
	}
	return "unknown"
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown error kind"
}

// Error makes a Kind usable as an errors.Is target: errors.Is(err, acerr.NotExist).
func (k Kind) Error() string { return k.String() }

// Error is the structured error. Zero fields are omitted when printing.
type Error struct {
	Op   string // operation, "package.Func" or a command name
	Path string // path in the tree database or on disk
	CID  string // block or node involved, in its string form
	Kind Kind
	Err  error // underlying cause, may be nil
	// Hint says what the user can do about it, such as "take their CAR
	// in with ac-import"; Brief prints it, Error does not.
	Hint string
}

// E builds an *Error. It exists so call sites read as one line:
//
//	return acerr.E("tree.Put", path, acerr.NotDir, nil)
func E(op, path string, kind Kind, err error) *Error {
	if kind == Other {
		kind = KindOf(err)
	}
	return &Error{Op: op, Path: path, Kind: kind, Err: err}
}

// WithCID sets the CID field and returns e, for chaining.
func (e *Error) WithCID(c string) *Error { e.CID = c; return e }

// WithHint sets the Hint field and returns e, for chaining.
func (e *Error) WithHint(h string) *Error { e.Hint = h; return e }

// Brief is what a user reads of err, on one line: "OBJECT: cause (hint)".
// OBJECT is the path, else the CID, that the outermost Error names: what
// the user asked about. The cause is what the innermost Errors say: the
// path (unless it is ".", OBJECT itself) and the CID they name where
// those are not OBJECT, what plain errors wrapping them add, the kind, and
// the message of the plain error they wrap (of a system call's error, its
// text alone: "no such file or directory"). The hint is the outermost
// Hint. Operation names are left out. An err that holds no *Error reads
// as err.Error().
func Brief(err error) string {
	// The Errors in err's chain, and what plain errors between them say
	// (fmt.Errorf("reading the section at %d: %w", off, err)).
	var chain []*Error
	var before, after []string
	for e := err; ; {
		var x *Error
		if !errors.As(e, &x) {
			break
		}
		if len(chain) > 0 && e != error(x) {
			s, inner := e.Error(), x.Error()
			if i := strings.Index(s, inner); i >= 0 {
				if b := strings.TrimSuffix(s[:i], ": "); b != "" {
					before = append(before, b)
				}
				if a := s[i+len(inner):]; a != "" {
					after = append([]string{a}, after...)
				}
			}
		}
		chain = append(chain, x)
		e = x.Err
	}
	if len(chain) == 0 {
		return err.Error()
	}
	object := Object(err)
	var path, id, hint string
	kind := Other
	for _, x := range chain {
		if x.Path != "" {
			path = x.Path
		}
		if x.CID != "" {
			id = x.CID
		}
		if x.Kind != Other {
			kind = x.Kind
		}
		if hint == "" {
			hint = x.Hint
		}
	}
	parts := []string{object}
	if path != "" && path != "." && path != object {
		parts = append(parts, path)
	}
	if id != "" && id != object {
		parts = append(parts, id)
	}
	parts = append(parts, before...)
	msg, sys := "", false
	if cause := chain[len(chain)-1].Err; cause != nil {
		msg, sys = plain(cause, object, path)
	}
	if kind != Other && !sys && !strings.Contains(msg, kind.String()) {
		parts = append(parts, kind.String())
	}
	if msg != "" {
		parts = append(parts, msg)
	}
	if parts[0] == "" {
		parts = parts[1:]
	}
	if len(parts) == 0 {
		parts = append(parts, kind.String())
	}
	out := strings.Join(parts, ": ") + strings.Join(after, "")
	if hint != "" {
		out += " (" + hint + ")"
	}
	return out
}

// Object is the object Brief names first: the path, else the CID, of the
// outermost Error that names one; "" if none does.
func Object(err error) string {
	var x *Error
	cid := ""
	for e := err; errors.As(e, &x); e = x.Err {
		if x.Path != "" {
			return x.Path
		}
		if cid == "" {
			cid = x.CID
		}
	}
	return cid
}

// plain renders the cause of an innermost Error, reporting whether it is
// the system's error (a system call's, or one of package fs's), whose
// text says what the kind would: the file name of a path error is
// dropped when the error names it already.
func plain(cause error, names ...string) (string, bool) {
	var pe *fs.PathError
	var le *os.LinkError
	var errno syscall.Errno
	sys := errors.As(cause, &errno)
	for _, s := range []error{fs.ErrExist, fs.ErrNotExist, fs.ErrPermission} {
		sys = sys || cause == s
	}
	switch {
	case errors.As(cause, &pe):
		for _, n := range names {
			if n != "" && n == pe.Path {
				return pe.Err.Error(), sys
			}
		}
		return pe.Path + ": " + pe.Err.Error(), sys
	case errors.As(cause, &le):
		return le.Old + ": " + le.Err.Error(), sys
	}
	return cause.Error(), sys
}

func (e *Error) Error() string {
	var b strings.Builder
	add := func(s string) {
		if s == "" {
			return
		}
		if b.Len() > 0 {
			b.WriteString(" ")
		}
		b.WriteString(s)
	}
	var inner *Error
	nested := errors.As(e.Err, &inner)
	add(e.Op)
	// A path or CID the cause names already is not printed twice.
	if !nested || inner.Path != e.Path {
		add(e.Path)
	}
	if !nested || inner.CID != e.CID {
		add(e.CID)
	}
	prefix := b.Len() > 0
	if nested {
		// Do not repeat the kind when the cause already says it.
		if prefix {
			b.WriteString(": ")
		}
		b.WriteString(e.Err.Error())
		return b.String()
	}
	if prefix {
		b.WriteString(": ")
	}
	if e.Err != nil {
		msg := e.Err.Error()
		if e.Kind != Other && !strings.Contains(msg, e.Kind.String()) {
			b.WriteString(e.Kind.String())
			b.WriteString(": ")
		}
		b.WriteString(msg)
	} else {
		b.WriteString(e.Kind.String())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is e's Kind, so errors.Is(err, acerr.Stale) works
// through any wrapping.
func (e *Error) Is(target error) bool {
	k, ok := target.(Kind)
	return ok && k == e.Kind
}

// KindOf returns the Kind of the outermost classified *Error in err's chain,
// or Other.
func KindOf(err error) Kind {
	for err != nil {
		if e, ok := err.(*Error); ok && e.Kind != Other {
			return e.Kind
		}
		if k, ok := err.(Kind); ok {
			return k
		}
		err = errors.Unwrap(err)
	}
	return Other
}

// Is reports whether err is of the given kind.
func Is(kind Kind, err error) bool { return KindOf(err) == kind }
