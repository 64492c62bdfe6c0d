package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
)

// chunkSource serves data a fixed number of bytes per Read, then io.EOF.
type chunkSource struct {
	data  []byte
	chunk int
	reads int
}

func (s *chunkSource) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), s.chunk, len(s.data))
	copy(p, s.data[:n])
	s.data = s.data[n:]
	s.reads++
	return n, nil
}

// splitSource serves data in the given pieces, one per Read, then io.EOF.
type splitSource struct{ pieces [][]byte }

func (s *splitSource) Read(p []byte) (int, error) {
	for len(s.pieces) > 0 && len(s.pieces[0]) == 0 {
		s.pieces = s.pieces[1:]
	}
	if len(s.pieces) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.pieces[0])
	s.pieces[0] = s.pieces[0][n:]
	return n, nil
}

// drain reads commands until an error and returns them (copied) with the
// error.
func drainReader(rd *reader) ([][]string, error) {
	var cmds [][]string
	for {
		args, err := rd.next(true)
		if err != nil {
			return cmds, err
		}
		cmd := make([]string, len(args))
		for i, a := range args {
			cmd[i] = string(a)
		}
		cmds = append(cmds, cmd)
	}
}

func constAuth(v bool) func() bool { return func() bool { return v } }

// parseChunked parses in with chunk bytes per read.
func parseChunked(in string, chunk int, maxBulk int64, authed bool) ([][]string, error) {
	return drainReader(newReader(&chunkSource{data: []byte(in), chunk: chunk}, maxBulk, constAuth(authed)))
}

// errText is what the client sees for err (without '-' and CRLF), or
// "EOF" / "other: ..." for non-protocol errors.
func readErrText(err error) string {
	switch {
	case err == nil:
		return ""
	case isProtocolError(err):
		return err.Error()
	case errors.Is(err, io.EOF):
		return "EOF"
	}
	return "other: " + err.Error()
}

func rcmds(c ...[]string) [][]string { return c }
func rcmd(a ...string) []string      { return a }

// Every protocol error Redis 7 has, with the commands parsed before it.
// The expectations were checked against redis-server 7.0 over a socket.
func TestReaderErrors(t *testing.T) {
	big := strings.Repeat("1", 65536)
	tests := []struct {
		name    string
		in      string
		maxBulk int64
		unauth  bool
		want    [][]string
		err     string
	}{
		{"bare LF after count", "*1\n$4\r\nPING\r\n", 0, false, nil, "invalid multibulk length"},
		{"count with plus", "*+1\r\n$4\r\nPING\r\n", 0, false, nil, "invalid multibulk length"},
		{"count with leading zero", "*01\r\n$4\r\nPING\r\n", 0, false, nil, "invalid multibulk length"},
		{"count -0", "*-0\r\n", 0, false, nil, "invalid multibulk length"},
		{"count empty", "*\r\n", 0, false, nil, "invalid multibulk length"},
		{"count not a number", "*x\r\n", 0, false, nil, "invalid multibulk length"},
		{"count over INT_MAX", "*2147483648\r\n", 0, false, nil, "invalid multibulk length"},
		{"count over int64", "*99999999999999999999\r\n", 0, false, nil, "invalid multibulk length"},
		{"count line too long", "*" + big, 0, false, nil, "too big mbulk count string"},
		{"count line long but ended", "*" + big[2:] + "\r\n", 0, false, nil, "invalid multibulk length"},
		{"expected $", "*1\r\nX\r\n", 0, false, nil, "expected '$', got 'X'"},
		{"expected $, got CR", "*1\r\n\r\n", 0, false, nil, "expected '$', got '\r'"},
		{"expected $, got LF", "*1\r\n\n\r\n", 0, false, nil, "expected '$', got '\n'"},
		{"expected $, got high byte", "*1\r\n\xff\r\n", 0, false, nil, "expected '$', got '\xff'"},
		{"bulk with plus", "*1\r\n$+4\r\nPING\r\n", 0, false, nil, "invalid bulk length"},
		{"bulk with leading zero", "*1\r\n$04\r\nPING\r\n", 0, false, nil, "invalid bulk length"},
		{"bulk -1", "*1\r\n$-1\r\n", 0, false, nil, "invalid bulk length"},
		{"bulk -0", "*1\r\n$-0\r\n", 0, false, nil, "invalid bulk length"},
		{"bulk empty", "*1\r\n$\r\n", 0, false, nil, "invalid bulk length"},
		{"bulk over int64", "*1\r\n$99999999999999999999\r\n", 0, false, nil, "invalid bulk length"},
		{"bulk over proto-max-bulk-len", "*1\r\n$11\r\n", 10, false, nil, "invalid bulk length"},
		{"bulk at proto-max-bulk-len", "*1\r\n$10\r\n0123456789\r\n", 10, false, rcmds(rcmd("0123456789")), "EOF"},
		{"bulk line too long", "*1\r\n$" + big, 0, false, nil, "too big bulk count string"},
		{"no $ and no CR for 64K", "*1\r\nX" + big, 0, false, nil, "too big bulk count string"},
		{"NUL in bulk line, then 64K", "*1\r\n$4\x00" + big, 0, false, nil, "too big bulk count string"},
		{"inline too long", strings.Repeat("x", 65537), 0, false, nil, "too big inline request"},
		{"inline NUL hides the newline", "PING\x00" + big + "\n", 0, false, nil, "too big inline request"},
		{"unbalanced double", "ECHO \"ab\r\n", 0, false, nil, "unbalanced quotes in request"},
		{"unbalanced single", "ECHO 'ab\r\n", 0, false, nil, "unbalanced quotes in request"},
		{"text after closing double", "ECHO \"ab\"c\r\n", 0, false, nil, "unbalanced quotes in request"},
		{"text after closing single", "ECHO 'ab'c\r\n", 0, false, nil, "unbalanced quotes in request"},
		{"quote opened mid-word", "ECHO x\"a b\"y\r\n", 0, false, nil, "unbalanced quotes in request"},
		{"backslash ends a quoted arg", "ECHO \"\\\"\r\n", 0, false, nil, "unbalanced quotes in request"},
		{"unauth count 11", "*11\r\n", 0, true, nil, "unauthenticated multibulk length"},
		{"unauth bulk 16385", "*10\r\n$16385\r\n", 0, true, nil, "unauthenticated bulk length"},
		{"unauth: invalid wins", "*11x\r\n", 0, true, nil, "invalid multibulk length"},
		{"unauth: invalid bulk wins", "*1\r\n$16385x\r\n", 0, true, nil, "invalid bulk length"},
		{"commands before the error run", "*1\r\n$4\r\nPING\r\nPING\r\n*1\r\nX\r\n", 0, false, rcmds(rcmd("PING"), rcmd("PING")), "expected '$', got 'X'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			maxBulk := tc.maxBulk
			if maxBulk == 0 {
				maxBulk = 512 << 20
			}
			for _, chunk := range []int{1, 7, 1 << 20} {
				got, err := parseChunked(tc.in, chunk, maxBulk, !tc.unauth)
				want := tc.err
				if want != "EOF" {
					want = "ERR Protocol error: " + want
				}
				if readErrText(err) != want || !slices.EqualFunc(got, tc.want, slices.Equal) {
					t.Fatalf("chunk %d: got %q, %q; want %q, %q", chunk, got, readErrText(err), tc.want, want)
				}
			}
		})
	}
}

// Inputs Redis accepts, some of them leniently, and the commands they
// give. Checked against redis-server 7.0.
func TestReaderAccepts(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		unauth bool
		want   [][]string
	}{
		{"multibulk", "*2\r\n$4\r\nECHO\r\n$3\r\na b\r\n", false, rcmds(rcmd("ECHO", "a b"))},
		{"empty bulk", "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", false, rcmds(rcmd("ECHO", ""))},
		{"binary bulk", "*2\r\n$4\r\nECHO\r\n$5\r\n\x00\r\n\xff*\r\n", false, rcmds(rcmd("ECHO", "\x00\r\n\xff*"))},
		{"bytes after bulk not checked", "*1\r\n$4\r\nPINGxx", false, rcmds(rcmd("PING"))},
		{"bytes after bulk not checked, twice", "*1\r\n$4\r\nPINGxx*1\r\n$4\r\nPING\r\n", false, rcmds(rcmd("PING"), rcmd("PING"))},
		{"any byte after CR of count", "*1\rX$4\r\nPING\r\n", false, rcmds(rcmd("PING"))},
		{"*0 ignored", "*0\r\nPING\r\n", false, rcmds(rcmd("PING"))},
		{"*-1 ignored", "*-1\r\nPING\r\n", false, rcmds(rcmd("PING"))},
		{"*-5 ignored", "*-5\r\nPING\r\n", false, rcmds(rcmd("PING"))},
		{"*-5 ignored unauthenticated", "*-5\r\nPING\r\n", true, rcmds(rcmd("PING"))},
		{"unauth count 10", "*10\r\n" + strings.Repeat("$1\r\nx\r\n", 10), true, rcmds(slices.Repeat(rcmd("x"), 10))},
		{"unauth bulk 16384", "*1\r\n$16384\r\n" + strings.Repeat("y", 16384) + "\r\n", true, rcmds(rcmd(strings.Repeat("y", 16384)))},
		{"count INT_MAX waits", "*2147483647\r\n", false, nil},
		{"LF only inline", "PING\nPING\n", false, rcmds(rcmd("PING"), rcmd("PING"))},
		{"blank lines ignored", "\r\n\r\n   \r\n\nPING\r\n", false, rcmds(rcmd("PING"))},
		{"CR CR LF", "PING\r\r\n", false, rcmds(rcmd("PING"))},
		{"inline after multibulk", "*1\r\n$3\r\nFOO\r\n$1\r\nx\r\n", false, rcmds(rcmd("FOO"), rcmd("$1"), rcmd("x"))},
		{"inline spaces and tabs", "  SET\tk  v \r\n", false, rcmds(rcmd("SET", "k", "v"))},
		{"inline VT inside a word", "ECHO a\vb\r\n", false, rcmds(rcmd("ECHO", "a\vb"))},
		{"inline VT separates after a quote", "ECHO \"a\"\v\r\n", false, rcmds(rcmd("ECHO", "a"))},
		{"inline leading VT is blank", "\vECHO x\r\n", false, rcmds(rcmd("ECHO", "x"))},
		{"double-quote escapes", `ECHO "a\x41\x4g\n\z\r\t\b\a\"\\"` + "\r\n", false, rcmds(rcmd("ECHO", "aAx4g\nz\r\t\b\a\"\\"))},
		{"hex upper and lower", `ECHO "\xfF\x00\X41"` + "\r\n", false, rcmds(rcmd("ECHO", "\xff\x00X41"))},
		{"single-quote escapes", `ECHO 'a\'b\n'` + "\r\n", false, rcmds(rcmd("ECHO", `a'b\n`))},
		{"empty quoted args", `ECHO "" ''` + "\r\n", false, rcmds(rcmd("ECHO", "", ""))},
		{"quote opens mid-word", `ECHO ab"c d"` + "\r\n", false, rcmds(rcmd("ECHO", "abc d"))},
		{"quoted then space", `SET "a b" 'c d' e` + "\r\n", false, rcmds(rcmd("SET", "a b", "c d", "e"))},
		{"incomplete multibulk waits", "*2\r\n$3\r\nGET\r\n", false, nil},
		{"incomplete bulk waits", "*1\r\n$4\r\nPI", false, nil},
		{"incomplete count waits", "*1", false, nil},
		{"count CR without LF waits", "*1\r", false, nil},
		{"bare LF count waits for a CR", "*1\n", false, nil},
		{"no $ yet waits for the CR", "*1\r\nX", false, nil},
		{"NUL in count line waits", "*1\x00\r\n$4\r\nPING\r\n", false, nil},
		{"NUL in inline line waits", "PING\x00\r\n", false, nil},
		{"line of CR just under the limit waits", "*" + strings.Repeat("1", 65535) + "\r", false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, chunk := range []int{1, 3, 1 << 20} {
				got, err := parseChunked(tc.in, chunk, 512<<20, !tc.unauth)
				if readErrText(err) != "EOF" || !slices.EqualFunc(got, tc.want, slices.Equal) {
					t.Fatalf("chunk %d: got %q, %q; want %q, EOF", chunk, got, readErrText(err), tc.want)
				}
			}
		})
	}
}

// TestReaderEveryBoundary splits a stream of mixed commands at every byte
// (two reads) and also feeds it one byte at a time: the commands never
// change.
func TestReaderEveryBoundary(t *testing.T) {
	stream := "*3\r\n$3\r\nSET\r\n$3\r\nk\r\n\r\n$0\r\n\r\n" +
		"GET \"a\\x20b\" 'c'\r\n" +
		"*0\r\n" +
		"*1\r\n$4\r\nPINGzz" +
		"\r\n" +
		"PING\n" +
		"*2\r\n$4\r\nECHO\r\n$40\r\n" + strings.Repeat("e", 40) + "\r\n"
	want := rcmds(rcmd("SET", "k\r\n", ""), rcmd("GET", "a b", "c"), rcmd("PING"), rcmd("PING"), rcmd("ECHO", strings.Repeat("e", 40)))
	for i := 0; i <= len(stream); i++ {
		src := &splitSource{pieces: [][]byte{[]byte(stream[:i]), []byte(stream[i:])}}
		got, err := drainReader(newReader(src, 512<<20, constAuth(true)))
		if !errors.Is(err, io.EOF) || !slices.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("split at %d: got %q, %v", i, got, err)
		}
	}
	if got, err := parseChunked(stream, 1, 512<<20, true); !errors.Is(err, io.EOF) || !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("byte at a time: got %q, %v", got, err)
	}
}

// onceSource hands out its data in a single Read and fails the test if it
// is read again before the reader has given back every command.
type onceSource struct {
	t    *testing.T
	data []byte
	done bool
}

func (s *onceSource) Read(p []byte) (int, error) {
	if s.done {
		return 0, io.EOF
	}
	if len(p) < len(s.data) {
		s.t.Fatalf("buffer of %d bytes for a %d-byte read", len(p), len(s.data))
	}
	s.done = true
	return copy(p, s.data), nil
}

func TestReaderManyPerRead(t *testing.T) {
	var in bytes.Buffer
	const n = 500
	for i := 0; i < n; i++ {
		if i%2 == 0 {
			fmt.Fprintf(&in, "*2\r\n$3\r\nGET\r\n$%d\r\nk%d\r\n", len(fmt.Sprint(i))+1, i)
		} else {
			fmt.Fprintf(&in, "GET k%d\r\n", i)
		}
	}
	rd := newReader(&onceSource{t: t, data: in.Bytes()}, 512<<20, constAuth(true))
	rd.buf = make([]byte, in.Len()) // one read takes it all
	first, err := rd.next(true)
	if err != nil || string(first[1]) != "k0" {
		t.Fatalf("first command: %q, %v", first, err)
	}
	for i := 1; i < n; i++ {
		args, err := rd.next(false)
		if err != nil || args == nil || string(args[1]) != fmt.Sprint("k", i) {
			t.Fatalf("command %d from the buffer: %q, %v", i, args, err)
		}
	}
	if args, err := rd.next(false); args != nil || err != nil {
		t.Fatalf("after the last command: %q, %v", args, err)
	}
	if rd.buffered() {
		t.Fatalf("bytes left in the buffer")
	}
}

// TestReaderBigBulkInPlace reads a 10 MiB value in 64 KiB reads: once its
// length is known the buffer is sized for it exactly, and the value's
// bytes read after that are never moved.
func TestReaderBigBulkInPlace(t *testing.T) {
	const size = 10 << 20
	head := fmt.Sprintf("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n", size)
	val := bytes.Repeat([]byte("v"), size)
	val[0], val[size-1] = 'A', 'Z'
	in := append(append([]byte(head), val...), "\r\n*1\r\n$4\r\nPING\r\n"...)
	rd := newReader(&chunkSource{data: in, chunk: 64 << 10}, 512<<20, constAuth(true))
	args, err := rd.next(true)
	if err != nil || len(args) != 3 || !bytes.Equal(args[2], val) {
		t.Fatalf("SET: %d args, %v", len(args), err)
	}
	// Only what was buffered when the length became known is moved.
	if rd.copied > initialReadBuf {
		t.Fatalf("%d bytes copied: the value was moved", rd.copied)
	}
	if len(rd.buf) != len(head)+size+2 {
		t.Fatalf("buffer is %d bytes, want exactly %d", len(rd.buf), len(head)+size+2)
	}
	if args, err := rd.next(true); err != nil || string(args[0]) != "PING" {
		t.Fatalf("command after the bulk: %q, %v", args, err)
	}
	rd.shrink()
	if len(rd.buf) != initialReadBuf {
		t.Fatalf("after shrink the buffer is %d bytes", len(rd.buf))
	}
}

// TestReaderLinearWork feeds a multibulk of 1,000,000 one-byte arguments a
// few bytes per read, and a 60 KB inline line one byte per read: the bytes
// the reader examines and moves stay proportional to the input.
func TestReaderLinearWork(t *testing.T) {
	t.Run("million args", func(t *testing.T) {
		const n = 1_000_000
		var in bytes.Buffer
		fmt.Fprintf(&in, "*%d\r\n", n)
		for i := 0; i < n; i++ {
			in.WriteString("$1\r\nx\r\n")
		}
		in.WriteString("PING\r\n")
		total := in.Len()
		src := &chunkSource{data: in.Bytes(), chunk: 100}
		rd := newReader(src, 512<<20, constAuth(true))
		args, err := rd.next(true)
		if err != nil || len(args) != n {
			t.Fatalf("got %d args, %v", len(args), err)
		}
		for i, a := range args {
			if len(a) != 1 || a[0] != 'x' {
				t.Fatalf("arg %d = %q", i, a)
			}
		}
		if rd.scanned > 3*total {
			t.Fatalf("scanned %d bytes for %d of input: not linear", rd.scanned, total)
		}
		if rd.copied > 2*total {
			t.Fatalf("copied %d bytes for %d of input: not linear", rd.copied, total)
		}
		if args, err := rd.next(true); err != nil || string(args[0]) != "PING" {
			t.Fatalf("after: %q, %v", args, err)
		}
		rd.shrink()
		if cap(rd.spans) != 0 || len(rd.buf) != initialReadBuf {
			t.Fatalf("shrink kept spans cap %d, buffer %d", cap(rd.spans), len(rd.buf))
		}
	})
	t.Run("long line byte by byte", func(t *testing.T) {
		for _, prefix := range []string{"ECHO ", "*1\r\n$", "*"} {
			line := prefix + strings.Repeat("1", 60000)
			rd := newReader(&chunkSource{data: []byte(line), chunk: 1}, 512<<20, constAuth(true))
			if _, err := rd.next(true); !errors.Is(err, io.EOF) {
				t.Fatalf("%q...: %v", prefix, err)
			}
			if rd.scanned > 3*len(line) {
				t.Fatalf("%q...: scanned %d bytes for %d of input: not linear", prefix, rd.scanned, len(line))
			}
		}
	})
	t.Run("stuck behind NUL", func(t *testing.T) {
		in := "*1\x00" + strings.Repeat("2", 60000)
		rd := newReader(&chunkSource{data: []byte(in), chunk: 1}, 512<<20, constAuth(true))
		if _, err := rd.next(true); !errors.Is(err, io.EOF) {
			t.Fatalf("got %v", err)
		}
		if rd.scanned > 3*len(in) {
			t.Fatalf("scanned %d bytes for %d of input", rd.scanned, len(in))
		}
	})
}

// TestReaderAuthChanges checks that the authentication state is read
// when each request's lengths are, not once per connection.
func TestReaderAuthChanges(t *testing.T) {
	authed := false
	in := "*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n*11\r\n" + strings.Repeat("$1\r\nx\r\n", 11)
	rd := newReader(&chunkSource{data: []byte(in), chunk: 1 << 20}, 512<<20, func() bool { return authed })
	if args, err := rd.next(true); err != nil || string(args[0]) != "AUTH" {
		t.Fatalf("AUTH: %q, %v", args, err)
	}
	authed = true
	if args, err := rd.next(false); err != nil || len(args) != 11 {
		t.Fatalf("after AUTH: %d args, %v", len(args), err)
	}
}

func TestReaderQueryBufLimit(t *testing.T) {
	in := "*10000\r\n" + strings.Repeat("$3\r\nabc\r\n", 10000)
	rd := newReader(&chunkSource{data: []byte(in), chunk: 100}, 1024, constAuth(true))
	rd.maxQuery = 64<<10 + 2048 // the floor is proto-max-bulk-len + 64 KiB
	if _, err := rd.next(true); !errors.Is(err, errQueryBufLimit) {
		if rd.maxQuery >= len(in) {
			t.Fatalf("input too small for the test")
		}
		t.Fatalf("got %v, want errQueryBufLimit", err)
	}
	if rd.w-rd.r > rd.limit()*2 {
		t.Fatalf("held %d bytes, limit %d", rd.w-rd.r, rd.limit())
	}
	// Within the limit the same request is fine.
	rd = newReader(&chunkSource{data: []byte(in), chunk: 100}, 1024, constAuth(true))
	rd.maxQuery = len(in)
	if args, err := rd.next(true); err != nil || len(args) != 10000 {
		t.Fatalf("within the limit: %d args, %v", len(args), err)
	}
}

func TestSplitArgs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		ok   bool
	}{
		{"", nil, true},
		{"   \t ", nil, true},
		{"a", []string{"a"}, true},
		{"a  b\tc\rd\ne", []string{"a", "b", "c", "d", "e"}, true},
		{"a\fb", []string{"a\fb"}, true},
		{`"a b"`, []string{"a b"}, true},
		{`"a"b`, nil, false},
		{`"a"` + "\f", []string{"a"}, true},
		{`"\x"`, []string{"x"}, true},
		{`"\x4"`, []string{"x4"}, true},
		{`"\x41\x4a\x4A"`, []string{"AJJ"}, true},
		{`'\x41'`, []string{`\x41`}, true},
		{`'\\'`, nil, false}, // the second backslash escapes the closing quote
		{`'it\'s'`, []string{"it's"}, true},
		{`'a`, nil, false},
		{`"a`, nil, false},
		{`"a\"`, nil, false},
		{`a"b c"d`, nil, false},
		{`a'b c' d`, []string{"ab c", "d"}, true},
	}
	for _, tc := range tests {
		got, err := splitArgs([]byte(tc.in))
		if (err == nil) != tc.ok {
			t.Fatalf("splitArgs(%q) err = %v, want ok=%v", tc.in, err, tc.ok)
		}
		gs := make([]string, len(got))
		for i, g := range got {
			gs[i] = string(g)
		}
		if tc.ok && !slices.Equal(gs, tc.want) && !(len(gs) == 0 && len(tc.want) == 0) {
			t.Fatalf("splitArgs(%q) = %q, want %q", tc.in, gs, tc.want)
		}
	}
}

// resp encodes a command as a multibulk.
func resp(args ...string) string {
	s := fmt.Sprintf("*%d\r\n", len(args))
	for _, a := range args {
		s += fmt.Sprintf("$%d\r\n%s\r\n", len(a), a)
	}
	return s
}

func TestPeekKeys(t *testing.T) {
	// hot: GET and HGET (its field warmed too) of the right arity, as
	// warmable would say.
	hot := func(name []byte, n int) int {
		switch {
		case strings.EqualFold(string(name), "get") && n == 2:
			return 0
		case strings.EqualFold(string(name), "hget") && n == 3:
			return 2
		}
		return -1
	}
	get := func(k string) string { return resp("GET", k) }
	for _, c := range []struct {
		name string
		in   string // the first command is read by next, the rest peeked
		max  int
		want []string
	}{
		{"gets", get("a") + get("b") + resp("get", "c") + resp("HGET", "h", "f"), 32, []string{"b", "c", "h/f"}},
		{"members", get("a") + resp("HGET", "h", "f") + get("b") + resp("HGET", "", ""), 32, []string{"h/f", "b", "/"}},
		{"nothing after the first", get("a"), 32, nil},
		{"stops at another command", get("a") + get("b") + resp("SET", "k", "v") + get("c"), 32, []string{"b"}},
		{"stops at a wrong arity", get("a") + resp("GET", "b", "x") + get("c"), 32, nil},
		{"stops at an inline command", get("a") + get("b") + "GET c\r\n" + get("d"), 32, []string{"b"}},
		{"stops at an incomplete command", get("a") + get("b") + get("c")[:10], 32, []string{"b"}},
		{"stops at a command without a key", get("a") + resp("PING") + get("b"), 32, nil},
		{"stops at a leading zero", get("a") + "*2\r\n$03\r\nGET\r\n$1\r\nb\r\n" + get("c"), 32, nil},
		{"stops at a count too big for the bytes", get("a") + "*99999\r\n$3\r\nGET\r\n$1\r\nb\r\n", 32, nil},
		{"empty and binary keys", get("a") + get("") + get("x\r\ny"), 32, []string{"", "x\r\ny"}},
		{"at most max", get("a") + get("b") + get("c") + get("d"), 2, []string{"b", "c"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rd := newReader(&splitSource{pieces: [][]byte{[]byte(c.in)}}, 512<<20, constAuth(true))
			first, err := rd.next(true)
			if err != nil {
				t.Fatal(err)
			}
			firstCopy := bytesToStrings(first)
			var got []string
			keys, members := rd.peekKeys(nil, nil, c.max, hot)
			if len(keys) != len(members) {
				t.Fatalf("peekKeys gave %d keys and %d members", len(keys), len(members))
			}
			for i, k := range keys {
				if members[i] != nil {
					k = append(append(slices.Clip(k), '/'), members[i]...)
				}
				got = append(got, string(k))
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("peekKeys = %q, want %q", got, c.want)
			}
			// Peeking consumed nothing: the reader goes on from the second
			// command, as one that never peeked.
			rest, _ := drainReader(rd)
			ref, _ := parseChunked(c.in, len(c.in), 512<<20, true)
			if len(ref) == 0 || !slices.EqualFunc(append([][]string{firstCopy}, rest...), ref, slices.Equal) {
				t.Errorf("after peeking the reader gave %q then %q, want %q", firstCopy, rest, ref)
			}
		})
	}
}

func bytesToStrings(b [][]byte) []string {
	out := make([]string, len(b))
	for i, a := range b {
		out[i] = string(a)
	}
	return out
}
