package server

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// TestPubSubRESP2 checks subscribed mode's replies byte for byte
// (compared with redis-server 7.0.15).
func TestPubSubRESP2(t *testing.T) {
	ts := startServer(t, Config{})
	sub, pub := ts.raw(t), ts.raw(t)
	sub.roundTrip("SUBSCRIBE a b\r\n", "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n")
	sub.roundTrip("PSUBSCRIBE h?llo\r\n", "*3\r\n$10\r\npsubscribe\r\n$5\r\nh?llo\r\n:3\r\n")
	sub.roundTrip("GET x\r\n", "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n")
	sub.roundTrip("PING\r\n", "*2\r\n$4\r\npong\r\n$0\r\n\r\n")
	sub.roundTrip("PING hi\r\n", "*2\r\n$4\r\npong\r\n$2\r\nhi\r\n")
	pub.roundTrip("PUBLISH a m1\r\n", ":1\r\n")
	sub.roundTrip("", "*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nm1\r\n")
	pub.roundTrip("PUBLISH hello m2\r\n", ":1\r\n")
	sub.roundTrip("", "*4\r\n$8\r\npmessage\r\n$5\r\nh?llo\r\n$5\r\nhello\r\n$2\r\nm2\r\n")
	pub.roundTrip("PUBSUB NUMSUB a c\r\n", "*4\r\n$1\r\na\r\n:1\r\n$1\r\nc\r\n:0\r\n")
	pub.roundTrip("PUBSUB NUMPAT\r\n", ":1\r\n")
	pub.roundTrip("PUBSUB CHANNELS\r\n", "*2\r\n$1\r\na\r\n$1\r\nb\r\n")
	pub.roundTrip("PUBSUB CHANNELS a b\r\n", "-ERR unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB HELP.\r\n")
	sub.roundTrip("UNSUBSCRIBE b\r\n", "*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:2\r\n")
	sub.roundTrip("PUNSUBSCRIBE\r\n", "*3\r\n$12\r\npunsubscribe\r\n$5\r\nh?llo\r\n:1\r\n")
	sub.roundTrip("UNSUBSCRIBE\r\n", "*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:0\r\n")
	sub.roundTrip("UNSUBSCRIBE\r\n", "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n")
	sub.roundTrip("GET x\r\n", "$-1\r\n")
	sub.roundTrip("SUBSCRIBE q\r\nRESET\r\nGET x\r\n", "*3\r\n$9\r\nsubscribe\r\n$1\r\nq\r\n:1\r\n+RESET\r\n$-1\r\n")
	pub.roundTrip("PUBSUB NUMSUB q\r\n", "*2\r\n$1\r\nq\r\n:0\r\n")
}

// TestPubSubRESP3 checks pushes and that a RESP3 subscriber runs any
// command; its own PUBLISH's message comes before the reply, as in Redis.
func TestPubSubRESP3(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.raw(t)
	c.nc.Write([]byte("HELLO 3\r\n"))
	readSome(t, c)
	c.roundTrip("SUBSCRIBE a\r\n", ">3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n")
	c.roundTrip("GET x\r\n", "_\r\n")
	c.roundTrip("PUBLISH a self\r\n", ">3\r\n$7\r\nmessage\r\n$1\r\na\r\n$4\r\nself\r\n:1\r\n")
	c.roundTrip("PING\r\n", "+PONG\r\n")
	c.roundTrip("UNSUBSCRIBE\r\n", ">3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:0\r\n")
	c.roundTrip("UNSUBSCRIBE\r\n", ">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n")
}

// TestPubSubGoRedisRESP3 checks that go-redis's RESP3 pub/sub reads our
// pushes, and that a subscriber is exempt from the idle timeout.
func TestPubSubGoRedisRESP3(t *testing.T) {
	ts := startServer(t, Config{Timeout: time.Second})
	ctx := context.Background()
	c := ts.goRedis(t, 3)
	ps := c.Subscribe(ctx, "ch")
	defer ps.Close()
	subscribed(t, ps)
	pub := ts.goRedis(t, 3)
	// Idle past the timeout: the subscriber stays connected. Polled
	// with a deadline: NUMSUB must still count it after two timeouts.
	until := time.Now().Add(2500 * time.Millisecond)
	for time.Now().Before(until) {
		if n := pub.PubSubNumSub(ctx, "ch").Val()["ch"]; n != 1 {
			t.Fatalf("subscriber gone while idle (numsub %d)", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n, err := pub.Publish(ctx, "ch", "hi").Result(); err != nil || n != 1 {
		t.Fatalf("publish: %d, %v", n, err)
	}
	if m := recvMsg(t, ps); m.Channel != "ch" || m.Payload != "hi" {
		t.Fatalf("got %+v", m)
	}
}

// readSome reads whatever one reply brings (HELLO's map).
func readSome(t *testing.T, c *rawConn) {
	t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	if _, err := c.nc.Read(buf); err != nil {
		t.Fatal(err)
	}
}

// TestKeyspaceNotifications checks the directive's validation and
// canonical form, and the events of a few writes.
func TestKeyspaceNotifications(t *testing.T) {
	ts := startServer(t, Config{})
	ctx := context.Background()
	c := ts.goRedis(t, 2)
	for in, want := range map[string]string{"KEA": "AKE", "KExxn": "xnKE", "$lgsK": "g$lsK", "Am": "Am", "": ""} {
		if err := c.ConfigSet(ctx, "notify-keyspace-events", in).Err(); err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if got := c.ConfigGet(ctx, "notify-keyspace-events").Val()["notify-keyspace-events"]; got != want {
			t.Errorf("notify-keyspace-events %q reads back %q, want %q", in, got, want)
		}
	}
	err := c.ConfigSet(ctx, "notify-keyspace-events", "Kq").Err()
	if err == nil || !strings.Contains(err.Error(), "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.") {
		t.Errorf("bad class: %v", err)
	}
	c.ConfigSet(ctx, "notify-keyspace-events", "KEA")
	ps := c.PSubscribe(ctx, "__key*__:*")
	defer ps.Close()
	subscribed(t, ps)
	c.Set(ctx, "k", "v", 0)
	c.HSet(ctx, "h", "f", "1")
	c.Expire(ctx, "k", time.Hour)
	c.Del(ctx, "k", "h")
	want := []string{
		"__keyspace@0__:k set", "__keyevent@0__:set k",
		"__keyspace@0__:h hset", "__keyevent@0__:hset h",
		"__keyspace@0__:k expire", "__keyevent@0__:expire k",
		"__keyspace@0__:k del", "__keyevent@0__:del k",
		"__keyspace@0__:h del", "__keyevent@0__:del h",
	}
	for _, w := range want {
		m := recvMsg(t, ps)
		if got := m.Channel + " " + m.Payload; got != w {
			t.Fatalf("got %q, want %q", got, w)
		}
	}
}

// TestPubSubOutputLimit checks that a subscriber that does not read is
// disconnected once its pending output passes the pubsub hard limit.
func TestPubSubOutputLimit(t *testing.T) {
	ts := startServer(t, Config{})
	ctx := context.Background()
	c := ts.goRedis(t, 2)
	if err := c.ConfigSet(ctx, "client-output-buffer-limit", "pubsub 64kb 0 0").Err(); err != nil {
		t.Fatal(err)
	}
	if got := c.ConfigGet(ctx, "client-output-buffer-limit").Val()["client-output-buffer-limit"]; got != "normal 0 0 0 slave 268435456 67108864 60 pubsub 65536 0 0" {
		t.Errorf("client-output-buffer-limit reads back %q", got)
	}
	sub := ts.raw(t)
	sub.roundTrip("SUBSCRIBE big\r\n", "*3\r\n$9\r\nsubscribe\r\n$3\r\nbig\r\n:1\r\n")
	payload := strings.Repeat("x", 64<<10)
	deadline := time.Now().Add(20 * time.Second)
	for c.PubSubNumSub(ctx, "big").Val()["big"] == 1 {
		if time.Now().After(deadline) {
			t.Fatal("a subscriber that reads nothing was never disconnected")
		}
		c.Publish(ctx, "big", payload)
	}
	// The connection is closed: reading drains what was sent, then EOF.
	sub.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, sub.nc); err != nil {
		t.Fatalf("subscriber connection not closed: %v", err)
	}
}

// TestBufferLimit checks the hard limit, and the soft limit held longer
// than its seconds, as Redis's checkClientOutputBufferLimits.
func TestBufferLimit(t *testing.T) {
	l := bufferLimit{Hard: 100, Soft: 50, SoftSeconds: 2}
	t0 := time.Unix(1000, 0)
	var since time.Time
	if l.exceeded(100, &since, t0) != true {
		t.Error("at the hard limit: not exceeded")
	}
	since = time.Time{}
	steps := []struct {
		pending int64
		at      time.Duration
		want    bool
	}{
		{60, 0, false},                       // above soft: starts the clock
		{60, 2 * time.Second, false},         // exactly the soft seconds: still allowed
		{10, 2500 * time.Millisecond, false}, // below: the clock resets
		{60, 3 * time.Second, false},
		{60, 5*time.Second + 1, true},
	}
	for i, st := range steps {
		if got := l.exceeded(st.pending, &since, t0.Add(st.at)); got != st.want {
			t.Errorf("step %d: exceeded %v, want %v", i, got, st.want)
		}
	}
	var o outputLimits
	if err := o.parse([]string{"pubsub", "1mb", "2kb", "30", "replica", "1", "2", "3"}); err != nil {
		t.Fatal(err)
	}
	if got, want := o.String(), "normal 0 0 0 slave 1 2 3 pubsub 1048576 2048 30"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	for _, bad := range [][]string{{"pubsub", "1", "2"}, {"master", "1", "2", "3"}, {"pubsub", "1", "2", "-3"}, {"pubsub", "x", "2", "3"}} {
		before := o
		if err := o.parse(bad); err == nil || o != before {
			t.Errorf("%q: err %v, changed %v", bad, err, o != before)
		}
	}
	if err := o.parse([]string{"normal", "0", "0", "0", "slave", "268435456", "67108864", "60", "pubsub", "33554432", "8388608", "60"}); err != nil || o != (outputLimits{}) {
		t.Errorf("the defaults are not the zero value: %+v, %v", o, err)
	}
}
