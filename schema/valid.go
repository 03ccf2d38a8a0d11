package schema

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/archivecache/archivecache/acerr"
)

// The rules every entry obeys are written here once: Decode applies them
// to every entry it reads, and a writer calls ValidEntry before it
// encodes one, so that nothing written is refused when read back. Decode
// checks besides them what only an encoding can get wrong (key order,
// fields present with their zero value), and bounds counts before it
// allocates for them.

// ValidName reports whether name may name an entry.
func ValidName(name string) error {
	switch {
	case name == "":
		return errors.New("empty name")
	case name == "." || name == "..":
		return fmt.Errorf("name %q is reserved", name)
	case len(name) > MaxNameLen:
		return fmt.Errorf("name longer than %d bytes", MaxNameLen)
	case strings.ContainsAny(name, "/\x00"):
		return fmt.Errorf("name %q contains '/' or NUL", name)
	case !utf8.ValidString(name):
		return fmt.Errorf("name %q is not valid UTF-8", name)
	}
	return nil
}

// ValidIdentityName reports whether name may be an identity's display
// name. Names are labels for people to read, so besides the rules of an
// entry name (an identity is listed as identities/NAME) they may not hold
// control or formatting characters, nor start or end with a space: such
// characters make two different names look the same on a terminal.
func ValidIdentityName(name string) error {
	if err := ValidName(name); err != nil {
		return fmt.Errorf("identity %w", err)
	}
	for _, r := range name {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return fmt.Errorf("identity name %q contains a control or formatting character", name)
		}
	}
	if strings.TrimSpace(name) != name {
		return fmt.Errorf("identity name %q starts or ends with a space", name)
	}
	return nil
}

// ValidEntry reports whether e may be stored: its name, its kind, its
// target, owner and ranges, and its conflicts (at most MaxConflicts
// versions of the same name, none holding conflicts of its own, each a
// valid version, distinct and in canonical order, e the one shown: see
// FromVersions). The error, naming the entry, is an *acerr.Error without
// op or path, of kind acerr.TooLarge when a count passes its limit
// (MaxReplicas, MaxConflicts), acerr.Invalid otherwise.
func ValidEntry(e *Entry) error {
	err := validVersion(e)
	for i := range e.Conflicts {
		if err != nil {
			break
		}
		if err = validVersion(&e.Conflicts[i]); err != nil {
			err = fmt.Errorf("entry %q: conflict %d: %w", e.Name, i, err)
		}
	}
	if err == nil {
		err = validConflicts(e)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, acerr.TooLarge):
		return acerr.E("", "", acerr.TooLarge, err)
	}
	return acerr.E("", "", acerr.Invalid, err)
}

// validVersion checks one version of a name, its Conflicts aside.
func validVersion(e *Entry) error {
	if err := ValidName(e.Name); err != nil {
		return err
	}
	switch e.Kind {
	case KindDirectory, KindFile, KindIdentity, KindNode:
	default:
		return fmt.Errorf("entry %q has unknown kind %q", e.Name, e.Kind)
	}
	switch {
	case !e.Deleted && !e.Target.Defined():
		return fmt.Errorf("entry %q: a live entry needs a target", e.Name)
	case e.Deleted && e.Target.Defined() && e.Kind != KindDirectory:
		return fmt.Errorf("entry %q: only a deleted directory may keep a target", e.Name)
	case e.Owner.Defined() && (e.Kind != KindDirectory || !e.Target.Defined()):
		return fmt.Errorf("entry %q: only a directory that links an owned version has an owner", e.Name)
	case e.Size > MaxUint:
		return fmt.Errorf("entry %q: size %d is over %d", e.Name, e.Size, uint64(MaxUint))
	case e.Mode > MaxMode:
		return fmt.Errorf("entry %q: mode %#o is over %#o", e.Name, e.Mode, MaxMode)
	case len(e.VV) > MaxReplicas:
		return fmt.Errorf("entry %q: version vector has more than %d replicas: %w", e.Name, MaxReplicas, acerr.TooLarge)
	}
	for r := range e.VV {
		if r == "" || len(r) > MaxReplicaLen {
			return fmt.Errorf("entry %q: version vector has a replica id %q, want 1..%d bytes", e.Name, r, MaxReplicaLen)
		}
	}
	return nil
}

// validConflicts checks e's Conflicts as a list: the other versions of
// its name, in canonical order, each distinct, none holding conflicts,
// and e the version shown (see FromVersions).
func validConflicts(e *Entry) error {
	if len(e.Conflicts) == 0 {
		return nil
	}
	if len(e.Conflicts) > MaxConflicts {
		return fmt.Errorf("entry %q: more than %d conflicting versions: %w", e.Name, MaxConflicts, acerr.TooLarge)
	}
	var prev []byte
	for i := range e.Conflicts {
		c := &e.Conflicts[i]
		switch {
		case c.Name != e.Name:
			return fmt.Errorf("entry %q: conflict %d is named %q", e.Name, i, c.Name)
		case len(c.Conflicts) > 0:
			return fmt.Errorf("entry %q: conflict %d holds conflicts of its own", e.Name, i)
		}
		enc := EncodeEntry(c)
		if prev != nil && bytes.Compare(prev, enc) >= 0 {
			return fmt.Errorf("entry %q: conflicts not in ascending order", e.Name)
		}
		prev = enc
	}
	if shownIndex(e.Versions()) != 0 {
		return fmt.Errorf("entry %q: a conflicting version should be the one shown", e.Name)
	}
	return nil
}
