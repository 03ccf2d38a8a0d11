package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

func cmdCompletion() *command {
	return &command{
		usage: "ac-completion bash|zsh",
		help: `Ac-completion prints a script that makes the shell complete the ac-*
commands: their flags, their subcommands, paths in the tree database
(read with ac-ls as you type, friends' trees under nodes/ included) and,
for ac-friend rm, friends' names. Load it from the shell's start-up
file:

  bash, in ~/.bashrc:   source <(ac-completion bash)
  zsh, in ~/.zshrc:     source <(ac-completion zsh)

or save it where the shell looks (bash: /etc/bash_completion.d/ac).

example:
  ac-completion bash > ~/.local/share/bash-completion/completions/ac-ls`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			return func(ctx context.Context, args []string) error {
				if err := nargs(args, 1, 1); err != nil {
					return err
				}
				switch args[0] {
				case "bash":
					return writeCompletion(e.Stdout, false)
				case "zsh":
					return writeCompletion(e.Stdout, true)
				}
				return usagef("unknown shell %q: want bash or zsh", args[0])
			}
		},
	}
}

// subcommands are the first words some commands take.
var subcommands = map[string]string{
	"ac-friend":     "add list rm",
	"ac-identity":   "new list",
	"ac-node":       "new add",
	"ac-message":    "ref content to-json from-json",
	"ac-completion": "bash zsh",
}

// writeCompletion writes the completion script: one function for every
// command, knowing each command's flags; zsh runs it through bashcompinit.
func writeCompletion(w io.Writer, zsh bool) error {
	var b strings.Builder
	b.WriteString("# Completion for the ArchiveCache commands; made by ac-completion.\n")
	if zsh {
		b.WriteString("autoload -U +X bashcompinit && bashcompinit\n")
	}
	b.WriteString(`_ac_paths() {
	local cur=$1 dir="" IFS=$'\n'
	case $cur in */*) dir=${cur%/*} ;; esac
	local name
	for name in $(ac-ls -- "$dir" 2>/dev/null); do
		case $name in \"*) continue ;; esac
		COMPREPLY+=("${dir:+$dir/}$name")
	done
	COMPREPLY=($(compgen -W "${COMPREPLY[*]}" -- "$cur"))
	compopt -o nospace 2>/dev/null
}

_ac() {
	local cmd=${COMP_WORDS[0]##*/} cur=${COMP_WORDS[COMP_CWORD]} flags subs
	COMPREPLY=()
	case $cmd in
`)
	commands := commands()
	var names []string
	for n := range commands {
		names = append(names, "ac-"+n)
	}
	sort.Strings(names)
	for _, name := range names {
		fs := flag.NewFlagSet(name, flag.ContinueOnError)
		e := &Env{}
		fs.String("home", "", "")
		fs.String("api", "", "")
		fs.Duration("lock-timeout", 0, "")
		fs.Duration("fetch-timeout", 0, "")
		fs.Bool("version", false, "")
		commands[strings.TrimPrefix(name, "ac-")].setup(fs, e)
		var flags []string
		fs.VisitAll(func(f *flag.Flag) {
			if len(f.Name) == 1 {
				flags = append(flags, "-"+f.Name)
			} else {
				flags = append(flags, "--"+f.Name)
			}
		})
		fmt.Fprintf(&b, "\t%s) flags=%q; subs=%q ;;\n", name, strings.Join(flags, " ")+" -h", subcommands[name])
	}
	b.WriteString(`	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$flags" -- "$cur"))
		return
	fi
	if [[ -n $subs && $COMP_CWORD -eq 1 ]]; then
		COMPREPLY=($(compgen -W "$subs" -- "$cur"))
		return
	fi
	if [[ $cmd == ac-friend && ${COMP_WORDS[1]} == rm ]]; then
		local IFS=$'\n'
		COMPREPLY=($(compgen -W "$(ac-friend list 2>/dev/null | cut -f1)" -- "$cur"))
		return
	fi
	case $cmd in
	ac-add) [[ $COMP_CWORD -eq 1 ]] && { COMPREPLY=($(compgen -f -- "$cur")); return; } ;;
	ac-get) [[ $COMP_CWORD -eq 2 ]] && { COMPREPLY=($(compgen -f -- "$cur")); return; } ;;
	ac-init|ac-import|ac-merge-all|ac-status|ac-completion) return ;;
	esac
	_ac_paths "$cur"
}
`)
	fmt.Fprintf(&b, "complete -F _ac %s\n", strings.Join(names, " "))
	_, err := io.WriteString(w, b.String())
	return err
}
