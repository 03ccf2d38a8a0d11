package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/archivecache/archivecache/message"
)

// TestMessageJSONRoundTripLarge takes a content message whose JSON is
// far past the 256 KiB at which ac-message from-json once cut its input
// without a word, through to-json and back: the message must come back
// byte for byte.
func TestMessageJSONRoundTripLarge(t *testing.T) {
	home := newHome(t)
	ac(t, home, nil, "ac-identity", "new", "identities/alice")
	// 320 directories of 8 small files with the same bytes: directory
	// blocks that compress well, so the message stays under its 64 KiB
	// while the JSON passes half a megabyte.
	src := filepath.Join(t.TempDir(), "share")
	for d := range 320 {
		dir := filepath.Join(src, fmt.Sprintf("d%03d", d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for f := range 8 {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("file%02d.txt", f)), []byte("same\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	ac(t, home, nil, "ac-add", src, "root/forum/share")
	ac(t, home, nil, "ac-node", "new", "node", "identities/alice")
	msg := []byte(ac(t, home, nil, "ac-message", "content", "node"))
	js := []byte(ac(t, home, msg, "ac-message", "to-json"))
	if len(js) <= 512<<10 || len(js) > message.MaxJSONInput {
		t.Fatalf("the JSON is %d bytes; the test needs more than 512 KiB and at most %d", len(js), message.MaxJSONInput)
	}
	t.Logf("a %d-byte content message, %d bytes of JSON", len(msg), len(js))
	back := []byte(ac(t, home, js, "ac-message", "from-json"))
	if !bytes.Equal(back, msg) {
		t.Fatalf("from-json gave %d bytes, not the %d-byte message to-json read", len(back), len(msg))
	}
}

// TestMessageInputLimitsStated feeds ac-message one byte more than each
// of its input limits: the error names the limit, and no cut-short input
// is ever parsed.
func TestMessageInputLimitsStated(t *testing.T) {
	home := newHome(t)
	for _, tc := range []struct {
		sub   string
		input []byte
		want  string
	}{
		{"from-json", bytes.Repeat([]byte(" "), message.MaxJSONInput+1),
			`\Aac-message: too large: input is longer than 2097152 bytes, the limit of the JSON of a message\n\z`},
		{"to-json", bytes.Repeat([]byte("A"), message.MaxInput+1),
			`\Aac-message: too large: input is longer than 262144 bytes, the limit of a message\n\z`},
	} {
		out, errOut, err := acRun(home, tc.input, "ac-message", tc.sub)
		if exitCode(err) != 1 || out != "" || !regexp.MustCompile(tc.want).MatchString(errOut) {
			t.Errorf("ac-message %s < %d bytes: exit %d, stdout %q, stderr %q; want exit 1 and stderr matching %s",
				tc.sub, len(tc.input), exitCode(err), out, errOut, tc.want)
		}
	}
	// At the limit, the input is read whole and judged by the parser.
	_, errOut, err := acRun(home, bytes.Repeat([]byte(" "), message.MaxJSONInput), "ac-message", "from-json")
	if want := `\Aac-message: invalid: JSON: [^\n]*\n\z`; exitCode(err) != 1 || !regexp.MustCompile(want).MatchString(errOut) {
		t.Errorf("from-json < %d spaces: exit %d, stderr %q; want %s", message.MaxJSONInput, exitCode(err), errOut, want)
	}
}
