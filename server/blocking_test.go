package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// blockedClients reads INFO clients' blocked_clients.
func blockedClients(t *testing.T, c *redis.Client) int {
	t.Helper()
	for _, line := range strings.Split(c.Info(context.Background(), "clients").Val(), "\r\n") {
		if v, ok := strings.CutPrefix(line, "blocked_clients:"); ok {
			var n int
			fmt.Sscan(v, &n)
			return n
		}
	}
	t.Fatal("no blocked_clients in INFO clients")
	return 0
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
		before := raftInfo(t, lc, "raft_proposed_ops")
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
		if n := raftInfo(t, lc, "raft_proposed_ops") - before; n > 1 {
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
// handed an element: a push after it left stays in the list.
func TestBlockedClientGone(t *testing.T) {
	tc := startCluster(t, 1, Config{}, nil)
	l := tc.leader()
	lc := tc.client(l)
	ctx := context.Background()
	nc, err := net.Dial("tcp", l.addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(nc, "*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n")
	waitBlocked(t, lc, 1)
	nc.Close()
	waitBlocked(t, lc, 0)
	if err := lc.RPush(ctx, "q", "kept").Err(); err != nil {
		t.Fatal(err)
	}
	if v := lc.LRange(ctx, "q", 0, -1).Val(); fmt.Sprint(v) != "[kept]" {
		t.Fatalf("q = %q after the waiting client left, want [kept]", v)
	}
}

// TestBlockedPipeline: commands pipelined behind a blocking one run after
// it, in order; CLIENT LIST shows the waiting connection with flag b.
func TestBlockedPipeline(t *testing.T) {
	tc := startCluster(t, 1, Config{}, nil)
	l := tc.leader()
	lc := tc.client(l)
	ctx := context.Background()
	nc, err := net.Dial("tcp", l.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(nc, "*3\r\n$5\r\nBRPOP\r\n$1\r\nq\r\n$1\r\n0\r\n*2\r\n$4\r\nECHO\r\n$5\r\nafter\r\n*2\r\n$4\r\nLLEN\r\n$1\r\nq\r\n")
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
