package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/home"
	"github.com/archivecache/archivecache/message"
	"github.com/archivecache/archivecache/schema"
)

// addrList is a repeatable --addr flag.
type addrList []string

func (a *addrList) String() string     { return strings.Join(*a, ",") }
func (a *addrList) Set(s string) error { *a = append(*a, s); return nil }

func cmdNode() *command {
	return &command{
		usage: "ac-node new PATH identities/NAME [--addr HOST:PORT]...\nac-node add < MESSAGE",
		help: `Ac-node new publishes my node at PATH (usually "node"): a signed record
that links the current root/, signed by the identity identities/NAME,
with a seq one higher than the node it replaces. --addr records
addresses where friends can reach me; they travel with the node.
Publish again after changing root/.

Ac-node add reads a friend's node reference message (raw, base64 or
armoured, a saved mail too) on stdin and stores it at
nodes/<identity-cid>. It is accepted only if it is signed by a friend
and newer than the one held: an older or replayed reference is refused,
and nothing changes.

example:
  ac-node new node identities/alice --addr 127.0.0.1:7070
  ac-message ref --armor node > alice.ref   # send this to friends
  ac-node add < alice.ref                    # on the friend's side`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			var o nodeOpts
			fs.Var(&o.addrs, "addr", "an address `HOST:PORT` where friends can reach me (repeatable)")
			fs.StringVar(&o.passFile, "passphrase-file", "", "read the passphrase of a sealed key from `file`")
			return func(ctx context.Context, args []string) error { return runNode(ctx, e, o, args) }
		},
	}
}

type nodeOpts struct {
	addrs    addrList
	passFile string
}

func runNode(ctx context.Context, e *Env, o nodeOpts, args []string) error {
	if len(args) == 0 {
		return usagef("missing subcommand: new or add")
	}
	switch args[0] {
	case "new":
		if err := nargs(args[1:], 2, 2); err != nil {
			return err
		}
		return nodeNew(ctx, e, args[1], args[2], o.addrs, o.passFile)
	case "add":
		if err := nargs(args[1:], 0, 0); err != nil {
			return err
		}
		return nodeAdd(ctx, e)
	}
	return usagef("unknown subcommand %q: want new or add", args[0])
}

func nodeNew(ctx context.Context, e *Env, nodeArg, idArg string, addrs []string, passFile string) error {
	p, err := treePath(nodeArg)
	if err != nil {
		return err
	}
	idPath, err := treePath(idArg)
	if err != nil {
		return err
	}
	if err := home.NodePath(p); err != nil {
		if p == "" {
			return usagef("%q: %v", nodeArg, err)
		}
		return usagef("%s: %v", nodeArg, err)
	}
	h, err := e.openSigning(ctx, passFile)
	if err != nil {
		return err
	}
	defer h.Close()
	r, err := h.Publish(ctx, p, idPath, addrs, e.Name+" new "+p)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "%s seq %d root %s\n", r.CID, r.Node.Seq, r.Node.Root)
	return nil
}

// readMessage reads a message from stdin: at most message.MaxInput
// bytes, and longer input is refused with the limit stated.
func readMessage(ctx context.Context, e *Env) ([]byte, error) {
	return readStdin(ctx, e, message.ReadInput)
}

// readParsed reads a message from stdin and verifies it.
func readParsed(ctx context.Context, e *Env) (*message.Message, error) {
	data, err := readMessage(ctx, e)
	if err != nil {
		return nil, err
	}
	msg, err := message.Parse(data)
	if err != nil {
		// The message on stdin is what the user handed over.
		return nil, acerr.E("", "message", acerr.KindOf(err), err)
	}
	return msg, nil
}

// sender is the name a message's signer gives itself, for the log.
func sender(msg *message.Message) string {
	if id, ok := msg.Node.(*schema.Identity); ok {
		return id.Name
	}
	if msg.Owner != nil {
		return msg.Owner.Name
	}
	return msg.NodeCID.String()
}

func nodeAdd(ctx context.Context, e *Env) error {
	msg, err := readParsed(ctx, e)
	if err != nil {
		return err
	}
	h, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer h.Close()
	what := e.Name + " add " + sender(msg)
	if n, ok := msg.Node.(*schema.Node); ok {
		what += fmt.Sprintf(" seq %d", n.Seq)
	}
	r, err := h.AcceptNode(ctx, msg, what)
	if err != nil {
		return err
	}
	if !r.New {
		fmt.Fprintf(e.Stdout, "%s: already up to date (seq %d)\n", r.Path, r.Node.Seq)
		return nil
	}
	fmt.Fprintf(e.Stdout, "%s: %s seq %d root %s\n", r.Path, label(r.Owner), r.Node.Seq, r.Node.Root)
	return nil
}
