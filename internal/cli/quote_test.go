package cli

import "testing"

var quoteTests = []struct {
	in, quoted, line string
}{
	{"plain.txt", "plain.txt", "plain.txt"},
	{"with space", "with space", "with space"},
	{"émoji 😀 ok", "émoji 😀 ok", "émoji 😀 ok"},
	{"\ufffd is a character", "\ufffd is a character", "\ufffd is a character"},
	{`back\slash`, `"back\\slash"`, `back\slash`},
	{`say "hi"`, `"say \"hi\""`, `say "hi"`},
	{"new\nline", `"new\nline"`, `new\nline`},
	{"tab\there", `"tab\there"`, `tab\there`},
	{"\a\b\f\v\r", `"\a\b\f\v\r"`, `\a\b\f\v\r`},
	{"red\x1b[31mtext", `"red\033[31mtext"`, `red\033[31mtext`},
	{"del\x7f", `"del\177"`, `del\177`},
	{"nul\x00", `"nul\000"`, `nul\000`},
	{"c1\u0085next", `"c1\302\205next"`, `c1\302\205next`},
	{"\u202eevil.exe", `"\342\200\256evil.exe"`, `\342\200\256evil.exe`},
	{"zero\u200bwidth", `"zero\342\200\213width"`, `zero\342\200\213width`},
	{"line\u2028sep", `"line\342\200\250sep"`, `line\342\200\250sep`},
	{"para\u2029sep", `"para\342\200\251sep"`, `para\342\200\251sep`},
	{"bad\xffutf8\xc3", `"bad\377utf8\303"`, `bad\377utf8\303`},
}

func TestQuote(t *testing.T) {
	for _, tt := range quoteTests {
		if got := quote(tt.in); got != tt.quoted {
			t.Errorf("quote(%q) = %s, want %s", tt.in, got, tt.quoted)
		}
		if got := oneLine(tt.in); got != tt.line {
			t.Errorf("oneLine(%q) = %s, want %s", tt.in, got, tt.line)
		}
	}
}
