package server

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// appliedIndex reads raft_applied_index from INFO raft.
func appliedIndex(t *testing.T, c *redis.Client) uint64 {
	t.Helper()
	info, err := c.Info(context.Background(), "raft").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "raft_applied_index:"); ok {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no raft_applied_index in %q", info)
	return 0
}

// TestUnchangedWritesSkipTheLog checks that writes which change nothing
// (as Redis does not propagate them) are answered without a log entry,
// from the leader and through a follower, with Redis's replies, while
// writes that change something still go through the log.
func TestUnchangedWritesSkipTheLog(t *testing.T) {
	tc := startCluster(t, 3, Config{}, nil)
	l := tc.leader()
	lc, fc := tc.client(l), tc.client(tc.follower(l))
	ctx := context.Background()
	for _, cmd := range [][]any{
		{"sadd", "s", "a", "b", "1"},
		{"zadd", "z", "1", "a", "2", "b"},
		{"hset", "h", "f", "v"},
		{"set", "str", "x"},
	} {
		if err := lc.Do(ctx, cmd...).Err(); err != nil {
			t.Fatal(cmd, err)
		}
	}
	noops := []struct {
		args []any
		want any
	}{
		{[]any{"sadd", "s", "a", "b"}, int64(0)},
		{[]any{"srem", "s", "x", "y"}, int64(0)},
		{[]any{"srem", "nokey", "x"}, int64(0)},
		{[]any{"zadd", "z", "1", "a"}, int64(0)},
		{[]any{"zadd", "z", "ch", "1", "a", "2", "b"}, int64(0)},
		{[]any{"zadd", "z", "gt", "0", "a"}, int64(0)},
		{[]any{"zadd", "z", "lt", "5", "b"}, int64(0)},
		{[]any{"zadd", "z", "nx", "9", "a"}, int64(0)},
		{[]any{"zadd", "z", "xx", "1", "nomember"}, int64(0)},
		{[]any{"zadd", "nokey", "xx", "1", "a"}, int64(0)},
		{[]any{"zrem", "z", "c"}, int64(0)},
		{[]any{"set", "str", "y", "nx", "px", "30000"}, nil},
		{[]any{"setnx", "str", "y"}, int64(0)},
		{[]any{"set", "nokey", "y", "xx"}, nil},
		{[]any{"hsetnx", "h", "f", "other"}, int64(0)},
	}
	before := appliedIndex(t, lc)
	const rounds = 4
	for range rounds {
		for i, n := range noops {
			c := lc
			if i%2 == 1 {
				c = fc
			}
			got, err := c.Do(ctx, n.args...).Result()
			if n.want == nil && err == redis.Nil {
				err = nil
			}
			if err != nil || got != n.want {
				t.Fatalf("%v: got %v, %v; want %v", n.args, got, err, n.want)
			}
		}
	}
	// Each of those commands waited for its reply before the next was
	// sent, so through the log each would have been an entry of its own.
	if after := appliedIndex(t, lc); after-before >= rounds*uint64(len(noops))/2 {
		t.Fatalf("applied index went from %d to %d for %d unchanged writes: they went through the log", before, after, rounds*len(noops))
	}

	// Writes that change something, and errors, still go the usual way.
	for _, tt := range []struct {
		args []any
		want string
	}{
		{[]any{"sadd", "s", "a", "c"}, "1"},
		{[]any{"zadd", "z", "3", "a"}, "0"},
		{[]any{"zscore", "z", "a"}, "3"},
		{[]any{"zadd", "z", "gt", "ch", "4", "a"}, "1"},
		{[]any{"zadd", "nokey", "1", "a"}, "1"},
		{[]any{"srem", "s", "a", "zz"}, "1"},
		{[]any{"hdel", "h", "f"}, "1"},
		{[]any{"exists", "h"}, "0"},
		{[]any{"set", "str", "z", "nx", "get"}, "x"},
		{[]any{"setnx", "str2", "y"}, "1"},
		{[]any{"expire", "str2", "100", "nx"}, "1"},
		{[]any{"persist", "str2"}, "1"},
		{[]any{"del", "nokey9", "str2"}, "1"},
		{[]any{"sadd", "str", "a"}, "WRONGTYPE Operation against a key holding the wrong kind of value"},
		{[]any{"zadd", "str", "xx", "1", "a"}, "WRONGTYPE Operation against a key holding the wrong kind of value"},
		{[]any{"srem", "str", "a"}, "WRONGTYPE Operation against a key holding the wrong kind of value"},
	} {
		got, err := lc.Do(ctx, tt.args...).Result()
		s := fmt.Sprint(got)
		if err != nil {
			s = err.Error()
		}
		if s != tt.want {
			t.Fatalf("%v: got %q, want %q", tt.args, s, tt.want)
		}
	}
}

// TestPipelinedAfterScript: a read or a no-op write pipelined behind a
// script that writes a key it did not declare (EVAL ... 0) must see the
// script's write, not be answered ahead of it.
func TestPipelinedAfterScript(t *testing.T) {
	tc := startCluster(t, 1, Config{}, nil)
	lc := tc.client(tc.leader())
	ctx := context.Background()
	for i := range 20 {
		k := fmt.Sprintf("lock%d", i)
		var get *redis.StringCmd
		var del *redis.IntCmd
		_, err := lc.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.Eval(ctx, "return redis.call('set', ARGV[1], 'x')", nil, k)
			get = p.Get(ctx, k)
			p.Eval(ctx, "return redis.call('set', ARGV[1], 'y')", nil, k)
			del = p.Del(ctx, k)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		n, err := lc.Exists(ctx, k).Result()
		if get.Val() != "x" || del.Val() != 1 || n != 0 || err != nil {
			t.Fatalf("round %d: GET after EVAL SET = %q (want x), DEL after EVAL SET = %d (want 1), EXISTS afterwards = %d, %v (want 0)",
				i, get.Val(), del.Val(), n, err)
		}
	}
}

// TestWaitNudgesOnce: WAIT appends an empty entry so that followers learn
// of the commit at once, but WAITs in a loop for a replica that does not
// exist must not append one each.
func TestWaitNudgesOnce(t *testing.T) {
	tc := startCluster(t, 3, Config{}, nil)
	lc := tc.client(tc.leader())
	ctx := context.Background()
	if err := lc.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := lc.Do(ctx, "WAIT", 2, 0).Int64(); err != nil || n != 2 {
		t.Fatalf("WAIT 2 0 = %d, %v; want 2", n, err)
	}
	before := appliedIndex(t, lc)
	const waits = 20
	for range waits {
		if n, err := lc.Do(ctx, "WAIT", 3, 5).Int64(); err != nil || n != 2 {
			t.Fatalf("WAIT 3 5 = %d, %v; want 2 (two followers)", n, err)
		}
	}
	if after := appliedIndex(t, lc); after-before >= waits/2 {
		t.Fatalf("applied index went from %d to %d over %d WAITs for a missing replica", before, after, waits)
	}
}

// TestPipelinedAddsBehindWrites: in one pipeline, a SADD or ZADD that
// would change nothing now is not answered ahead of the connection's
// in-flight writes of the same key: the replies and the final state are
// those of the commands run in order. (Answering a no-op SADD ahead of an
// in-flight SADD was tried and dropped: another connection's DEL ordered
// between them makes replies no order of commands gives; see
// TestNoopBehindWritesConcurrentDel.)
func TestPipelinedAddsBehindWrites(t *testing.T) {
	tc := startCluster(t, 1, Config{}, nil)
	lc := tc.client(tc.leader())
	ctx := context.Background()
	for _, tt := range []struct {
		name  string
		setup func(k string) error
		pipe  func(p redis.Pipeliner, k string)
		want  []int64
		check func(k string) error
	}{
		{
			name:  "SADD",
			setup: func(k string) error { return lc.SAdd(ctx, k, "a", "b", "c").Err() },
			pipe: func(p redis.Pipeliner, k string) {
				p.SAdd(ctx, k, "new") // 1: in flight
				p.SAdd(ctx, k, "a")   // 0: only a SADD is in flight
				p.SAdd(ctx, k, "new") // 0: new is added by then
				p.SRem(ctx, k, "b")   // 1
				p.SAdd(ctx, k, "b")   // 1: the SREM removed it
				p.Del(ctx, k)         // 1
				p.SAdd(ctx, k, "c")   // 1: the DEL removed the set
				p.SCard(ctx, k)       // 1
			},
			want: []int64{1, 0, 0, 1, 1, 1, 1, 1},
		},
		{
			name: "ZADD",
			setup: func(k string) error {
				return lc.ZAdd(ctx, k, redis.Z{Score: 1, Member: "a"}, redis.Z{Score: 1, Member: "b"}).Err()
			},
			pipe: func(p redis.Pipeliner, k string) {
				p.ZAdd(ctx, k, redis.Z{Score: 1, Member: "new"}) // 1: in flight
				p.ZAdd(ctx, k, redis.Z{Score: 1, Member: "a"})   // 0: the in-flight ZADD names another member
				p.ZAdd(ctx, k, redis.Z{Score: 2, Member: "b"})   // 0 (b's score becomes 2): in flight
				p.ZAdd(ctx, k, redis.Z{Score: 1, Member: "b"})   // 0, but it must set b back to 1
				p.ZRem(ctx, k, "a")                              // 1
				p.ZAdd(ctx, k, redis.Z{Score: 1, Member: "a"})   // 1: the ZREM removed it
			},
			want: []int64{1, 0, 0, 0, 1, 1},
			check: func(k string) error {
				if s := lc.ZScore(ctx, k, "b").Val(); s != 1 {
					return fmt.Errorf("b's score %v, want 1 (the last ZADD was lost)", s)
				}
				return nil
			},
		},
	} {
		for i := range 20 {
			k := fmt.Sprintf("%s%d", tt.name, i)
			if err := tt.setup(k); err != nil {
				t.Fatal(err)
			}
			cmds, err := lc.Pipelined(ctx, func(p redis.Pipeliner) error { tt.pipe(p, k); return nil })
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, c := range cmds {
				got = append(got, c.(*redis.IntCmd).Val())
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("%s round %d: replies %v, want %v", tt.name, i, got, tt.want)
			}
			if tt.check != nil {
				if err := tt.check(k); err != nil {
					t.Fatalf("%s round %d: %v", tt.name, i, err)
				}
			}
		}
	}
}

// TestNoopBehindWritesOrder: the type and the encoding a no-op SADD or
// ZADD XX finds are those the connection's in-flight writes leave.
func TestNoopBehindWritesOrder(t *testing.T) {
	tc := startCluster(t, 1, Config{}, nil)
	lc := tc.client(tc.leader())
	ctx := context.Background()
	for i := range 20 {
		k := fmt.Sprintf("k%d", i)
		cmds, _ := lc.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.SAdd(ctx, k, "x")
			p.Do(ctx, "zadd", k, "xx", "1", "a") // WRONGTYPE: the SADD made a set
			return nil
		})
		if err := cmds[1].Err(); err == nil || !strings.HasPrefix(err.Error(), "WRONGTYPE") {
			t.Fatalf("round %d: SADD k x; ZADD k XX 1 a: second reply %v, want WRONGTYPE", i, cmds[1])
		}
		// An intset of one member, made a listpack by the first SADD;
		// 200 arguments to the second are over the listpack's 128, so
		// Redis converts it to a hashtable although nothing is added.
		e := fmt.Sprintf("e%d", i)
		if err := lc.SAdd(ctx, e, "1").Err(); err != nil {
			t.Fatal(err)
		}
		many := []any{"sadd", e}
		for range 200 {
			many = append(many, "1")
		}
		if _, err := lc.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.SAdd(ctx, e, "x")
			p.Do(ctx, many...)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if enc := lc.ObjectEncoding(ctx, e).Val(); enc != "hashtable" {
			t.Fatalf("round %d: encoding %q, want hashtable", i, enc)
		}
	}
}

// TestNoopBehindWritesConcurrentDel: connection A pipelines SADD k b;
// SADD k a (k = {a}) while connection B deletes k. Replies 1 then 0 mean
// the DEL came after both commands, so k must be gone.
func TestNoopBehindWritesConcurrentDel(t *testing.T) {
	tc := startCluster(t, 1, Config{}, nil)
	l := tc.leader()
	a, b := tc.client(l), tc.client(l)
	ctx := context.Background()
	for i := range 200 {
		k := fmt.Sprintf("d%d", i)
		if err := a.SAdd(ctx, k, "a").Err(); err != nil {
			t.Fatal(err)
		}
		del := make(chan error, 1)
		go func() { del <- b.Del(ctx, k).Err() }()
		cmds, err := a.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.SAdd(ctx, k, "b")
			p.SAdd(ctx, k, "a")
			return nil
		})
		if derr := <-del; derr != nil {
			t.Fatal(derr)
		}
		if err != nil {
			t.Fatal(err)
		}
		if r2 := cmds[1].(*redis.IntCmd).Val(); r2 == 0 {
			if mem := a.SMembers(ctx, k).Val(); len(mem) != 0 {
				t.Fatalf("round %d: SADD k b; SADD k a replied %v then %v; members %v: no order of the DEL gives that", i, cmds[0], cmds[1], mem)
			}
		}
	}
}

// TestDeferredNoops: no-op SADDs and ZADDs pipelined behind an in-flight
// write of the same key are decided once it is applied, from the store,
// without log entries of their own; a later write of the key sends them
// to the log first, so replies and state are those of the commands in
// order.
func TestDeferredNoops(t *testing.T) {
	tc := startCluster(t, 1, Config{}, nil)
	lc := tc.client(tc.leader())
	ctx := context.Background()
	proposed := func() int64 { return infoInt(t, lc, "raft", "raft_proposed_ops") }
	const noops = 30
	for i := range 10 {
		k := fmt.Sprintf("idx%d", i)
		if err := lc.SAdd(ctx, k, "a", "b").Err(); err != nil {
			t.Fatal(err)
		}
		before := proposed()
		cmds, err := lc.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.SAdd(ctx, k, "new") // in flight
			for j := range noops {
				p.SAdd(ctx, k, []string{"a", "b"}[j%2]) // deferred
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for j, c := range cmds {
			if want := int64(b2i(j == 0)); c.(*redis.IntCmd).Val() != want {
				t.Fatalf("round %d: reply %d = %v, want %d", i, j, c, want)
			}
		}
		// One op for the real add; the no-ops none (a background write
		// of the node's own may add one or two).
		if n := proposed() - before; n >= noops/2 {
			t.Fatalf("round %d: %d ops proposed for 1 add and %d no-ops", i, n, noops)
		}
	}
	for i := range 10 {
		k := fmt.Sprintf("z%d", i)
		if err := lc.ZAdd(ctx, k, redis.Z{Score: 1, Member: "a"}, redis.Z{Score: 1, Member: "b"}).Err(); err != nil {
			t.Fatal(err)
		}
		cmds, err := lc.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.ZAdd(ctx, k, redis.Z{Score: 1, Member: "new"}) // 1: in flight
			p.ZAdd(ctx, k, redis.Z{Score: 1, Member: "a"})   // 0: deferred
			p.ZAdd(ctx, k, redis.Z{Score: 5, Member: "a"})   // 0: sends the deferred one first
			p.ZAdd(ctx, k, redis.Z{Score: 1, Member: "b"})   // 0: deferred
			p.ZRem(ctx, k, "b")                              // 1: after it
			p.ZAdd(ctx, k, redis.Z{Score: 1, Member: "new"}) // 0: deferred, then answered at the end
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, c := range cmds {
			got = append(got, c.(*redis.IntCmd).Val())
		}
		if want := []int64{1, 0, 0, 0, 1, 0}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("round %d: replies %v, want %v", i, got, want)
		}
		if a, err := lc.ZScore(ctx, k, "a").Result(); a != 5 || err != nil {
			t.Fatalf("round %d: score of a %v, %v; want 5", i, a, err)
		}
		if n, err := lc.ZCard(ctx, k).Result(); n != 2 || err != nil {
			t.Fatalf("round %d: ZCARD %d, %v; want 2 (a, new)", i, n, err)
		}
	}
}
