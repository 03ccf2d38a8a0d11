package tree

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

// conflictMarker separates a name's stem from the rest of a conflict
// copy's name.
const conflictMarker = ".conflict-"

// shortIDLen is the length of the id in a conflict copy's name.
const shortIDLen = 7

var lowerBase32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// ConflictName returns the name under which v, a version of the entry
// named name kept among its Conflicts, is shown:
// NAME.conflict-<date>-<id>.EXT, with date v's Mtime in UTC as
// YYYYMMDD-HHMMSS, id the first 7 characters of the base32 sha2-256 of v's
// encoding, and EXT name's extension (a leading dot does not start one).
// The stem is shortened when the result would pass schema.MaxNameLen.
//
// Where that name is taken, by an entry stored under it or by another
// copy of the same entry whose id begins alike, the copy is shown under
// the first free of NAME.conflict-<date>-<id>-2.EXT, -3, ... instead
// (see viewNames), so that no two names of a listing are the same.
func ConflictName(name string, v *schema.Entry) string { return conflictName(name, v, 0) }

// conflictName is ConflictName with the counter n (0: none) after the id.
func conflictName(name string, v *schema.Entry, n int) string {
	ext := path.Ext(name)
	if ext == name || strings.HasPrefix(name, ".") && strings.Count(name, ".") == 1 {
		ext = ""
	}
	stem := strings.TrimSuffix(name, ext)
	sum := sha256.Sum256(schema.EncodeEntry(v))
	id := lowerBase32.EncodeToString(sum[:])[:shortIDLen]
	rest := conflictMarker + time.Unix(0, v.Mtime).UTC().Format("20060102-150405") + "-" + id
	if n > 0 {
		rest += "-" + strconv.Itoa(n)
	}
	rest += ext
	if over := len(stem) + len(rest) - schema.MaxNameLen; over > 0 {
		cut := len(stem) - over
		for cut > 0 && !utf8Start(stem[cut]) {
			cut--
		}
		stem = stem[:max(cut, 0)]
	}
	return stem + rest
}

func utf8Start(b byte) bool { return b&0xc0 != 0x80 }

// visible returns the entries of a directory (all of them) as a listing
// shows them, sorted by name: each live entry under its name, and each of
// its Conflicts that is shown (see shownConflicts) under its name from
// viewNames. Tombstones are left out.
func visible(entries []schema.Entry) []schema.Entry {
	var names map[string]bool
	taken := func(name string) (bool, error) {
		if names == nil {
			names = make(map[string]bool, len(entries))
			for i := range entries {
				names[entries[i].Name] = true
			}
		}
		return names[name], nil
	}
	out, _ := visibleWith(entries, taken)
	return out
}

// visibleIn returns what the entry e (nil: none) of the directory at dir
// shows in a listing, as visible does, looking up in dir the names its
// copies would take.
func (t *Tree) visibleIn(ctx context.Context, dir cid.Cid, e *schema.Entry) ([]schema.Entry, error) {
	if e == nil {
		return nil, nil
	}
	return visibleWith([]schema.Entry{*e}, t.takenIn(ctx, dir))
}

// takenIn reports whether the directory at dir stores an entry (live or
// a tombstone) of a name.
func (t *Tree) takenIn(ctx context.Context, dir cid.Cid) func(string) (bool, error) {
	return func(name string) (bool, error) {
		e, err := t.lookupIn(ctx, dir, name)
		return e != nil, err
	}
}

func visibleWith(entries []schema.Entry, taken func(string) (bool, error)) ([]schema.Entry, error) {
	out := make([]schema.Entry, 0, len(entries))
	v := viewer{taken: taken, emit: func(e schema.Entry) error { out = append(out, e); return nil }}
	for i := range entries {
		if err := v.add(&entries[i]); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(out, func(a, b schema.Entry) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// A viewer turns a directory's stored entries, fed in name order, into
// what a listing shows, as they come: tombstones left out, each live
// entry followed by its live conflicting versions under their view
// names. (A copy's name can sort before its original's, NAME.conflict-…
// before NAME.txt, by any number of names: a stream that is to hold one
// path of the tree cannot sort them in.)
type viewer struct {
	taken func(string) (bool, error)
	emit  func(schema.Entry) error
}

func (v *viewer) add(e *schema.Entry) error {
	if e.Deleted {
		return nil
	}
	bare := *e
	bare.Conflicts = nil
	if err := v.emit(bare); err != nil {
		return err
	}
	shown := shownConflicts(e)
	if len(shown) == 0 {
		return nil
	}
	names, err := viewNames(e, shown, v.taken)
	if err != nil {
		return err
	}
	for i, c := range shown {
		cv := *c
		cv.Name = names[i]
		if err := v.emit(cv); err != nil {
			return err
		}
	}
	return nil
}

// viewNames returns the names under which shown, the shown conflicts of
// e, appear: each its ConflictName, unless taken (a stored entry of the
// directory has it) or given to an earlier copy; then the first free
// name with a counter. Names of different entries' copies cannot meet:
// the base name is what remains of a copy's name when the marker, date,
// id and counter are cut out, and those have fixed forms.
func viewNames(e *schema.Entry, shown []*schema.Entry, taken func(string) (bool, error)) ([]string, error) {
	out := make([]string, len(shown))
	for i, c := range shown {
		for n := 0; ; n++ {
			if n == 1 {
				continue // the counters start at 2: the name without is the first
			}
			name := conflictName(e.Name, c, n)
			if slices.Contains(out[:i], name) {
				continue
			}
			held, err := taken(name)
			if err != nil {
				return nil, err
			}
			if !held {
				out[i] = name
				break
			}
		}
	}
	return out, nil
}

// shownConflicts returns the conflicts of e that are shown as copies:
// live, superseded by no other version, and with a kind and target that
// neither e nor an earlier copy shows (versions of one shared directory
// all link the same merged contents, and two replicas may write the same
// bytes).
func shownConflicts(e *schema.Entry) []*schema.Entry {
	if e.Deleted || len(e.Conflicts) == 0 {
		return nil
	}
	vs := e.Versions()
	var out []*schema.Entry
	for i := 1; i < len(vs); i++ {
		c := &e.Conflicts[i-1]
		if c.Deleted || schema.Superseded(vs, i) || sameContent(c, e) {
			continue
		}
		if slices.ContainsFunc(out, func(o *schema.Entry) bool { return sameContent(o, c) }) {
			continue
		}
		out = append(out, c)
	}
	return out
}

func sameContent(a, b *schema.Entry) bool {
	return a.Kind == b.Kind && a.Target.Equals(b.Target)
}

// mayBeConflictName reports whether name has the form of a conflict
// copy's name.
func mayBeConflictName(name string) bool { return strings.Contains(name, conflictMarker) }

// conflictIn finds the live conflict version shown as name in the
// directory at dir: the entry it belongs to, and the version (with its
// stored name). ok is false if there is none; a stored entry of that
// name always comes first, so callers look that up before.
func (t *Tree) conflictIn(ctx context.Context, dir cid.Cid, name string) (base *schema.Entry, v *schema.Entry, err error) {
	if !mayBeConflictName(name) {
		return nil, nil, nil
	}
	i := strings.LastIndex(name, conflictMarker)
	stem, rest := name[:i], name[i+len(conflictMarker):]
	// rest is <date>-<time>-<id>[-<counter>][EXT]; the base name is
	// stem + EXT.
	const fixed = len("20060102-150405-") + shortIDLen
	if len(rest) < fixed {
		return nil, nil, nil
	}
	ext := rest[fixed:]
	if c, ok := strings.CutPrefix(ext, "-"); ok {
		digits := len(c) - len(strings.TrimLeft(c, "0123456789"))
		if digits == 0 {
			return nil, nil, nil
		}
		ext = c[digits:]
	}
	baseName := stem + ext
	if schema.ValidName(baseName) != nil {
		return nil, nil, nil
	}
	e, err := t.lookupIn(ctx, dir, baseName)
	if err != nil || e == nil {
		return nil, nil, err
	}
	shown := shownConflicts(e)
	names, err := viewNames(e, shown, t.takenIn(ctx, dir))
	if err != nil {
		return nil, nil, err
	}
	for i, c := range shown {
		if names[i] == name {
			return e, c, nil
		}
	}
	// A stem shortened to fit MaxNameLen does not give the base name
	// back: such a copy is listed, but cannot be looked up by its name.
	return nil, nil, nil
}

// frozenCopies returns the entries that keep the conflict copies of old
// (an entry of the directory at dir) that ne, a change to old,
// supersedes: each shown copy but skip becomes an entry of its own under
// its ConflictName, unless that name already holds it.
func (t *Tree) frozenCopies(ctx context.Context, dir cid.Cid, old, ne, skip *schema.Entry) ([]schema.Entry, error) {
	if old == nil {
		return nil, nil
	}
	shown := shownConflicts(old)
	if len(shown) == 0 {
		return nil, nil
	}
	names, err := viewNames(old, shown, t.takenIn(ctx, dir))
	if err != nil {
		return nil, err
	}
	var out []schema.Entry
	for i, c := range shown {
		if skip != nil && schema.SameEntry(c, skip) || !schema.Supersedes(ne, c) {
			continue
		}
		name := names[i]
		held, err := t.lookupIn(ctx, dir, name)
		if err != nil {
			return nil, err
		}
		if held != nil && !held.Deleted && sameContent(held, c) {
			continue
		}
		e := *c
		e.Name, e.VV, e.Conflicts = name, t.bump(held), nil
		out = append(out, e)
	}
	return out, nil
}

// changedEntry returns the entry after ne, a change to old: ne, beside the
// versions of old it does not supersede (owned directories of others).
func changedEntry(old *schema.Entry, ne schema.Entry) schema.Entry {
	ne.Conflicts = nil
	if old == nil {
		return ne
	}
	vs := []schema.Entry{ne}
	for _, v := range old.Versions() {
		if !schema.Supersedes(&ne, &v) {
			vs = append(vs, v)
		}
	}
	if len(vs) == 1 {
		return ne
	}
	return schema.FromVersions(vs)
}

// errConflictCopy refuses a change inside or to a conflict copy other than
// deleting it.
func errConflictCopy(name string) *acerr.Error {
	return fail(acerr.Permission, "%s is a conflict copy: delete it, or copy it to a name of its own", name)
}

// ConflictCopies calls fn, depth first, with the path of every conflict
// copy that a listing shows in the directory at path or below it: the
// concurrent versions a merge kept beside a name, each under a name of
// its own, until a change resolves them.
func (t *Tree) ConflictCopies(ctx context.Context, root cid.Cid, path string, fn func(path string) error) error {
	dir, err := t.Lookup(ctx, root, path)
	if err != nil {
		return err
	}
	in := func(p string, e schema.Entry) error {
		if e.Kind != schema.KindDirectory {
			return nil
		}
		raw, err := t.readDir(ctx, e.Target)
		if err != nil {
			return wrap("tree.ConflictCopies", p, err)
		}
		names := make(map[string]bool, len(raw))
		for i := range raw {
			names[raw[i].Name] = true
		}
		for _, s := range visible(raw) {
			if !names[s.Name] {
				if err := fn(JoinPath(p, s.Name)); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := in(path, dir); err != nil {
		return err
	}
	return t.Walk(ctx, root, path, in)
}
