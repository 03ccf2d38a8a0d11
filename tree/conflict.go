package tree

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"path"
	"slices"
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
func ConflictName(name string, v *schema.Entry) string {
	ext := path.Ext(name)
	if ext == name || strings.HasPrefix(name, ".") && strings.Count(name, ".") == 1 {
		ext = ""
	}
	stem := strings.TrimSuffix(name, ext)
	sum := sha256.Sum256(schema.EncodeEntry(v))
	id := lowerBase32.EncodeToString(sum[:])[:shortIDLen]
	rest := conflictMarker + time.Unix(0, v.Mtime).UTC().Format("20060102-150405") + "-" + id + ext
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

// visible returns the entries of a directory as a listing shows them,
// sorted by name: each live entry under its name, and each of its
// Conflicts that is shown (see shownConflicts) under its ConflictName.
// Tombstones are left out.
func visible(entries []schema.Entry) []schema.Entry {
	out := make([]schema.Entry, 0, len(entries))
	sorted := true
	for _, e := range entries {
		if e.Deleted {
			continue
		}
		bare := e
		bare.Conflicts = nil
		out = append(out, bare)
		for _, c := range shownConflicts(&e) {
			v := *c
			v.Name = ConflictName(e.Name, c)
			out = append(out, v)
			sorted = false
		}
	}
	if !sorted {
		slices.SortFunc(out, func(a, b schema.Entry) int { return strings.Compare(a.Name, b.Name) })
	}
	return out
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
	// rest is <date>-<time>-<id>[EXT]; the base name is stem + EXT.
	const fixed = len("20060102-150405-") + shortIDLen
	if len(rest) < fixed {
		return nil, nil, nil
	}
	baseName := stem + rest[fixed:]
	if schema.ValidName(baseName) != nil {
		return nil, nil, nil
	}
	e, err := t.lookupIn(ctx, dir, baseName)
	if err != nil || e == nil {
		return nil, nil, err
	}
	for _, c := range shownConflicts(e) {
		if ConflictName(e.Name, c) == name {
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
	var out []schema.Entry
	for _, c := range shownConflicts(old) {
		if skip != nil && schema.SameEntry(c, skip) || !schema.Supersedes(ne, c) {
			continue
		}
		name := ConflictName(old.Name, c)
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

// changed returns the entry after ne, a change to old: ne, beside the
// versions of old it does not supersede (owned directories of others).
func changed(old *schema.Entry, ne schema.Entry) schema.Entry {
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
