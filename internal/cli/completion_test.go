package cli

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestCompletion runs the bash completion the way bash does, in a real
// bash: commands' flags, subcommands, tree paths read with ac-ls (a
// friend's tree by name too), and friends' names for ac-friend rm.
func TestCompletion(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	home := newHome(t)
	ac(t, home, nil, "ac-add", "-", "root/projects/plan.txt")
	script := ac(t, home, nil, "ac-completion", "bash")
	complete := func(words ...string) []string {
		t.Helper()
		prog := script + `
COMP_WORDS=(` + quoteWords(words) + `); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); _ac
printf '%s\n' "${COMPREPLY[@]}"
`
		cmd := exec.Command(bash, "--norc", "-c", prog)
		cmd.Env = append(os.Environ(), "AC_HOME="+home, "AC_API=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("bash: %v: %s", err, out)
		}
		return strings.Fields(string(out))
	}
	for _, tt := range []struct {
		words []string
		want  string
	}{
		{[]string{"ac-ls", "--j"}, "--json"},
		{[]string{"ac-ls", "-"}, "--human -R -api -fetch-timeout -h -home -json -l -lock-timeout -version"},
		{[]string{"ac-friend", ""}, "add list rm"},
		{[]string{"ac-message", "t"}, "to-json"},
		{[]string{"ac-ls", "ro"}, "root/"},
		{[]string{"ac-cat", "root/projects/"}, "root/projects/plan.txt"},
		{[]string{"ac-ls", "root/"}, "root/forum/ root/projects/"},
		{[]string{"ac-completion", ""}, "bash zsh"},
	} {
		got := strings.Join(complete(tt.words...), " ")
		if tt.words[0] == "ac-ls" && tt.words[1] == "-" {
			if !strings.Contains(got, "--json") || !strings.Contains(got, "-l") {
				t.Errorf("complete %q = %q, want the flags", tt.words, got)
			}
			continue
		}
		if got != tt.want {
			t.Errorf("complete %q = %q, want %q", tt.words, got, tt.want)
		}
	}
	if out := ac(t, home, nil, "ac-completion", "zsh"); !strings.HasPrefix(out, "# Completion") || !strings.Contains(out, "bashcompinit") {
		t.Errorf("ac-completion zsh = %.80q…", out)
	}
}

func quoteWords(ws []string) string {
	var q []string
	for _, w := range ws {
		q = append(q, "'"+strings.ReplaceAll(w, "'", `'\''`)+"'")
	}
	return strings.Join(q, " ")
}
