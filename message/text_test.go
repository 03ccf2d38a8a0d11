package message

import (
	"bytes"
	"mime/quotedprintable"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/archivecache/archivecache/acerr"
)

// TestEncodeText: base64 text wraps at the columns asked for (76 by
// default), or not at all, and reads back.
func TestEncodeText(t *testing.T) {
	f := newFixture()
	msg := f.content(t)
	for _, wrap := range []int{DefaultWrap, 64, 0} {
		text, err := EncodeText(msg, TextOptions{Wrap: wrap})
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
		for i, l := range lines {
			if wrap > 0 && (len(l) > wrap || i < len(lines)-1 && len(l) != wrap) {
				t.Errorf("wrap %d: line %d is %d characters", wrap, i, len(l))
			}
		}
		if wrap == 0 && len(lines) != 1 {
			t.Errorf("wrap 0: %d lines, want one", len(lines))
		}
		if _, err := Parse([]byte(text)); err != nil {
			t.Errorf("wrap %d: Parse of the text: %v", wrap, err)
		}
	}
}

// letter is an e-mail as a mail program writes it, around the text of
// a message.
type letter struct {
	name   string
	crlf   bool   // lines end in CRLF, as on the wire
	qp     bool   // Content-Transfer-Encoding: quoted-printable
	quote  string // reply quoting on every line of the body: "> ", ">> "
	wrap   int
	header string // a header line to put in the armour instead of the one written
}

func (l letter) eml(t *testing.T, msg []byte) []byte {
	t.Helper()
	text, err := EncodeText(msg, TextOptions{Wrap: l.wrap, Armor: true})
	if err != nil {
		t.Fatal(err)
	}
	if l.header != "" {
		text = strings.Replace(text, "From: alice", l.header, 1)
	}
	body := "Hi Bob,\n\nhere is my node, as we said. Merge it when you like.\n\n" + text + "\nSee you,\n-- \nAlice\n"
	if l.quote != "" {
		var b strings.Builder
		b.WriteString("On Monday, Alice wrote:\n")
		for _, line := range strings.SplitAfter(body, "\n") {
			if line != "" {
				b.WriteString(l.quote + line)
			}
		}
		body = "Thanks, it works.\n\n" + b.String()
	}
	encoding := "7bit"
	if l.qp {
		encoding = "quoted-printable"
		var b bytes.Buffer
		w := quotedprintable.NewWriter(&b)
		w.Write([]byte(body))
		w.Close()
		body = b.String()
	}
	mail := "From: Alice <alice@example.org>\nTo: Bob <bob@example.org>\nSubject: my node\nMIME-Version: 1.0\n" +
		"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: " + encoding + "\n\n" + body
	if l.crlf {
		mail = strings.ReplaceAll(strings.ReplaceAll(mail, "\r\n", "\n"), "\n", "\r\n")
	}
	// Written out and read back, as a saved mail would be.
	p := filepath.Join(t.TempDir(), l.name+".eml")
	if err := os.WriteFile(p, []byte(mail), 0o644); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestMessageInMail: an armoured message is found and read inside the
// mails that carry it: with a greeting above and a signature below, with
// CRLF line ends, quoted-printable (soft line breaks, the padding as
// "=3D"), quoted once or twice in a reply, and all of these at once. The
// header is for people: what it says is not what the message proves.
func TestMessageInMail(t *testing.T) {
	f := newFixture()
	msg := f.content(t)
	want, err := Parse(msg)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []letter{
		{name: "plain", wrap: DefaultWrap},
		{name: "crlf", crlf: true, wrap: DefaultWrap},
		{name: "one-line", wrap: 0},
		{name: "quoted-printable", qp: true, wrap: DefaultWrap},
		{name: "quoted-printable one line", qp: true, wrap: 0},
		{name: "reply", quote: "> ", wrap: DefaultWrap},
		{name: "reply to a reply", quote: ">> ", wrap: DefaultWrap},
		{name: "reply spaced", quote: "> > ", wrap: DefaultWrap},
		{name: "reply, quoted-printable, crlf", quote: "> ", qp: true, crlf: true, wrap: DefaultWrap},
		{name: "a lying header", header: "From: mallory", wrap: DefaultWrap},
	} {
		mail := l.eml(t, msg)
		if l.qp && !bytes.Contains(mail, []byte("=3D")) && !bytes.Contains(mail, []byte("=\r\n")) && !bytes.Contains(mail, []byte("=\n")) {
			t.Fatalf("%s: the mail is not quoted-printable at all", l.name)
		}
		got, err := Parse(mail)
		if err != nil {
			t.Errorf("%s: %v", l.name, err)
			continue
		}
		if got.NodeCID != want.NodeCID || got.Owner.Name != "alice" || len(got.Blocks) != len(want.Blocks) {
			t.Errorf("%s: read node %s from %s with %d blocks, want %s from alice with %d", l.name, got.NodeCID, got.Owner.Name, len(got.Blocks), want.NodeCID, len(want.Blocks))
		}
	}
}

// TestArmorBroken: an armour cut short, or holding what is not a
// message, is refused with one line saying so.
func TestArmorBroken(t *testing.T) {
	f := newFixture()
	text, err := EncodeText(f.content(t), TextOptions{Wrap: DefaultWrap, Armor: true})
	if err != nil {
		t.Fatal(err)
	}
	cut := text[:strings.Index(text, armorEnd)]
	_, err = Parse([]byte("Hi,\n" + cut))
	if !acerr.Is(acerr.Invalid, err) || !strings.Contains(err.Error(), "no "+armorEnd+" line") {
		t.Errorf("an armour without its END line: %v", err)
	}
	garbage := armorBegin + "\nKind: reference\n\nbm90IGEgbWVzc2FnZQ==\n" + armorEnd + "\n"
	if _, err := Parse([]byte(garbage)); !acerr.Is(acerr.Invalid, err) || strings.Contains(err.Error(), "\n") {
		t.Errorf("an armour of garbage: %v", err)
	}
}
