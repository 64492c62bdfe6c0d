package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// infoInt reads an integer field of an INFO section of the node c
// talks to (0 when the field is missing).
func infoInt(t *testing.T, c *redis.Client, section, field string) int64 {
	t.Helper()
	n, _ := strconv.ParseInt(infoFields(t, c.Info(context.Background(), section).Val())[field], 10, 64)
	return n
}

// blockedClients reads INFO clients' blocked_clients.
func blockedClients(t *testing.T, c *redis.Client) int {
	return int(infoInt(t, c, "clients", "blocked_clients"))
}

// waitBlocked polls until n connections of the node c talks to wait in a
// blocking command.
func waitBlocked(t *testing.T, c *redis.Client, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d blocked clients", n), func() bool { return blockedClients(t, c) == n })
}

// TestBlockingPops: BLPOP, BRPOP, BLMOVE, BLMPOP and BZPOPMIN on empty
// lists and sorted sets wait
// for a push (from another connection, on the leader or a follower),
// answer nil when their timeout passes, and two waiters for one list get
// one element each.
func TestBlockingPops(t *testing.T) {
	tc := startCluster(t, 3, Config{}, nil)
	l := tc.leader()
	f := tc.follower(l)
	lc, fc := tc.client(l), tc.client(f)
	ctx := context.Background()
	const wait = 30 * time.Second // bounded; the push comes long before

	for _, tt := range []struct {
		name   string
		waiter *redis.Client // where the blocking command runs
		pusher *redis.Client
	}{
		{"leader", lc, lc},
		{"follower", fc, lc},
		{"follower pushes", fc, fc},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k := "q:" + tt.name
			got := make(chan []string, 1)
			go func() {
				v, err := tt.waiter.BLPop(ctx, wait, "other:"+tt.name, k).Result()
				if err != nil {
					v = []string{"error", err.Error()}
				}
				got <- v
			}()
			waitBlocked(t, tt.waiter, 1)
			if err := tt.pusher.RPush(ctx, k, "job1").Err(); err != nil {
				t.Fatal(err)
			}
			if v := <-got; fmt.Sprint(v) != fmt.Sprint([]string{k, "job1"}) {
				t.Fatalf("BLPOP = %q, want [%s job1]", v, k)
			}
			if n := lc.LLen(ctx, k).Val(); n != 0 {
				t.Fatalf("LLEN after the pop = %d, want 0", n)
			}
			waitBlocked(t, tt.waiter, 0)
		})
	}

	t.Run("sorted sets", func(t *testing.T) {
		got := make(chan string, 1)
		go func() {
			v, err := fc.BZPopMin(ctx, wait, "due").Result()
			if err != nil {
				got <- "error: " + err.Error()
				return
			}
			got <- fmt.Sprint(v.Key, " ", v.Member, " ", v.Score)
		}()
		waitBlocked(t, fc, 1)
		if err := lc.ZAdd(ctx, "due", redis.Z{Score: 5, Member: "late"}, redis.Z{Score: 2, Member: "soon"}).Err(); err != nil {
			t.Fatal(err)
		}
		if v := <-got; v != "due soon 2" {
			t.Fatalf("BZPOPMIN = %q, want due soon 2", v)
		}
		if v := lc.ZRange(ctx, "due", 0, -1).Val(); fmt.Sprint(v) != "[late]" {
			t.Fatalf("due = %q after the pop, want [late]", v)
		}
	})

	t.Run("timeouts", func(t *testing.T) {
		before := infoInt(t, lc, "raft", "raft_proposed_ops")
		if _, err := fc.BRPop(ctx, 50*time.Millisecond, "none").Result(); err != redis.Nil {
			t.Fatalf("BRPOP on an empty list = %v, want nil", err)
		}
		if _, err := lc.BLMove(ctx, "none", "dst", "LEFT", "RIGHT", 50*time.Millisecond).Result(); err != redis.Nil {
			t.Fatalf("BLMOVE from an empty list = %v, want nil", err)
		}
		if _, _, err := lc.BLMPop(ctx, 50*time.Millisecond, "left", 2, "none").Result(); err != redis.Nil {
			t.Fatalf("BLMPOP on an empty list = %v, want nil", err)
		}
		// Tries that find nothing are answered from the leader's memory.
		if n := infoInt(t, lc, "raft", "raft_proposed_ops") - before; n > 1 {
			t.Fatalf("%d ops logged for three blocking commands that found nothing", n)
		}
	})

	t.Run("two waiters", func(t *testing.T) {
		got := make(chan string, 2)
		for _, c := range []*redis.Client{lc, fc} {
			go func() {
				v, err := c.BLMove(ctx, "jobs", "doing", "LEFT", "RIGHT", wait).Result()
				if err != nil {
					v = "error: " + err.Error()
				}
				got <- v
			}()
		}
		waitFor(t, "two blocked clients", func() bool { return blockedClients(t, lc)+blockedClients(t, fc) == 2 })
		if err := lc.RPush(ctx, "jobs", "a").Err(); err != nil {
			t.Fatal(err)
		}
		first := <-got
		if err := lc.RPush(ctx, "jobs", "b").Err(); err != nil {
			t.Fatal(err)
		}
		second := <-got
		if first+second != "ab" {
			t.Fatalf("the waiters got %q and %q, want a then b", first, second)
		}
		if v := lc.LRange(ctx, "doing", 0, -1).Val(); fmt.Sprint(v) != "[a b]" {
			t.Fatalf("doing = %q, want [a b]", v)
		}
	})
}

// TestBlockedClientGone: a client that disconnects while it waits is not
// handed an element: a push after it left stays in the list. Also when it
// pipelined more than 64 KB behind the blocking command (the watch for its
// leaving once stopped reading there).
func TestBlockedClientGone(t *testing.T) {
	tc := startCluster(t, 1, Config{}, nil)
	l := tc.leader()
	lc := tc.client(l)
	ctx := context.Background()
	for i, behind := range []string{"", respCmd("SET", "big", strings.Repeat("x", 80<<10))} {
		q := fmt.Sprintf("q%d", i)
		nc := sendRaw(t, l.addr, respCmd("BLPOP", q, "0")+behind)
		waitBlocked(t, lc, 1)
		nc.Close()
		// Once it no longer counts as blocked it has left the waiters
		// and cannot pop any more.
		waitBlocked(t, lc, 0)
		if err := lc.RPush(ctx, q, "kept").Err(); err != nil {
			t.Fatal(err)
		}
		if v := lc.LRange(ctx, q, 0, -1).Val(); fmt.Sprint(v) != "[kept]" {
			t.Fatalf("%s = %q after the waiting client left, want [kept]", q, v)
		}
	}
}

// TestBlockedPipeline: commands pipelined behind a blocking one run after
// it, in order; CLIENT LIST shows the waiting connection with flag b.
func TestBlockedPipeline(t *testing.T) {
	tc := startCluster(t, 1, Config{}, nil)
	l := tc.leader()
	lc := tc.client(l)
	ctx := context.Background()
	nc := sendRaw(t, l.addr, respCmd("BRPOP", "q", "0")+respCmd("ECHO", "after")+respCmd("LLEN", "q"))
	waitBlocked(t, lc, 1)
	list := lc.ClientList(ctx).Val()
	if !strings.Contains(list, "flags=b ") || !strings.Contains(list, "cmd=brpop") {
		t.Fatalf("CLIENT LIST shows no blocked BRPOP:\n%s", list)
	}
	if err := lc.RPush(ctx, "q", "x", "y").Err(); err != nil {
		t.Fatal(err)
	}
	want := "*2\r\n$1\r\nq\r\n$1\r\ny\r\n$5\r\nafter\r\n:1\r\n"
	buf := make([]byte, len(want))
	if _, err := io.ReadFull(bufio.NewReader(nc), buf); err != nil || string(buf) != want {
		t.Fatalf("replies %q, %v; want %q", buf, err, want)
	}
}

// TestBlockingPopRemoteGroup: a client blocked on a node that holds no
// replica of its key's group (--replicas 1 of 3) gets the element pushed
// through another node.
func TestBlockingPopRemoteGroup(t *testing.T) {
	tc := startPartial(t, 3, 3, 1, Config{})
	ctx := context.Background()
	n1 := tc.nodes[0]
	var key string
	for i := 0; key == ""; i++ {
		if k := fmt.Sprintf("rq%d", i); n1.node.Server.unitOfKey([]byte(k)).remote {
			key = k
		}
	}
	c1 := tc.client(n1)
	got := make(chan []string, 1)
	go func() {
		v, err := c1.BLPop(ctx, 30*time.Second, key).Result()
		if err != nil {
			v = []string{"error", err.Error()}
		}
		got <- v
	}()
	waitBlocked(t, c1, 1)
	if err := tc.client(tc.nodes[1]).RPush(ctx, key, "x").Err(); err != nil {
		t.Fatal(err)
	}
	if v := <-got; fmt.Sprint(v) != fmt.Sprint([]string{key, "x"}) {
		t.Fatalf("BLPOP = %q, want [%s x]", v, key)
	}
}

// TestClientUnblock: CLIENT UNBLOCK ends a wait as its timeout would, or
// with Redis's UNBLOCKED error, and answers 0 for a client not waiting.
func TestClientUnblock(t *testing.T) {
	tc := startCluster(t, 1, Config{}, nil)
	lc := tc.client(tc.leader())
	waiter := tc.client(tc.leader())
	ctx := context.Background()
	id := waiter.ClientID(ctx).Val()
	if n := lc.ClientUnblock(ctx, id).Val(); n != 0 {
		t.Fatalf("CLIENT UNBLOCK of a client not blocked = %d, want 0", n)
	}
	for _, withErr := range []bool{false, true} {
		got := make(chan error, 1)
		go func() { got <- waiter.BLPop(ctx, 30*time.Second, "q").Err() }()
		waitBlocked(t, lc, 1)
		unblock := lc.ClientUnblock
		want := "redis: nil"
		if withErr {
			unblock = lc.ClientUnblockWithError
			want = "UNBLOCKED client unblocked via CLIENT UNBLOCK"
		}
		if n := unblock(ctx, id).Val(); n != 1 {
			t.Fatalf("CLIENT UNBLOCK of a blocked client = %d, want 1", n)
		}
		if err := <-got; fmt.Sprint(err) != want {
			t.Fatalf("BLPOP after CLIENT UNBLOCK (error %v): %v, want %s", withErr, err, want)
		}
		waitBlocked(t, lc, 0)
	}
}

// sendRaw dials addr, writes payload (RESP commands) and returns the
// connection, closed when the test ends; reads and writes on it fail
// after 30 s instead of hanging.
func sendRaw(t *testing.T, addr, payload string) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(nc, payload); err != nil {
		t.Fatal(err)
	}
	return nc
}

// respCmd encodes a command as a RESP array.
func respCmd(args ...string) string { return string(fcEncode(args)) }

// TestBlockingPipelinedRepliesSent: the replies of commands pipelined
// before a blocking one are sent before it starts waiting, as Redis does
// (redis-server 7.0.15 sends "+OK" at once, then "*-1" after the
// timeout); they were held until the blocking command ended.
func TestBlockingPipelinedRepliesSent(t *testing.T) {
	ts := startServer(t, Config{})
	nc := sendRaw(t, ts.addr, respCmd("SET", "a", "1")+respCmd("BLPOP", "q", "0"))
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 5)
	if _, err := io.ReadFull(nc, buf); err != nil || string(buf) != "+OK\r\n" {
		t.Fatalf("reply of the SET before a blocking BLPOP: %q, %v (held until the BLPOP returns)", buf, err)
	}
}

// TestBlockingWrongTypeWhileWaiting: in Redis 7.0.15 a client blocked
// on an empty list stays blocked when the key becomes a string: it times
// out with a null array. (The SET wakes it here; the retry's WRONGTYPE
// must not be its answer.)
func TestBlockingWrongTypeWhileWaiting(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.goRedis(t, 2)
	ctx := context.Background()
	got := make(chan error, 1)
	go func() {
		got <- ts.goRedis(t, 2).BLPop(ctx, time.Second, "q").Err()
	}()
	waitBlocked(t, c, 1)
	if err := c.Set(ctx, "q", "str", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != redis.Nil {
		t.Fatalf("BLPOP q 1 while q becomes a string = %v; Redis 7.0 keeps waiting and answers nil", err)
	}
}

// TestBlockingFollowerTriesCountErrorsOnLeader: every try a follower
// forwards for its blocked client is answered by the leader with the
// ErrListBlocking error, which no client sees: the leader must not count
// it in total_error_replies.
func TestBlockingFollowerTriesCountErrorsOnLeader(t *testing.T) {
	tc := startCluster(t, 3, Config{}, nil)
	l := tc.leader()
	f := tc.follower(l)
	lc, fc := tc.client(l), tc.client(f)
	ctx := context.Background()
	before := infoInt(t, lc, "stats", "total_error_replies")
	if err := fc.BLPop(ctx, 100*time.Millisecond, "q").Err(); err != redis.Nil {
		t.Fatalf("BLPOP = %v, want nil", err)
	}
	if after := infoInt(t, lc, "stats", "total_error_replies"); after != before {
		t.Fatalf("leader total_error_replies %d -> %d after a follower's BLPOP timed out (no error was answered to any client)", before, after)
	}
}

// TestBlockingLeaderChange: clients blocked on the leader and on a
// follower keep waiting through a leadership transfer and are served by
// pushes on the new leader.
func TestBlockingLeaderChange(t *testing.T) {
	tc := startCluster(t, 3, Config{}, nil)
	l := tc.leader()
	f := tc.follower(l)
	lc, fc := tc.client(l), tc.client(f)
	ctx := context.Background()
	got := make(chan string, 2)
	for _, c := range []*redis.Client{lc, fc} {
		go func() {
			v, err := c.BLPop(ctx, 30*time.Second, "q").Result()
			got <- fmt.Sprint(v, err)
		}()
	}
	waitFor(t, "two blocked", func() bool { return blockedClients(t, lc)+blockedClients(t, fc) == 2 })
	if err := l.node.Group.TransferLeadership(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a new leader", func() bool { nl := tc.leader(); return nl != l })
	nl := tc.client(tc.leader())
	if err := nl.RPush(ctx, "q", "a", "b").Err(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		select {
		case v := <-got:
			if !strings.HasPrefix(v, "[q ") {
				t.Fatalf("waiter %d: %s", i, v)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("waiter %d not served after a leader change", i)
		}
	}
}

// TestBlockingSlowlogExcludesWait: Redis 7.0 does not count the time a
// client waits in a blocking command in SLOWLOG (a BLPOP that times out
// after 300ms is not logged with slowlog-log-slower-than 100000).
// With a wait and a threshold farther apart here, so that a slow machine
// does not make the command itself look slow.
func TestBlockingSlowlogExcludesWait(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.goRedis(t, 2)
	ctx := context.Background()
	if err := c.Do(ctx, "CONFIG", "SET", "slowlog-log-slower-than", "1000000", "slowlog-max-len", "128").Err(); err != nil {
		t.Fatal(err)
	}
	// It waits 1.5 s; the rest takes far less than the 1 s threshold.
	if err := c.Do(ctx, "BLPOP", "q", "1.5").Err(); err != redis.Nil {
		t.Fatalf("BLPOP = %v", err)
	}
	if n := c.Do(ctx, "SLOWLOG", "LEN").Val(); fmt.Sprint(n) != "0" {
		t.Fatalf("SLOWLOG LEN = %v after a BLPOP that only waited; Redis logs nothing", n)
	}
}

// TestBlockingSubscriberGetsMessages: a RESP3 connection with a
// subscription receives the messages published while it waits in a
// blocking command, before the command's own reply.
func TestBlockingSubscriberGetsMessages(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.goRedis(t, 2)
	ctx := context.Background()
	nc := sendRaw(t, ts.addr, respCmd("HELLO", "3")+respCmd("SUBSCRIBE", "ch")+respCmd("BLPOP", "q", "0"))
	rd := bufio.NewReader(nc)
	waitBlocked(t, c, 1)
	if err := c.Publish(ctx, "ch", "during").Err(); err != nil {
		t.Fatal(err)
	}
	want := ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$6\r\nduring\r\n"
	var got []byte
	for !strings.HasSuffix(string(got), want) {
		b, err := rd.ReadByte()
		if err != nil {
			t.Fatalf("reading, before the message published during the wait: %v (got %q)", err, got)
		}
		got = append(got, b)
	}
	if err := c.RPush(ctx, "q", "x").Err(); err != nil {
		t.Fatal(err)
	}
	reply := "*2\r\n$1\r\nq\r\n$1\r\nx\r\n"
	buf := make([]byte, len(reply))
	if _, err := io.ReadFull(rd, buf); err != nil || string(buf) != reply {
		t.Fatalf("BLPOP reply %q, %v; want %q", buf, err, reply)
	}
}

// TestBlockingWrongTypeOtherKeyKeepsWaiting: redis-server 7.0.15 keeps a
// client blocked while a key it waits on takes another type, whatever
// the number of keys (the key is signalled ready, but a list waiter is
// only served by a list): BLPOP k1 k2 1 with SET k2 str, BZMPOP with SET
// k1 str, and BLMOVE/BRPOPLPUSH src dst with SET src str all time out
// with a null array (sessiond once answered WRONGTYPE at once).
func TestBlockingWrongTypeOtherKeyKeepsWaiting(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.goRedis(t, 2)
	ctx := context.Background()
	for _, tt := range []struct {
		block []any
		set   string
	}{
		{[]any{"BLPOP", "k1", "k2", "1"}, "k2"},
		{[]any{"BZMPOP", "1", "2", "k1", "k2", "MIN"}, "k1"},
		{[]any{"BLMOVE", "src", "dst", "LEFT", "RIGHT", "1"}, "src"},
		{[]any{"BRPOPLPUSH", "src", "dst", "1"}, "src"},
	} {
		t.Run(fmt.Sprint(tt.block...), func(t *testing.T) {
			c.FlushAll(ctx)
			got := make(chan error, 1)
			w := ts.goRedis(t, 2)
			go func() { got <- w.Do(ctx, tt.block...).Err() }()
			waitBlocked(t, c, 1)
			if err := c.Set(ctx, tt.set, "str", 0).Err(); err != nil {
				t.Fatal(err)
			}
			if err := <-got; err != redis.Nil {
				t.Fatalf("%v while %s becomes a string = %v; redis-server 7.0.15 keeps waiting and answers nil", tt.block, tt.set, err)
			}
		})
	}
}

// TestSlowlogStaleWaited: the wait of a blocking command run while
// SLOWLOG is off must not be taken off the first command logged after it
// is turned on (it was, which made its time negative and dropped it):
// with slowlog-log-slower-than 0 Redis logs every command.
func TestSlowlogStaleWaited(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.goRedis(t, 2)
	ctx := context.Background()
	c.Do(ctx, "CONFIG", "SET", "slowlog-log-slower-than", "-1", "slowlog-max-len", "128")
	if err := c.Do(ctx, "BLPOP", "q", "0.5").Err(); err != redis.Nil {
		t.Fatalf("BLPOP = %v", err)
	}
	c.Do(ctx, "CONFIG", "SET", "slowlog-log-slower-than", "0")
	c.Do(ctx, "ECHO", "logged")
	entries, err := c.SlowLogGet(ctx, 10).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if len(e.Args) > 1 && e.Args[1] == "logged" {
			if e.Duration < 0 {
				t.Fatalf("ECHO logged with duration %v", e.Duration)
			}
			return
		}
	}
	t.Fatalf("ECHO missing from SLOWLOG with slowlog-log-slower-than 0: %v", entries)
}

// TestBlockingServesInOrder: clients blocked on one list are served in the
// order they blocked, as in Redis, whether the elements come in one push
// or in several: a push wakes the longest waiting client only, and each
// client served passes the wake on to the next.
func TestBlockingServesInOrder(t *testing.T) {
	tc := startCluster(t, 1, Config{}, nil)
	l := tc.leader()
	lc := tc.client(l)
	ctx := context.Background()
	const waiters = 5
	for round, push := range []func(k string) error{
		func(k string) error { // one push of every element
			return lc.RPush(ctx, k, "e0", "e1", "e2", "e3", "e4").Err()
		},
		func(k string) error { // one push per element, pipelined
			_, err := lc.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i := range waiters {
					p.RPush(ctx, k, fmt.Sprintf("e%d", i))
				}
				return nil
			})
			return err
		},
	} {
		k := fmt.Sprintf("fifo%d", round)
		got := make([]chan string, waiters)
		for i := range waiters {
			got[i] = make(chan string, 1)
			c := redis.NewClient(&redis.Options{Addr: l.addr, MaxRetries: -1, PoolSize: 1})
			defer c.Close()
			go func() {
				v, err := c.BLPop(ctx, 30*time.Second, k).Result()
				if err != nil {
					got[i] <- "error: " + err.Error()
					return
				}
				got[i] <- v[1]
			}()
			waitBlocked(t, lc, i+1) // registered behind the ones before
		}
		if err := push(k); err != nil {
			t.Fatal(err)
		}
		for i := range waiters {
			if v, want := <-got[i], fmt.Sprintf("e%d", i); v != want {
				t.Fatalf("round %d: client %d (in blocking order) got %q, want %q", round, i, v, want)
			}
		}
		waitBlocked(t, lc, 0)
	}
}

// TestBlockingWakeReachesNextWaiter: a client first in line that cannot
// use a push (it pops from another key, or its key took another type)
// must not keep the wake from the client behind it. The idle retry is
// lengthened so that only a wake can serve the second client.
func TestBlockingWakeReachesNextWaiter(t *testing.T) {
	for _, tt := range []struct {
		name  string
		first []any // blocks first
		after []any // run once it waits
	}{
		{"BLMOVE's destination", []any{"BLMOVE", "src", "q", "LEFT", "RIGHT", "0"}, nil},
		{"BRPOPLPUSH's destination", []any{"BRPOPLPUSH", "src", "q", "0"}, nil},
		{"a sorted-set waiter on a list", []any{"BZPOPMIN", "q", "0"}, nil},
		{"another key of the first waiter took another type", []any{"BLPOP", "k1", "q", "0"}, []any{"SET", "k1", "str"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, Config{})
			ts.Server.blocked.idle = time.Hour
			c := ts.goRedis(t, 2)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			first := ts.goRedis(t, 2)
			go first.Do(ctx, tt.first...)
			waitBlocked(t, c, 1)
			if tt.after != nil {
				if err := c.Do(ctx, tt.after...).Err(); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 2 {
				second := ts.goRedis(t, 2)
				got := make(chan string, 1)
				go func() {
					v, err := second.BLPop(ctx, 0, "q").Result()
					got <- fmt.Sprint(v, err)
				}()
				waitBlocked(t, c, 2)
				if err := c.LPush(ctx, "q", "x").Err(); err != nil {
					t.Fatal(err)
				}
				select {
				case v := <-got:
					if v != "[q x] <nil>" {
						t.Fatalf("push %d: second waiter got %s", i, v)
					}
				case <-ctx.Done():
					t.Fatalf("push %d: the second waiter was never woken", i)
				}
			}
		})
	}
}

// TestBlockingWokenBySnapshotInstall: a client blocked on a follower that
// catches up by installing a snapshot (which reports no per-key writes)
// is woken by the install and gets the element pushed meanwhile. The
// idle retry is lengthened so that only that wake can serve it.
func TestBlockingWokenBySnapshotInstall(t *testing.T) {
	tc := startCluster(t, 3, Config{}, compactingRaft)
	l := tc.leader()
	f := tc.follower(l)
	f.node.Server.blocked.idle = time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	fc := tc.client(f)
	got := make(chan string, 1)
	go func() {
		v, err := fc.BLPop(ctx, 0, "q").Result()
		got <- fmt.Sprint(v, err)
	}()
	waitBlocked(t, fc, 1)
	f.stream.Isolate(true)
	lc := tc.client(l)
	if err := lc.RPush(ctx, "q", "x").Err(); err != nil {
		t.Fatal(err)
	}
	// Enough writes and snapshots that the leader's log no longer holds
	// what the follower lacks: it must install a snapshot.
	for i := range 200 {
		if err := lc.Set(ctx, fmt.Sprintf("during:%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
		if i%100 == 99 {
			if err := lc.Do(ctx, "DEBUG", "RAFT-SNAPSHOT").Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	f.stream.Isolate(false)
	select {
	case v := <-got:
		if v != "[q x] <nil>" {
			t.Fatalf("the follower's waiter got %s", v)
		}
	case <-ctx.Done():
		t.Fatal("the follower's waiter was not woken by the snapshot install")
	}
	// Raft records the installed snapshot's index just after the store
	// is restored (which is what woke the waiter), so wait for it.
	waitFor(t, "the follower to record the installed snapshot (else it caught up without one, and the test did not test the install)",
		func() bool { return f.node.Group.Status().SnapshotIndex != 0 })
}
