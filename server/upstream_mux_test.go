package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestUpstreamMuxConcurrent: many goroutines share the mux to one peer;
// each gets the reply to its own command (the fake echoes its argument),
// over at most muxConns connections.
func TestUpstreamMuxConcurrent(t *testing.T) {
	f := upFakeServer(t, upServeID(func(_ int64, args []string) string {
		return fmt.Sprintf("$%d\r\n%s\r\n", len(args[len(args)-1]), args[len(args)-1])
	}))
	p := newTestUpstreamPool(t, upstreamConfig{})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				v := fmt.Sprintf("g%d-%d", g, i)
				got, sent, err := p.muxDo(context.Background(), f.addr, 2, upArgs("ECHO", v), nil)
				if want := fmt.Sprintf("$%d\r\n%s\r\n", len(v), v); err != nil || !sent || string(got) != want {
					errs <- fmt.Errorf("ECHO %s = %q, sent=%v, %v", v, got, sent, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := f.accepts.Load(); n > muxConns {
		t.Errorf("the mux dialled %d connections, want at most %d", n, muxConns)
	}
}

// TestUpstreamMuxBatchInOrder: a batch submitted together gets its
// replies in order.
func TestUpstreamMuxBatchInOrder(t *testing.T) {
	f := upFakeServer(t, upServeID(func(_ int64, args []string) string { return "+" + args[1] + "\r\n" }))
	p := newTestUpstreamPool(t, upstreamConfig{})
	m := p.mux(upstreamKey{addr: f.addr, proto: 2})
	var rs []*muxReq
	for i := range 100 {
		rs = append(rs, &muxReq{enc: upstreamAppendCommand(nil, upArgs("ECHO", fmt.Sprint(i))), done: make(chan struct{})})
	}
	if err := m.submitAll(context.Background(), rs); err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		<-r.done
		if r.err != nil || string(r.reply) != fmt.Sprintf("+%d\r\n", i) {
			t.Fatalf("reply %d = %q, %v", i, r.reply, r.err)
		}
	}
}

// TestUpstreamMuxPeerDies: a peer that closes with requests in flight
// fails them all with sent=true (their outcome is unknown); the next
// request dials again and is served.
func TestUpstreamMuxPeerDies(t *testing.T) {
	var mu sync.Mutex
	hold := make(chan struct{})
	f := upFakeServer(t, func(id int64, nc net.Conn) {
		br := bufio.NewReader(nc)
		if id == 1 {
			upReadRequest(br)
			<-hold // then close without replying
			return
		}
		upServeID(upIDReply)(id, nc)
	})
	p := newTestUpstreamPool(t, upstreamConfig{})
	var wg sync.WaitGroup
	var results []error
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, sent, err := p.muxDo(context.Background(), f.addr, 2, upArgs("SET", "k", "v"), nil)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && !sent {
				err = fmt.Errorf("not sent: %w", err)
			}
			results = append(results, err)
		}()
	}
	// Let them queue on the first connection, then kill it.
	deadline := time.Now().Add(5 * time.Second)
	for f.accepts.Load() < 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond) // polling for the dial, bounded
	}
	close(hold)
	wg.Wait()
	for _, err := range results {
		if err != nil && strings.HasPrefix(err.Error(), "not sent") {
			continue // queued behind a dead connection and never written: retryable
		}
		if err == nil {
			continue // served by a later connection
		}
		if !strings.Contains(err.Error(), "read reply") {
			t.Errorf("a request on the dead connection: %v", err)
		}
	}
	got, _, err := p.muxDo(context.Background(), f.addr, 2, upArgs("PING"), nil)
	if err != nil || !strings.HasPrefix(string(got), ":") || string(got) == ":1\r\n" {
		t.Fatalf("after the peer died: %q, %v; want a reply from a new connection", got, err)
	}
}

// TestUpstreamMuxClosed: after the pool closes, the mux refuses with
// errUpstreamClosed and nothing sent.
func TestUpstreamMuxClosed(t *testing.T) {
	f := upFakeServer(t, upServeID(upIDReply))
	p := newUpstreamPool(upstreamConfig{})
	if _, _, err := p.muxDo(context.Background(), f.addr, 2, upArgs("PING"), nil); err != nil {
		t.Fatal(err)
	}
	p.Close()
	if _, sent, err := p.muxDo(context.Background(), f.addr, 2, upArgs("PING"), nil); !errors.Is(err, errUpstreamClosed) || sent {
		t.Fatalf("after Close: sent=%v %v, want errUpstreamClosed, not sent", sent, err)
	}
}
