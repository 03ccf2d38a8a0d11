package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/home"
	"github.com/archivecache/archivecache/message"
	"golang.org/x/term"
)

func cmdMessage() *command {
	return &command{
		usage: "ac-message ref PATH\nac-message content PATH\nac-message to-json < MESSAGE\nac-message from-json < JSON",
		help: `Ac-message makes and reads messages: zlib-compressed JSON envelopes,
small enough for e-mail as base64 (at most 64 KiB compressed).

  ref PATH       a signed reference to the node at PATH (an identity, a
                 node, an owned directory), with the owner's identity, so
                 the receiver can verify it from the message alone
  content PATH   the node and the directory blocks under it, when they fit
  to-json        the JSON inside a message, indented (signatures are not
                 checked, so a suspicious message can be inspected)
  from-json      JSON back into a message

Messages are binary. For text channels, --base64 writes them as base64
text in lines of 76 characters (--wrap N for other lengths, 0 for one
line), and --armor between BEGIN and END lines with a header naming the
kind and the sender, for e-mail: every command that reads a message
finds an armoured one inside the text around it (a greeting, a
signature, reply quoting such as "> " and ">> ", CRLF line ends,
quoted-printable), so a saved mail can be given as it is. Input is
accepted raw, as base64 or armoured. to-json reads at most 256 KiB (a
message with the text around it), from-json at most 2 MiB of JSON;
longer input is refused with the limit stated, never cut short.

example:
  ac-message ref --armor node > alice.txt     # paste into a mail
  ac-friend add < saved-mail.eml              # on the other side
  ac-message to-json < alice.txt`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			var o messageOpts
			fs.BoolVar(&o.b64, "base64", false, "write the message as base64 text")
			fs.BoolVar(&o.armor, "armor", false, "write the message as base64 text between BEGIN and END lines, for e-mail")
			fs.IntVar(&o.wrap, "wrap", message.DefaultWrap, "base64 `characters` a line with --base64 or --armor; 0: one line")
			return func(ctx context.Context, args []string) error { return runMessage(ctx, e, o, args) }
		},
	}
}

type messageOpts struct {
	b64, armor bool
	wrap       int
}

func runMessage(ctx context.Context, e *Env, o messageOpts, args []string) error {
	if len(args) == 0 {
		return usagef("missing subcommand: ref, content, to-json or from-json")
	}
	var out []byte
	var err error
	switch args[0] {
	case "ref", "content":
		if err := nargs(args[1:], 1, 1); err != nil {
			return err
		}
		out, err = messageMake(ctx, e, args[0], args[1])
	case "to-json", "from-json":
		if err := nargs(args[1:], 0, 0); err != nil {
			return err
		}
		if args[0] == "to-json" {
			in, err := readMessage(ctx, e)
			if err != nil {
				return err
			}
			js, err := message.ToJSON(in)
			if err != nil {
				return err
			}
			_, err = e.Stdout.Write(js)
			return err
		}
		in, rerr := readStdin(ctx, e, message.ReadJSON)
		if rerr != nil {
			return rerr
		}
		out, err = message.FromJSON(in)
	default:
		return usagef("unknown subcommand %q", args[0])
	}
	if err != nil {
		return err
	}
	return writeMessage(e, out, o)
}

// writeMessage writes msg to stdout as the flags ask: base64 text,
// armoured text, or the bytes, which a terminal does not get.
func writeMessage(e *Env, msg []byte, o messageOpts) error {
	if o.wrap < 0 {
		return usagef("--wrap %d: want 0 (one line) or more", o.wrap)
	}
	if o.b64 || o.armor {
		text, err := message.EncodeText(msg, message.TextOptions{Wrap: o.wrap, Armor: o.armor})
		if err != nil {
			return err
		}
		_, err = io.WriteString(e.Stdout, text)
		return err
	}
	if f, ok := e.Stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return usagef("refusing to write a binary message to a terminal: pipe it to a file, or use --base64 or --armor")
	}
	_, err := e.Stdout.Write(msg)
	return err
}

func messageMake(ctx context.Context, e *Env, kind, arg string) ([]byte, error) {
	p, err := treePath(arg)
	if err != nil {
		return nil, err
	}
	h, err := e.open(ctx)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	if p, err = friendPath(ctx, h, p); err != nil {
		return nil, err
	}
	return h.Message(ctx, home.MessageKind(kind), p)
}

// readStdin reads all of stdin with read (message.ReadInput or
// message.ReadJSON, which refuse input past their limit, saying so) and
// refuses empty input. From a terminal it first says how to end the
// input, and an interrupt stops the wait.
func readStdin(ctx context.Context, e *Env, read func(io.Reader) ([]byte, error)) ([]byte, error) {
	if f, ok := e.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(e.Stderr, "%s: reading the message from stdin; end with Ctrl-D\n", e.Name)
	}
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		data, err := read(e.Stdin)
		done <- result{data, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		// The reader stays blocked in its read; the command ends.
		return nil, ctx.Err()
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.data) == 0 {
		return nil, acerr.E("reading stdin", "", acerr.Invalid, errors.New("no message on standard input"))
	}
	return r.data, nil
}
