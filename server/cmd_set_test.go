package server

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestSetRESP checks the set replies byte for byte in RESP2 and RESP3:
// sets (SMEMBERS, SPOP with a count) are RESP3 sets, SRANDMEMBER with a
// count an array, as Redis 7.0 answers.
func TestSetRESP(t *testing.T) {
	ts := startServer(t, Config{})
	for _, proto := range []int{2, 3} {
		hc := hashDial(t, ts, proto)
		set, null := "*", "$-1\r\n"
		if proto == 3 {
			set, null = "~", "_\r\n"
		}
		key := fmt.Sprintf("s%d", proto)
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"SADD", key, "3", "1", "2", "1"}, ":3\r\n"},
			{[]string{"SMEMBERS", key}, set + "3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"},
			{[]string{"SMISMEMBER", key, "1", "9"}, "*2\r\n:1\r\n:0\r\n"},
			{[]string{"SINTER", key, key}, set + "3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"},
			{[]string{"SRANDMEMBER", key, "5"}, "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"},
			{[]string{"SRANDMEMBER", key, "0"}, "*0\r\n"},
			{[]string{"SRANDMEMBER", "nokey"}, null},
			{[]string{"SPOP", "nokey"}, null},
			{[]string{"SPOP", "nokey", "2"}, set + "0\r\n"},
			{[]string{"SPOP", key, "0"}, set + "0\r\n"},
			{[]string{"SSCAN", key, "0", "MATCH", "[12]"}, "*2\r\n$1\r\n0\r\n*2\r\n$1\r\n1\r\n$1\r\n2\r\n"},
			{[]string{"SPOP", key, "-1"}, "-ERR value is out of range, must be positive\r\n"},
			{[]string{"SINTERCARD", "0", key}, "-ERR numkeys should be greater than 0\r\n"},
			{[]string{"SINTERCARD", "2", key}, "-ERR Number of keys can't be greater than number of args\r\n"},
			{[]string{"SINTERCARD", "1", key, "LIMIT", "-1"}, "-ERR LIMIT can't be negative\r\n"},
			{[]string{"SINTERCARD", "1", key, "LIMIT", "2"}, ":2\r\n"},
			{[]string{"SPOP", key, "5"}, set + "3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"},
			{[]string{"EXISTS", key}, ":0\r\n"},
		} {
			if got := hc.do(tc.args...); got != tc.want {
				t.Fatalf("RESP%d %q: got %q, want %q", proto, tc.args, got, tc.want)
			}
		}
	}
}

// TestSetGoRedis drives the set commands through go-redis.
func TestSetGoRedis(t *testing.T) {
	ts := startServer(t, Config{})
	ctx := context.Background()
	for _, proto := range []int{2, 3} {
		c := ts.goRedis(t, proto)
		c.FlushAll(ctx)
		var ms []any
		var want []string
		for i := range 500 {
			m := fmt.Sprintf("member:%d", i)
			ms = append(ms, m)
			want = append(want, m)
		}
		slices.Sort(want)
		if n, err := c.SAdd(ctx, "big", ms...).Result(); err != nil || n != 500 {
			t.Fatalf("SADD: %d %v", n, err)
		}
		got, err := c.SMembers(ctx, "big").Result()
		slices.Sort(got)
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("SMEMBERS: %d members, %v", len(got), err)
		}
		// A full SSCAN returns every member.
		seen := map[string]bool{}
		var cursor uint64
		for {
			keys, next, err := c.SScan(ctx, "big", cursor, "member:*", 50).Result()
			if err != nil {
				t.Fatalf("SSCAN: %v", err)
			}
			for _, k := range keys {
				seen[k] = true
			}
			if cursor = next; cursor == 0 {
				break
			}
		}
		if len(seen) != 500 {
			t.Fatalf("SSCAN saw %d members", len(seen))
		}
		c.SAdd(ctx, "{t}a", "x", "y", "z")
		c.SAdd(ctx, "{t}b", "y", "z", "w")
		if n, err := c.SInterStore(ctx, "{t}d", "{t}a", "{t}b").Result(); err != nil || n != 2 {
			t.Fatalf("SINTERSTORE: %d %v", n, err)
		}
		if n, err := c.SInterCard(ctx, 1, "{t}a", "{t}b").Result(); err != nil || n != 1 {
			t.Fatalf("SINTERCARD LIMIT 1: %d %v", n, err)
		}
		if ok, err := c.SMove(ctx, "{t}a", "{t}b", "x").Result(); err != nil || !ok {
			t.Fatalf("SMOVE: %v %v", ok, err)
		}
		diff, _ := c.SDiff(ctx, "{t}b", "{t}a").Result()
		if slices.Sort(diff); !slices.Equal(diff, []string{"w", "x"}) {
			t.Fatalf("SDIFF: %q", diff)
		}
		popped, err := c.SPopN(ctx, "big", 10).Result()
		if err != nil || len(popped) != 10 {
			t.Fatalf("SPOP 10: %q %v", popped, err)
		}
		if n, _ := c.SCard(ctx, "big").Result(); n != 490 {
			t.Fatalf("SCARD after SPOP: %d", n)
		}
		for _, m := range popped {
			if ok, _ := c.SIsMember(ctx, "big", m).Result(); ok {
				t.Fatalf("%s still a member", m)
			}
		}
		rnd, err := c.SRandMemberN(ctx, "big", -1000).Result()
		if err != nil || len(rnd) != 1000 {
			t.Fatalf("SRANDMEMBER -1000: %d %v", len(rnd), err)
		}
		c.Set(ctx, "str", "v", 0)
		if err := c.SAdd(ctx, "str", "a").Err(); err == nil || !strings.HasPrefix(err.Error(), "WRONGTYPE") {
			t.Fatalf("SADD on a string: %v", err)
		}
		if err := c.SScan(ctx, "nokey", 0, "", 0).Err(); err != nil {
			t.Fatalf("SSCAN nokey: %v", err)
		}
	}
}

// TestSetTransactionAndWatch runs set writes in MULTI and checks that
// they invalidate a WATCH.
func TestSetTransactionAndWatch(t *testing.T) {
	ts := startServer(t, Config{})
	ctx := context.Background()
	c := ts.goRedis(t, 3)
	c.SAdd(ctx, "w", "a")
	err := c.Watch(ctx, func(tx *redis.Tx) error {
		c.SAdd(ctx, "w", "b") // another client changes the key
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.SRem(ctx, "w", "a")
			return nil
		})
		return err
	}, "w")
	if err != redis.TxFailedErr {
		t.Fatalf("WATCH after SADD: %v", err)
	}
	// SADD of a member already there changes nothing: the WATCH holds.
	err = c.Watch(ctx, func(tx *redis.Tx) error {
		c.SAdd(ctx, "w", "b")
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.SRem(ctx, "w", "a")
			return nil
		})
		return err
	}, "w")
	if err != nil {
		t.Fatalf("WATCH after a no-op SADD: %v", err)
	}
	if got, _ := c.SMembers(ctx, "w").Result(); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("SMEMBERS: %q", got)
	}
}

func TestSInterCardKeys(t *testing.T) {
	for _, tc := range []struct {
		args        []string
		first, last int
	}{
		{[]string{"sintercard", "2", "a", "b", "LIMIT", "1"}, 2, 3},
		{[]string{"sintercard", "1", "a"}, 2, 2},
		{[]string{"sintercard", "3", "a", "b"}, 0, 0},
		{[]string{"sintercard", "x", "a"}, 0, 0},
	} {
		var args [][]byte
		for _, a := range tc.args {
			args = append(args, []byte(a))
		}
		if f, l := sinterCardKeys(args); f != tc.first || l != tc.last {
			t.Fatalf("%q: keys %d..%d, want %d..%d", tc.args, f, l, tc.first, tc.last)
		}
	}
}
