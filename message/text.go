package message

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime/quotedprintable"
	"strings"
	"unicode"
)

// The lines around an armoured message.
const (
	armorBegin = "-----BEGIN ARCHIVECACHE MESSAGE-----"
	armorEnd   = "-----END ARCHIVECACHE MESSAGE-----"
)

// DefaultWrap is the line length of base64 text unless told otherwise:
// what e-mail carries unbroken (RFC 2045's limit for base64 bodies).
const DefaultWrap = 76

// TextOptions say how EncodeText writes a message.
type TextOptions struct {
	// Wrap is the number of base64 characters a line; 0: one line.
	Wrap int
	// Armor puts the text between BEGIN and END lines, with a header
	// that names the message's kind and its sender, so that a reader
	// finds it inside the text around it (a greeting above, a signature
	// below, reply quoting, quoted-printable).
	Armor bool
}

// EncodeText returns msg (zlib bytes, as the constructors return them)
// as base64 text (standard alphabet, padded) ending in a newline, for
// text channels such as e-mail. An armoured message's header is read
// from msg, which must therefore parse; the header is for people, and a
// reader trusts nothing of it.
func EncodeText(msg []byte, o TextOptions) (string, error) {
	text := base64.StdEncoding.EncodeToString(msg)
	var b strings.Builder
	if o.Armor {
		m, err := Parse(msg)
		if err != nil {
			return "", err
		}
		from := "?"
		if m.Owner != nil {
			// One line, whatever the name holds.
			from = strings.Map(func(r rune) rune {
				if unicode.IsControl(r) {
					return '?'
				}
				return r
			}, m.Owner.Name)
		}
		fmt.Fprintf(&b, "%s\nKind: %s\nFrom: %s\n\n", armorBegin, m.Kind, from)
	}
	for o.Wrap > 0 && len(text) > o.Wrap {
		b.WriteString(text[:o.Wrap])
		b.WriteByte('\n')
		text = text[o.Wrap:]
	}
	b.WriteString(text)
	b.WriteByte('\n')
	if o.Armor {
		b.WriteString(armorEnd + "\n")
	}
	return b.String(), nil
}

// unarmor returns the base64 text of the armoured message in input, and
// whether there was one. It finds the BEGIN line anywhere (the lines
// before it and after the END line are a letter around the message),
// takes each line without its reply quoting ("> ", ">> ", "> > "), a CR
// of CRLF and trailing blanks, skips the header lines, and undoes
// quoted-printable (soft line breaks, "=3D") where a mail program
// applied it: base64 text never holds "=" but at its very end.
func unarmor(input []byte) ([]byte, bool, error) {
	i := bytes.Index(input, []byte(armorBegin))
	if i < 0 {
		return nil, false, nil
	}
	lines := bytes.Split(input[i+len(armorBegin):], []byte("\n"))
	if len(lines) > 0 {
		lines = lines[1:] // the rest of the BEGIN line
	}
	var data [][]byte
	header, end := true, false
	for _, l := range lines {
		l = bytes.TrimLeft(l, "> \t")
		l = bytes.TrimRight(l, " \t\r")
		if string(l) == armorEnd {
			end = true
			break
		}
		if header {
			if len(l) == 0 || isHeaderLine(l) {
				continue
			}
			header = false
		}
		data = append(data, l)
	}
	if !end {
		return nil, true, invalid("the message has a BEGIN line but no %s line", armorEnd)
	}
	text := bytes.Join(data, []byte("\n"))
	if quotedPrintable(data) {
		dec, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(text)))
		if err != nil {
			return nil, true, invalid("the message is quoted-printable text that does not decode (%v)", err)
		}
		text = dec
	}
	return text, true, nil
}

// isHeaderLine reports whether l reads as "Name: value".
func isHeaderLine(l []byte) bool {
	name, _, ok := bytes.Cut(l, []byte(": "))
	if !ok || len(name) == 0 {
		return false
	}
	for _, c := range name {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '-') {
			return false
		}
	}
	return true
}

// quotedPrintable reports whether the lines of base64 text went through
// quoted-printable: an "=3D" (the padding, escaped), or a line other than
// the last that ends in "=" (a soft line break).
func quotedPrintable(lines [][]byte) bool {
	for i, l := range lines {
		if bytes.Contains(l, []byte("=3D")) || i < len(lines)-1 && bytes.HasSuffix(l, []byte("=")) && len(bytes.TrimSpace(bytes.Join(lines[i+1:], nil))) > 0 {
			return true
		}
	}
	return false
}
