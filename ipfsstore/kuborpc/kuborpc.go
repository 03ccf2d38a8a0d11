// Package kuborpc is a small client of kubo's HTTP RPC API: the handful
// of commands ArchiveCache sends a daemon, over net/http.
//
// Every command is a POST to /api/v0/<command> with its arguments in the
// query string (arg=…, plus options such as offline=true) and, for the
// commands that upload, a multipart/form-data body holding one file part.
// A command that fails before its output starts answers with a non-2xx
// status and an error body (JSON {"Message": …, "Code": …, "Type": "error"},
// or plain text); one that fails while streaming ends its body early and
// names the error in the X-Stream-Error trailer. Both are turned into one
// line, an *acerr.Error of kind IO naming the command and the daemon's
// address, or of kind NotExist when the daemon says it does not have a
// block (kubo reports this only in the message text, "ipld: could not
// find <cid>", so the text is matched here, at the boundary, and nowhere
// else). A daemon that cannot be reached gives one line of kind IO too.
//
// The address is a multiaddr, written as kubo prints it — /ip4/A/tcp/P,
// /ip6/A/tcp/P, /dns/H/tcp/P (also dns4, dns6), optionally followed by
// /http or /https, or /unix/PATH — or an http(s) URL. Multiaddrs are
// parsed here by hand, as only these forms name an HTTP API.
//
// The commands that concern one block check it: BlockGet verifies the hash
// of what it receives, BlockPut that the daemon filed the block under the
// expected CID. Add always asks for the parameters of ArchiveCache's
// importer (CIDv1, sha2-256, raw leaves, 256 KiB chunks, balanced layout
// with 174 links per node, no pin), spelled out so that a daemon whose
// Import configuration differs still gives the same CIDs.
package kuborpc

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// Client talks to one kubo daemon. It is safe for concurrent use.
type Client struct {
	addr string // as given, for errors
	base string // URL of the API, ending in /api/v0/
	tr   *http.Transport
	hc   *http.Client
}

// New returns a client of the daemon at addr. It does no I/O: a daemon
// that is not there shows at the first request. An address it cannot
// parse gives kind acerr.Invalid.
func New(addr string) (*Client, error) {
	const op = "kuborpc.New"
	c := &Client{addr: addr}
	c.tr = &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     30 * time.Second,
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	var base string
	switch {
	case strings.HasPrefix(addr, "/"):
		ep, err := parseMultiaddr(addr)
		if err != nil {
			return nil, acerr.E(op, addr, acerr.Invalid, err)
		}
		base = ep.scheme + "://" + ep.host
		network, dialAddr := ep.network, ep.dial
		if network != "tcp" || dialAddr != "" {
			c.tr.Proxy = nil
			c.tr.DialContext = func(ctx context.Context, _, a string) (net.Conn, error) {
				if dialAddr != "" {
					a = dialAddr
				}
				return dialer.DialContext(ctx, network, a)
			}
		}
	case strings.HasPrefix(addr, "http://") || strings.HasPrefix(addr, "https://"):
		u, err := url.Parse(addr)
		if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return nil, acerr.E(op, addr, acerr.Invalid, errors.New("not a URL of the form http://HOST:PORT"))
		}
		base = u.Scheme + "://" + u.Host
	default:
		return nil, acerr.E(op, addr, acerr.Invalid, errors.New("not a multiaddr or http(s) URL"))
	}
	c.base = base + "/api/v0/"
	c.hc = &http.Client{Transport: c.tr}
	return c, nil
}

// endpoint is where a multiaddr says the API listens.
type endpoint struct {
	scheme  string // http or https
	host    string // the URL's host
	network string // tcp, tcp4, tcp6 or unix
	dial    string // what to dial, if not host (a unix socket's path)
}

// parseMultiaddr parses the multiaddr forms that name an HTTP API.
func parseMultiaddr(s string) (endpoint, error) {
	bad := func(why string) (endpoint, error) {
		return endpoint{}, fmt.Errorf("unsupported API multiaddr (%s); want /ip4/A/tcp/P, /ip6/A/tcp/P, /dns[46]/HOST/tcp/P or /unix/PATH", why)
	}
	parts := strings.Split(s[1:], "/")
	ep := endpoint{scheme: "http", network: "tcp"}
	if parts[0] == "unix" {
		p := "/" + strings.Join(parts[1:], "/")
		if len(parts) < 2 || p == "/" {
			return bad("no socket path")
		}
		ep.host, ep.network, ep.dial = "unix", "unix", p
		return ep, nil
	}
	if len(parts) < 4 {
		return bad("too short")
	}
	host := parts[1]
	switch parts[0] {
	case "ip4", "ip6":
		a, err := netip.ParseAddr(host)
		if err != nil || a.Is4() != (parts[0] == "ip4") || a.Zone() != "" {
			return bad("bad " + parts[0] + " address " + strconv.Quote(host))
		}
	case "dns", "dns4", "dns6":
		if host == "" || strings.ContainsAny(host, ":[]@ ") {
			return bad("bad host name " + strconv.Quote(host))
		}
		ep.network = "tcp" + strings.TrimPrefix(parts[0], "dns")
	default:
		return bad("protocol " + strconv.Quote(parts[0]))
	}
	if parts[2] != "tcp" {
		return bad("protocol " + strconv.Quote(parts[2]))
	}
	port, err := strconv.ParseUint(parts[3], 10, 16)
	if err != nil || port == 0 {
		return bad("bad port " + strconv.Quote(parts[3]))
	}
	ep.host = net.JoinHostPort(host, parts[3])
	switch rest := strings.Join(parts[4:], "/"); rest {
	case "", "http":
	case "https", "tls/http":
		ep.scheme = "https"
	default:
		return bad("protocol " + strconv.Quote(rest))
	}
	return ep, nil
}

// Addr returns the daemon's address as given to New.
func (c *Client) Addr() string { return c.addr }

// Close closes the client's idle connections. The daemon keeps running.
func (c *Client) Close() { c.tr.CloseIdleConnections() }

// request is one RPC call.
type request struct {
	op    string  // for errors: "kuborpc.BlockGet"
	cmd   string  // "block/get"
	cid   cid.Cid // the block concerned, if any, for errors
	query url.Values
	body  io.Reader
	ctype string
}

// do sends r and returns the response if the command started. Its body
// must be read to the end (see checkTrailer) and closed.
func (c *Client) do(ctx context.Context, r request) (*http.Response, error) {
	u := c.base + r.cmd
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, r.body)
	if err != nil {
		return nil, c.fail(r, acerr.Invalid, err)
	}
	if r.ctype != "" {
		req.Header.Set("Content-Type", r.ctype)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // drop the long request URL
		}
		if !isContextErr(err) {
			err = fmt.Errorf("kubo daemon not reachable: %w", err)
		}
		return nil, c.fail(r, acerr.IO, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, c.fail(r, acerr.IO, readErrorBody(resp))
	}
	return resp, nil
}

// readErrorBody returns the error a failed command's body describes.
func readErrorBody(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	msg := strings.TrimSpace(string(body))
	if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); ct == "application/json" {
		var e struct{ Message string }
		if json.Unmarshal(body, &e) == nil && e.Message != "" {
			msg = e.Message
		}
	}
	if msg == "" {
		msg = resp.Status
	}
	return &daemonError{msg: msg}
}

// daemonError is an error message from the daemon.
type daemonError struct{ msg string }

func (e *daemonError) Error() string { return "kubo daemon: " + e.msg }

// notFound reports whether the daemon's message says a block is missing.
func (e *daemonError) notFound() bool {
	return strings.Contains(e.msg, "ipld: could not find") || strings.Contains(e.msg, "block was not found locally")
}

// checkTrailer returns the error a streamed response ended with, once its
// body has been read to the end.
func (c *Client) checkTrailer(r request, resp *http.Response) error {
	if msg := resp.Trailer.Get("X-Stream-Error"); msg != "" {
		return c.fail(r, acerr.IO, &daemonError{msg: msg})
	}
	return nil
}

// fail makes the one-line error of request r. A daemon message saying a
// block is missing gives kind NotExist; the end of a context keeps its
// own kind.
func (c *Client) fail(r request, kind acerr.Kind, err error) error {
	var de *daemonError
	switch {
	case errors.As(err, &de) && de.notFound():
		kind, err = acerr.NotExist, nil // the message only says so
	case isContextErr(err):
		kind = acerr.Other
	}
	if err != nil && strings.ContainsAny(err.Error(), "\r\n") {
		err = oneLine{err}
	}
	e := acerr.E(r.op, c.addr, kind, err)
	if r.cid.Defined() {
		e = e.WithCID(r.cid.String())
	}
	return e
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// oneLine prints its cause with line breaks replaced.
type oneLine struct{ err error }

func (o oneLine) Error() string {
	return strings.NewReplacer("\r\n", "; ", "\n", "; ", "\r", "; ").Replace(o.err.Error())
}
func (o oneLine) Unwrap() error { return o.err }

// maxAnswer is the longest JSON answer call reads: the commands it sends
// answer in a few hundred bytes.
const maxAnswer = 1 << 20

// call sends r and decodes the JSON object the command answers with into
// out (nil: discard the output).
func (c *Client) call(ctx context.Context, r request, out any) error {
	resp, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return c.fail(r, acerr.IO, err)
	}
	if len(body) > maxAnswer {
		return c.fail(r, acerr.TooLarge, fmt.Errorf("daemon sent an answer of more than %d bytes", maxAnswer))
	}
	if err := c.checkTrailer(r, resp); err != nil {
		return err
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return c.fail(r, acerr.IO, fmt.Errorf("kubo daemon sent a malformed answer: %v", err))
		}
	}
	return nil
}

// Version returns the daemon's version, which shows that it answers.
func (c *Client) Version(ctx context.Context) (string, error) {
	var v struct{ Version string }
	if err := c.call(ctx, request{op: "kuborpc.Version", cmd: "version"}, &v); err != nil {
		return "", err
	}
	return v.Version, nil
}

func blockQuery(k cid.Cid, offline bool) url.Values {
	q := url.Values{"arg": {k.String()}}
	if offline {
		q.Set("offline", "true")
	}
	return q
}

// BlockGet returns block k, checking its hash. Offline, the daemon answers
// from its own blockstore, and a block it does not hold is kind NotExist at
// once; online, it asks its peers for as long as ctx allows.
func (c *Client) BlockGet(ctx context.Context, k cid.Cid, offline bool) ([]byte, error) {
	r := request{op: "kuborpc.BlockGet", cmd: "block/get", cid: k, query: blockQuery(k, offline)}
	if err := checkCID(r.op, k); err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, schema.MaxForeignBlockSize+1))
	if err != nil {
		return nil, c.fail(r, acerr.IO, err)
	}
	if len(data) > schema.MaxForeignBlockSize {
		return nil, c.fail(r, acerr.TooLarge, fmt.Errorf("daemon sent more than %d bytes", schema.MaxForeignBlockSize))
	}
	if err := c.checkTrailer(r, resp); err != nil {
		return nil, err
	}
	ok, err := hashMatches(k, data)
	if err != nil {
		return nil, c.fail(r, acerr.Invalid, err)
	}
	if !ok {
		return nil, c.fail(r, acerr.Integrity, errors.New("daemon sent data that does not hash to the CID"))
	}
	return data, nil
}

// BlockStat returns the size of block k. Offline, a block the daemon does
// not hold is kind NotExist at once, without asking its peers.
func (c *Client) BlockStat(ctx context.Context, k cid.Cid, offline bool) (int, error) {
	r := request{op: "kuborpc.BlockStat", cmd: "block/stat", cid: k, query: blockQuery(k, offline)}
	if err := checkCID(r.op, k); err != nil {
		return 0, err
	}
	var st struct{ Size int }
	if err := c.call(ctx, r, &st); err != nil {
		return 0, err
	}
	return st.Size, nil
}

// codecName returns the multicodec name block/put takes for the codec
// of an IPLD block.
func codecName(code uint64) (string, bool) {
	switch code {
	case cid.Raw:
		return "raw", true
	case cid.DagProtobuf:
		return "dag-pb", true
	case cid.DagCBOR:
		return "dag-cbor", true
	case cid.DagJSON:
		return "dag-json", true
	case cid.DagJOSE:
		return "dag-jose", true
	case cid.Libp2pKey:
		return "libp2p-key", true
	case cid.GitRaw:
		return "git-raw", true
	case 0x51:
		return "cbor", true
	case 0x0200:
		return "json", true
	}
	return "", false
}

// BlockPut sends data as block k, not pinned, with k's codec and hash
// function, and checks that the daemon filed it under k (kind Integrity
// otherwise). It does not check data against k itself: the daemon's
// answer does.
func (c *Client) BlockPut(ctx context.Context, k cid.Cid, data []byte) error {
	r := request{op: "kuborpc.BlockPut", cmd: "block/put", cid: k}
	if err := checkCID(r.op, k); err != nil {
		return err
	}
	p := k.Prefix()
	mh, ok := multihash.Codes[p.MhType]
	if !ok {
		return c.fail(r, acerr.Invalid, fmt.Errorf("unknown hash function 0x%x", p.MhType))
	}
	r.query = url.Values{"mhtype": {mh}, "mhlen": {strconv.Itoa(p.MhLength)}, "pin": {"false"}}
	if p.Version == 0 {
		r.query.Set("format", "v0")
	} else if name, ok := codecName(p.Codec); ok {
		r.query.Set("cid-codec", name)
	} else {
		return c.fail(r, acerr.Invalid, fmt.Errorf("codec 0x%x is not one kubo is sent", p.Codec))
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	part, err := mw.CreatePart(filePart("block"))
	if err == nil {
		_, err = part.Write(data)
	}
	if err == nil {
		err = mw.Close()
	}
	if err != nil {
		return c.fail(r, acerr.Other, err)
	}
	r.body, r.ctype = &body, mw.FormDataContentType()
	var st struct{ Key string }
	if err := c.call(ctx, r, &st); err != nil {
		return err
	}
	got, err := cid.Decode(st.Key)
	if err != nil {
		return c.fail(r, acerr.IO, fmt.Errorf("daemon answered with a malformed CID %q", st.Key))
	}
	if !got.Equals(k) {
		return c.fail(r, acerr.Integrity, fmt.Errorf("daemon stored the block as %s", got))
	}
	return nil
}

func filePart(name string) textproto.MIMEHeader {
	h := make(textproto.MIMEHeader)
	h.Set("Content-Disposition", `form-data; name="file"; filename="`+name+`"`)
	h.Set("Content-Type", "application/octet-stream")
	return h
}

// Add has the daemon import r as a UnixFS file, not pinned, and returns
// the root CID and the number of bytes read from r. r is streamed to the
// daemon as it is read. An error of r (or the end of ctx) is returned as
// it is, wrapped with the operation.
func (c *Client) Add(ctx context.Context, r io.Reader) (cid.Cid, uint64, error) {
	req := request{op: "kuborpc.Add", cmd: "add", query: url.Values{
		"cid-version":    {"1"},
		"hash":           {"sha2-256"},
		"raw-leaves":     {"true"},
		"chunker":        {"size-262144"},
		"max-file-links": {"174"},
		"trickle":        {"false"},
		"inline":         {"false"},
		"pin":            {"false"},
		"quieter":        {"true"},
		"progress":       {"false"},
	}}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	req.body, req.ctype = pr, mw.FormDataContentType()
	src := &sourceReader{ctx: ctx, r: r}
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		part, err := mw.CreatePart(filePart("file"))
		if err == nil {
			_, err = io.Copy(part, src)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()

	root, err := c.addResult(ctx, req)
	pr.CloseWithError(errors.New("request ended")) // unblocks the writer if the daemon stopped reading
	<-sent
	if src.err != nil {
		return cid.Undef, 0, acerr.E(req.op, "", acerr.Other, src.err)
	}
	if err != nil {
		return cid.Undef, 0, err
	}
	return root, src.n, nil
}

// addResult sends an add request and returns the CID of its last event.
func (c *Client) addResult(ctx context.Context, req request) (cid.Cid, error) {
	resp, err := c.do(ctx, req)
	if err != nil {
		return cid.Undef, err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	var hash string
	for {
		var ev struct{ Hash string }
		if err := dec.Decode(&ev); err == io.EOF {
			break
		} else if err != nil {
			return cid.Undef, c.fail(req, acerr.IO, fmt.Errorf("reading the daemon's answer: %w", err))
		}
		if ev.Hash != "" {
			hash = ev.Hash
		}
	}
	if err := c.checkTrailer(req, resp); err != nil {
		return cid.Undef, err
	}
	root, err := cid.Decode(hash)
	if err != nil {
		return cid.Undef, c.fail(req, acerr.IO, fmt.Errorf("daemon answered with a malformed CID %q", hash))
	}
	return root, nil
}

// sourceReader counts the bytes read from r, keeps r's first error and
// stops when ctx ends.
type sourceReader struct {
	ctx context.Context
	r   io.Reader
	n   uint64
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	if err := s.ctx.Err(); err != nil {
		s.err = err
		return 0, err
	}
	n, err := s.r.Read(p)
	s.n += uint64(n)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

// Cat returns a stream of the UnixFS file k from byte offset on, at most
// length bytes of it (all of them if length < 0). The daemon fetches
// blocks it lacks from its peers for as long as ctx allows. The stream
// ends with an error of kind IO if the daemon stops early.
func (c *Client) Cat(ctx context.Context, k cid.Cid, offset, length int64) (io.ReadCloser, error) {
	r := request{op: "kuborpc.Cat", cmd: "cat", cid: k, query: url.Values{"arg": {k.String()}}}
	if err := checkCID(r.op, k); err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, c.fail(r, acerr.Invalid, fmt.Errorf("negative offset %d", offset))
	}
	if offset > 0 {
		r.query.Set("offset", strconv.FormatInt(offset, 10))
	}
	if length >= 0 {
		r.query.Set("length", strconv.FormatInt(length, 10))
	}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	return &catStream{c: c, r: r, resp: resp}, nil
}

// catStream is the body of a cat response; at its end it reports the
// error the daemon stopped with, if any.
type catStream struct {
	c    *Client
	r    request
	resp *http.Response
	err  error
}

func (s *catStream) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.resp.Body.Read(p)
	switch {
	case err == io.EOF:
		if terr := s.c.checkTrailer(s.r, s.resp); terr != nil {
			err = terr
		}
	case err != nil:
		err = s.c.fail(s.r, acerr.IO, err)
	}
	s.err = err
	return n, err
}

func (s *catStream) Close() error { return s.resp.Body.Close() }

func checkCID(op string, k cid.Cid) error {
	if !k.Defined() {
		return acerr.E(op, "", acerr.Invalid, errors.New("undefined CID"))
	}
	return nil
}

// hashMatches reports whether data hashes to k's multihash, with a fast
// path for sha2-256.
func hashMatches(k cid.Cid, data []byte) (bool, error) {
	mh := k.Hash()
	if len(mh) == 2+sha256.Size && mh[0] == multihash.SHA2_256 && mh[1] == sha256.Size {
		sum := sha256.Sum256(data)
		return bytes.Equal(mh[2:], sum[:]), nil
	}
	got, err := k.Prefix().Sum(data)
	if err != nil {
		return false, fmt.Errorf("cannot hash with the CID's hash function: %w", err)
	}
	return bytes.Equal(got.Hash(), mh), nil
}

// FilesCp copies src (an /ipfs/ path) to dst in the daemon's files API
// (MFS), making dst's parent directories. A dst that is already there
// is left as it is.
func (c *Client) FilesCp(ctx context.Context, src, dst string) error {
	r := request{op: "kuborpc.FilesCp", cmd: "files/cp", query: url.Values{"arg": {src, dst}, "parents": {"true"}}}
	err := c.call(ctx, r, nil)
	var de *daemonError
	if errors.As(err, &de) && strings.Contains(de.msg, "already has entry") {
		return nil
	}
	return err
}

// FilesLs lists the names in the directory dir of the daemon's files API;
// a directory that is not there lists nothing.
func (c *Client) FilesLs(ctx context.Context, dir string) ([]string, error) {
	r := request{op: "kuborpc.FilesLs", cmd: "files/ls", query: url.Values{"arg": {dir}, "U": {"true"}}}
	var out struct{ Entries []struct{ Name string } }
	err := c.call(ctx, r, &out)
	var de *daemonError
	if errors.As(err, &de) && strings.Contains(de.msg, "does not exist") {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	names := make([]string, len(out.Entries))
	for i, e := range out.Entries {
		names[i] = e.Name
	}
	return names, nil
}

// FilesRm removes p, and what is under it, from the daemon's files API.
func (c *Client) FilesRm(ctx context.Context, p string) error {
	r := request{op: "kuborpc.FilesRm", cmd: "files/rm", query: url.Values{"arg": {p}, "recursive": {"true"}, "force": {"true"}}}
	return c.call(ctx, r, nil)
}
