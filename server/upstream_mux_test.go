package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestUpstreamMuxConcurrent: many goroutines share the mux to one peer;
// each gets the reply to its own command (the fake echoes its argument),
// over at most muxConns connections.
func TestUpstreamMuxConcurrent(t *testing.T) {
	f := upFakeServer(t, upServeID(upEcho))
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
	m.submitAll(context.Background(), rs)
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

// TestUpstreamMuxStaleIdleDeadline: a connection the pool's do (the pub/sub
// relay) left idle keeps the deadline arm set on it; the mux taking it
// from the idle list must clear it, or its reader's first Read fails at
// once against a healthy peer (found in review).
func TestUpstreamMuxStaleIdleDeadline(t *testing.T) {
	f := upFakeServer(t, upServeID(func(_ int64, args []string) string { return "+" + args[len(args)-1] + "\r\n" }))
	key := upstreamKey{addr: f.addr, proto: 2}
	fails := 0
	for i := range 20 {
		p := newTestUpstreamPool(t, upstreamConfig{})
		if _, _, err := p.do(context.Background(), f.addr, 2, upArgs("PING", "x"), nil); err != nil {
			t.Fatal(err)
		}
		// Stands for the connection having been idle past the deadline arm set.
		p.mu.Lock()
		if len(p.idle[key]) != 1 {
			p.mu.Unlock()
			t.Fatal("do left no idle connection")
		}
		p.idle[key][0].nc.SetDeadline(time.Unix(1, 0))
		p.mu.Unlock()
		got, sent, err := p.muxDo(context.Background(), f.addr, 2, upArgs("ECHO", "v"), nil)
		if err != nil || string(got) != "+v\r\n" {
			fails++
			t.Logf("round %d: muxDo = %q, sent=%v, %v", i, got, sent, err)
		}
		p.Close()
	}
	if fails > 0 {
		t.Errorf("%d of 20 muxDo calls failed against a healthy peer", fails)
	}
}

// TestUpstreamMuxPushOverflow: a flood of RESP3 pushes before a reply
// must never be handed out as a request's reply (found in review: past
// 1 MB a push became the first request's reply and every later reply went
// to the wrong request).
func TestUpstreamMuxPushOverflow(t *testing.T) {
	big := strings.Repeat("p", 600<<10)
	push := ">2\r\n$7\r\nmessage\r\n$" + strconv.Itoa(len(big)) + "\r\n" + big + "\r\n"
	f := upFakeServer(t, func(_ int64, nc net.Conn) {
		br := bufio.NewReader(nc)
		first := true
		for {
			args, err := upReadRequest(br)
			if err != nil {
				return
			}
			out := "%1\r\n+proto\r\n:3\r\n"
			if !strings.EqualFold(args[0], "HELLO") {
				out = "+" + args[1] + "\r\n"
				if first {
					out = push + push + push + out
					first = false
				}
			}
			if _, err := io.WriteString(nc, out); err != nil {
				return
			}
		}
	})
	p := newTestUpstreamPool(t, upstreamConfig{})
	m := p.mux(upstreamKey{addr: f.addr, proto: 3})
	rs := []*muxReq{
		{enc: upstreamAppendCommand(nil, upArgs("ECHO", "A")), done: make(chan struct{})},
		{enc: upstreamAppendCommand(nil, upArgs("ECHO", "B")), done: make(chan struct{})},
	}
	m.submitAll(context.Background(), rs)
	for i, want := range []string{"+A\r\n", "+B\r\n"} {
		<-rs[i].done
		if rs[i].err == nil && !strings.HasSuffix(string(rs[i].reply), want) {
			t.Errorf("request %d: reply ends %q, want %q (another request's reply)", i,
				muxTail(rs[i].reply), want)
		}
	}
}

func muxTail(b []byte) string {
	if len(b) > 12 {
		return string(b[len(b)-12:])
	}
	return string(b)
}

// TestUpstreamMuxDialDoesNotBlock: while one dial (or its handshake)
// hangs, a caller whose ctx is cancelled returns (found in review: the
// dial ran under the mux's lock, and every caller waited behind it).
func TestUpstreamMuxDialDoesNotBlock(t *testing.T) {
	inHandshake := make(chan struct{})
	hold := make(chan struct{})
	f := upFakeServer(t, func(_ int64, nc net.Conn) {
		br := bufio.NewReader(nc)
		if _, err := upReadRequest(br); err != nil { // AUTH
			return
		}
		close(inHandshake)
		<-hold
	})
	p := newTestUpstreamPool(t, upstreamConfig{Password: "pw", DialTimeout: time.Minute})
	aDone := make(chan struct{})
	go func() {
		defer close(aDone)
		p.muxDo(context.Background(), f.addr, 2, upArgs("GET", "a"), nil)
	}()
	<-inHandshake
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	bDone := make(chan error, 1)
	go func() {
		_, _, err := p.muxDo(ctx, f.addr, 2, upArgs("GET", "b"), nil)
		bDone <- err
	}()
	returned := false
	select {
	case err := <-bDone:
		returned = true
		if err == nil {
			t.Errorf("a caller with a cancelled ctx got no error")
		}
	case <-time.After(3 * time.Second): // hang detection only
		t.Errorf("a caller with a cancelled ctx is still blocked behind another's dial")
	}
	close(hold)
	p.Close()
	<-aDone
	if !returned {
		<-bDone
	}
}

// TestUpstreamForwarderNameRESP2: a RESP2 forwarding connection without a
// password still names itself (CLIENT SETNAME sessiond-forwarder), so
// that the leader knows it for one (found in review: the handshake was
// skipped).
func TestUpstreamForwarderNameRESP2(t *testing.T) {
	firsts := make(chan string, 1)
	f := upFakeServer(t, func(_ int64, nc net.Conn) {
		br := bufio.NewReader(nc)
		args, err := upReadRequest(br)
		if err != nil {
			return
		}
		firsts <- strings.Join(args, " ")
		io.WriteString(nc, "+OK\r\n")
		for {
			if _, err := upReadRequest(br); err != nil {
				return
			}
			io.WriteString(nc, "+OK\r\n")
		}
	})
	p := newTestUpstreamPool(t, upstreamConfig{ClientName: forwarderName})
	p.muxDo(context.Background(), f.addr, 2, upArgs("GET", "k"), nil)
	if got := <-firsts; !strings.HasPrefix(strings.ToUpper(got), "CLIENT SETNAME") {
		t.Errorf("first command on a RESP2 forwarding connection = %q, want CLIENT SETNAME %s", got, forwarderName)
	}
}
