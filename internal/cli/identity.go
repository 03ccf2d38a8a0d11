package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/archivecache/archivecache/home"
	"github.com/ipfs/go-cid"
)

func cmdIdentity() *command {
	return &command{
		usage: "ac-identity new identities/NAME [--passphrase-file FILE]\nac-identity list [--json]",
		help: `Ac-identity new makes an ed25519 key pair and a self-signed identity
node, stores the private key in the home's keys/ directory (mode 0600,
sealed with the passphrase from --passphrase-file or $AC_PASSPHRASE if
one is given) and the identity under identities/NAME. It prints the
identity's CID, which is how others name it.

Ac-identity list shows my identities with their CIDs.

example:
  ac-identity new identities/alice
  ac-identity list --json`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			var o identityOpts
			fs.StringVar(&o.passFile, "passphrase-file", "", "read the passphrase that seals the new key from `file`")
			fs.BoolVar(&o.asJSON, "json", false, "list as JSON")
			return func(ctx context.Context, args []string) error { return runIdentity(ctx, e, o, args) }
		},
	}
}

type identityOpts struct {
	passFile string
	asJSON   bool
}

func runIdentity(ctx context.Context, e *Env, o identityOpts, args []string) error {
	if len(args) == 0 {
		return usagef("missing subcommand: new or list")
	}
	switch args[0] {
	case "new":
		if err := nargs(args[1:], 1, 1); err != nil {
			return err
		}
		pass, err := e.passphrase(o.passFile)
		if err != nil {
			return err
		}
		if len(pass) == 0 && o.passFile == "" {
			// At a terminal, offer to seal the key.
			if ask := e.prompter("passphrase to seal the new key (empty: not sealed): "); ask != nil {
				if pass, err = ask(); err != nil {
					return err
				}
				if len(pass) > 0 {
					again, err := e.prompter("the same passphrase again: ")()
					if err != nil {
						return err
					}
					if string(again) != string(pass) {
						return usagef("the two passphrases differ; nothing was made")
					}
				}
			}
		}
		return identityNew(ctx, e, args[1], pass)
	case "list":
		if err := nargs(args[1:], 0, 0); err != nil {
			return err
		}
		return identityList(ctx, e, o.asJSON)
	}
	return usagef("unknown subcommand %q: want new or list", args[0])
}

func identityNew(ctx context.Context, e *Env, arg string, pass []byte) error {
	p, err := treePath(arg)
	if err != nil {
		return err
	}
	if dir(p) != home.Identities {
		return usagef("%s: an identity lives at identities/NAME", arg)
	}
	h, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer h.Close()
	c, err := h.NewIdentity(ctx, base(p), pass, e.Name+" new "+p)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.Stdout, c)
	return nil
}

type identityRow struct {
	Name     string `json:"name"`
	Identity string `json:"identity"`
	Key      bool   `json:"private_key"`
}

func identityList(ctx context.Context, e *Env, asJSON bool) error {
	h, head, err := openHead(ctx, e)
	if err != nil {
		return err
	}
	defer h.Close()
	ents, err := h.Tree(cid.Undef).List(ctx, head, home.Identities)
	if err != nil {
		return err
	}
	rows := []identityRow{}
	for _, en := range ents {
		rows = append(rows, identityRow{Name: en.Name, Identity: en.Target.String(), Key: h.Keys.Has(en.Target)})
	}
	if asJSON {
		return writeJSON(e, rows)
	}
	for _, r := range rows {
		key := ""
		if !r.Key {
			key = "  (no private key)"
		}
		fmt.Fprintf(e.Stdout, "%s\t%s%s\n", quote(r.Name), r.Identity, key)
	}
	return nil
}

func writeJSON(e *Env, v any) error {
	enc := json.NewEncoder(e.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("writing JSON: %w", err)
	}
	return nil
}

// jsonArray writes a JSON array an element at a time, as writeJSON
// writes a slice, so that a long listing need not be held whole.
type jsonArray struct {
	w io.Writer
	n int
}

func newJSONArray(w io.Writer) *jsonArray { return &jsonArray{w: w} }

func (a *jsonArray) add(v any) error {
	b, err := json.MarshalIndent(v, "  ", "  ")
	if err != nil {
		return fmt.Errorf("writing JSON: %w", err)
	}
	sep := ",\n  "
	if a.n == 0 {
		sep = "[\n  "
	}
	a.n++
	if _, err := io.WriteString(a.w, sep); err != nil {
		return err
	}
	_, err = a.w.Write(b)
	return err
}

func (a *jsonArray) close() error {
	end := "\n]\n"
	if a.n == 0 {
		end = "[]\n"
	}
	_, err := io.WriteString(a.w, end)
	return err
}

// short abbreviates a CID for display: the last 10 characters, which
// differ between CIDs (the leading ones are the same multibase/codec
// prefix for every node).
func short(c cid.Cid) string {
	s := c.String()
	if len(s) <= 12 {
		return s
	}
	return "…" + s[len(s)-10:]
}
