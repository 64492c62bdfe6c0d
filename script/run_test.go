package script

import (
	"fmt"
	"math"
	"strconv"
	"testing"
)

// TestAppendNumber checks the integer fast path against Lua 5.1's
// "%.14g" (strconv's 'g' with 14 digits).
func TestAppendNumber(t *testing.T) {
	for _, f := range []float64{
		0, math.Copysign(0, -1), 1, -1, 30000, 1.5, -2.25, 1e13, 99999999999999, -99999999999999,
		1e14, 123456789012345, -1e14, 1e15, 1e20, -1e20, 0.1, 1e-7, 9007199254740993,
		math.MaxInt64, math.MinInt64, math.Inf(1), math.Inf(-1), math.NaN(), math.MaxFloat64,
	} {
		want := strconv.FormatFloat(f, 'g', 14, 64)
		if got := string(appendNumber([]byte("x"), f)); got != "x"+want {
			t.Errorf("appendNumber(%v) = %q, want %q", f, got, "x"+want)
		}
	}
}

// TestRepeatedRuns runs scripts many times on pooled states: the main
// function each state keeps per script (mainFunc) must see each run's
// KEYS and ARGV, and globals must stay read-only and complete, whatever
// ran before, including more scripts than a state keeps.
func TestRepeatedRuns(t *testing.T) {
	e := New()
	h := &fakeHost{data: map[string]string{}}
	cases := []struct{ body, want string }{
		{"return KEYS[1] .. ARGV[1] .. #KEYS .. #ARGV", "$%d\r\nk%da%d11\r\n"},
		{"return type(arg)", "-ERR user_script:1: Script attempted to access nonexistent global variable 'arg' script: %s, on @user_script:1.\r\n"},
		{"KEYS = {} return 1", "-ERR user_script:1: Attempt to modify a readonly table script: %s, on @user_script:1.\r\n"},
		{"return nosuch", "-ERR user_script:1: Script attempted to access nonexistent global variable 'nosuch' script: %s, on @user_script:1.\r\n"},
		{"return rawget(_G, 'redis') == nil and type(redis.call) == 'function'", ":1\r\n"},
		{"return select('#', ...)", ":0\r\n"},
		{"return loadstring('return select(\"#\", ...)')(1, 2)", ":2\r\n"},
		// The table library refuses the read-only tables, so that no run
		// leaves anything for the next one.
		{"pcall(table.insert, _G, 'x') pcall(table.insert, redis, 'x') return #_G + #redis", ":0\r\n"},
		{"return {pcall(table.insert, _G, 'x')}", "*2\r\n$-1\r\n$34\r\nAttempt to modify a readonly table\r\n"},
		{"return {pcall(table.remove, math)}", "*1\r\n:1\r\n"},
		{"return {pcall(table.sort, string)}", "*1\r\n:1\r\n"},
		{"local t = {3, 1, 2} table.insert(t, 4) table.sort(t) table.remove(t, 1) table.insert(KEYS, 'z') return {t[1], t[3], #KEYS}", "*3\r\n:2\r\n:4\r\n:2\r\n"},
	}
	for i := 0; i < 3*maxFuncs; i++ {
		for _, c := range cases {
			k, a := fmt.Sprint("k", i), fmt.Sprint("a", i)
			want := c.want
			switch c.body {
			case cases[0].body:
				want = fmt.Sprintf(c.want, len(k)+len(a)+2, i, i)
			case cases[1].body, cases[2].body, cases[3].body:
				want = fmt.Sprintf(c.want, SHA1Hex([]byte(c.body)))
			}
			if got, err := run(t, e, h, c.body, []string{k}, []string{a}); err != nil || got != want {
				t.Fatalf("run %d of %q: got %q, %v; want %q", i, c.body, got, err, want)
			}
		}
		// A new script each time: more than a state keeps functions for.
		body := fmt.Sprintf("return %d + #ARGV", i)
		if got, err := run(t, e, h, body, nil, []string{"x"}); err != nil || got != fmt.Sprintf(":%d\r\n", i+1) {
			t.Fatalf("%q: got %q, %v", body, got, err)
		}
	}
}

// lockHost answers the LOCK script's commands with canned replies.
type lockHost struct{}

func (lockHost) Call(args [][]byte, _ bool) []byte {
	switch args[0][0] {
	case 's':
		return []byte("+OK\r\n")
	case 'g':
		return []byte("$3\r\ntok\r\n")
	}
	return []byte(":1\r\n")
}

// BenchmarkRunLock measures one run of issue 5's LOCK script against a
// host that answers at once (the engine's share of an EVALSHA).
func BenchmarkRunLock(b *testing.B) {
	e := New()
	var h lockHost
	body := []byte(`if redis.call("set", KEYS[1], ARGV[1], "NX", "PX", 30000) then if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) end end return 0`)
	sha, err := e.Load(body)
	if err != nil {
		b.Fatal(err)
	}
	p := Params{Keys: [][]byte{[]byte("lock:1")}, Argv: [][]byte{[]byte("tok")}}
	b.ReportAllocs()
	for b.Loop() {
		r, err := e.Run(sha, nil, p, h)
		if err != nil || r.Kind != Int || r.Int != 1 {
			b.Fatalf("got %+v, %v", r, err)
		}
	}
}
