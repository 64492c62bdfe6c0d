package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fcModel is a plain Go model of the string commands: what one
// connection must see. Times are Unix ms from the test's FakeClock.
type fcModel struct {
	m     map[string]fcVal
	now   int64
	multi *[][]string // commands queued by MULTI; nil outside one
	dirty bool
}

type fcVal struct {
	s   string
	exp int64
}

// fcExpired says whether a key with deadline exp is gone at now: as in
// Redis 7 (keyIsExpired: now > when), a key is still visible during its
// deadline's own millisecond, with a PTTL of 0, and gone one ms later.
func fcExpired(exp, now int64) bool { return exp != 0 && exp < now }

func (m *fcModel) live(k string) (fcVal, bool) {
	v, ok := m.m[k]
	if !ok || fcExpired(v.exp, m.now) {
		return fcVal{}, false
	}
	return v, true
}

func fcBulk(s string) string  { return "$" + strconv.Itoa(len(s)) + "\r\n" + s + "\r\n" }
func fcInt(n int64) string    { return ":" + strconv.FormatInt(n, 10) + "\r\n" }
func fcErr(msg string) string { return "-" + msg + "\r\n" }
func fcArr(items []string) string {
	return "*" + strconv.Itoa(len(items)) + "\r\n" + strings.Join(items, "")
}

const (
	fcNil      = "$-1\r\n"
	fcOK       = "+OK\r\n"
	fcNotInt   = "-ERR value is not an integer or out of range\r\n"
	fcSyntax   = "-ERR syntax error\r\n"
	fcOverflow = "-ERR increment or decrement would overflow\r\n"
)

// fcArity is the Redis arity of each modelled command.
var fcArity = map[string]int{
	"set": -3, "get": 2, "del": -2, "incr": 2, "incrby": 3, "decr": 2, "append": 3, "strlen": 2,
	"exists": -2, "expire": -3, "pexpire": -3, "ttl": 2, "pttl": 2, "persist": 2, "getdel": 2,
	"mget": -2, "multi": 1, "exec": 1, "discard": 1, "ping": -1,
}

// reply returns the reply to args, or "" when the reply is not modelled
// (the hash commands, on keys the string commands never touch).
func (m *fcModel) reply(args []string) string {
	name := strings.ToLower(args[0])
	ar, known := fcArity[name]
	if !known {
		if strings.HasPrefix(name, "h") {
			if m.multi != nil {
				*m.multi = append(*m.multi, args)
				return "+QUEUED\r\n"
			}
			return ""
		}
		// Redis prints each argument with %.*s: cut at a NUL, and at
		// 128 bytes in all; line breaks become spaces.
		cstr := func(a string, max int) string {
			if i := strings.IndexByte(a, 0); i >= 0 {
				a = a[:i]
			}
			return a[:min(len(a), max)]
		}
		b := ""
		for _, a := range args[1:] {
			if len(b) >= 128 {
				break
			}
			b += "'" + cstr(a, 128-len(b)) + "' "
		}
		if m.multi != nil {
			m.dirty = true
		}
		msg := "ERR unknown command '" + cstr(args[0], 128) + "', with args beginning with: " + b
		return fcErr(strings.NewReplacer("\r", " ", "\n", " ").Replace(msg))
	}
	if (ar >= 0 && len(args) != ar) || (ar < 0 && len(args) < -ar) {
		if m.multi != nil {
			m.dirty = true
		}
		return fcErr("ERR wrong number of arguments for '" + name + "' command")
	}
	switch name {
	case "multi":
		if m.multi != nil {
			return fcErr("ERR MULTI calls can not be nested")
		}
		m.multi, m.dirty = new([][]string), false
		return fcOK
	case "discard":
		if m.multi == nil {
			return fcErr("ERR DISCARD without MULTI")
		}
		m.multi = nil
		return fcOK
	case "exec":
		if m.multi == nil {
			return fcErr("ERR EXEC without MULTI")
		}
		q, dirty := *m.multi, m.dirty
		m.multi = nil
		if dirty {
			return fcErr("EXECABORT Transaction discarded because of previous errors.")
		}
		out := make([]string, len(q))
		for i, a := range q {
			out[i] = m.exec(a)
		}
		for _, r := range out {
			if r == "" {
				return "" // a hash command ran inside: not modelled
			}
		}
		return fcArr(out)
	}
	if m.multi != nil {
		*m.multi = append(*m.multi, args)
		return "+QUEUED\r\n"
	}
	return m.exec(args)
}

// exec runs one string command on the model.
func (m *fcModel) exec(args []string) string {
	name := strings.ToLower(args[0])
	k := ""
	if len(args) > 1 {
		k = args[1]
	}
	switch name {
	case "ping":
		return "+PONG\r\n"
	case "get":
		if v, ok := m.live(k); ok {
			return fcBulk(v.s)
		}
		return fcNil
	case "set":
		return m.set(args)
	case "getdel":
		v, ok := m.live(k)
		if !ok {
			return fcNil
		}
		delete(m.m, k)
		return fcBulk(v.s)
	case "del", "exists":
		n := int64(0)
		for _, a := range args[1:] {
			if _, ok := m.live(a); ok {
				n++
			}
			if name == "del" {
				delete(m.m, a)
			}
		}
		return fcInt(n)
	case "incr", "decr", "incrby":
		d := int64(1)
		if name == "decr" {
			d = -1
		}
		if name == "incrby" {
			n, err := strconv.ParseInt(args[2], 10, 64)
			if err != nil || strconv.FormatInt(n, 10) != args[2] {
				return fcNotInt
			}
			d = n
		}
		v, had := m.live(k)
		cur := int64(0)
		if had {
			n, err := strconv.ParseInt(v.s, 10, 64)
			if err != nil || strconv.FormatInt(n, 10) != v.s {
				return fcNotInt
			}
			cur = n
		}
		if (d > 0 && cur > math.MaxInt64-d) || (d < 0 && cur < math.MinInt64-d) {
			return fcOverflow
		}
		cur += d
		m.m[k] = fcVal{s: strconv.FormatInt(cur, 10), exp: v.exp}
		return fcInt(cur)
	case "append":
		v, _ := m.live(k)
		v.s += args[2]
		m.m[k] = v
		return fcInt(int64(len(v.s)))
	case "strlen":
		v, _ := m.live(k)
		return fcInt(int64(len(v.s)))
	case "mget":
		out := make([]string, 0, len(args)-1)
		for _, a := range args[1:] {
			if v, ok := m.live(a); ok {
				out = append(out, fcBulk(v.s))
			} else {
				out = append(out, fcNil)
			}
		}
		return fcArr(out)
	case "expire", "pexpire":
		if len(args) != 3 {
			return fcSyntax // only the plain form is generated with extra args
		}
		n, err := strconv.ParseInt(args[2], 10, 64)
		if err != nil || strconv.FormatInt(n, 10) != args[2] {
			return fcNotInt
		}
		if name == "expire" {
			if n > math.MaxInt64/1000 || n < math.MinInt64/1000 {
				return fcErr("ERR invalid expire time in '" + name + "' command")
			}
			n *= 1000
		}
		if n > math.MaxInt64-m.now {
			return fcErr("ERR invalid expire time in '" + name + "' command")
		}
		v, ok := m.live(k)
		if !ok {
			return fcInt(0)
		}
		if at := m.now + n; at <= m.now {
			delete(m.m, k)
		} else {
			v.exp = at
			m.m[k] = v
		}
		return fcInt(1)
	case "ttl", "pttl":
		v, ok := m.live(k)
		switch {
		case !ok:
			return fcInt(-2)
		case v.exp == 0:
			return fcInt(-1)
		}
		left := v.exp - m.now
		if name == "ttl" {
			left = (left + 500) / 1000
		}
		return fcInt(left)
	case "persist":
		v, ok := m.live(k)
		if !ok || v.exp == 0 {
			return fcInt(0)
		}
		v.exp = 0
		m.m[k] = v
		return fcInt(1)
	}
	return "" // hash commands queued in a MULTI
}

// set runs SET with the options the generator produces.
func (m *fcModel) set(args []string) string {
	k, val := args[1], args[2]
	var nx, xx, get, keep bool
	var at int64
	for i := 3; i < len(args); i++ {
		switch o := strings.ToUpper(args[i]); o {
		case "NX":
			nx = true
		case "XX":
			xx = true
		case "GET":
			get = true
		case "KEEPTTL":
			keep = true
		case "EX", "PX":
			i++
			n, err := strconv.ParseInt(args[i], 10, 64)
			if err != nil || strconv.FormatInt(n, 10) != args[i] {
				return fcNotInt
			}
			if n <= 0 || (o == "EX" && n > math.MaxInt64/1000) {
				return fcErr("ERR invalid expire time in 'set' command")
			}
			if o == "EX" {
				n *= 1000
			}
			if n > math.MaxInt64-m.now {
				return fcErr("ERR invalid expire time in 'set' command")
			}
			at = m.now + n
		default:
			return fcSyntax
		}
	}
	old, had := m.live(k)
	reply := fcOK
	if get {
		reply = fcNil
		if had {
			reply = fcBulk(old.s)
		}
	}
	if (nx && had) || (xx && !had) {
		if get {
			return reply
		}
		return fcNil
	}
	nv := fcVal{s: val, exp: at}
	if keep && had {
		nv.exp = old.exp
	}
	m.m[k] = nv
	return reply
}

// fcGen turns fuzz bytes into commands.
type fcGen struct {
	b      []byte
	prefix string
}

func (g *fcGen) next() byte {
	if len(g.b) == 0 {
		return 0
	}
	c := g.b[0]
	g.b = g.b[1:]
	return c
}

func (g *fcGen) key() string  { return g.prefix + "s" + strconv.Itoa(int(g.next()%4)) }
func (g *fcGen) hkey() string { return g.prefix + "h" + strconv.Itoa(int(g.next()%2)) }

var fcValues = []string{"", "0", "1", "-1", "41", "9223372036854775807", "-9223372036854775808", "x", "007", "a b", "\x00\r\n"}

func (g *fcGen) value() string {
	c := g.next()
	if c < 220 {
		return fcValues[int(c)%len(fcValues)]
	}
	n := min(int(c-220), len(g.b))
	v := string(g.b[:n])
	g.b = g.b[n:]
	return v
}

func (g *fcGen) num() string {
	return []string{"1", "2", "0", "-1", "-5", "10", "abc", "150", "9223372036854775807"}[g.next()%9]
}

// command returns the next command, or an advance of the clock (advance
// > 0, args nil), or ok false at the end.
func (g *fcGen) command() (args []string, advance time.Duration, ok bool) {
	if len(g.b) == 0 {
		return nil, 0, false
	}
	switch op := g.next() % 24; op {
	case 0:
		args = []string{"SET", g.key(), g.value()}
		fl := g.next()
		if fl&1 != 0 {
			args = append(args, "NX")
		} else if fl&2 != 0 {
			args = append(args, "XX")
		}
		if fl&4 != 0 {
			args = append(args, "GET")
		}
		switch {
		case fl&8 != 0:
			args = append(args, "KEEPTTL")
		case fl&16 != 0:
			args = append(args, "PX", g.num())
		case fl&32 != 0:
			args = append(args, "EX", g.num())
		case fl&64 != 0:
			args = append(args, "BOGUS")
		}
	case 1:
		args = []string{"GET", g.key()}
	case 2:
		args = []string{"DEL", g.key(), g.key()}
	case 3:
		args = []string{"INCR", g.key()}
	case 4:
		args = []string{"INCRBY", g.key(), g.num()}
	case 5:
		args = []string{"DECR", g.key()}
	case 6:
		args = []string{"APPEND", g.key(), g.value()}
	case 7:
		args = []string{"STRLEN", g.key()}
	case 8:
		args = []string{"EXISTS", g.key(), g.key()}
	case 9:
		args = []string{"PEXPIRE", g.key(), g.num()}
	case 10:
		args = []string{"EXPIRE", g.key(), g.num()}
	case 11:
		args = []string{"PTTL", g.key()}
	case 12:
		args = []string{"TTL", g.key()}
	case 13:
		args = []string{"PERSIST", g.key()}
	case 14:
		args = []string{"GETDEL", g.key()}
	case 15:
		args = []string{"MGET", g.key(), g.key(), g.key()}
	case 16:
		args = []string{"MULTI"}
	case 17:
		args = []string{"EXEC"}
	case 18:
		args = []string{"DISCARD"}
	case 19:
		args = []string{"HSET", g.hkey(), g.value(), g.value()}
	case 20:
		args = []string{"HGET", g.hkey(), g.value()}
	case 21:
		args = []string{"FOO", g.value()}
	case 22:
		args = []string{[]string{"GET", "SET", "INCRBY", "MULTI"}[g.next()%4]} // wrong arity
	case 23:
		return nil, time.Duration(g.next()) * time.Millisecond, true
	}
	return args, 0, true
}

// fcReadReply reads one RESP2 reply and returns its bytes.
func fcReadReply(br *bufio.Reader) (string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return line, err
	}
	if len(line) < 3 {
		return line, fmt.Errorf("short reply line %q", line)
	}
	n, _ := strconv.Atoi(strings.TrimSuffix(line[1:], "\r\n"))
	switch line[0] {
	case '$':
		if n < 0 {
			return line, nil
		}
		body := make([]byte, n+2)
		if _, err := io.ReadFull(br, body); err != nil {
			return line, err
		}
		return line + string(body), nil
	case '*':
		out := line
		for i := 0; i < n; i++ {
			item, err := fcReadReply(br)
			out += item
			if err != nil {
				return out, err
			}
		}
		return out, nil
	}
	return line, nil
}

func fcEncode(args []string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.Bytes()
}

// FuzzCommands sends a stream of random commands (strings, keyspace,
// MULTI/EXEC, hashes, unknown and wrong-arity ones), with the clock moved
// in between, over a real connection to an in-process server. Replies to
// everything but the hash commands must match a plain Go model byte for
// byte, and afterwards the server still answers PING on a new connection.
// One server serves every input; each input uses its own keys.
func FuzzCommands(f *testing.F) {
	ts := startServer(f, Config{})
	f.Add([]byte{0, 0, 1, 1, 0})
	f.Add([]byte{0, 1, 4, 16, 7, 23, 100, 1, 1, 23, 60, 1, 1, 11, 1})
	f.Add([]byte{16, 0, 2, 3, 0, 3, 2, 19, 0, 1, 2, 17, 1, 2})
	f.Add([]byte{16, 21, 5, 17, 16, 22, 0, 17, 18, 17})
	f.Add([]byte{0, 0, 5, 32, 1, 10, 0, 6, 12, 0, 23, 200, 23, 250, 12, 0, 1, 0})
	f.Add([]byte{0, 3, 5, 0, 4, 3, 8, 4, 3, 6, 3, 5, 0, 5, 1, 4, 3})
	f.Add([]byte{0, 2, 225, 'a', 'b', 'c', 'd', 'e', 64, 0, 2, 0, 128, 6, 2, 3, 15, 2, 1, 3})
	// SET PX 150; at +150 SET KEEPTTL, GET, PTTL; at +151 GET, PTTL.
	f.Add([]byte{0, 0, 7, 16, 7, 23, 150, 0, 0, 8, 8, 1, 0, 11, 0, 23, 1, 1, 0, 11, 0})
	iteration := 0
	f.Fuzz(func(t *testing.T, data []byte) {
		iteration++
		g := &fcGen{b: data, prefix: fmt.Sprintf("i%d:", iteration)}
		m := &fcModel{m: map[string]fcVal{}}
		nc, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		br := bufio.NewReader(nc)
		// Commands go in pipelined runs; the clock only moves between
		// runs, so every command of a run sees the same time.
		var run [][]string
		flush := func() {
			if len(run) == 0 {
				return
			}
			m.now = ts.clock.Now().UnixMilli()
			var out bytes.Buffer
			for _, args := range run {
				out.Write(fcEncode(args))
			}
			nc.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := nc.Write(out.Bytes()); err != nil {
				t.Fatalf("write: %v", err)
			}
			for _, args := range run {
				got, err := fcReadReply(br)
				if err != nil {
					t.Fatalf("%q: reading the reply: %v (got %q)", args, err, got)
				}
				if want := m.reply(args); want != "" && got != want {
					t.Fatalf("%q at +%d ms:\n got %q\nwant %q", args, m.now%100000, got, want)
				}
			}
			run = run[:0]
		}
		for {
			args, advance, ok := g.command()
			if !ok {
				break
			}
			if args == nil {
				flush()
				ts.clock.Advance(advance)
				continue
			}
			run = append(run, args)
		}
		flush()
		nc.Close()

		other, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		other.SetDeadline(time.Now().Add(10 * time.Second))
		other.Write([]byte("PING\r\n"))
		if got, err := fcReadReply(bufio.NewReader(other)); got != "+PONG\r\n" {
			t.Fatalf("PING after the stream: %q, %v", got, err)
		}
	})
}
