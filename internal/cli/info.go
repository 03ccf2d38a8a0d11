package cli

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"time"

	"github.com/archivecache/archivecache/home"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

func cmdInfo() *command {
	return &command{
		usage: "ac-info [--json] [PATH]",
		help: `Ac-info describes the home (directory, replica id, block store, HEAD,
numbers of identities, friends and nodes; for the embedded store its
size (stored, the size of its files) and the bytes the last ac-gc or
ac-gc --dry-run found it would free (reclaimable), with the HEAD and the
time it was found at, or "unknown" if none ran) or, given PATH, the
entry there and the node it links: kind, CID, size, times, version
vector, and for signed nodes their owner and seq. It walks nothing, so
it costs the same in a home of any size.

example:
  ac-info
  ac-info node`,
		setup: func(fs *flag.FlagSet, e *Env) func(context.Context, []string) error {
			var o infoOpts
			fs.BoolVar(&o.asJSON, "json", false, "print as JSON")
			return func(ctx context.Context, args []string) error { return runInfo(ctx, e, o, args) }
		},
	}
}

type infoOpts struct {
	asJSON bool
}

func runInfo(ctx context.Context, e *Env, o infoOpts, args []string) error {
	if err := nargs(args, 0, 1); err != nil {
		return err
	}
	h, head, err := openHead(ctx, e)
	if err != nil {
		return err
	}
	defer h.Close()
	var info []kv
	if len(args) == 0 {
		info, err = homeInfo(ctx, e, h, head)
	} else {
		var p string
		if p, err = treePath(args[0]); err != nil {
			return err
		}
		if p, err = h.ResolvePath(ctx, head, p); err != nil {
			return err
		}
		info, err = entryInfo(ctx, h, head, p)
	}
	if err != nil {
		return err
	}
	if o.asJSON {
		m := map[string]any{}
		for _, f := range info {
			m[f.k] = f.v
		}
		return writeJSON(e, m)
	}
	for _, f := range info {
		v := fmt.Sprint(f.v)
		switch x := f.v.(type) {
		case schema.VV:
			v = formatVV(x)
		case shownAs:
			if x.text == "" {
				continue // for scripts alone
			}
			v = x.text
		}
		fmt.Fprintf(e.Stdout, "%-12s %s\n", f.k+":", quote(v))
	}
	return nil
}

type kv struct {
	k string
	v any
}

// shownAs is a field's value v that the text form shows as text, or,
// with no text, does not show.
type shownAs struct {
	v    any
	text string
}

func (s shownAs) MarshalJSON() ([]byte, error) { return json.Marshal(s.v) }

func homeInfo(ctx context.Context, e *Env, h *home.Home, head cid.Cid) ([]kv, error) {
	store := "embedded"
	if api := firstNonEmpty(e.API, h.Config.API); api != "" {
		store = "kubo " + api
	}
	info := []kv{{"home", h.Dir}, {"replica", h.Config.Replica}, {"store", store}, {"head", head.String()}}
	t := h.Tree(cid.Undef)
	for _, d := range []string{home.Identities, home.Friends, home.Nodes} {
		ents, err := t.List(ctx, head, d)
		if err != nil {
			return nil, err
		}
		info = append(info, kv{d, len(ents)})
	}
	if n := h.StoreBytes(); n >= 0 {
		info = append(info, kv{"stored", shownAs{n, bytesText(n)}})
		est, err := h.GCEstimate()
		if err != nil {
			return nil, err
		}
		info = append(info, reclaimable(est, head)...)
	}
	return info, nil
}

// reclaimable is what ac-info shows of the bytes ac-gc would free: the
// figure the last ac-gc (or dry run) recorded, at the HEAD and time it
// was found, or unknown (null) if none ran.
func reclaimable(est *home.GCEstimate, head cid.Cid) []kv {
	if est == nil {
		return []kv{{"reclaimable", shownAs{nil, "unknown (run ac-gc --dry-run)"}}}
	}
	text := fmt.Sprintf("%s at HEAD %s as of %s %s", bytesText(est.Reclaimable), est.Head,
		est.Command, est.Time.Local().Format("2006-01-02 15:04"))
	if !est.Head.Equals(head) {
		text += " (HEAD has moved since)"
	}
	return []kv{
		{"reclaimable", shownAs{est.Reclaimable, text}},
		{"reclaimable_head", shownAs{est.Head.String(), ""}},
		{"reclaimable_time", shownAs{est.Time.UTC().Format(time.RFC3339), ""}},
		{"reclaimable_by", shownAs{est.Command, ""}},
	}
}

// bytesText is a size for people, then exact: "269M (281857638 bytes)".
func bytesText(n int64) string {
	return fmt.Sprintf("%s (%d bytes)", humanSize(uint64(max(n, 0))), n)
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func entryInfo(ctx context.Context, h *home.Home, head cid.Cid, p string) ([]kv, error) {
	en, err := h.Tree(cid.Undef).Lookup(ctx, head, p)
	if err != nil {
		return nil, err
	}
	info := []kv{{"path", p}, {"kind", string(en.Kind)}, {"cid", en.Target.String()}}
	if en.Kind == schema.KindFile {
		info = append(info, kv{"size", en.Size}, kv{"mode", fmt.Sprintf("%04o", en.Mode)})
	}
	info = append(info, kv{"mtime", time.Unix(0, en.Mtime).UTC().Format(time.RFC3339Nano)}, kv{"vv", en.VV})
	if en.By.Defined() {
		info = append(info, kv{"by", en.By.String()})
	}
	if en.Kind == schema.KindFile {
		return info, nil
	}
	n, err := h.LoadNode(ctx, en.Target)
	if err != nil {
		return nil, err
	}
	switch n := n.(type) {
	case *schema.Identity:
		info = append(info, kv{"name", n.Name}, kv{"key", hex.EncodeToString(n.Key)},
			kv{"created", time.Unix(n.Created, 0).UTC().Format(time.RFC3339)})
	case *schema.Node:
		info = append(info, kv{"owner", n.Owner.String()}, kv{"seq", n.Seq}, kv{"root", n.Root.String()},
			kv{"created", time.Unix(n.Created, 0).UTC().Format(time.RFC3339)})
		if n.Prev.Defined() {
			info = append(info, kv{"prev", n.Prev.String()})
		}
		if len(n.Addrs) > 0 {
			info = append(info, kv{"addrs", n.Addrs})
		}
	case *schema.Directory:
		if n.Owned() {
			info = append(info, kv{"owner", n.Owner.String()}, kv{"seq", n.Seq})
		} else {
			info = append(info, kv{"owner", "none (shared)"})
		}
		info = append(info, kv{"inline", len(n.Children) == 0})
	}
	return info, nil
}
