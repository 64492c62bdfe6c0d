package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// refParse is a plain, whole-input reference for the reader: it follows
// Redis 7's processInlineBuffer, processMultibulkBuffer and sdssplitargs
// step by step over a NUL-terminated copy of the input, with none of the
// reader's incremental machinery. It returns the commands and the
// protocol error text ("" when the input just ends). It is exact for
// inputs of at most 64 KiB, where no "too big" limit can depend on how
// the bytes were split into reads.
func refParse(in []byte, maxBulk int64, authed bool) (out [][]string, errMsg string) {
	s := append(slices.Clone(in), 0) // C string view: s[len(in)] == 0
	n := len(in)
	strchr := func(from int, c byte) int {
		for i := from; i < n; i++ {
			if s[i] == c {
				return i
			}
			if s[i] == 0 {
				return -1
			}
		}
		return -1
	}
	string2ll := func(b []byte) (int64, bool) {
		v, err := strconv.ParseInt(string(b), 10, 64)
		return v, err == nil && strconv.FormatInt(v, 10) == string(b)
	}
	p := 0
	for p < n {
		if s[p] != '*' {
			nl := strchr(p, '\n')
			if nl < 0 {
				if n-p > inlineMaxSize {
					return out, "too big inline request"
				}
				return out, ""
			}
			end := nl
			if end > p && s[end-1] == '\r' {
				end--
			}
			args, ok := refSplitArgs(s[p:end])
			if !ok {
				return out, "unbalanced quotes in request"
			}
			p = nl + 1
			if len(args) > 0 {
				out = append(out, args)
			}
			continue
		}
		cr := strchr(p, '\r')
		if cr < 0 {
			if n-p > inlineMaxSize {
				return out, "too big mbulk count string"
			}
			return out, ""
		}
		if cr > n-2 {
			return out, ""
		}
		count, ok := string2ll(s[p+1 : cr])
		if !ok || count > 1<<31-1 {
			return out, "invalid multibulk length"
		}
		if count > 10 && !authed {
			return out, "unauthenticated multibulk length"
		}
		p = cr + 2
		var args []string
		for ; count > 0; count-- {
			cr := strchr(p, '\r')
			if cr < 0 {
				if n-p > inlineMaxSize {
					return out, "too big bulk count string"
				}
				return out, ""
			}
			if cr > n-2 {
				return out, ""
			}
			if s[p] != '$' {
				return out, "expected '$', got '" + string(s[p:p+1]) + "'"
			}
			size, ok := string2ll(s[p+1 : cr])
			if !ok || size < 0 || size > maxBulk {
				return out, "invalid bulk length"
			}
			if size > 16384 && !authed {
				return out, "unauthenticated bulk length"
			}
			p = cr + 2
			if int64(n-p) < size+2 {
				return out, ""
			}
			args = append(args, string(s[p:p+int(size)]))
			p += int(size) + 2
		}
		if args != nil {
			out = append(out, args)
		}
	}
	return out, ""
}

// refSplitArgs is sdssplitargs transcribed over a NUL-terminated view.
func refSplitArgs(line []byte) ([]string, bool) {
	s := append(slices.Clone(line), 0, 0, 0, 0)
	isspace := func(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') }
	ishex := func(c byte) bool { _, err := strconv.ParseUint(string(c), 16, 8); return err == nil }
	hexv := func(c byte) byte { v, _ := strconv.ParseUint(string(c), 16, 8); return byte(v) }
	var out []string
	p := 0
	for {
		for s[p] != 0 && isspace(s[p]) {
			p++
		}
		if s[p] == 0 {
			return out, true
		}
		var cur []byte
		inq, insq, done := false, false, false
		for !done {
			switch {
			case inq:
				switch {
				case s[p] == '\\' && s[p+1] == 'x' && ishex(s[p+2]) && ishex(s[p+3]):
					cur = append(cur, hexv(s[p+2])*16+hexv(s[p+3]))
					p += 3
				case s[p] == '\\' && s[p+1] != 0:
					p++
					c := s[p]
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
				case s[p] == '"':
					if s[p+1] != 0 && !isspace(s[p+1]) {
						return nil, false
					}
					done = true
				case s[p] == 0:
					return nil, false
				default:
					cur = append(cur, s[p])
				}
			case insq:
				switch {
				case s[p] == '\\' && s[p+1] == '\'':
					p++
					cur = append(cur, '\'')
				case s[p] == '\'':
					if s[p+1] != 0 && !isspace(s[p+1]) {
						return nil, false
					}
					done = true
				case s[p] == 0:
					return nil, false
				default:
					cur = append(cur, s[p])
				}
			default:
				switch s[p] {
				case ' ', '\n', '\r', '\t', 0:
					done = true
				case '"':
					inq = true
				case '\'':
					insq = true
				default:
					cur = append(cur, s[p])
				}
			}
			if s[p] != 0 {
				p++
			}
		}
		out = append(out, string(cur))
	}
}

// randSource serves data in reads of random sizes drawn from rng.
type randSource struct {
	data []byte
	rng  *rand.Rand
	max  int
}

func (s *randSource) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), 1+s.rng.IntN(s.max), len(s.data))
	copy(p, s.data[:n])
	s.data = s.data[n:]
	return n, nil
}

// readerOutcome runs the reader over in, split into random reads, with a
// bound on the calls so that a reader that stops making progress fails
// instead of hanging.
func readerOutcome(t *testing.T, in []byte, seed uint64, maxBulk int64, authed bool) ([][]string, error) {
	src := &randSource{data: in, rng: rand.New(rand.NewPCG(seed, seed>>7)), max: 1 + int(seed%64)}
	rd := newReader(src, maxBulk, constAuth(authed))
	var out [][]string
	// Each command's peek (peekKeys, as warmReads makes it, of every
	// command with a key, and of the last argument of commands of three
	// or more) must name the first (and last) arguments of the commands
	// the reader returns next.
	type peek struct {
		at      int // index in out of the first peeked command
		keys    []string
		members [][]byte
	}
	var peeks []peek
	defer func() {
		for _, p := range peeks {
			for i, k := range p.keys {
				if j := p.at + i; j < len(out) && (len(out[j]) < 2 || out[j][1] != k) {
					t.Fatalf("peeked key %d after command %d is %q; the reader then returned %q", i, p.at-1, k, out[j])
				}
				if j := p.at + i; j < len(out) {
					m, c := p.members[i], out[j]
					if len(c) >= 3 && (m == nil || string(m) != c[len(c)-1]) || len(c) < 3 && m != nil {
						t.Fatalf("peeked member %d after command %d is %q; the reader then returned %q", i, p.at-1, m, c)
					}
				}
			}
		}
	}()
	for calls := 0; ; calls++ {
		if calls > len(in)+2 {
			t.Fatalf("reader returned %d commands from %d bytes without ending", calls, len(in))
		}
		args, err := rd.next(true)
		if err != nil {
			return out, err
		}
		last := func(_ []byte, n int) int {
			if n < 2 {
				return -1
			}
			if n >= 3 {
				return n - 1
			}
			return 0
		}
		if keys, members := rd.peekKeys(nil, nil, 32, last); len(keys) > 0 {
			ms := make([][]byte, len(members))
			for i, m := range members {
				if m != nil {
					ms[i] = []byte(string(m))
				}
			}
			peeks = append(peeks, peek{at: len(out) + 1, keys: bytesToStrings(keys), members: ms})
		}
		if len(args) == 0 {
			t.Fatalf("next returned an empty command")
		}
		cmd := make([]string, len(args))
		for i, a := range args {
			cmd[i] = string(a)
		}
		out = append(out, cmd)
	}
}

// encodeCommands turns arbitrary bytes into a well-formed request stream:
// the bytes are cut into arguments, the arguments into commands, and each
// command is sent as a multibulk or, when its arguments allow, inline.
func encodeCommands(data []byte) (stream []byte, want [][]string) {
	var b bytes.Buffer
	for len(data) > 0 {
		nargs := 1 + int(data[0]%5)
		inline := data[0]&0x80 != 0
		data = data[1:]
		var args []string
		for i := 0; i < nargs && len(data) > 0; i++ {
			l := min(int(data[0]%12), len(data)-1)
			args = append(args, string(data[1:1+l]))
			data = data[1+l:]
		}
		if len(args) == 0 {
			break
		}
		plain := inline
		for _, a := range args {
			if a == "" || a[0] == '*' || bytes.ContainsAny([]byte(a), " \t\r\n\v\f\"'\x00") {
				plain = false
			}
		}
		if plain {
			b.WriteString(args[0])
			for _, a := range args[1:] {
				b.WriteString(" " + a)
			}
			b.WriteString("\r\n")
		} else {
			fmt.Fprintf(&b, "*%d\r\n", len(args))
			for _, a := range args {
				fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
			}
		}
		want = append(want, args)
	}
	return b.Bytes(), want
}

// FuzzReader feeds arbitrary bytes to the reader in random reads. The
// reader never panics and always ends; on inputs up to 64 KiB it agrees
// with refParse, command for command and error for error. The same bytes,
// turned into a well-formed stream, come back as exactly the commands that
// were encoded.
func FuzzReader(f *testing.F) {
	seeds := []string{
		"*1\r\n$4\r\nPING\r\n", "PING\r\n", "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n",
		"*1\n$4\r\nPING\r\n", "*1\rX$4\r\nPING\r\n", "*1\r\n$4\r\nPINGxx", "*1\r\nX\r\n", "*1\r\n\r\n",
		"*-1\r\n*0\r\nPING\r\n", "*2147483648\r\n", "*11\r\n", "*10\r\n$16385\r\n", "*1\r\n$101\r\n",
		"ECHO \"a\\x41\\n\" 'b\\'c'\r\n", "ECHO \"ab\"c\r\n", "ECHO 'a\r\n", "\r\n\r\n  \nPING\n",
		"*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$3\r\nget\r\n$0\r\n\r\n*3\r\n$4\r\nHGET\r\n$1\r\nh\r\n$1\r\nf\r\n",
		"*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$3\r\nget\r\n$0\r\n\r\n*3\r\n$4\r\nHGET\r\n$1\r\nh\r\n$1\r\nf\r\n",
		"*1\x00\r\n", "PING\x00\r\n", "*1\r\n$4\x00\r\n", "*+1\r\n", "*1\r\n$04\r\nPING\r\n",
	}
	for i, s := range seeds {
		f.Add([]byte(s), uint64(i*7919+1), i%2 == 0)
	}
	f.Fuzz(func(t *testing.T, in []byte, seed uint64, authed bool) {
		maxBulk := int64(100)
		if seed&1 != 0 {
			maxBulk = 512 << 20
		}
		got, err := readerOutcome(t, in, seed, maxBulk, authed)
		var gotMsg string
		switch {
		case isProtocolError(err):
			gotMsg = err.Error()[len("ERR Protocol error: "):]
		case errors.Is(err, io.EOF):
		default:
			t.Fatalf("reader error %v", err)
		}
		if len(in) <= inlineMaxSize {
			want, wantMsg := refParse(in, maxBulk, authed)
			if gotMsg != wantMsg || !slices.EqualFunc(got, want, slices.Equal) {
				t.Fatalf("input %q:\nreader    %q, %q\nreference %q, %q", in, got, gotMsg, want, wantMsg)
			}
		}

		stream, want := encodeCommands(in)
		got, err = readerOutcome(t, stream, seed>>3, 512<<20, true)
		if !errors.Is(err, io.EOF) || !slices.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("well-formed stream %q:\ngot  %q, %v\nwant %q", stream, got, err, want)
		}
	})
}

// TestRefParseAgrees pins the reference to the reader's tables, so the
// fuzz comparison means something.
func TestRefParseAgrees(t *testing.T) {
	for _, in := range []string{
		"*1\r\nX\r\n", "*1\r\n\r\n", "ECHO \"a\\x41\" 'b'\r\n", "*-5\r\nPING\r\n", "*1\r\n$4\r\nPINGxx",
		"*11\r\n", "*1\r\n$04\r\n", "ECHO '\\\\'\r\n", "*1\x00\r\nPING\r\n",
	} {
		want, wantMsg := refParse([]byte(in), 512<<20, false)
		got, err := parseChunked(in, 1, 512<<20, false)
		gotMsg := ""
		if isProtocolError(err) {
			gotMsg = err.Error()[len("ERR Protocol error: "):]
		}
		if gotMsg != wantMsg || !slices.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("%q: reader %q %q, reference %q %q", in, got, gotMsg, want, wantMsg)
		}
	}
}
