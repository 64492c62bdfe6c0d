package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"
)

// This file holds the client side a follower uses to forward a command to
// the leader's client port and relay the leader's reply byte for byte.
//
// Socket deadlines are wall-clock by nature (the kernel and the Go poller
// know no other clock), so this file reads time.Now only to turn
// upstreamConfig.IOTimeout into a deadline; it never uses time for any
// decision that touches data.

// Defaults for the zero values of upstreamConfig.
const (
	upstreamDefaultDialTimeout = 5 * time.Second
	upstreamDefaultIOTimeout   = 10 * time.Second
	upstreamDefaultMaxIdle     = 64
)

// Bounds of upstreamReadReply: a reply that exceeds them is a protocol error,
// and nothing is ever allocated up front from a length the peer announced.
const (
	upstreamMaxBulk      = 1 << 30 // bytes in one bulk/verbatim/blob error
	upstreamMaxAggregate = 1 << 30 // elements (pairs for maps) in one aggregate
	upstreamMaxDepth     = 64      // nested aggregates, attributes included
	upstreamMaxLine      = 1 << 20 // bytes in one header or simple line
	upstreamMaxPushes    = 1024    // out-of-band pushes relayed before a reply
	upstreamBulkChunk    = 64 << 10
	upstreamKeepWriteBuf = 64 << 10 // larger request buffers are dropped after use
)

var (
	// errUpstreamClosed is returned (with sent=false) once the pool is closed.
	errUpstreamClosed = errors.New("upstream pool closed")
	// errUpstreamBroken is returned (with sent=false) by a pinned connection
	// that already failed: nothing was written.
	errUpstreamBroken = errors.New("upstream connection broken")
	// errUpstreamProtocol wraps every malformed-reply error.
	errUpstreamProtocol = errors.New("upstream protocol error")
)

// upstreamConfig configures an upstreamPool. Zero values take the defaults
// above.
type upstreamConfig struct {
	// Password, if non-empty, is sent as AUTH <password> on every new
	// connection (the node shares requirepass with its peers).
	Password string
	// DialTimeout bounds dialling plus the AUTH/HELLO handshake.
	DialTimeout time.Duration
	// IOTimeout bounds one request (write plus reply); a ctx deadline that
	// comes sooner wins.
	IOTimeout time.Duration
	// MaxIdle is the most idle connections kept per (address, protocol).
	MaxIdle int
	// ClientName, if non-empty, is set with CLIENT SETNAME on every new
	// connection (the leader recognises forwarded commands by it).
	ClientName string
}

// upstreamKey identifies a family of interchangeable connections.
type upstreamKey struct {
	addr  string
	proto int // 2 or 3
}

// upstreamPool keeps connections to leaders' client ports, keyed by
// (address, protocol). It is safe for concurrent use. A connection is used
// by one request (or one pinned client) at a time; a connection on which
// anything failed is closed, never reused.
type upstreamPool struct {
	cfg    upstreamConfig
	dialer net.Dialer

	mu     sync.Mutex
	closed bool
	idle   map[upstreamKey][]*upstreamConn
	all    map[*upstreamConn]struct{}   // idle and in use, for Close
	muxes  map[upstreamKey]*upstreamMux // shared connections (upstream_mux.go)
}

// newUpstreamPool returns an empty pool; connections are dialled on demand.
func newUpstreamPool(cfg upstreamConfig) *upstreamPool {
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = upstreamDefaultDialTimeout
	}
	if cfg.IOTimeout <= 0 {
		cfg.IOTimeout = upstreamDefaultIOTimeout
	}
	if cfg.MaxIdle <= 0 {
		cfg.MaxIdle = upstreamDefaultMaxIdle
	}
	return &upstreamPool{
		cfg:    cfg,
		dialer: net.Dialer{Timeout: cfg.DialTimeout},
		idle:   make(map[upstreamKey][]*upstreamConn),
		all:    make(map[*upstreamConn]struct{}),
	}
}

// Close closes every connection, idle or in use (requests in flight on them
// fail with sent=true), and makes every later call fail fast with
// errUpstreamClosed and sent=false. It is idempotent.
func (p *upstreamPool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	conns := make([]*upstreamConn, 0, len(p.all))
	for c := range p.all {
		conns = append(conns, c)
	}
	p.all = nil
	p.idle = nil
	p.muxes = nil
	p.mu.Unlock()
	for _, c := range conns {
		c.nc.Close()
	}
	return nil
}

// do sends args as one command to addr over a connection speaking proto
// (2 or 3) and appends the raw bytes of its reply to dst. RESP3 push
// messages that arrive before the reply are relayed too, in order, so dst
// holds exactly what the peer sent in answer to the command.
//
// sent reports whether any byte of the request may have reached the peer.
// When err != nil and sent is false nothing was sent (pool closed, dial or
// handshake failure) and the caller may retry elsewhere. When err != nil
// and sent is true the outcome is unknown: the caller must neither report
// success nor blindly retry. A RESP error reply (-ERR ...) is a successful
// relay: err is nil. On error, dst is returned truncated to its input length.
func (p *upstreamPool) do(ctx context.Context, addr string, proto int, args [][]byte, dst []byte) ([]byte, bool, error) {
	c, err := p.get(ctx, addr, proto)
	if err != nil {
		return dst, false, err
	}
	out, sent, err := c.do(ctx, args, dst)
	p.put(c, err == nil)
	return out, sent, err
}

// pin returns a connection dedicated to one client for a WATCH/MULTI
// sequence: the caller sends every command of the sequence over it with
// (*upstreamConn).do and must call release exactly once.
func (p *upstreamPool) pin(ctx context.Context, addr string, proto int) (*upstreamConn, error) {
	return p.get(ctx, addr, proto)
}

// get returns an idle connection for (addr, proto), or dials a new one.
func (p *upstreamPool) get(ctx context.Context, addr string, proto int) (*upstreamConn, error) {
	if proto != 2 && proto != 3 {
		return nil, fmt.Errorf("upstream %s: unsupported protocol %d", addr, proto)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("upstream %s: %w", addr, err)
	}
	key := upstreamKey{addr: addr, proto: proto}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errUpstreamClosed
	}
	if list := p.idle[key]; len(list) > 0 {
		c := list[len(list)-1]
		list[len(list)-1] = nil
		p.idle[key] = list[:len(list)-1]
		c.pooled = false
		p.mu.Unlock()
		return c, nil
	}
	p.mu.Unlock()

	c, err := p.dial(ctx, key)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.nc.Close()
		return nil, errUpstreamClosed
	}
	p.all[c] = struct{}{}
	p.mu.Unlock()
	return c, nil
}

// put returns c to the idle list if ok and c is healthy and there is room;
// otherwise it closes c.
func (p *upstreamPool) put(c *upstreamConn, ok bool) {
	p.mu.Lock()
	if _, mine := p.all[c]; !mine || c.pooled {
		// Already closed by Close or an earlier put/release, or already
		// idle (a second release): nothing to do.
		p.mu.Unlock()
		return
	}
	if ok && !c.broken && len(p.idle[c.key]) < p.cfg.MaxIdle {
		if cap(c.wbuf) > upstreamKeepWriteBuf {
			c.wbuf = nil
		}
		c.pooled = true
		p.idle[c.key] = append(p.idle[c.key], c)
		p.mu.Unlock()
		return
	}
	delete(p.all, c)
	p.mu.Unlock()
	c.nc.Close()
}

// dial connects to key.addr and runs the handshake: AUTH if a password is
// configured, HELLO 3 for RESP3 connections. Both are pipelined and their
// replies checked and consumed.
func (p *upstreamPool) dial(ctx context.Context, key upstreamKey) (*upstreamConn, error) {
	dctx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
	defer cancel()
	nc, err := p.dialer.DialContext(dctx, "tcp", key.addr)
	if err != nil {
		return nil, fmt.Errorf("upstream %s: dial: %w", key.addr, err)
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		if err := tc.SetNoDelay(true); err != nil {
			nc.Close()
			return nil, fmt.Errorf("upstream %s: set TCP_NODELAY: %w", key.addr, err)
		}
	}
	c := &upstreamConn{pool: p, key: key, nc: nc, br: bufio.NewReaderSize(nc, 16<<10)}
	if p.cfg.Password == "" && key.proto == 2 && p.cfg.ClientName == "" {
		return c, nil
	}
	if err := c.handshake(dctx); err != nil {
		nc.Close()
		return nil, fmt.Errorf("upstream %s: handshake: %w", key.addr, err)
	}
	return c, nil
}

// upstreamConn is one connection to a leader. It is not safe for
// concurrent use: one request, or one pinned client, at a time.
type upstreamConn struct {
	pool   *upstreamPool
	key    upstreamKey
	nc     net.Conn
	br     *bufio.Reader
	wbuf   []byte // request buffer, reused across requests
	rbuf   []byte // scratch for handshake replies
	broken bool   // something failed: close, never reuse
	// ctxDeadline: the socket deadline set by arm is ctx's deadline.
	ctxDeadline bool
	pooled      bool // in the pool's idle list; guarded by pool.mu
}

// handshake sends AUTH and/or HELLO 3 and checks their replies.
func (c *upstreamConn) handshake(ctx context.Context) error {
	c.wbuf = c.wbuf[:0]
	if pw := c.pool.cfg.Password; pw != "" {
		c.wbuf = upstreamAppendCommand(c.wbuf, [][]byte{[]byte("AUTH"), []byte(pw)})
	}
	if c.key.proto == 3 {
		c.wbuf = upstreamAppendCommand(c.wbuf, [][]byte{[]byte("HELLO"), []byte("3")})
	}
	if name := c.pool.cfg.ClientName; name != "" {
		c.wbuf = upstreamAppendCommand(c.wbuf, [][]byte{[]byte("CLIENT"), []byte("SETNAME"), []byte(name)})
	}
	stop := c.arm(ctx)
	defer stop()
	if _, err := c.nc.Write(c.wbuf); err != nil {
		return c.ioErr(ctx, "write", err)
	}
	if c.pool.cfg.Password != "" {
		r, err := upstreamReadReply(c.br, c.rbuf[:0])
		if err != nil {
			return c.ioErr(ctx, "read AUTH reply", err)
		}
		c.rbuf = r
		if !bytes.Equal(r, []byte("+OK\r\n")) {
			return fmt.Errorf("AUTH refused: %s", bytes.TrimRight(r, "\r\n"))
		}
	}
	if c.key.proto == 3 {
		r, err := upstreamReadReply(c.br, c.rbuf[:0])
		if err != nil {
			return c.ioErr(ctx, "read HELLO reply", err)
		}
		c.rbuf = r
		if r[0] != '%' {
			return fmt.Errorf("HELLO 3 refused: %s", bytes.TrimRight(r, "\r\n"))
		}
	}
	if c.pool.cfg.ClientName != "" {
		r, err := upstreamReadReply(c.br, c.rbuf[:0])
		if err != nil {
			return c.ioErr(ctx, "read CLIENT SETNAME reply", err)
		}
		c.rbuf = r
		if !bytes.Equal(r, []byte("+OK\r\n")) {
			return fmt.Errorf("CLIENT SETNAME refused: %s", bytes.TrimRight(r, "\r\n"))
		}
	}
	if c.br.Buffered() > 0 {
		return fmt.Errorf("%w: unexpected data after handshake", errUpstreamProtocol)
	}
	c.rbuf = nil
	return nil
}

// do sends args as one command and appends the raw reply (preceded by any
// RESP3 push messages) to dst. The sent flag and error contract are those of
// (*upstreamPool).do. After an error c is broken: further calls fail with
// errUpstreamBroken and sent=false, and release closes it.
func (c *upstreamConn) do(ctx context.Context, args [][]byte, dst []byte) ([]byte, bool, error) {
	if c.broken {
		return dst, false, errUpstreamBroken
	}
	if len(args) == 0 {
		return dst, false, fmt.Errorf("upstream %s: empty command", c.key.addr)
	}
	if err := ctx.Err(); err != nil {
		return dst, false, fmt.Errorf("upstream %s: %w", c.key.addr, err)
	}
	start := len(dst)
	c.wbuf = upstreamAppendCommand(c.wbuf[:0], args)
	stop := c.arm(ctx)
	n, err := c.nc.Write(c.wbuf)
	if err != nil {
		stop()
		c.broken = true
		return dst[:start], n > 0, fmt.Errorf("upstream %s: %w", c.key.addr, c.ioErr(ctx, "write", err))
	}
	for pushes := 0; ; pushes++ {
		mark := len(dst)
		dst, err = upstreamReadReply(c.br, dst)
		if err != nil {
			stop()
			c.broken = true
			return dst[:start], true, fmt.Errorf("upstream %s: %w", c.key.addr, c.ioErr(ctx, "read reply", err))
		}
		if dst[mark] != '>' || c.key.proto != 3 {
			break
		}
		if pushes == upstreamMaxPushes {
			stop()
			c.broken = true
			return dst[:start], true, fmt.Errorf("upstream %s: %w: more than %d push messages before the reply",
				c.key.addr, errUpstreamProtocol, upstreamMaxPushes)
		}
	}
	if !stop() {
		// The cancellation hook fired (or is firing) and may yet set a past
		// deadline: the reply is complete, but the connection is not reusable.
		c.broken = true
	}
	if c.br.Buffered() > 0 {
		// More than one reply arrived for one command: out of step.
		c.broken = true
	}
	return dst, true, nil
}

// release ends a pinned sequence. With ok true (the sequence ended cleanly:
// the caller already sent UNWATCH/DISCARD as needed) a healthy connection
// goes back to the pool; otherwise it is closed. Call it exactly once.
func (c *upstreamConn) release(ok bool) {
	c.pool.put(c, ok)
}

// arm sets the connection's deadline from ctx and IOTimeout, and makes a
// ctx cancellation interrupt blocked I/O. The returned stop reports false
// if the cancellation hook ran (or is running).
func (c *upstreamConn) arm(ctx context.Context) (stop func() bool) {
	dl := time.Now().Add(c.pool.cfg.IOTimeout)
	c.ctxDeadline = false
	if d, ok := ctx.Deadline(); ok && !d.After(dl) {
		dl, c.ctxDeadline = d, true
	}
	c.nc.SetDeadline(dl)
	if ctx.Done() == nil {
		return func() bool { return true }
	}
	return context.AfterFunc(ctx, func() { c.nc.SetDeadline(time.Unix(1, 0)) })
}

// ioErr wraps an I/O error, naming ctx's error too when ctx ended (or the
// socket deadline that fired was ctx's), so that callers can test
// errors.Is(err, context.DeadlineExceeded) or context.Canceled.
func (c *upstreamConn) ioErr(ctx context.Context, what string, err error) error {
	cerr := ctx.Err()
	if cerr == nil && c.ctxDeadline && errors.Is(err, os.ErrDeadlineExceeded) {
		cerr = context.DeadlineExceeded
	}
	if cerr != nil {
		return fmt.Errorf("%s: %w (%w)", what, cerr, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// upstreamAppendCommand appends args to b as a RESP multibulk request.
func upstreamAppendCommand(b []byte, args [][]byte) []byte {
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, '\r', '\n')
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, '\r', '\n')
		b = append(b, a...)
		b = append(b, '\r', '\n')
	}
	return b
}

// upstreamReadReply reads exactly one complete RESP2 or RESP3 reply from br
// and appends its raw bytes to dst. An attribute (|) is followed by the
// value it annotates and both are included. Streamed aggregates and strings
// are not supported (Redis never sends them). Malformed input, a bulk longer
// than upstreamMaxBulk, an aggregate larger than upstreamMaxAggregate or
// deeper than upstreamMaxDepth is an error wrapping errUpstreamProtocol; an
// I/O error is returned wrapped (io.ErrUnexpectedEOF for EOF mid-reply).
// On error the returned slice holds whatever was appended so far.
func upstreamReadReply(br *bufio.Reader, dst []byte) ([]byte, error) {
	// need[d] counts the values still to read at nesting depth d.
	var need [upstreamMaxDepth + 1]int64
	depth := 0
	need[0] = 1
	first := true
	for {
		for need[depth] == 0 {
			if depth == 0 {
				return dst, nil
			}
			depth--
		}
		start := len(dst)
		var err error
		dst, err = upstreamReadLine(br, dst)
		if err != nil {
			if first && err == io.EOF {
				return dst, io.EOF
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return dst, err
		}
		first = false
		line := dst[start : len(dst)-2]
		typ, body := line[0], line[1:]
		switch typ {
		case '+', '-':
			need[depth]--
		case ':':
			if _, ok := upstreamParseInt(body); !ok {
				return dst, upstreamBadf("invalid integer %q", body)
			}
			need[depth]--
		case '_':
			if len(body) != 0 {
				return dst, upstreamBadf("invalid null %q", body)
			}
			need[depth]--
		case '#':
			if len(body) != 1 || (body[0] != 't' && body[0] != 'f') {
				return dst, upstreamBadf("invalid boolean %q", body)
			}
			need[depth]--
		case ',', '(':
			if len(body) == 0 {
				return dst, upstreamBadf("empty %q value", typ)
			}
			need[depth]--
		case '$', '!', '=':
			n, ok := upstreamParseInt(body)
			switch {
			case !ok || n < -1 || (n == -1 && typ != '$'):
				return dst, upstreamBadf("invalid %q length %q", typ, body)
			case n > upstreamMaxBulk:
				return dst, upstreamBadf("%q length %d exceeds %d", typ, n, upstreamMaxBulk)
			}
			need[depth]--
			if n >= 0 {
				if dst, err = upstreamReadBulk(br, dst, n); err != nil {
					return dst, err
				}
			}
		case '*', '%', '~', '>', '|':
			n, ok := upstreamParseInt(body)
			switch {
			case !ok || n < -1 || (n == -1 && typ != '*'):
				return dst, upstreamBadf("invalid %q count %q", typ, body)
			case n > upstreamMaxAggregate:
				return dst, upstreamBadf("%q count %d exceeds %d", typ, n, upstreamMaxAggregate)
			}
			if typ != '|' {
				// An attribute does not fill a slot: the value it annotates does.
				need[depth]--
			}
			if typ == '%' || typ == '|' {
				n *= 2
			}
			if n > 0 {
				if depth == upstreamMaxDepth {
					return dst, upstreamBadf("nesting deeper than %d", upstreamMaxDepth)
				}
				depth++
				need[depth] = n
			}
		default:
			return dst, upstreamBadf("unknown reply type %q", typ)
		}
	}
}

// upstreamReadLine appends one CRLF-terminated line (at least one byte
// before the CRLF, at most upstreamMaxLine in all) to dst.
func upstreamReadLine(br *bufio.Reader, dst []byte) ([]byte, error) {
	start := len(dst)
	for {
		frag, err := br.ReadSlice('\n')
		if len(dst)-start+len(frag) > upstreamMaxLine {
			return dst, upstreamBadf("line longer than %d bytes", upstreamMaxLine)
		}
		dst = append(dst, frag...)
		switch {
		case err == nil:
			line := dst[start:]
			if len(line) < 3 || line[len(line)-2] != '\r' {
				return dst, upstreamBadf("malformed line %q", line)
			}
			return dst, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF && len(dst) == start:
			return dst, io.EOF
		case err == io.EOF:
			return dst, io.ErrUnexpectedEOF
		default:
			return dst, err
		}
	}
}

// upstreamReadBulk appends n payload bytes and the trailing CRLF to dst,
// growing dst as data arrives rather than by n up front.
func upstreamReadBulk(br *bufio.Reader, dst []byte, n int64) ([]byte, error) {
	rem := n + 2
	for rem > 0 {
		k := int(min(rem, upstreamBulkChunk))
		dst = slices.Grow(dst, k)
		m, err := io.ReadFull(br, dst[len(dst):len(dst)+k])
		dst = dst[:len(dst)+m]
		rem -= int64(m)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return dst, err
		}
	}
	if dst[len(dst)-2] != '\r' || dst[len(dst)-1] != '\n' {
		return dst, upstreamBadf("bulk of %d bytes not terminated by CRLF", n)
	}
	return dst, nil
}

// upstreamParseInt parses a RESP decimal integer: an optional '-' and
// 1 to 19 digits, nothing else.
func upstreamParseInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, ch := range b {
		if ch < '0' || ch > '9' {
			return 0, false
		}
		n = n*10 + uint64(ch-'0')
	}
	if n > 1<<63 || (!neg && n == 1<<63) {
		return 0, false
	}
	if neg {
		return -int64(n), true
	}
	return int64(n), true
}

// upstreamBadf returns a protocol error wrapping errUpstreamProtocol.
func upstreamBadf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUpstreamProtocol, fmt.Sprintf(format, args...))
}
