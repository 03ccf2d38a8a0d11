package cli

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Names come from friends' trees, so a name may hold anything but "/"
// and NUL: a newline that forges a line of output, an escape sequence
// that a terminal runs, a right-to-left override that shows a name
// backwards. Every name or path printed on line-oriented output goes
// through quote, and every error line through oneLine.

// quote returns s unchanged if it holds only printable characters and
// no '"' or '\', and otherwise s in double quotes with C escapes, as git
// quotes paths: \t \n \r \" \\ \a \b \f \v, and \ooo for each byte of
// any other control character (C0, DEL, C1), of a format character
// (category Cf, such as the bidirectional controls), of a line or
// paragraph separator, and of invalid UTF-8.
func quote(s string) string {
	if !needsQuote(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	escape(&b, s, true)
	b.WriteByte('"')
	return b.String()
}

// oneLine makes s safe to print as one line: every character quote
// would escape is escaped the same way, but '"' and '\' stay as they
// are and nothing is added around s.
func oneLine(s string) string {
	if !strings.ContainsFunc(s, unsafeRune) && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	escape(&b, s, false)
	return b.String()
}

func needsQuote(s string) bool {
	return strings.ContainsAny(s, `"\`) || strings.ContainsFunc(s, unsafeRune) || !utf8.ValidString(s)
}

// unsafeRune reports whether r must not reach a terminal as it is.
func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}

// cEscape returns the escape of its own that r has, or "".
func cEscape(r rune) string {
	switch r {
	case '\a':
		return `\a`
	case '\b':
		return `\b`
	case '\t':
		return `\t`
	case '\n':
		return `\n`
	case '\v':
		return `\v`
	case '\f':
		return `\f`
	case '\r':
		return `\r`
	}
	return ""
}

func escape(b *strings.Builder, s string, quoted bool) {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		invalid := r == utf8.RuneError && n == 1
		switch {
		case quoted && (r == '"' || r == '\\'):
			b.WriteByte('\\')
			b.WriteRune(r)
		case cEscape(r) != "":
			b.WriteString(cEscape(r))
		case invalid || unsafeRune(r):
			for _, c := range []byte(s[i : i+n]) {
				b.WriteByte('\\')
				b.WriteByte('0' + c>>6)
				b.WriteByte('0' + c>>3&7)
				b.WriteByte('0' + c&7)
			}
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
}
