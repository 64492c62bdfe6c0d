package cluster

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestClusterSessionStores runs the session stores' commands (issue 5)
// on three real nodes holding three shard groups, one endpoint: lists,
// sets and sorted sets written through any node, a Lua lock released
// through a follower, a PUBLISH on one node reaching subscribers on every
// node, and a key that times out unread producing exactly one expired
// event on every node. The nodes end with the same data.
func TestClusterSessionStores(t *testing.T) {
	nodes := startNodes(t, []string{"n1", "n2", "n3"}, true, "--shards", "3", "--notify-keyspace-events", "Ex")
	findLeader(t, nodes, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	clients := make([]*redis.Client, len(nodes))
	for i, n := range nodes {
		clients[i] = newClient(n.addr(), 10*time.Second)
		defer clients[i].Close()
	}
	// Writes through any node, retried while the groups elect.
	do := func(c *redis.Client, args ...any) *redis.Cmd {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			cmd := c.Do(ctx, args...)
			if err := cmd.Err(); err == nil || err == redis.Nil || !strings.HasPrefix(err.Error(), "CLUSTERDOWN") || time.Now().After(deadline) {
				return cmd
			}
			time.Sleep(50 * time.Millisecond) // an election is under way, bounded
		}
	}
	for i := range 30 {
		c := clients[i%3]
		if err := do(c, "rpush", fmt.Sprintf("list:%d", i%5), i).Err(); err != nil {
			t.Fatalf("RPUSH via %s: %v", nodes[i%3].id, err)
		}
		if err := do(c, "sadd", fmt.Sprintf("set:%d", i%4), fmt.Sprint(i)).Err(); err != nil {
			t.Fatalf("SADD via %s: %v", nodes[i%3].id, err)
		}
		if err := do(c, "zadd", fmt.Sprintf("zset:%d", i%3), i, fmt.Sprintf("m%d", i)).Err(); err != nil {
			t.Fatalf("ZADD via %s: %v", nodes[i%3].id, err)
		}
	}
	for _, c := range clients {
		if n, err := c.LLen(ctx, "list:0").Result(); err != nil || n != 6 {
			t.Fatalf("LLEN list:0 = %d, %v", n, err)
		}
		if n, err := c.SCard(ctx, "set:1").Result(); err != nil || n != 8 {
			t.Fatalf("SCARD set:1 = %d, %v", n, err)
		}
		if m, err := c.ZRange(ctx, "zset:2", 0, 1).Result(); err != nil || fmt.Sprint(m) != "[m2 m5]" {
			t.Fatalf("ZRANGE zset:2 = %v, %v", m, err)
		}
	}

	// A lock taken through one node, released by a script through another.
	const release = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`
	if err := do(clients[0], "set", "lock:1", "tok", "nx", "px", 30000).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := do(clients[2], "eval", release, 1, "lock:1", "tok").Int(); err != nil || n != 1 {
		t.Fatalf("release through n3 = %d, %v", n, err)
	}

	// Subscribers on every node; a message published on n1; a key that
	// times out unread.
	subs := make([]*redis.PubSub, len(nodes))
	for i, c := range clients {
		subs[i] = c.PSubscribe(ctx, "news", "__keyevent@0__:expired")
		defer subs[i].Close()
		for range 2 {
			if _, err := subs[i].Receive(ctx); err != nil {
				t.Fatalf("PSUBSCRIBE on %s: %v", nodes[i].id, err)
			}
		}
	}
	if err := do(clients[0], "publish", "news", "hello").Err(); err != nil {
		t.Fatalf("PUBLISH: %v", err)
	}
	if err := do(clients[1], "set", "sess:short", "x", "px", 300).Err(); err != nil {
		t.Fatal(err)
	}
	for i, sub := range subs {
		var got []string
		for len(got) < 2 {
			msg, err := sub.ReceiveMessage(ctx)
			if err != nil {
				t.Fatalf("%s received %v, then: %v", nodes[i].id, got, err)
			}
			got = append(got, msg.Channel+"="+msg.Payload)
		}
		if strings.Join(got, " ") != "news=hello __keyevent@0__:expired=sess:short" {
			t.Fatalf("%s received %v", nodes[i].id, got)
		}
	}
	// Exactly once: nothing more arrives for the key.
	for i, sub := range subs {
		short, cancelShort := context.WithTimeout(ctx, 1500*time.Millisecond)
		msg, err := sub.ReceiveMessage(short)
		cancelShort()
		if err == nil {
			t.Fatalf("%s received a second message: %v", nodes[i].id, msg)
		}
	}
	waitDigestsEqual(t, nodes, 60*time.Second)
}
