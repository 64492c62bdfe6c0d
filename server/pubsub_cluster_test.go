package server

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// recv returns the next message of ps, failing the test after a deadline.
func recv(t *testing.T, ps *redis.PubSub) *redis.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for {
		m, err := ps.Receive(ctx)
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		switch m := m.(type) {
		case *redis.Message:
			return m
		case *redis.Subscription, *redis.Pong:
			continue
		default:
			t.Fatalf("unexpected %T %v", m, m)
		}
	}
}

// TestPubSubClusterDelivery checks that a message published on any node
// reaches the subscribers of every node (through the log of the channel's
// shard group), and that an expired key nobody reads produces exactly one
// "expired" keyspace event on every node.
func TestPubSubClusterDelivery(t *testing.T) {
	t.Run("one-endpoint", func(t *testing.T) { testPubSubDelivery(t, Config{}) })
	t.Run("cluster-mode", func(t *testing.T) { testPubSubDelivery(t, Config{ClusterEnabled: "yes"}) })
}

func testPubSubDelivery(t *testing.T, cfg Config) {
	tc := startSharded(t, 3, 3, cfg)
	ctx := context.Background()
	var subs []*redis.PubSub
	for _, tn := range tc.nodes {
		c := tc.client(tn)
		if err := c.ConfigSet(ctx, "notify-keyspace-events", "Ex").Err(); err != nil {
			t.Fatal(err)
		}
		ps := c.Subscribe(ctx, "news", "{t}done")
		if err := ps.PSubscribe(ctx, "__keyevent@0__:*"); err != nil {
			t.Fatal(err)
		}
		subscribed(t, ps)
		t.Cleanup(func() { ps.Close() })
		subs = append(subs, ps)
	}
	for i, tn := range tc.nodes {
		c := tc.client(tn)
		n, err := c.Publish(ctx, "news", "hello from "+tn.id).Result()
		if err != nil {
			t.Fatalf("publish on node %d: %v", i, err)
		}
		if n != 1 { // this node's own subscriber
			t.Errorf("publish on node %d counted %d local receivers, want 1", i, n)
		}
		for j, ps := range subs {
			m := recv(t, ps)
			if m.Channel != "news" || m.Payload != "hello from "+tn.id {
				t.Fatalf("node %d got %q on %q, want node %d's message", j, m.Payload, m.Channel, i)
			}
		}
	}

	// The key's group leader takes the write (in cluster mode the others
	// answer MOVED).
	c := tc.client(tc.groupLeader(tc.nodes[0].node.Server.unitOfKey([]byte("{t}k")).idx))
	if err := c.Set(ctx, "{t}k", "v", 200*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	for j, ps := range subs {
		m := recv(t, ps)
		if m.Channel != "__keyevent@0__:expired" || m.Payload != "{t}k" || m.Pattern != "__keyevent@0__:*" {
			t.Fatalf("node %d: got %+v, want the expired event of {t}k", j, m)
		}
	}
	// {t}done is in the key's group: once every node has the marker, a
	// second reap of the key would have come before it.
	if err := c.Publish(ctx, "{t}done", "end").Err(); err != nil {
		t.Fatal(err)
	}
	for j, ps := range subs {
		if m := recv(t, ps); m.Channel != "{t}done" {
			t.Fatalf("node %d: got %+v after the expired event, want only the marker", j, m)
		}
	}
}

// recvMsg is recv (the name pubsub_test.go uses).
func recvMsg(t *testing.T, ps *redis.PubSub) *redis.Message { return recv(t, ps) }

// subscribed waits until the server has run ps's subscriptions: it
// answers a PING sent after them.
func subscribed(t *testing.T, ps *redis.PubSub) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := ps.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := ps.Receive(ctx)
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		if _, ok := m.(*redis.Pong); ok {
			return
		}
	}
}
