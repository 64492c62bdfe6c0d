package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// errProtocol reports a reply that is not valid RESP2.
var errProtocol = errors.New("bench: protocol error in reply")

// ReplyError is an error reply from the server (a RESP "-" line); Msg is
// the text after the dash, for example "ERR unknown command 'hgetall'".
type ReplyError struct{ Msg string }

// Error returns the server's error text.
func (e *ReplyError) Error() string { return e.Msg }

// Reply is one decoded RESP2 reply. Kind is the type byte ('+', '-', ':',
// '$' or '*'); Str holds simple, error and bulk strings; Int holds
// integers; Null marks a null bulk string or array; Elems holds array
// elements.
type Reply struct {
	Kind  byte
	Str   string
	Int   int64
	Null  bool
	Elems []Reply
}

// Conn is a minimal pipelining RESP2 client: Send queues commands in a
// buffer, Flush writes them, and Receive or Skip reads the replies in
// order. A Conn is not safe for concurrent use.
type Conn struct {
	nc  net.Conn
	r   *bufio.Reader
	out []byte
}

// Dial connects to addr (host:port) within timeout.
func Dial(ctx context.Context, addr string, timeout time.Duration) (*Conn, error) {
	d := net.Dialer{Timeout: timeout}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return newConn(nc), nil
}

// newConn wraps an established connection.
func newConn(nc net.Conn) *Conn {
	return &Conn{nc: nc, r: bufio.NewReaderSize(nc, 64<<10), out: make([]byte, 0, 16<<10)}
}

// Close closes the connection.
func (c *Conn) Close() error { return c.nc.Close() }

// SetDeadline bounds every later read and write; the zero time removes the
// bound.
func (c *Conn) SetDeadline(t time.Time) error { return c.nc.SetDeadline(t) }

// Send queues one command; nothing is written until Flush.
func (c *Conn) Send(args ...string) { c.out = appendCommand(c.out, args...) }

// Flush writes every queued command.
func (c *Conn) Flush() error {
	if len(c.out) == 0 {
		return nil
	}
	_, err := c.nc.Write(c.out)
	c.out = c.out[:0]
	return err
}

// Do sends one command and returns its reply. An error reply is returned
// as a *ReplyError together with the reply.
func (c *Conn) Do(args ...string) (Reply, error) {
	c.Send(args...)
	if err := c.Flush(); err != nil {
		return Reply{}, err
	}
	rep, err := c.Receive()
	if err == nil && rep.Kind == '-' {
		err = &ReplyError{Msg: rep.Str}
	}
	return rep, err
}

// Receive reads and decodes the next reply. Error replies are returned as
// a Reply of Kind '-', not as a Go error; the Go error is for I/O and
// protocol failures only.
func (c *Conn) Receive() (Reply, error) { return readReply(c.r) }

// Skip reads the next reply and discards it without keeping its contents.
// It returns the reply's length (elements of an array, bytes of a bulk
// string, -1 for a null, 0 otherwise), a *ReplyError when the reply or any
// element of it is an error reply, and other errors for I/O and protocol
// failures.
func (c *Conn) Skip() (int64, error) { return skipReply(c.r) }

// appendCommand appends args encoded as a RESP array of bulk strings.
func appendCommand(dst []byte, args ...string) []byte {
	dst = append(dst, '*')
	dst = strconv.AppendInt(dst, int64(len(args)), 10)
	dst = append(dst, '\r', '\n')
	for _, a := range args {
		dst = append(dst, '$')
		dst = strconv.AppendInt(dst, int64(len(a)), 10)
		dst = append(dst, '\r', '\n')
		dst = append(dst, a...)
		dst = append(dst, '\r', '\n')
	}
	return dst
}

// readLine returns the next CRLF-terminated line without its CRLF. The
// slice is valid until the next read from r.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("%w: line longer than %d bytes", errProtocol, r.Size())
		}
		return nil, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("%w: bad line %q", errProtocol, line)
	}
	return line[:len(line)-2], nil
}

// parseInt parses a decimal integer, with an optional minus sign, without
// allocating.
func parseInt(b []byte) (int64, error) {
	if len(b) == 0 {
		return 0, fmt.Errorf("%w: empty integer", errProtocol)
	}
	neg := b[0] == '-'
	if neg {
		b = b[1:]
		if len(b) == 0 {
			return 0, fmt.Errorf("%w: bad integer", errProtocol)
		}
	}
	var n int64
	for _, ch := range b {
		if ch < '0' || ch > '9' || n > (1<<62)/10 {
			return 0, fmt.Errorf("%w: bad integer %q", errProtocol, b)
		}
		n = n*10 + int64(ch-'0')
	}
	if neg {
		n = -n
	}
	return n, nil
}

// readReply decodes one reply, recursively for arrays.
func readReply(r *bufio.Reader) (Reply, error) {
	line, err := readLine(r)
	if err != nil {
		return Reply{}, err
	}
	rep := Reply{Kind: line[0]}
	body := line[1:]
	switch rep.Kind {
	case '+', '-':
		rep.Str = string(body)
	case ':':
		rep.Int, err = parseInt(body)
	case '$':
		var n int64
		if n, err = parseInt(body); err != nil || n < 0 {
			rep.Null = n < 0
			return rep, err
		}
		buf := make([]byte, n+2)
		if _, err = io.ReadFull(r, buf); err != nil {
			return rep, err
		}
		rep.Str = string(buf[:n])
	case '*':
		var n int64
		if n, err = parseInt(body); err != nil || n < 0 {
			rep.Null = n < 0
			return rep, err
		}
		rep.Elems = make([]Reply, n)
		for i := range rep.Elems {
			if rep.Elems[i], err = readReply(r); err != nil {
				return rep, err
			}
		}
	default:
		err = fmt.Errorf("%w: unexpected type byte %q", errProtocol, rep.Kind)
	}
	return rep, err
}

// skipReply reads one reply and discards it; see Conn.Skip.
func skipReply(r *bufio.Reader) (int64, error) {
	line, err := readLine(r)
	if err != nil {
		return 0, err
	}
	switch line[0] {
	case '+', ':':
		return 0, nil
	case '-':
		return 0, &ReplyError{Msg: string(line[1:])}
	case '$':
		n, err := parseInt(line[1:])
		if err != nil || n < 0 {
			return n, err
		}
		_, err = r.Discard(int(n) + 2)
		return n, err
	case '*':
		n, err := parseInt(line[1:])
		if err != nil {
			return 0, err
		}
		var first error
		for i := int64(0); i < n; i++ {
			_, err := skipReply(r)
			var re *ReplyError
			switch {
			case errors.As(err, &re):
				if first == nil {
					first = err
				}
			case err != nil:
				return n, err
			}
		}
		return n, first
	default:
		return 0, fmt.Errorf("%w: unexpected type byte %q", errProtocol, line[0])
	}
}
