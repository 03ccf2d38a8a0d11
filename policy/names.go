package policy

import (
	"errors"
	"strings"
	"unicode"

	"github.com/mtibben/confusables"
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// ErrConfusable says that a name would be taken for one already shown
// for another identity.
var ErrConfusable = errors.New("names look alike")

// ConfusableNames reports whether the display names a and b could be
// taken for each other by someone reading them. They are when they agree
// after
//
//   - Unicode compatibility normalisation (NFKC: "ａｌｉｃｅ", "ﬁ",
//     mathematical letters),
//   - full case folding ("Alice", "ALICE"),
//   - removal of combining marks and default-ignorable characters
//     ("ali\u0307ce", "José", a zero-width space), with runs of white space
//     taken as one space,
//   - and the confusables skeleton of Unicode TS #39, which maps each
//     character to the prototype it looks like (Cyrillic "а" to "a", "I"
//     and "1" to "l", "m" to "rn").
//
// Folding first loses what case tells apart ("aIice" looks like "alice",
// but "aiice" does not), and folding last misses names that differ in
// case letter by letter ("ALICE"), so the names are compared both ways:
// folded and then skeletonised, and skeletonised, folded and
// skeletonised again.
//
// Names are labels: this decides only whether two of them would mislead
// a reader, never who anyone is.
func ConfusableNames(a, b string) bool {
	ka, kb := nameKeys(a), nameKeys(b)
	return ka[0] == kb[0] || ka[1] == kb[1]
}

// nameKeys returns the two forms of name that ConfusableNames compares.
func nameKeys(name string) [2]string {
	s := bare(norm.NFKC.String(name))
	return [2]string{
		bare(confusables.Skeleton(fold(s))),
		bare(confusables.Skeleton(fold(bare(confusables.Skeleton(s))))),
	}
}

func fold(s string) string { return cases.Fold().String(s) }

// bare decomposes s (NFD) and drops what does not show, or shows only on
// top of another character: combining marks (categories Mn and Me),
// default-ignorable characters (format characters, variation selectors,
// fillers) and control characters; runs of white space become one space,
// and none is left at either end.
func bare(s string) string {
	var b strings.Builder
	space := false
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case ignorable(r):
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ignorable reports whether r adds nothing a reader sees to the
// character before it.
func ignorable(r rune) bool {
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Cc,
		unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point)
}
