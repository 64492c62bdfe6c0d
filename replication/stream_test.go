package replication

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// TestPortRoutesByGroup checks that a connection dialed by one group's
// stream reaches the same group on the other node, and only it.
func TestPortRoutesByGroup(t *testing.T) {
	a, err := Listen("127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Listen("127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	a1, _ := a.Stream(1)
	b0, _ := b.Stream(0)
	b1, err := b.Stream(1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Stream(1); err == nil {
		t.Fatal("a group took its stream twice")
	}
	accepted := make(chan net.Conn, 2)
	for _, s := range []*StreamLayer{b0, b1} {
		go func() {
			c, err := s.Accept()
			if err == nil {
				accepted <- c
			}
		}()
	}
	c, err := a1.Dial(raft.ServerAddress(b.Addr().String()), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	got := <-accepted
	defer got.Close()
	buf := make([]byte, 4)
	if _, err := io.ReadFull(got, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("read %q, %v", buf, err)
	}
	// It must be group 1's: close group 1 and check group 0 is still
	// waiting (nothing was handed to it).
	select {
	case extra := <-accepted:
		extra.Close()
		t.Fatal("a second stream accepted a connection")
	default:
	}
	b0.Close()
	b1.Close()
}

// portAndRawConn listens on a Port with group 0's stream taken and opens
// a plain TCP connection to it (which sends no group byte by itself).
func portAndRawConn(t *testing.T) (*Port, *StreamLayer, net.Conn) {
	t.Helper()
	p, err := Listen("127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.Stream(0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", p.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return p, s, c
}

// TestPortClosesUnknownGroupAndLastStream checks that a connection for a
// group the node does not have is closed, and that closing the last
// stream closes the listener.
func TestPortClosesUnknownGroupAndLastStream(t *testing.T) {
	p, s, c := portAndRawConn(t)
	c.Write([]byte{7, 'x'})
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("a connection for an unknown group was kept open")
	}
	c.Close()
	s.Close()
	if c, err := net.DialTimeout("tcp", p.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Fatal("the port still listens after its last stream closed")
	}
	if _, err := p.Stream(1); err == nil {
		t.Fatal("a closed port handed out a stream")
	}
}

// TestPortIsolate checks that an isolated port refuses to dial and
// closes its connections, and works again once restored.
func TestPortIsolate(t *testing.T) {
	a, _ := Listen("127.0.0.1:0", "")
	b, _ := Listen("127.0.0.1:0", "")
	defer a.Close()
	defer b.Close()
	as, _ := a.Stream(0)
	bs, _ := b.Stream(0)
	go func() {
		for {
			c, err := bs.Accept()
			if err != nil {
				return
			}
			go io.Copy(c, c) // echo
		}
	}()
	c, err := as.Dial(raft.ServerAddress(b.Addr().String()), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	a.Isolate(true)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("a connection survived Isolate")
	}
	if _, err := as.Dial(raft.ServerAddress(b.Addr().String()), time.Second); err == nil {
		t.Fatal("an isolated port dialed")
	}
	a.Isolate(false)
	c, err = as.Dial(raft.ServerAddress(b.Addr().String()), time.Second)
	if err != nil {
		t.Fatalf("dial after Isolate(false): %v", err)
	}
	defer c.Close()
	c.Write([]byte("x"))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		t.Fatalf("echo after Isolate(false): %v", err)
	}
	bs.Close()
	as.Close()
}

// TestPortCloseDropsHeaderlessConns checks that a connection that never
// sends its group byte is closed by Close, not left for headerWait.
func TestPortCloseDropsHeaderlessConns(t *testing.T) {
	p, s, c := portAndRawConn(t)
	defer c.Close()
	// Wait until the port has taken the connection in (it is pending).
	deadline := time.Now().Add(10 * time.Second)
	for {
		p.mu.Lock()
		n := len(p.pending)
		p.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the port never took the connection in")
		}
		time.Sleep(5 * time.Millisecond) // polling the accept loop, bounded
	}
	s.Close() // the last stream: the port closes
	// Half of headerWait: a close by the port answers long before.
	c.SetReadDeadline(time.Now().Add(headerWait / 2))
	_, err := c.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); err == nil || ok && ne.Timeout() {
		t.Fatalf("a headerless connection outlived Close: %v", err)
	}
	if _, err := s.Dial("127.0.0.1:1", time.Second); err == nil {
		t.Fatal("a stream of a closed port dialed")
	}
}
