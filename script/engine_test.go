package script

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// fakeHost answers a few commands from a map, in RESP2 or RESP3.
type fakeHost struct {
	data  map[string]string
	calls [][]string
}

func (h *fakeHost) Call(args [][]byte, resp3 bool) []byte {
	var a []string
	for _, b := range args {
		a = append(a, string(b))
	}
	h.calls = append(h.calls, a)
	switch strings.ToLower(a[0]) {
	case "get":
		if len(a) != 2 {
			return []byte("-ERR Wrong number of args calling Redis command from script\r\n")
		}
		v, ok := h.data[a[1]]
		if !ok {
			if resp3 {
				return []byte("_\r\n")
			}
			return []byte("$-1\r\n")
		}
		return []byte(fmt.Sprintf("$%d\r\n%s\r\n", len(v), v))
	case "set":
		h.data[a[1]] = a[2]
		return []byte("+OK\r\n")
	case "del":
		_, ok := h.data[a[1]]
		delete(h.data, a[1])
		if ok {
			return []byte(":1\r\n")
		}
		return []byte(":0\r\n")
	case "hgetall":
		if resp3 {
			return []byte("%1\r\n$1\r\na\r\n$1\r\n1\r\n")
		}
		return []byte("*2\r\n$1\r\na\r\n$1\r\n1\r\n")
	case "incr":
		return []byte("-ERR value is not an integer or out of range\r\n")
	}
	return []byte("-ERR Unknown Redis command called from script\r\n")
}

// resp writes a Reply as RESP2 (the test's view of it).
func resp(r Reply) string {
	switch r.Kind {
	case Nil:
		return "$-1\r\n"
	case Int, Bool:
		return fmt.Sprintf(":%d\r\n", r.Int)
	case Bulk, BigNumber, Verbatim:
		return fmt.Sprintf("$%d\r\n%s\r\n", len(r.Str), r.Str)
	case Status:
		return "+" + r.Str + "\r\n"
	case Error:
		return "-" + r.Str + "\r\n"
	case Double:
		s := fmt.Sprintf("%.17g", r.F)
		return fmt.Sprintf("$%d\r\n%s\r\n", len(s), s)
	}
	s := fmt.Sprintf("*%d\r\n", len(r.Elems))
	for _, e := range r.Elems {
		s += resp(e)
	}
	return s
}

func run(t *testing.T, e *Engine, h Host, body string, keys, argv []string) (string, error) {
	t.Helper()
	conv := func(ss []string) [][]byte {
		var out [][]byte
		for _, s := range ss {
			out = append(out, []byte(s))
		}
		return out
	}
	sha := SHA1Hex([]byte(body))
	r, err := e.Run(sha, []byte(body), Params{Keys: conv(keys), Argv: conv(argv)}, h)
	return resp(r), err
}

// TestConversions checks replies against what redis-server 7.0.15 answers
// for the same scripts (recorded by hand from redis-cli).
func TestConversions(t *testing.T) {
	e := New()
	h := &fakeHost{data: map[string]string{"foo": "bar"}}
	sfx := func(body string, line int) string {
		return fmt.Sprintf(" script: %s, on @user_script:%d.", SHA1Hex([]byte(body)), line)
	}
	cases := []struct{ body, want string }{
		{"return {1,2,3.9,'a',nil,5}", "*4\r\n:1\r\n:2\r\n:3\r\n$1\r\na\r\n"},
		{"return {1,false,3}", "*3\r\n:1\r\n$-1\r\n:3\r\n"},
		{"return false", "$-1\r\n"},
		{"return true", ":1\r\n"},
		{"return", "$-1\r\n"},
		{"return 1, 2", ":1\r\n"},
		{"return -3.99", ":-3\r\n"},
		{"return 1e20", ":-9223372036854775808\r\n"},
		{"return redis.error_reply('My Error')", "-My Error\r\n"},
		{"return redis.error_reply('-My Error')", "-My Error\r\n"},
		{"return redis.error_reply('Oops')", "-ERR Oops\r\n"},
		{"return redis.error_reply('')", "-ERR \r\n"},
		{"return {err='x y'}", "-x y\r\n"},
		{"return redis.status_reply('FINE')", "+FINE\r\n"},
		{"return {ok=5}", "*0\r\n"},
		{"return {1,{2,{3,'x'}},redis.error_reply('E r')}", "*3\r\n:1\r\n*2\r\n:2\r\n*2\r\n:3\r\n$1\r\nx\r\n-E r\r\n"},
		{"return {double=3.5}", "$3\r\n3.5\r\n"},
		{"return redis.call('get','foo')", "$3\r\nbar\r\n"},
		{"return redis.call('get','nokey')", "$-1\r\n"},
		{"return type(redis.call('get','nokey'))", "$7\r\nboolean\r\n"},
		{"redis.setresp(3); return type(redis.call('get','nokey'))", "$3\r\nnil\r\n"},
		{"redis.setresp(3); local t = redis.call('hgetall','h'); return type(t.map)", "$5\r\ntable\r\n"},
		{"return redis.pcall('incr','foo')", "-ERR value is not an integer or out of range\r\n"},
		{"return redis.pcall('nosuch')", "-ERR Unknown Redis command called from script\r\n"},
		{"local ok, e = pcall(redis.call, 'nosuch'); return e", "$44\r\nERR Unknown Redis command called from script\r\n"},
		{"return redis.sha1hex('')", "$40\r\nda39a3ee5e6b4b0d3255bfef95601890afd80709\r\n"},
		{"return redis.sha1hex(1)", "$40\r\n356a192b7913b04c54574d18c28d46e6395428ab\r\n"},
		// redis-server: math.randomseed(0) return tostring(math.random())
		{"math.randomseed(0) return tostring(math.random())", "$16\r\n0.17082803611217\r\n"},
		{"math.randomseed(1) return tostring(math.random())", "$17\r\n0.041630344484761\r\n"},
		{"return redis.REDIS_VERSION", "$6\r\n7.0.15\r\n"},
		{"return redis.status_reply()", "-ERR wrong number or type of arguments\r\n"},
		{"return redis.call('get',1.5)", "$-1\r\n"},
		{"return type(getmetatable(''))", "$5\r\ntable\r\n"},
		{"return ('x'):upper()", "$1\r\nX\r\n"},
		{"return loadstring('return 1')()", ":1\r\n"},
	}
	for _, c := range cases {
		got, err := run(t, e, h, c.body, nil, nil)
		if err != nil || got != c.want {
			t.Errorf("%q: got %q, %v; want %q", c.body, got, err, c.want)
		}
	}
	errCases := []struct {
		body, msg string
		line      int
	}{
		{"return redis.call('incr','foo')", "-ERR value is not an integer or out of range", 1},
		{"local a = 1\nlocal b = 2\nreturn redis.call('incr','foo')", "-ERR value is not an integer or out of range", 3},
		{"local a = 1\nlocal b = 2\nerror('boom')", "-ERR user_script:3: boom", 3},
		{"return x", "-ERR user_script:1: Script attempted to access nonexistent global variable 'x'", 1},
		{"x = 5", "-ERR user_script:1: Attempt to modify a readonly table", 1},
		{"string.foo = 1", "-ERR user_script:1: Attempt to modify a readonly table", 1},
		{"rawset(_G,'zz',1)", "-ERR Attempt to modify a readonly table", 1},
		{"return os.time()", "-ERR user_script:1: Script attempted to access nonexistent global variable 'os'", 1},
		{"return redis.call()", "-ERR Please specify at least one argument for this redis lib call", 1},
		{"return redis.call('get',{})", "-ERR Lua redis lib command arguments must be strings or integers", 1},
		{"return redis.call('nosuch')", "-ERR Unknown Redis command called from script", 1},
		{"error({err='X boom'})", "-X boom", 1},
		{"error(5)", "-ERR user_script:1: 5", 1},
		{"error()", "-ERR nil", 1},
		{"error('x',0)", "-ERR x", 1},
		{"return redis.setresp(4)", "-ERR RESP version must be 2 or 3.", 1},
		{"return redis.sha1hex()", "-ERR wrong number of arguments", 1},
	}
	for _, c := range errCases {
		got, err := run(t, e, h, c.body, nil, nil)
		want := c.msg + sfx(c.body, c.line) + "\r\n"
		if err != nil || got != want {
			t.Errorf("%q: got %q, %v; want %q", c.body, got, err, want)
		}
	}
}

func TestKeysArgvAndCache(t *testing.T) {
	e := New()
	h := &fakeHost{data: map[string]string{"lock": "tok"}}
	body := "if redis.call('get',KEYS[1]) == ARGV[1] then return redis.call('del',KEYS[1]) else return 0 end"
	sha, err := e.Load([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if !e.Exists(strings.ToUpper(sha)) {
		t.Fatal("loaded script not found")
	}
	r, err := e.Run(sha, nil, Params{Keys: [][]byte{[]byte("lock")}, Argv: [][]byte{[]byte("other")}}, h)
	if err != nil || resp(r) != ":0\r\n" {
		t.Fatalf("wrong token: %q %v", resp(r), err)
	}
	r, _ = e.Run(sha, nil, Params{Keys: [][]byte{[]byte("lock")}, Argv: [][]byte{[]byte("tok")}}, h)
	if resp(r) != ":1\r\n" || h.data["lock"] != "" {
		t.Fatalf("release: %q, data %v", resp(r), h.data)
	}
	e.Flush()
	r, _ = e.Run(sha, nil, Params{}, h)
	if r.Kind != Error || !strings.HasPrefix(r.Str, "NOSCRIPT ") {
		t.Fatalf("after flush: %+v", r)
	}
	if _, err := e.Load([]byte("syntax error here")); err == nil || !strings.HasPrefix(err.Error(), "ERR Error compiling script (new function): user_script:1:") {
		t.Fatalf("compile error: %v", err)
	}
	if n, _ := e.Stats(); n != 0 {
		t.Fatalf("a script that does not compile was cached: %d", n)
	}
}

// TestBudget checks that a runaway script stops, deterministically: the
// same number of redis.call calls happen on every run.
func TestBudget(t *testing.T) {
	e := New()
	var counts []int
	for i := 0; i < 3; i++ {
		h := &fakeHost{data: map[string]string{}}
		r, err := e.Run(SHA1Hex([]byte("x")), []byte("local i = 0 while true do i = i + 1 if i % 100 == 0 then redis.call('set','k',i) end end"), Params{Budget: 100000}, h)
		if !errors.Is(err, ErrBudget) || r.Kind != Error {
			t.Fatalf("run %d: %+v %v", i, r, err)
		}
		counts = append(counts, len(h.calls))
	}
	if counts[0] == 0 || counts[0] != counts[1] || counts[1] != counts[2] {
		t.Fatalf("calls before the budget ran out differ or are zero: %v", counts)
	}
	// A pcall cannot swallow the budget error for long.
	h := &fakeHost{data: map[string]string{}}
	_, err := e.Run(SHA1Hex([]byte("y")), []byte("while true do pcall(function() while true do end end) end"), Params{Budget: 100000}, h)
	if !errors.Is(err, ErrBudget) {
		t.Fatalf("pcall loop: %v", err)
	}
	// The engine still works afterwards.
	got, err := run(t, e, h, "return 7", nil, nil)
	if err != nil || got != ":7\r\n" {
		t.Fatalf("after budget: %q %v", got, err)
	}
}

// TestNoLeftovers checks that a pooled state keeps nothing from one run
// to the next.
func TestNoLeftovers(t *testing.T) {
	e := New()
	h := &fakeHost{data: map[string]string{}}
	for _, body := range []string{
		"getmetatable('').__index = nil",
		"local s = getmetatable(''); s.upper = nil",
		"setmetatable(_G, {})",
		"math.randomseed(42)",
	} {
		run(t, e, h, body, nil, nil)
	}
	got, _ := run(t, e, h, "return {('a'):upper(), math.random(1000), type(KEYS), #ARGV}", nil, []string{"x"})
	if got != "*4\r\n$1\r\nA\r\n:171\r\n$5\r\ntable\r\n:1\r\n" {
		t.Fatalf("got %q", got)
	}
}

func TestConcurrentRuns(t *testing.T) {
	e := New()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			h := &fakeHost{data: map[string]string{}}
			for j := 0; j < 50; j++ {
				r, err := e.Run(SHA1Hex([]byte("return #ARGV")), []byte("return #ARGV"), Params{Argv: [][]byte{[]byte("a")}}, h)
				if err != nil || r.Int != 1 {
					t.Errorf("got %+v %v", r, err)
					return
				}
			}
		}(i)
	}
	wg.Wait()
}

// TestParseShebang: flags and errors as redis-server 7 reads a script's
// first line (the errors were read off it).
func TestParseShebang(t *testing.T) {
	for _, c := range []struct {
		body  string
		flags Flags
		skip  int
		err   string
	}{
		{"return 1", 0, 0, ""},
		{"#!lua\nreturn 1", Shebang, 5, ""},
		{"#!lua flags=no-writes,allow-oom\nreturn 1", Shebang | NoWrites | AllowOOM, 31, ""},
		{"#!lua  flags=no-writes\nreturn 1", Shebang | NoWrites, 22, ""},
		{"#!lua flags=\nreturn 1", Shebang, 12, ""},
		{"#!lua flags=no-writes flags=no-cluster\n", Shebang | NoWrites | NoCluster, 38, ""},
		{"#!lua flags=allow-stale,allow-cross-slot-keys\n", Shebang | AllowStale | AllowCrossSlot, 45, ""},
		{"#!lua flags=bogus\nreturn 1", 0, 0, "ERR Unexpected flag in script shebang: bogus"},
		{"#!lua name=x\nreturn 1", 0, 0, "ERR Unknown lua shebang option: name=x"},
		{"#!python\nreturn 1", 0, 0, "ERR Unexpected engine in script shebang: #!python"},
		{"#!lua", 0, 0, "ERR Invalid script shebang"},
		{"#!lua flags=no-writes,\nreturn 1", 0, 0, "ERR Unexpected flag in script shebang: "},
	} {
		flags, skip, err := ParseShebang([]byte(c.body))
		got := ""
		if err != nil {
			got = err.Error()
		}
		if flags != c.flags || skip != c.skip || got != c.err {
			t.Errorf("%q: flags %b skip %d err %q, want %b %d %q", c.body, flags, skip, got, c.flags, c.skip, c.err)
		}
	}
	// The shebang line still counts in line numbers, and the cache keeps
	// the flags.
	e := New()
	sha, err := e.Load([]byte("#!lua flags=no-writes\nreturn error()"))
	if err != nil {
		t.Fatal(err)
	}
	if f := e.ScriptFlags([]byte(sha)); f != Shebang|NoWrites {
		t.Fatalf("ScriptFlags: %b", f)
	}
	rep, _ := e.Run(sha, nil, Params{}, nil)
	if !strings.HasSuffix(rep.Str, "on @user_script:2.") {
		t.Fatalf("error of line 2: %q", rep.Str)
	}
}
