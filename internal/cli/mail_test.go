package cli

import (
	"bytes"
	"mime/quotedprintable"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMessagesByMail: alice mails bob her identity and her node as
// armoured messages; bob saves the mails as they came (her identity
// quoted in his reply and quoted-printable, her node with CRLF line
// ends) and gives the files to ac-friend add and ac-node add as they are.
func TestMessagesByMail(t *testing.T) {
	alice, bob := newHome(t), newHome(t)
	ac(t, alice, nil, "ac-identity", "new", "identities/alice")
	ac(t, alice, nil, "ac-node", "new", "node", "identities/alice")
	id := ac(t, alice, nil, "ac-message", "ref", "--armor", "identities/alice")
	node := ac(t, alice, nil, "ac-message", "ref", "--armor", "node")

	// The identity, quoted in a reply, and the whole mail quoted-printable.
	var reply strings.Builder
	reply.WriteString("Got it, thanks!\n\nOn Tuesday, Alice wrote:\n")
	for _, l := range strings.SplitAfter("Hi Bob,\n\nthis is me:\n\n"+id+"\nAlice\n", "\n") {
		if l != "" {
			reply.WriteString("> " + l)
		}
	}
	var qp bytes.Buffer
	w := quotedprintable.NewWriter(&qp)
	w.Write([]byte(reply.String()))
	w.Close()
	mail1 := "From: Bob <bob@example.org>\nSubject: Re: me\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n" + qp.String()
	// The node, in a mail saved with CRLF line ends.
	mail2 := strings.ReplaceAll("From: Alice <alice@example.org>\nSubject: my node\n\nHi Bob, my node:\n\n"+node+"\n-- \nAlice\n", "\n", "\r\n")

	dir := t.TempDir()
	read := func(name, mail string) []byte {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(mail), 0o644); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	if out := ac(t, bob, read("reply.eml", mail1), "ac-friend", "add"); !strings.HasPrefix(out, "added friend alice (") {
		t.Errorf("ac-friend add < reply.eml = %q", out)
	}
	if out := ac(t, bob, read("node.eml", mail2), "ac-node", "add"); !strings.Contains(out, ": alice seq 1 root ") {
		t.Errorf("ac-node add < node.eml = %q", out)
	}
}
