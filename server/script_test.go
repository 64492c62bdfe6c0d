package server

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"sessiond/script"
	"sessiond/shard"
)

// TestScriptGoRedis drives scripts the way session libraries do: go-redis's
// Script (EVALSHA, falling back to EVAL on NOSCRIPT) and a lock release.
func TestScriptGoRedis(t *testing.T) {
	ts := startServer(t, Config{})
	ctx := context.Background()
	for _, proto := range []int{2, 3} {
		c := ts.goRedis(t, proto)
		c.FlushAll(ctx)
		release := redis.NewScript(`if redis.call('get',KEYS[1]) == ARGV[1] then return redis.call('del',KEYS[1]) else return 0 end`)
		if err := c.Set(ctx, "lock", "tok", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if n, err := release.Run(ctx, c, []string{"lock"}, "other").Int(); err != nil || n != 0 {
			t.Fatalf("RESP%d release with the wrong token = %d, %v", proto, n, err)
		}
		if n, err := release.Run(ctx, c, []string{"lock"}, "tok").Int(); err != nil || n != 1 {
			t.Fatalf("RESP%d release = %d, %v", proto, n, err)
		}
		if n, _ := c.Exists(ctx, "lock").Result(); n != 0 {
			t.Fatalf("RESP%d lock still there", proto)
		}
		incr := redis.NewScript(`return redis.call('incrby', KEYS[1], ARGV[1])`)
		for i := 1; i <= 3; i++ {
			if n, err := incr.Run(ctx, c, []string{"ctr"}, 2).Int(); err != nil || n != 2*i {
				t.Fatalf("RESP%d incr %d = %d, %v", proto, i, n, err)
			}
		}
		v, err := c.Eval(ctx, "return {1, 'two', {3}, redis.status_reply('OK')}", nil).Slice()
		if err != nil || len(v) != 4 || v[1] != "two" || v[3] != "OK" {
			t.Fatalf("RESP%d nested = %#v, %v", proto, v, err)
		}
		if err := c.EvalRO(ctx, "return redis.call('set','a','b')", nil).Err(); err == nil ||
			!strings.HasPrefix(err.Error(), "ERR Write commands are not allowed from read-only scripts.") {
			t.Fatalf("RESP%d EVAL_RO write: %v", proto, err)
		}
	}
}

// TestScriptRandomCommandsDeterministic checks that commands that draw
// random numbers parse alike from the same script op (the seed).
func TestScriptRandomCommandsDeterministic(t *testing.T) {
	ts := startServer(t, Config{})
	ctx := context.Background()
	c := ts.goRedis(t, 2)
	for i := 0; i < 50; i++ {
		c.HSet(ctx, "h", "f"+strings.Repeat("x", i), i)
		c.Set(ctx, "k"+strings.Repeat("y", i), i, 0)
	}
	body := []byte("return {redis.call('randomkey'), redis.call('hrandfield', KEYS[1]), math.random(1000000)}")
	op := shard.Op{Kind: shard.KindEval, Args: [][]byte{body, []byte("h")}, N: 1, At: 12345, Now: 1_700_000_000_000}
	st := ts.units()[0].store
	first := st.Apply(&op)
	for i := 0; i < 5; i++ {
		again := st.Apply(&op)
		var a, b replyWriter
		replyScript(&a, first)
		replyScript(&b, again)
		if string(a.b) != string(b.b) {
			t.Fatalf("same op, different replies: %q vs %q", a.b, b.b)
		}
	}
}

// TestScriptBudgetRollsBack checks that a script stopped for its budget
// leaves no write behind, big values included.
func TestScriptBudgetRollsBack(t *testing.T) {
	ts := startServer(t, Config{})
	ctx := context.Background()
	c := ts.goRedis(t, 2)
	c.Set(ctx, "s", "old", 0)
	for i := 0; i < 300; i++ {
		c.HSet(ctx, "big", "f"+strings.Repeat("x", i%50)+string(rune('a'+i%26)), i)
	}
	st := ts.units()[0].store
	before := st.Digest()
	body := []byte(`redis.call('set','s','new'); redis.call('set','fresh','1'); redis.call('hset','big','added','1');
redis.call('hdel','big','fa'); redis.call('del', 'missing'); while true do end`)
	op := shard.Op{Kind: shard.KindEval, Args: [][]byte{body}, F: 100000, Now: 1_700_000_000_000}
	res := st.Apply(&op)
	if res.Kind != shard.RErr || !strings.Contains(res.Err.Error(), "budget") {
		t.Fatalf("runaway script: %+v", res)
	}
	if after := st.Digest(); after != before {
		t.Fatalf("digest changed by a stopped script: %s -> %s", before, after)
	}
	if v, _ := c.Get(ctx, "s").Result(); v != "old" {
		t.Fatalf("s = %q after rollback", v)
	}
	// A later write to the big hash still works (it was frozen, not lost).
	if n, err := c.HSet(ctx, "big", "later", 1).Result(); err != nil || n != 1 {
		t.Fatalf("HSET after rollback = %d, %v", n, err)
	}
	if ok, _ := c.HExists(ctx, "big", "added").Result(); ok {
		t.Fatal("field added by the stopped script is there")
	}
}

// TestScriptCacheAndErrors covers SCRIPT and EVALSHA replies through the
// raw protocol.
func TestScriptCacheAndErrors(t *testing.T) {
	ts := startServer(t, Config{})
	rc := ts.raw(t)
	sha := script.SHA1Hex([]byte("return 1"))
	rc.roundTrip("*3\r\n$6\r\nSCRIPT\r\n$4\r\nLOAD\r\n$8\r\nreturn 1\r\n", "$40\r\n"+sha+"\r\n")
	rc.roundTrip("*3\r\n$7\r\nEVALSHA\r\n$40\r\n"+sha+"\r\n$1\r\n0\r\n", ":1\r\n")
	rc.roundTrip("*2\r\n$6\r\nSCRIPT\r\n$5\r\nFLUSH\r\n", "+OK\r\n")
	rc.roundTrip("*3\r\n$7\r\nEVALSHA\r\n$40\r\n"+sha+"\r\n$1\r\n0\r\n", "-NOSCRIPT No matching script. Please use EVAL.\r\n")
	rc.roundTrip("*3\r\n$4\r\nEVAL\r\n$12\r\nreturn {1,2}\r\n$1\r\n0\r\n", "*2\r\n:1\r\n:2\r\n")
	rc.roundTrip("*3\r\n$4\r\nEVAL\r\n$16\r\nreturn {err='x'}\r\n$1\r\n0\r\n", "-x\r\n")
}
