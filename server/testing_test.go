package server

import (
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sessiond/shard"
	"sessiond/ttl"
)

// testServer is an in-process server on 127.0.0.1:0 for tests.
type testServer struct {
	*Server
	addr  string
	clock *ttl.FakeClock // nil when the test asked for the system clock
}

// startServer starts a server with cfg (Port and Bind are ignored) and
// stops it when the test ends. A nil cfg.Clock gets a FakeClock, which
// tests advance to expire keys.
func startServer(t testing.TB, cfg Config) *testServer {
	return startServerWith(t, cfg, nil, nil)
}

// startServerWith is startServer with a store and Applier of the test's
// (nil: New makes them).
func startServerWith(t testing.TB, cfg Config, store *shard.Store, applier Applier) *testServer {
	t.Helper()
	ts := &testServer{}
	if cfg.Clock == nil {
		ts.clock = ttl.NewFakeClock(time.Unix(1_700_000_000, 0))
		cfg.Clock = ts.clock
	} else if fc, ok := cfg.Clock.(*ttl.FakeClock); ok {
		ts.clock = fc
	}
	srv, err := New(cfg, store, applier)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	ts.Server, ts.addr = srv, ln.Addr().String()
	return ts
}

// goRedis returns a go-redis client (RESP protocol proto) for ts.
func (ts *testServer) goRedis(t testing.TB, proto int) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: ts.addr, Protocol: proto, MaxRetries: -1, DisableIdentity: true})
	t.Cleanup(func() { c.Close() })
	return c
}

// rawConn is a plain TCP connection for byte-exact protocol tests.
type rawConn struct {
	t  testing.TB
	nc net.Conn
}

func (ts *testServer) raw(t testing.TB) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc}
}

// send writes s and returns exactly len(want) bytes of reply, failing the
// test if they differ from want.
func (rc *rawConn) roundTrip(send, want string) {
	rc.t.Helper()
	rc.nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := rc.nc.Write([]byte(send)); err != nil {
		rc.t.Fatalf("write: %v", err)
	}
	got := make([]byte, len(want))
	n := 0
	for n < len(got) {
		m, err := rc.nc.Read(got[n:])
		n += m
		if err != nil {
			break
		}
	}
	if string(got[:n]) != want {
		rc.t.Fatalf("send %q: got %q, want %q", send, got[:n], want)
	}
}
