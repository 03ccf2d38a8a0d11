package policy

import "testing"

var confusableTests = []struct {
	a, b string
	want bool
}{
	// The same name, and case.
	{"alice", "alice", true},
	{"alice", "Alice", true},
	{"alice", "ALICE", true},
	{"Straße", "STRASSE", true},
	{"İlse", "ilse", true},
	// Compatibility forms.
	{"alice", "ａｌｉｃｅ", true},
	{"alice", "𝒶𝓁𝒾𝒸𝑒", true},
	{"fire", "ﬁre", true},
	// Combining marks and default-ignorable characters.
	{"alice", "ali\u0307ce", true},
	{"alice", "a\u0301lice", true},
	{"José", "Jose", true},
	{"alice", "al\u200bice", true},
	{"alice", "ali\u00adce", true},
	{"alice", "alice\ufe0f", true},
	{"alice", "a\u115flice", true},
	{"bob smith", "bob  smith", true},
	{"bob smith", "bob\u00a0smith", true},
	// Look-alikes from other scripts, and within one (TS #39).
	{"alice", "\u0430lice", true},                // Cyrillic а
	{"alice", "\u0430l\u0456\u0441\u0435", true}, // Cyrillic а і с е
	{"alice", "aIice", true},                     // capital I for l
	{"alice", "AIice", true},
	{"alice", "a1ice", true},
	{"paypal", "𝔭𝒶ỿ𝕡𝕒ℓ", true},
	{"mallory", "rnallory", true},
	{"ΑΛΙΚΗ", "αλικη", true},
	// Names that differ.
	{"alice", "alicia", false},
	{"bob", "rob", false},
	{"alice", "bob", false},
	{"alice", "malice", false},
	{"alice", "al ice", false},
	{"anna", "anne", false},
	{"carol", "karol", false},
	{"李", "季", false},
}

func TestConfusableNames(t *testing.T) {
	for _, tt := range confusableTests {
		if got := ConfusableNames(tt.a, tt.b); got != tt.want {
			t.Errorf("ConfusableNames(%q, %q) = %v, want %v (keys %q, %q)", tt.a, tt.b, got, tt.want, nameKeys(tt.a), nameKeys(tt.b))
		}
		if got := ConfusableNames(tt.b, tt.a); got != tt.want {
			t.Errorf("ConfusableNames(%q, %q) = %v, want %v", tt.b, tt.a, got, tt.want)
		}
	}
}
