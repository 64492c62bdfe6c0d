package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
)

// Limits Redis applies to requests (PROTO_INLINE_MAX_SIZE and friends).
const (
	inlineMaxSize      = 64 * 1024 // an inline command or a length line
	readChunk          = 16 * 1024
	initialReadBuf     = 4 * 1024
	maxMultibulkLen    = math.MaxInt32
	unauthMultibulkMax = 10
	unauthBulkMax      = 16384
)

// protocolError is a malformed request. The client gets
// "-ERR Protocol error: <msg>" and the connection is closed, as Redis does.
type protocolError struct{ msg string }

func (e *protocolError) Error() string { return "ERR Protocol error: " + e.msg }

// reader turns a connection's bytes into commands. It parses
// incrementally: a multibulk that arrives over many reads is scanned once,
// never from its start again, so a request of millions of arguments costs
// linear time. Arguments returned by next alias the buffer and are valid
// until the following call.
type reader struct {
	src     io.Reader
	buf     []byte
	r, w    int   // unread data is buf[r:w]
	maxBulk int64 // proto-max-bulk-len
	authed  func() bool

	// state of a multibulk in progress; offsets are relative to r
	want  int   // arguments announced, 0 when not inside a multibulk
	spans []int // start,end pairs of the arguments parsed so far
	pos   int   // where the next argument's '$' line starts
	args  [][]byte
}

func newReader(src io.Reader, maxBulk int64, authed func() bool) *reader {
	return &reader{src: src, buf: make([]byte, initialReadBuf), maxBulk: maxBulk, authed: authed}
}

// buffered reports whether unread bytes are waiting in the buffer.
func (rd *reader) buffered() bool { return rd.w > rd.r }

// next returns the next command's arguments, reading from the source only
// when the buffer holds no complete command. A nil slice with a nil error
// never happens. io.EOF means the client closed cleanly.
func (rd *reader) next(mayRead bool) ([][]byte, error) {
	for {
		args, done, err := rd.parse()
		if err != nil {
			return nil, err
		}
		if done {
			if len(args) == 0 {
				continue // "*0", "*-1" or an empty inline line: ignored
			}
			return args, nil
		}
		if !mayRead {
			return nil, nil
		}
		if err := rd.fill(); err != nil {
			return nil, err
		}
	}
}

// fill reads more bytes, compacting or growing the buffer as needed.
func (rd *reader) fill() error {
	if rd.r > 0 && (rd.r == rd.w || rd.w == len(rd.buf)) {
		n := copy(rd.buf, rd.buf[rd.r:rd.w])
		rd.r, rd.w = 0, n
	}
	if rd.w == len(rd.buf) {
		grow := len(rd.buf)
		if grow > 32<<20 {
			grow = 32 << 20
		}
		nb := make([]byte, len(rd.buf)+grow)
		copy(nb, rd.buf[:rd.w])
		rd.buf = nb
	}
	n, err := rd.src.Read(rd.buf[rd.w:])
	rd.w += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// reserve makes room for a bulk of n bytes so that large values are read
// straight into place instead of through repeated doubling.
func (rd *reader) reserve(n int) {
	need := rd.pos + n + 2 // relative to r
	if rd.r+need <= len(rd.buf) {
		return
	}
	if need <= len(rd.buf) {
		m := copy(rd.buf, rd.buf[rd.r:rd.w])
		rd.r, rd.w = 0, m
		return
	}
	nb := make([]byte, need+readChunk)
	m := copy(nb, rd.buf[rd.r:rd.w])
	rd.buf, rd.r, rd.w = nb, 0, m
}

// shrink drops a buffer that grew for one large request once it is empty,
// so an idle connection holds only a small one.
func (rd *reader) shrink() {
	if rd.r == rd.w && len(rd.buf) > 64*1024 && rd.want == 0 {
		rd.buf = make([]byte, initialReadBuf)
		rd.r, rd.w = 0, 0
	}
	if cap(rd.spans) > 4096 && rd.want == 0 {
		rd.spans, rd.args = nil, nil
	}
}

// parse tries to take one command from the buffer.
func (rd *reader) parse() (args [][]byte, done bool, err error) {
	data := rd.buf[rd.r:rd.w]
	if len(data) == 0 {
		return nil, false, nil
	}
	if rd.want == 0 && data[0] != '*' {
		return rd.parseInline(data)
	}
	if rd.want == 0 {
		line, n, err := readLine(data, "too big mbulk count string")
		if err != nil || n == 0 {
			return nil, false, err
		}
		count, ok := parseLen(line[1:])
		if !ok || count > maxMultibulkLen {
			return nil, false, &protocolError{"invalid multibulk length"}
		}
		if count > unauthMultibulkMax && !rd.authed() {
			return nil, false, &protocolError{"unauthenticated multibulk length"}
		}
		if count <= 0 {
			rd.r += n
			return nil, true, nil
		}
		rd.want = int(count)
		rd.pos = n
		rd.spans = rd.spans[:0]
	}
	for len(rd.spans)/2 < rd.want {
		data = rd.buf[rd.r:rd.w]
		rest := data[rd.pos:]
		if len(rest) == 0 {
			return nil, false, nil
		}
		if rest[0] != '$' {
			return nil, false, &protocolError{fmt.Sprintf("expected '$', got '%c'", rest[0])}
		}
		line, n, err := readLine(rest, "too big bulk count string")
		if err != nil || n == 0 {
			return nil, false, err
		}
		size, ok := parseLen(line[1:])
		if !ok || size < 0 || size > rd.maxBulk {
			return nil, false, &protocolError{"invalid bulk length"}
		}
		if size > unauthBulkMax && !rd.authed() {
			return nil, false, &protocolError{"unauthenticated bulk length"}
		}
		if len(rest) < n+int(size)+2 {
			if size >= 32*1024 {
				rd.reserve(n + int(size))
			}
			return nil, false, nil
		}
		if rest[n+int(size)] != '\r' || rest[n+int(size)+1] != '\n' {
			return nil, false, &protocolError{"invalid bulk length"}
		}
		rd.spans = append(rd.spans, rd.pos+n, rd.pos+n+int(size))
		rd.pos += n + int(size) + 2
	}
	base := rd.buf[rd.r:]
	rd.args = rd.args[:0]
	for i := 0; i < len(rd.spans); i += 2 {
		rd.args = append(rd.args, base[rd.spans[i]:rd.spans[i+1]:rd.spans[i+1]])
	}
	rd.r += rd.pos
	rd.want, rd.pos = 0, 0
	return rd.args, true, nil
}

// readLine returns the line at the start of data without its CRLF and the
// bytes it spans including the terminator; n == 0 means incomplete.
func readLine(data []byte, tooBig string) (line []byte, n int, err error) {
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		if len(data) > inlineMaxSize {
			return nil, 0, &protocolError{tooBig}
		}
		return nil, 0, nil
	}
	if i == 0 || data[i-1] != '\r' {
		// Redis requires CRLF here; a bare LF leaves the length
		// unparseable, which it reports as the length being invalid.
		if tooBig == "too big mbulk count string" {
			return nil, 0, &protocolError{"invalid multibulk length"}
		}
		return nil, 0, &protocolError{"invalid bulk length"}
	}
	return data[:i-1], i + 1, nil
}

func parseLen(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	return v, err == nil
}

// parseInline parses a telnet-style command line as Redis's
// sdssplitargs does: spaces separate, "double quotes" take \n \r \t \b \a
// \\ \" and \xHH escapes, 'single quotes' take \'.
func (rd *reader) parseInline(data []byte) ([][]byte, bool, error) {
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		if len(data) > inlineMaxSize {
			return nil, false, &protocolError{"too big inline request"}
		}
		return nil, false, nil
	}
	line := data[:i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	args, err := splitArgs(line)
	if err != nil {
		return nil, false, err
	}
	rd.r += i + 1
	return args, true, nil
}

var errUnbalanced = &protocolError{"unbalanced quotes in request"}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func hexVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func isInlineSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f' || c == 0
}

// splitArgs splits an inline command line. The arguments are fresh copies.
func splitArgs(p []byte) ([][]byte, error) {
	var out [][]byte
	i := 0
	for {
		for i < len(p) && isInlineSpace(p[i]) {
			i++
		}
		if i >= len(p) {
			return out, nil
		}
		var cur []byte
		inDQ, inSQ, done := false, false, false
		for !done {
			switch {
			case inDQ:
				if i >= len(p) {
					return nil, errUnbalanced
				}
				switch {
				case p[i] == '\\' && i+3 < len(p) && p[i+1] == 'x' && isHex(p[i+2]) && isHex(p[i+3]):
					cur = append(cur, hexVal(p[i+2])<<4|hexVal(p[i+3]))
					i += 3
				case p[i] == '\\' && i+1 < len(p):
					i++
					c := p[i]
					switch c {
					case 'n':
						c = '\n'
					case 'r':
						c = '\r'
					case 't':
						c = '\t'
					case 'b':
						c = '\b'
					case 'a':
						c = '\a'
					}
					cur = append(cur, c)
				case p[i] == '"':
					if i+1 < len(p) && !isInlineSpace(p[i+1]) {
						return nil, errUnbalanced
					}
					done = true
				default:
					cur = append(cur, p[i])
				}
			case inSQ:
				if i >= len(p) {
					return nil, errUnbalanced
				}
				switch {
				case p[i] == '\\' && i+1 < len(p) && p[i+1] == '\'':
					i++
					cur = append(cur, '\'')
				case p[i] == '\'':
					if i+1 < len(p) && !isInlineSpace(p[i+1]) {
						return nil, errUnbalanced
					}
					done = true
				default:
					cur = append(cur, p[i])
				}
			default:
				if i >= len(p) {
					done = true
					break
				}
				switch p[i] {
				case ' ', '\n', '\r', '\t', 0:
					done = true
				case '"':
					inDQ = true
				case '\'':
					inSQ = true
				default:
					cur = append(cur, p[i])
				}
			}
			if i < len(p) {
				i++
			}
		}
		if cur == nil {
			cur = []byte{}
		}
		out = append(out, cur)
	}
}

// isProtocolError reports whether err is a malformed request.
func isProtocolError(err error) bool {
	var pe *protocolError
	return errors.As(err, &pe)
}
