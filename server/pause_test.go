package server

import (
	"context"
	"testing"
	"time"
)

// TestClientPause: during CLIENT PAUSE WRITE reads are answered and a
// write waits (its value is not there) until CLIENT UNPAUSE; during
// CLIENT PAUSE ALL even PING waits, and CLIENT UNPAUSE still runs.
func TestClientPause(t *testing.T) {
	ts := startServer(t, Config{})
	admin, reader, writer := ts.goRedis(t, 2), ts.goRedis(t, 2), ts.goRedis(t, 2)
	ctx := context.Background()
	if err := writer.Set(ctx, "k", "old", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := admin.Do(ctx, "CLIENT", "PAUSE", "60000", "WRITE").Err(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- writer.Set(ctx, "k", "new", 0).Err() }()
	for range 20 {
		if v := reader.Get(ctx, "k").Val(); v != "old" {
			t.Fatalf("GET during a WRITE pause = %q: the SET was not held", v)
		}
	}
	if err := admin.Do(ctx, "CLIENT", "UNPAUSE").Err(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if v := reader.Get(ctx, "k").Val(); v != "new" {
		t.Fatalf("GET after UNPAUSE = %q, want new", v)
	}

	if err := admin.Do(ctx, "CLIENT", "PAUSE", "60000", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	pinged := make(chan time.Time, 1)
	go func() {
		reader.Ping(ctx)
		pinged <- time.Now()
	}()
	select {
	case <-pinged:
		t.Fatal("PING answered during an ALL pause")
	case <-time.After(100 * time.Millisecond): // a window for a wrong answer, not a wait for a right one
	}
	unpaused := time.Now()
	if err := admin.Do(ctx, "CLIENT", "UNPAUSE").Err(); err != nil {
		t.Fatal(err)
	}
	if at := <-pinged; at.Before(unpaused) {
		t.Fatal("PING answered before CLIENT UNPAUSE")
	}
}
