package replication

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// errIsolated is returned by a StreamLayer cut off by Isolate.
var errIsolated = errors.New("replication: node isolated")

// StreamLayer is the Raft transport's TCP listener and dialer. Isolate
// cuts a node off from its peers (every connection in either direction
// fails) until it is undone: tests use it to partition a node.
type StreamLayer struct {
	ln        net.Listener
	advertise net.Addr

	mu       sync.Mutex
	isolated bool
	conns    map[net.Conn]struct{}
}

// Listen listens for Raft traffic on bind (host:port; port 0 picks one).
// advertise, when set, is the address peers are told to dial.
func Listen(bind, advertise string) (*StreamLayer, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, fmt.Errorf("replication: listen on raft port %s: %w", bind, err)
	}
	s := &StreamLayer{ln: ln, advertise: ln.Addr(), conns: make(map[net.Conn]struct{})}
	if advertise != "" {
		a, err := net.ResolveTCPAddr("tcp", advertise)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("replication: raft advertise address %q: %w", advertise, err)
		}
		s.advertise = a
	}
	return s, nil
}

// Accept implements net.Listener.
func (s *StreamLayer) Accept() (net.Conn, error) {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return nil, err
		}
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetNoDelay(true)
		}
		if t := s.track(c); t != nil {
			return t, nil
		}
	}
}

// Dial implements raft.StreamLayer.
func (s *StreamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	s.mu.Lock()
	iso := s.isolated
	s.mu.Unlock()
	if iso {
		return nil, errIsolated
	}
	c, err := net.DialTimeout("tcp", string(addr), timeout)
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	if t := s.track(c); t != nil {
		return t, nil
	}
	return nil, errIsolated
}

// track registers c, or closes it and returns nil while isolated.
func (s *StreamLayer) track(c net.Conn) net.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.isolated {
		c.Close()
		return nil
	}
	s.conns[c] = struct{}{}
	return &trackedConn{Conn: c, s: s}
}

// Isolate cuts (on) or restores (off) this node's Raft connectivity.
func (s *StreamLayer) Isolate(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.isolated = on
	if on {
		for c := range s.conns {
			c.Close()
		}
		clear(s.conns)
	}
}

// Close implements net.Listener.
func (s *StreamLayer) Close() error { return s.ln.Close() }

// Addr implements net.Listener: the advertised address.
func (s *StreamLayer) Addr() net.Addr { return s.advertise }

type trackedConn struct {
	net.Conn
	s    *StreamLayer
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.s.mu.Lock()
		delete(c.s.conns, c.Conn)
		c.s.mu.Unlock()
	})
	return c.Conn.Close()
}
