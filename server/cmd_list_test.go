package server

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestListGoRedis drives the list commands through go-redis in RESP2
// and RESP3.
func TestListGoRedis(t *testing.T) {
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) {
			ts := startServer(t, Config{})
			c := ts.goRedis(t, proto)
			ctx := context.Background()
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			eqv := func(got, want any) {
				t.Helper()
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("got %#v, want %#v", got, want)
				}
			}
			n, err := c.RPush(ctx, "q", "a", "b", "c").Result()
			must(err)
			eqv(n, int64(3))
			n, err = c.LPush(ctx, "q", "z").Result()
			must(err)
			eqv(n, int64(4))
			eqv(c.LRange(ctx, "q", 0, -1).Val(), []string{"z", "a", "b", "c"})
			eqv(c.LLen(ctx, "q").Val(), int64(4))
			eqv(c.LIndex(ctx, "q", -1).Val(), "c")
			must(c.LSet(ctx, "q", 1, "A").Err())
			if err := c.LSet(ctx, "q", 9, "x").Err(); err == nil || err.Error() != "ERR index out of range" {
				t.Fatalf("LSET out of range: %v", err)
			}
			if err := c.LSet(ctx, "nokey", 0, "x").Err(); err == nil || err.Error() != "ERR no such key" {
				t.Fatalf("LSET missing: %v", err)
			}
			eqv(c.LInsertAfter(ctx, "q", "A", "a2").Val(), int64(5))
			eqv(c.LPos(ctx, "q", "b", redis.LPosArgs{}).Val(), int64(3))
			eqv(c.LPosCount(ctx, "q", "b", 0, redis.LPosArgs{Rank: -1}).Val(), []int64{3})
			eqv(c.LMove(ctx, "q", "dst", "LEFT", "RIGHT").Val(), "z")
			eqv(c.RPopLPush(ctx, "q", "dst").Val(), "c")
			eqv(c.LRange(ctx, "dst", 0, -1).Val(), []string{"c", "z"})
			eqv(c.LPopCount(ctx, "q", 2).Val(), []string{"A", "a2"})
			eqv(c.LRem(ctx, "q", 0, "b").Val(), int64(1))
			eqv(c.Exists(ctx, "q").Val(), int64(0))
			if _, err := c.LPopCount(ctx, "q", 2).Result(); err != redis.Nil {
				t.Fatalf("LPOP count on a missing key: %v", err)
			}
			if _, err := c.RPop(ctx, "q").Result(); err != redis.Nil {
				t.Fatalf("RPOP on a missing key: %v", err)
			}
			must(c.RPush(ctx, "t", 1, 2, 3, 4, 5).Err())
			must(c.LTrim(ctx, "t", 1, 3).Err())
			eqv(c.LRange(ctx, "t", 0, -1).Val(), []string{"2", "3", "4"})
			eqv(c.LPushX(ctx, "none", "x").Val(), int64(0))
			eqv(c.RPushX(ctx, "t", "5").Val(), int64(4))
			key, vals, err := c.LMPop(ctx, "right", 2, "none", "t").Result()
			must(err)
			eqv(key, "t")
			eqv(vals, []string{"5", "4"})
			// Blocking forms pop at once when they can.
			eqv(c.BLPop(ctx, time.Second, "none", "t").Val(), []string{"t", "2"})
			eqv(c.BRPop(ctx, 0, "t").Val(), []string{"t", "3"})
			// ... and answer nil once their timeout passes.
			for _, cmd := range []redis.Cmder{
				c.BLPop(ctx, 10*time.Millisecond, "none", "none2"),
				c.BRPop(ctx, 10*time.Millisecond, "none"),
				c.BLMove(ctx, "none", "t", "LEFT", "LEFT", 10*time.Millisecond),
				c.BRPopLPush(ctx, "none", "t", 10*time.Millisecond),
				c.Do(ctx, "BLMPOP", "0.01", "1", "none", "LEFT"),
			} {
				if err := cmd.Err(); err != redis.Nil {
					t.Fatalf("%v: %v, want nil", cmd.Args(), err)
				}
			}
			must(c.Set(ctx, "s", "v", 0).Err())
			if err := c.LPush(ctx, "s", "x").Err(); err == nil || !strings.HasPrefix(err.Error(), "WRONGTYPE") {
				t.Fatalf("LPUSH on a string: %v", err)
			}
			eqv(c.Type(ctx, "dst").Val(), "list")
		})
	}
}

// TestListReplies checks byte-exact replies whose shape depends on the
// protocol: null bulk and null array, LMPOP's nested array.
func TestListReplies(t *testing.T) {
	ts := startServer(t, Config{})
	for _, proto := range []int{2, 3} {
		hc := hashDial(t, ts, proto)
		null, nullArray := "$-1\r\n", "*-1\r\n"
		if proto == 3 {
			null, nullArray = "_\r\n", "_\r\n"
		}
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"LPOP", "none"}, null},
			{[]string{"LPOP", "none", "1"}, nullArray},
			{[]string{"RPOP", "none", "0"}, nullArray},
			{[]string{"LINDEX", "none", "x"}, null},
			{[]string{"LPOS", "none", "a"}, null},
			{[]string{"LPOS", "none", "a", "COUNT", "0"}, "*0\r\n"},
			{[]string{"LMPOP", "1", "none", "LEFT"}, nullArray},
			{[]string{"LMOVE", "none", "x", "LEFT", "LEFT"}, null},
			{[]string{"RPUSH", "l", "a", "b"}, ":2\r\n"},
			{[]string{"LPOP", "l", "0"}, "*0\r\n"},
			{[]string{"LMPOP", "1", "l", "LEFT", "COUNT", "5"}, "*2\r\n$1\r\nl\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n"},
			{[]string{"RPUSH", "l", "a"}, ":1\r\n"},
			{[]string{"LINDEX", "l", "x"}, "-ERR value is not an integer or out of range\r\n"},
			{[]string{"LSET", "none", "x", "v"}, "-ERR no such key\r\n"},
			{[]string{"LSET", "l", "x", "v"}, "-ERR value is not an integer or out of range\r\n"},
			{[]string{"LPOP", "l", "-1"}, "-ERR value is out of range, must be positive\r\n"},
			{[]string{"BLPOP", "l", "-1"}, "-ERR timeout is negative\r\n"},
			{[]string{"BLPOP", "l", "x"}, "-ERR timeout is not a float or out of range\r\n"},
			{[]string{"BLPOP", "l", "0"}, "*2\r\n$1\r\nl\r\n$1\r\na\r\n"},
			{[]string{"BLPOP", "l", "0.01"}, nullArray},
			{[]string{"LMPOP", "0", "l", "LEFT"}, "-ERR numkeys should be greater than 0\r\n"},
		} {
			if got := hc.do(c.args...); got != c.want {
				t.Fatalf("RESP%d %q: got %q, want %q", proto, c.args, got, c.want)
			}
		}
	}
}

// TestListCommandTable checks arity, flags and key positions against
// Redis 7.0's COMMAND INFO, and COMMAND GETKEYS for the multi-key forms.
func TestListCommandTable(t *testing.T) {
	ts := startServer(t, Config{})
	for _, c := range []struct {
		name                string
		arity               int
		flags               cmdFlag
		first, last, step   int
		acl                 string
		hasKeyRange         bool
		getkeys, wantGetKey []string
	}{
		{name: "lpush", arity: -3, flags: wrFast, first: 1, last: 1, step: 1, acl: "@write @list @fast"},
		{name: "lpop", arity: -2, flags: flagWrite | flagFast, first: 1, last: 1, step: 1, acl: "@write @list @fast"},
		{name: "lrange", arity: 4, flags: rd, first: 1, last: 1, step: 1, acl: "@read @list @slow"},
		{name: "llen", arity: 2, flags: rdFast, first: 1, last: 1, step: 1, acl: "@read @list @fast"},
		{name: "lrem", arity: 4, flags: flagWrite, first: 1, last: 1, step: 1, acl: "@write @list @slow"},
		{name: "lmove", arity: 5, flags: wrOOM, first: 1, last: 2, step: 1, acl: "@write @list @slow",
			getkeys: []string{"lmove", "a", "b", "left", "right"}, wantGetKey: []string{"a", "b"}},
		{name: "blpop", arity: -3, flags: flagWrite | flagNoScript | flagBlocking, first: 1, last: -2, step: 1, acl: "@write @list @slow @blocking",
			getkeys: []string{"blpop", "a", "b", "c", "0"}, wantGetKey: []string{"a", "b", "c"}},
		{name: "lmpop", arity: -4, flags: flagWrite, first: 2, last: 2, step: 1, acl: "@write @list @slow", hasKeyRange: true},
		{name: "blmpop", arity: -5, flags: flagWrite | flagBlocking, first: 3, last: 3, step: 1, acl: "@write @list @slow @blocking", hasKeyRange: true},
	} {
		cmd := ts.cmds[c.name]
		if cmd == nil {
			t.Fatalf("%s is not in the table", c.name)
		}
		if cmd.arity != c.arity || cmd.flags != c.flags || cmd.first != c.first || cmd.last != c.last ||
			cmd.step != c.step || cmd.acl != c.acl || (cmd.keyRange != nil) != c.hasKeyRange {
			t.Errorf("%s: %+v", c.name, cmd)
		}
		if c.getkeys != nil {
			var keys []string
			forKeys(cmd, bytesArgs(c.getkeys), func(k []byte) { keys = append(keys, string(k)) })
			if !reflect.DeepEqual(keys, c.wantGetKey) {
				t.Errorf("%s keys %q, want %q", c.name, keys, c.wantGetKey)
			}
		}
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"lmpop", "2", "a", "b", "left", "count", "3"}, []string{"a", "b"}},
		{[]string{"blmpop", "0", "3", "a", "b", "c", "right"}, []string{"a", "b", "c"}},
		{[]string{"lmpop", "x", "a", "left"}, nil},
		{[]string{"lmpop", "5", "a", "left"}, nil},
	} {
		var keys []string
		forKeys(ts.cmds[c.args[0]], bytesArgs(c.args), func(k []byte) { keys = append(keys, string(k)) })
		if !reflect.DeepEqual(keys, c.want) {
			t.Errorf("%q: keys %q, want %q", c.args, keys, c.want)
		}
	}
	for _, name := range []string{"lpush", "rpush", "lpushx", "rpushx", "lpop", "rpop", "lrange", "llen",
		"lindex", "lset", "lrem", "ltrim", "linsert", "lpos", "lmove", "rpoplpush", "lmpop",
		"blpop", "brpop", "blmove", "brpoplpush", "blmpop"} {
		if _, ok := commandDocs()[name]; !ok {
			t.Errorf("no COMMAND DOCS line for %s", name)
		}
	}
}

func bytesArgs(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

// TestListBenchmarkShape runs redis-benchmark's list workload in small:
// many pushes to one list, then LRANGE of 600 from its head, and pops
// until it is empty.
func TestListBenchmarkShape(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.goRedis(t, 2)
	ctx := context.Background()
	const total = 20000
	for i := 0; i < total; i += 1000 {
		p := c.Pipeline()
		for j := i; j < i+1000; j++ {
			if j%2 == 0 {
				p.LPush(ctx, "mylist", "xxx"+strconv.Itoa(j))
			} else {
				p.RPush(ctx, "mylist", "xxx"+strconv.Itoa(j))
			}
		}
		if _, err := p.Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := c.LLen(ctx, "mylist").Val(); n != total {
		t.Fatalf("LLEN %d", n)
	}
	got := c.LRange(ctx, "mylist", 0, 599).Val()
	if len(got) != 600 || got[0] != "xxx"+strconv.Itoa(total-2) || got[599] != "xxx"+strconv.Itoa(total-2-2*599) {
		t.Fatalf("LRANGE 0 599: %d elements, %q ... %q", len(got), got[0], got[len(got)-1])
	}
	if v := c.LIndex(ctx, "mylist", total/2).Val(); v != "xxx1" {
		t.Fatalf("LINDEX middle %q", v)
	}
	popped := 0
	for {
		vals, err := c.LPopCount(ctx, "mylist", 700).Result()
		if errors.Is(err, redis.Nil) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		popped += len(vals)
	}
	if popped != total || c.Exists(ctx, "mylist").Val() != 0 {
		t.Fatalf("popped %d of %d", popped, total)
	}
}

// TestListMulti checks list commands inside a transaction, including the
// argument errors Redis reports only once it has found the list.
func TestListMulti(t *testing.T) {
	ts := startServer(t, Config{})
	hc := hashDial(t, ts, 2)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"MULTI"}, "+OK\r\n"},
		{[]string{"RPUSH", "l", "a", "b"}, "+QUEUED\r\n"},
		{[]string{"LSET", "l", "x", "v"}, "+QUEUED\r\n"},
		{[]string{"LINDEX", "l", "x"}, "+QUEUED\r\n"},
		{[]string{"LMOVE", "l", "m", "RIGHT", "LEFT"}, "+QUEUED\r\n"},
		{[]string{"EXEC"}, "*4\r\n:2\r\n-ERR value is not an integer or out of range\r\n-ERR value is not an integer or out of range\r\n$1\r\nb\r\n"},
		{[]string{"LRANGE", "m", "0", "-1"}, "*1\r\n$1\r\nb\r\n"},
	} {
		if got := hc.do(c.args...); got != c.want {
			t.Fatalf("%q: got %q, want %q", c.args, got, c.want)
		}
	}
}
