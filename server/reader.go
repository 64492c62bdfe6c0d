package server

import (
	"bytes"
	"errors"
	"io"
	"math"

	"sessiond/shard"
)

// Limits Redis applies to requests (PROTO_INLINE_MAX_SIZE and friends).
const (
	inlineMaxSize      = 64 * 1024 // unread bytes allowed before an inline command's or a length line's end
	initialReadBuf     = 4 * 1024  // what every connection's reader starts with
	idleReadBuf        = 64 * 1024 // a larger, empty buffer is dropped between requests
	bigArg             = 32 * 1024 // PROTO_MBULK_BIG_ARG: bulks this long get room reserved up front
	doubleUpTo         = 64 << 20  // the buffer doubles up to this size, then grows by 25%
	maxMultibulkLen    = math.MaxInt32
	unauthMultibulkMax = 10
	unauthBulkMax      = 16384
	queryBufLimit      = 1 << 30 // client-query-buffer-limit: unread bytes of one request
)

// protocolError is a malformed request. The client gets
// "-ERR Protocol error: <msg>" and the connection is closed, as Redis does.
type protocolError struct{ msg string }

func (e *protocolError) Error() string { return "ERR Protocol error: " + e.msg }

// errQueryBufLimit closes a client whose single request outgrew
// queryBufLimit. Redis closes such a client without a reply.
var errQueryBufLimit = errors.New("closing client that reached max query buffer length")

// reader turns a connection's bytes into commands, following Redis 7's
// processInlineBuffer and processMultibulkBuffer byte for byte (same
// errors, same leniencies). It parses incrementally: every line is searched
// once however many reads it arrives over, and arguments already parsed
// are never looked at again, so a multibulk of millions of arguments fed a
// few bytes at a time costs linear work. A bulk of bigArg bytes or more
// gets room reserved as soon as its length is known, so its bytes are read
// straight into place.
//
// Arguments returned by next alias the buffer and are valid until the
// following call.
type reader struct {
	src     io.Reader
	buf     []byte
	r, w    int   // unread data is buf[r:w]
	maxBulk int64 // proto-max-bulk-len
	authed  func() bool
	// maxQuery bounds the unread bytes of one request (Redis's
	// client-query-buffer-limit); see limit.
	maxQuery int

	// The request in progress. Offsets are relative to r, which stays at
	// the request's first byte until the request is complete.
	want  int   // arguments announced by a multibulk, 0 when none is open
	bulk  int   // length of the argument whose $ line was read, -1 if none
	pos   int   // start of the next line or bulk to parse
	mark  int   // searches for a line's end resume here (>= pos)
	spans []int // start, end pairs of the arguments parsed so far
	args  [][]byte

	// Work counters, for tests: bytes examined while looking for line
	// ends, and bytes moved by compacting or growing the buffer.
	scanned int
	copied  int
}

func newReader(src io.Reader, maxBulk int64, authed func() bool) *reader {
	return &reader{
		src: src, buf: make([]byte, initialReadBuf), maxBulk: maxBulk, authed: authed,
		maxQuery: queryBufLimit, bulk: -1,
	}
}

// buffered reports whether unread bytes are waiting in the buffer.
func (rd *reader) buffered() bool { return rd.w > rd.r }

// next returns the next command's arguments. With mayRead false it only
// parses what is buffered and returns nil, nil when that holds no complete
// command; with mayRead true it reads from the source until a command is
// complete. Read errors are returned as they come (io.EOF when the client
// closed); a malformed request returns a *protocolError, after which the
// reader must not be used again.
func (rd *reader) next(mayRead bool) ([][]byte, error) {
	for {
		args, done, err := rd.parse()
		if err != nil {
			return nil, err
		}
		if done {
			if len(args) == 0 {
				continue // "*0", "*-1" or a blank inline line: ignored
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
	if rd.r == rd.w {
		rd.r, rd.w = 0, 0
	}
	if rd.w-rd.r >= rd.limit() {
		return errQueryBufLimit
	}
	if rd.w == len(rd.buf) {
		if rd.r > 0 {
			rd.compact()
		} else {
			// Double while small, then grow by a quarter: copying
			// stays linear and over-allocation bounded.
			grow := len(rd.buf)
			if grow > doubleUpTo {
				grow /= 4
			}
			rd.realloc(len(rd.buf) + grow)
		}
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

// limit is the most unread bytes one request may hold: maxQuery (Redis's
// default client-query-buffer-limit), or more when proto-max-bulk-len
// allows a single argument that large.
func (rd *reader) limit() int {
	if b := rd.bulkLimit(); b > int64(rd.maxQuery-inlineMaxSize) {
		return int(b) + inlineMaxSize
	}
	return rd.maxQuery
}

// maxBulkCap bounds the bulk length the reader accepts whatever
// proto-max-bulk-len says (it may be set up to 2^63-1, as in Redis), so
// that sizes plus framing never overflow an int.
const maxBulkCap = 1 << 40

// bulkLimit is the largest bulk the reader accepts.
func (rd *reader) bulkLimit() int64 { return min(rd.maxBulk, maxBulkCap) }

// compact moves the unread bytes to the start of the buffer.
func (rd *reader) compact() {
	n := copy(rd.buf, rd.buf[rd.r:rd.w])
	rd.copied += n
	rd.r, rd.w = 0, n
}

// realloc moves the unread bytes into a new buffer of size bytes.
func (rd *reader) realloc(size int) {
	nb := make([]byte, size)
	n := copy(nb, rd.buf[rd.r:rd.w])
	rd.copied += n
	rd.buf, rd.r, rd.w = nb, 0, n
}

// reserve makes room for the request up to offset end (relative to r), so
// that a big bulk is read straight into place: into the free space if it
// fits, else after compacting, else into a buffer of exactly that size.
func (rd *reader) reserve(end int) {
	switch {
	case rd.r+end <= len(rd.buf):
	case end <= len(rd.buf):
		rd.compact()
	default:
		rd.realloc(end)
	}
}

// shrink drops a buffer that grew for one large request once it is empty,
// so that an idle connection holds only a small one.
func (rd *reader) shrink() {
	if rd.r != rd.w || rd.want != 0 {
		return
	}
	rd.r, rd.w = 0, 0
	if len(rd.buf) > idleReadBuf {
		rd.buf = make([]byte, initialReadBuf)
	}
	// args still points into the buffer (or the one just dropped) beyond
	// its length: clear it, or a large value would stay reachable for as
	// long as the connection is idle.
	clear(rd.args[:cap(rd.args)])
	rd.args = rd.args[:0]
	if cap(rd.spans) > 4096 {
		rd.spans, rd.args = nil, nil
	}
}

// find returns the offset (relative to r) of the first c at or after the
// current line's start, or -1 when there is none yet. Like Redis's strchr
// over its NUL-terminated query buffer it stops at a NUL byte: a line with
// a NUL before its end is never complete. Bytes already searched are not
// searched again.
func (rd *reader) find(c byte) int {
	from := rd.r + rd.mark
	seg := rd.buf[from:rd.w]
	if len(seg) > 0 && seg[0] == 0 {
		rd.scanned++
		return -1 // stuck behind a NUL: nothing later counts
	}
	i := bytes.IndexByte(seg, c)
	end := i
	if end < 0 {
		end = len(seg)
	}
	if z := bytes.IndexByte(seg[:end], 0); z >= 0 {
		rd.scanned += end + z + 1
		rd.mark += z
		return -1
	}
	rd.scanned += 2*end + 1
	rd.mark += end
	if i < 0 {
		return -1
	}
	return rd.mark
}

// unread returns how many bytes follow the current line's start.
func (rd *reader) unread() int { return rd.w - rd.r - rd.pos }

// finish ends the request at offset end (relative to r).
func (rd *reader) finish(end int) {
	rd.r += end
	rd.want, rd.bulk, rd.pos, rd.mark = 0, -1, 0, 0
}

// parse tries to take one command from the buffer. done with no args is an
// empty request, which the caller skips.
func (rd *reader) parse() (args [][]byte, done bool, err error) {
	if rd.want == 0 {
		if rd.r == rd.w {
			return nil, false, nil
		}
		if rd.buf[rd.r] != '*' {
			return rd.parseInline()
		}
		if done, err := rd.parseCount(); done || err != nil || rd.want == 0 {
			return nil, done, err
		}
	}
	for len(rd.spans)/2 < rd.want {
		if rd.bulk < 0 {
			if ok, err := rd.parseBulkLen(); !ok || err != nil {
				return nil, false, err
			}
		}
		if rd.unread() < rd.bulk+2 {
			return nil, false, nil
		}
		// Like Redis, the two bytes after the data are skipped unchecked.
		rd.spans = append(rd.spans, rd.pos, rd.pos+rd.bulk)
		rd.pos += rd.bulk + 2
		rd.mark, rd.bulk = rd.pos, -1
	}
	base := rd.buf[rd.r:]
	rd.args = rd.args[:0]
	for i := 0; i < len(rd.spans); i += 2 {
		rd.args = append(rd.args, base[rd.spans[i]:rd.spans[i+1]:rd.spans[i+1]])
	}
	rd.spans = rd.spans[:0]
	rd.finish(rd.pos)
	return rd.args, true, nil
}

// parseCount reads a multibulk's "*<count>" line. It opens the multibulk
// (want > 0), reports an empty request as done, or leaves everything as it
// was when the line is not complete.
func (rd *reader) parseCount() (done bool, err error) {
	// Redis looks for the '\r' and then only checks that one more byte
	// (taken to be the '\n') has arrived.
	i := rd.find('\r')
	if i < 0 {
		if rd.unread() > inlineMaxSize {
			return false, &protocolError{"too big mbulk count string"}
		}
		return false, nil
	}
	if i+1 >= rd.w-rd.r {
		return false, nil
	}
	count, ok := shard.ParseInt(rd.buf[rd.r+1 : rd.r+i])
	if !ok || count > maxMultibulkLen {
		return false, &protocolError{"invalid multibulk length"}
	}
	if count > unauthMultibulkMax && !rd.authed() {
		return false, &protocolError{"unauthenticated multibulk length"}
	}
	if count <= 0 {
		rd.finish(i + 2)
		return true, nil
	}
	rd.want = int(count)
	rd.pos, rd.mark, rd.bulk = i+2, i+2, -1
	rd.spans = rd.spans[:0]
	return false, nil
}

// parseBulkLen reads an argument's "$<len>" line; ok is false while the
// line is incomplete.
func (rd *reader) parseBulkLen() (ok bool, err error) {
	i := rd.find('\r')
	if i < 0 {
		if rd.unread() > inlineMaxSize {
			return false, &protocolError{"too big bulk count string"}
		}
		return false, nil
	}
	if i+1 >= rd.w-rd.r {
		return false, nil
	}
	line := rd.buf[rd.r+rd.pos : rd.r+i]
	if len(line) == 0 || line[0] != '$' {
		got := byte('\r') // an empty line: the '\r' itself
		if len(line) > 0 {
			got = line[0]
		}
		return false, &protocolError{"expected '$', got '" + string([]byte{got}) + "'"}
	}
	size, ok := shard.ParseInt(line[1:])
	if !ok || size < 0 || size > rd.bulkLimit() {
		return false, &protocolError{"invalid bulk length"}
	}
	if size > unauthBulkMax && !rd.authed() {
		return false, &protocolError{"unauthenticated bulk length"}
	}
	rd.pos, rd.mark, rd.bulk = i+2, i+2, int(size)
	if size >= bigArg {
		rd.reserve(rd.pos + rd.bulk + 2)
	}
	return true, nil
}

// parseInline parses a telnet-style command line: up to '\n' (a '\r'
// before it is dropped), split as Redis's sdssplitargs does.
func (rd *reader) parseInline() ([][]byte, bool, error) {
	i := rd.find('\n')
	if i < 0 {
		if rd.unread() > inlineMaxSize {
			return nil, false, &protocolError{"too big inline request"}
		}
		return nil, false, nil
	}
	line := rd.buf[rd.r : rd.r+i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	args, err := splitArgs(line)
	if err != nil {
		return nil, false, err
	}
	rd.finish(i + 1)
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

// isSpace is C's isspace in the C locale.
func isSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f'
}

// splitArgs splits an inline command line as Redis's sdssplitargs does.
// Blanks (isspace) separate arguments, but inside an unquoted argument
// only ' ', '\t', '\r' and '\n' end it. "Double quotes" take \n \r \t \b
// \a \xHH and backslash-anything escapes; 'single quotes' take only \'.
// A closing quote must be followed by a blank or the end of the line. The
// line holds no NUL (find never completes a line across one). The
// arguments are fresh copies.
func splitArgs(p []byte) ([][]byte, error) {
	var out [][]byte
	i := 0
	for {
		for i < len(p) && isSpace(p[i]) {
			i++
		}
		if i >= len(p) {
			return out, nil
		}
		cur := []byte{}
		inDQ, inSQ := false, false
		for done := false; !done; {
			switch {
			case inDQ:
				switch {
				case i >= len(p):
					return nil, errUnbalanced
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
					if i+1 < len(p) && !isSpace(p[i+1]) {
						return nil, errUnbalanced
					}
					done = true
				default:
					cur = append(cur, p[i])
				}
			case inSQ:
				switch {
				case i >= len(p):
					return nil, errUnbalanced
				case p[i] == '\\' && i+1 < len(p) && p[i+1] == '\'':
					i++
					cur = append(cur, '\'')
				case p[i] == '\'':
					if i+1 < len(p) && !isSpace(p[i+1]) {
						return nil, errUnbalanced
					}
					done = true
				default:
					cur = append(cur, p[i])
				}
			case i >= len(p):
				done = true
			default:
				switch p[i] {
				case ' ', '\n', '\r', '\t':
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
		out = append(out, cur)
	}
}

// isProtocolError reports whether err is a malformed request.
func isProtocolError(err error) bool {
	var pe *protocolError
	return errors.As(err, &pe)
}

// peekKeys appends to keys the first argument of each complete multibulk
// command buffered after the one next returned last, and to members the
// argument hot names for it (nil when hot says 0), as long as hot accepts
// the command (given its name and number of arguments, it returns -1 for
// no, 0 for its key only, or the index of the member argument to warm
// too), up to max keys; it stops at the first other command, inline or
// incomplete one. It consumes nothing: next returns the same commands
// after it. The keys and members alias the buffer (valid until next).
func (rd *reader) peekKeys(keys, members [][]byte, max int, hot func(name []byte, nargs int) int) ([][]byte, [][]byte) {
	if rd.want != 0 {
		return keys, members
	}
	b := rd.buf[rd.r:rd.w]
	for len(keys) < max {
		if len(b) == 0 || b[0] != '*' {
			break
		}
		n, rest, ok := peekNum(b[1:])
		if !ok || n < 2 || n > len(rest)/4 { // each argument takes 4 bytes or more
			break
		}
		name, rest, ok := peekBulk(rest)
		key, rest, ok2 := peekBulk(rest)
		if !ok || !ok2 {
			break
		}
		var member []byte
		var arg []byte
		at := hot(name, n)
		for i := 2; ok && i < n; i++ {
			arg, rest, ok = peekBulk(rest)
			if i == at {
				member = arg
			}
		}
		if !ok || at < 0 {
			break
		}
		keys = append(keys, key)
		members = append(members, member)
		b = rest
	}
	return keys, members
}

// peekNum parses "<digits>\r\n" at the start of b: at most 9 digits,
// no leading zero (a shape next may refuse is not peeked).
func peekNum(b []byte) (n int, rest []byte, ok bool) {
	i := 0
	for ; i < len(b) && i < 10 && '0' <= b[i] && b[i] <= '9'; i++ {
		n = n*10 + int(b[i]-'0')
	}
	if i == 0 || i > 9 || i > 1 && b[0] == '0' || len(b) < i+2 || b[i] != '\r' || b[i+1] != '\n' {
		return 0, nil, false
	}
	return n, b[i+2:], true
}

// peekBulk parses one complete "$<len>\r\n<data>\r\n" at the start of b.
func peekBulk(b []byte) (data, rest []byte, ok bool) {
	if len(b) == 0 || b[0] != '$' {
		return nil, nil, false
	}
	n, rest, ok := peekNum(b[1:])
	if !ok || len(rest) < n+2 {
		return nil, nil, false
	}
	return rest[:n:n], rest[n+2:], true
}
