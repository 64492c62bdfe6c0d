package replication

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// errIsolated is returned by a Port cut off by Isolate.
var errIsolated = errors.New("replication: node isolated")

// errPortClosed is returned by a StreamLayer whose Port is closed.
var errPortClosed = errors.New("replication: raft port closed")

// headerWait bounds how long an accepted connection may take to send its
// group byte.
const headerWait = 10 * time.Second

// Port is a node's one Raft port, shared by all its groups: every
// connection starts with one byte, the number of the group it carries,
// and is handed to that group's StreamLayer (Stream). The listener closes
// when the last StreamLayer taken from it is closed, or with Close.
// Isolate cuts the node off from its peers (every connection in either
// direction fails) until it is undone: tests use it to partition a node.
type Port struct {
	ln        net.Listener
	advertise net.Addr

	mu       sync.Mutex
	isolated bool
	closed   bool
	conns    map[net.Conn]struct{} // handed to a group or dialed
	pending  map[net.Conn]struct{} // accepted, group byte not read yet
	groups   map[byte]*StreamLayer
}

// Listen listens for Raft traffic on bind (host:port; port 0 picks one).
// advertise, when set, is the address peers are told to dial.
func Listen(bind, advertise string) (*Port, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, fmt.Errorf("replication: listen on raft port %s: %w", bind, err)
	}
	p := &Port{ln: ln, advertise: ln.Addr(), conns: make(map[net.Conn]struct{}),
		pending: make(map[net.Conn]struct{}), groups: make(map[byte]*StreamLayer)}
	if advertise != "" {
		a, err := net.ResolveTCPAddr("tcp", advertise)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("replication: raft advertise address %q: %w", advertise, err)
		}
		p.advertise = a
	}
	go p.serve()
	return p, nil
}

// Stream returns the stream layer of group id, for its Raft transport.
// Each group takes its stream once.
func (p *Port) Stream(id byte) (*StreamLayer, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errPortClosed
	}
	if _, taken := p.groups[id]; taken {
		return nil, fmt.Errorf("replication: raft port: group %d already has its stream", id)
	}
	s := &StreamLayer{p: p, id: id, ch: make(chan net.Conn), done: make(chan struct{})}
	p.groups[id] = s
	return s, nil
}

// serve accepts connections and hands each to its group.
func (p *Port) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			p.mu.Lock()
			closed := p.closed
			p.mu.Unlock()
			if closed || errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // a transient accept error (EMFILE): back off
			continue
		}
		go p.route(c)
	}
}

// route reads c's group byte and hands c to that group's Accept, or
// closes it.
func (p *Port) route(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	// Until its group byte arrives the connection is pending: Close and
	// Isolate close it too.
	p.mu.Lock()
	if p.closed || p.isolated {
		p.mu.Unlock()
		c.Close()
		return
	}
	p.pending[c] = struct{}{}
	p.mu.Unlock()
	var hdr [1]byte
	c.SetReadDeadline(time.Now().Add(headerWait))
	_, err := io.ReadFull(c, hdr[:])
	c.SetReadDeadline(time.Time{})
	p.mu.Lock()
	delete(p.pending, c)
	s := p.groups[hdr[0]]
	p.mu.Unlock()
	if err != nil {
		c.Close()
		return
	}
	t := p.track(c)
	if s == nil || t == nil {
		c.Close()
		return
	}
	select {
	case s.ch <- t:
	case <-s.done:
		t.Close()
	}
}

// dial connects to addr for group id.
func (p *Port) dial(id byte, addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	p.mu.Lock()
	iso, closed := p.isolated, p.closed
	p.mu.Unlock()
	switch {
	case closed:
		return nil, errPortClosed
	case iso:
		return nil, errIsolated
	}
	c, err := net.DialTimeout("tcp", string(addr), timeout)
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	c.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte{id}); err != nil {
		c.Close()
		return nil, err
	}
	c.SetWriteDeadline(time.Time{})
	if t := p.track(c); t != nil {
		return t, nil
	}
	return nil, errIsolated
}

// track registers c, or closes it and returns nil while isolated.
func (p *Port) track(c net.Conn) net.Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.isolated {
		c.Close()
		return nil
	}
	p.conns[c] = struct{}{}
	return &trackedConn{Conn: c, p: p}
}

// Isolate cuts (on) or restores (off) this node's Raft connectivity.
func (p *Port) Isolate(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.isolated = on
	if on {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
		for c := range p.pending {
			c.Close()
		}
	}
}

// Close closes the listener and the connections still sending their
// group byte; streams dial no more. A node's groups normally reach it
// through their streams (the last one to close closes the Port).
func (p *Port) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	for c := range p.pending {
		c.Close()
	}
	p.mu.Unlock()
	return p.ln.Close()
}

// Addr returns the address peers are told to dial.
func (p *Port) Addr() net.Addr { return p.advertise }

// StreamLayer is one group's view of its node's Port: it implements
// raft.StreamLayer, accepting the connections whose group byte is its
// own and dialing with that byte.
type StreamLayer struct {
	p    *Port
	id   byte
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

// Accept implements net.Listener.
func (s *StreamLayer) Accept() (net.Conn, error) {
	select {
	case c := <-s.ch:
		return c, nil
	case <-s.done:
		return nil, net.ErrClosed
	}
}

// Dial implements raft.StreamLayer.
func (s *StreamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return s.p.dial(s.id, addr, timeout)
}

// DialTo is Dial for users of the stream other than Raft's transport
// (the server's directory): addr is host:port.
func (s *StreamLayer) DialTo(addr string, timeout time.Duration) (net.Conn, error) {
	return s.p.dial(s.id, raft.ServerAddress(addr), timeout)
}

// Close implements net.Listener: the group stops accepting; the Port
// closes once no group uses it.
func (s *StreamLayer) Close() error {
	var err error
	s.once.Do(func() {
		close(s.done)
		p := s.p
		p.mu.Lock()
		delete(p.groups, s.id)
		last := len(p.groups) == 0
		p.mu.Unlock()
		if last {
			err = p.Close()
		}
	})
	return err
}

// Addr implements net.Listener: the Port's advertised address.
func (s *StreamLayer) Addr() net.Addr { return s.p.advertise }

type trackedConn struct {
	net.Conn
	p    *Port
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.p.mu.Lock()
		delete(c.p.conns, c.Conn)
		c.p.mu.Unlock()
	})
	return c.Conn.Close()
}
