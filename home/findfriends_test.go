package home

import (
	"strings"
	"testing"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/schema"
)

// TestFindFriends: a friend is named by CID, name, alias, or a part of
// the CID no other friend's has there (its start, or its end after "…"
// or "..."); a name two friends share names both, and oneFriend then
// lists them.
func TestFindFriends(t *testing.T) {
	id := func(s string) Friend {
		c := schema.Sum([]byte(s))
		return Friend{Name: s, ID: c}
	}
	alice, bob, bob2 := id("alice"), id("bob"), id("bob")
	bob2.ID = schema.Sum([]byte("the other bob"))
	bob2.Alias = "bob2"
	fs := []Friend{alice, bob, bob2}
	a := alice.ID.String()
	names := func(m []Friend) (out []string) {
		for _, f := range m {
			out = append(out, f.ID.String())
		}
		return out
	}
	for _, tt := range []struct {
		who  string
		want []Friend
	}{
		{"alice", []Friend{alice}},
		{a, []Friend{alice}},
		{"…" + a[len(a)-10:], []Friend{alice}},
		{"..." + a[len(a)-6:], []Friend{alice}},
		{a[:14], []Friend{alice}},
		{"bob2", []Friend{bob2}},
		{"bob", []Friend{bob, bob2}},
		{"bafyrei", []Friend{alice, bob, bob2}}, // every CID starts so
		{"baf", nil},                            // too short to be a part
		{"…", nil},
		{"carol", nil},
	} {
		got := FindFriends(fs, tt.who)
		if strings.Join(names(got), " ") != strings.Join(names(tt.want), " ") {
			t.Errorf("FindFriends(%q) = %v, want %v", tt.who, names(got), names(tt.want))
		}
	}
	_, err := oneFriend(fs, "bob")
	if !acerr.Is(acerr.Invalid, err) || !strings.Contains(err.Error(), `"bob" known as "bob2"`) || !strings.Contains(err.Error(), "2 friends match") {
		t.Errorf("oneFriend(bob) = %v, want both bobs listed", err)
	}
	if _, err := oneFriend(fs, "carol"); !acerr.Is(acerr.NotExist, err) {
		t.Errorf("oneFriend(carol) = %v, want NotExist", err)
	}
}
