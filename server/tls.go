package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// TLS for clients: tls-port opens a second client port whose connections
// speak TLS and are then served exactly like the plain port's, as Redis
// does (redis-server built with TLS; redis-cli --tls, go-redis's
// TLSConfig). tls-cert-file and tls-key-file are the server's certificate
// and key; with tls-auth-clients yes (Redis's default) or optional, a
// client presents a certificate signed by a CA of tls-ca-cert-file
// (required, or checked when given). The plain port stays open; traffic
// between nodes (Raft and forwarded commands) is not encrypted.

// tlsDirectives are the TLS settings. CONFIG SET may change them: the
// new files are loaded (and a new tls-port listened on) before anything
// changes, or the command fails as Redis's does.
func tlsDirectives() []directive {
	mut := func(d directive) directive { return withMode(d, mutable) }
	return []directive{
		intDirective("tls-port", "", 0, 65535, mutable, func(c *Config) *int { return &c.TLSPort }),
		mut(stringDirective("tls-cert-file", func(c *Config) *string { return &c.TLSCertFile }, nil)),
		mut(stringDirective("tls-key-file", func(c *Config) *string { return &c.TLSKeyFile }, nil)),
		mut(stringDirective("tls-ca-cert-file", func(c *Config) *string { return &c.TLSCACertFile }, nil)),
		enumDirective("tls-auth-clients", []string{"no", "yes", "optional"},
			func(c *Config) *string { return &c.TLSAuthClients }, nil),
		// Checked when TLS is configured (tlsConfig), as in Redis.
		mut(stringDirective("tls-protocols", func(c *Config) *string { return &c.TLSProtocols }, nil)),
		mut(stringDirective("tls-ca-cert-dir", func(c *Config) *string { return &c.TLSCACertDir }, nil)),
		enumDirective("tls-session-caching", []string{"yes", "no"},
			func(c *Config) *string { return &c.TLSSessionCaching }, nil),
		// Redis's other TLS settings, at their defaults only: a
		// redis.conf that states them loads, CONFIG GET lists them, and
		// another value says why it is refused.
		fixedDirective("tls-replication", "no", false, "sessiond does not encrypt traffic between nodes yet: only tls-replication no is accepted"),
		fixedDirective("tls-cluster", "no", false, "sessiond does not encrypt traffic between nodes yet: only tls-cluster no is accepted"),
		fixedDirective("tls-client-cert-file", "", false, "sessiond makes no TLS connections of its own: only an empty tls-client-cert-file is accepted"),
		fixedDirective("tls-client-key-file", "", false, "sessiond makes no TLS connections of its own: only an empty tls-client-key-file is accepted"),
		fixedDirective("tls-client-key-file-pass", "", false, "sessiond makes no TLS connections of its own: only an empty tls-client-key-file-pass is accepted"),
		fixedDirective("tls-key-file-pass", "", false, "sessiond reads unencrypted private keys only: only an empty tls-key-file-pass is accepted"),
		fixedDirective("tls-dh-params-file", "", false, "sessiond's TLS uses ECDHE key exchange only: only an empty tls-dh-params-file is accepted"),
		fixedDirective("tls-ciphers", "", false, "sessiond uses Go's TLS 1.2 cipher suites (AES-GCM, ChaCha20-Poly1305 with ECDHE): only an empty tls-ciphers is accepted"),
		fixedDirective("tls-ciphersuites", "", false, "sessiond uses Go's TLS 1.3 cipher suites: only an empty tls-ciphersuites is accepted"),
		fixedDirective("tls-prefer-server-ciphers", "no", false, "sessiond uses Go's TLS, which picks the cipher suite itself: only tls-prefer-server-ciphers no is accepted"),
		fixedDirective("tls-session-cache-size", "20480", false, "sessiond resumes TLS sessions with tickets, not a server cache: only tls-session-cache-size 20480 is accepted"),
		fixedDirective("tls-session-cache-timeout", "300", false, "sessiond resumes TLS sessions with tickets, not a server cache: only tls-session-cache-timeout 300 is accepted"),
	}
}

// tlsProtocolNames are tls-protocols' words, Redis's (OpenSSL's) names.
var tlsProtocolNames = map[string]uint16{
	"tlsv1": tls.VersionTLS10, "tlsv1.1": tls.VersionTLS11, "tlsv1.2": tls.VersionTLS12, "tlsv1.3": tls.VersionTLS13,
}

// tlsVersions returns the lowest and highest TLS versions tls-protocols
// names (TLS 1.2 and 1.3 when it is empty). Go offers a range of
// versions, so the ones named must be consecutive.
func tlsVersions(v string) (lo, hi uint16, err error) {
	words := strings.Fields(strings.ToLower(v))
	if len(words) == 0 {
		return tls.VersionTLS12, tls.VersionTLS13, nil
	}
	named := map[uint16]bool{}
	for _, w := range words {
		ver, ok := tlsProtocolNames[w]
		if !ok {
			return 0, 0, errors.New("Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'.")
		}
		named[ver] = true
		if lo == 0 || ver < lo {
			lo = ver
		}
		hi = max(hi, ver)
	}
	for ver := lo; ver <= hi; ver++ {
		if !named[ver] {
			return 0, 0, errors.New("tls-protocols must name consecutive versions (sessiond cannot leave one out between two)")
		}
	}
	return lo, hi, nil
}

// errTLSConfig is the error of a TLS setting the server cannot use.
var errTLSConfig = errors.New("failed to configure TLS")

// tlsConfig builds the server side of TLS from c's files.
func (c *Config) tlsConfig() (*tls.Config, error) {
	if c.TLSCertFile == "" || c.TLSKeyFile == "" {
		return nil, fmt.Errorf("%w: tls-cert-file and tls-key-file must both be set", errTLSConfig)
	}
	cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("%w: loading %s and %s: %w", errTLSConfig, c.TLSCertFile, c.TLSKeyFile, err)
	}
	lo, hi, err := tlsVersions(c.TLSProtocols)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errTLSConfig, err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: lo, MaxVersion: hi,
		SessionTicketsDisabled: c.TLSSessionCaching == "no"}
	switch c.TLSAuthClients {
	case "no":
		tc.ClientAuth = tls.NoClientCert
		return tc, nil
	case "optional":
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	default:
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	if c.TLSCACertFile == "" && c.TLSCACertDir == "" {
		// Redis refuses to start the same way.
		return nil, fmt.Errorf("%w: tls-ca-cert-file or tls-ca-cert-dir must be set when tls-auth-clients is %s", errTLSConfig, c.TLSAuthClients)
	}
	pool := x509.NewCertPool()
	if c.TLSCACertFile != "" {
		pem, err := os.ReadFile(c.TLSCACertFile)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errTLSConfig, err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: no certificate in %s", errTLSConfig, c.TLSCACertFile)
		}
	}
	if c.TLSCACertDir != "" {
		// Every file of the directory that holds PEM certificates (an
		// OpenSSL hashed directory's links included); others are skipped.
		ents, err := os.ReadDir(c.TLSCACertDir)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errTLSConfig, err)
		}
		found := false
		for _, e := range ents {
			pem, err := os.ReadFile(filepath.Join(c.TLSCACertDir, e.Name()))
			if err == nil && pool.AppendCertsFromPEM(pem) {
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("%w: no certificate in %s", errTLSConfig, c.TLSCACertDir)
		}
	}
	tc.ClientCAs = pool
	return tc, nil
}

// CheckTLS reports whether the TLS settings can be used (when tls-port
// is set), so that a node refuses to start before it opens anything.
func (c *Config) CheckTLS() error {
	if c.TLSPort == 0 {
		return nil
	}
	_, err := c.tlsConfig()
	return err
}

// closeConn closes a client's connection at once. A TLS connection's own
// Close first sends a close_notify alert, which can wait up to 5 s on a
// client that reads nothing: server-side closes (Close, CLIENT KILL, the
// output-buffer limit) close the TCP connection under it instead.
func closeConn(nc net.Conn) error {
	if tc, ok := nc.(*tls.Conn); ok {
		return tc.NetConn().Close()
	}
	return nc.Close()
}

// tlsWriteChunk bounds one write to a TLS connection: a write deadline
// that passes breaks a TLS connection for good (crypto/tls), so a
// reply is written a record at a time, each with its own deadline, and a
// client that reads slowly but steadily is kept as on the plain port.
const tlsWriteChunk = 16 << 10

// tlsState is the server's TLS side: the tls-port listener and the
// configuration new handshakes take, which CONFIG SET replaces (existing
// connections keep theirs, as in Redis).
type tlsState struct {
	mu   sync.Mutex // serialises listening and closing; taken after confMu
	conf atomic.Pointer[tls.Config]
	ln   net.Listener // nil when not listening
}

// ListenTLS listens on addr and serves TLS connections there (see
// ServeTLS). It returns the address it listens on (addr may name port 0,
// which tls-port then reports as the port chosen).
func (s *Server) ListenTLS(addr string) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("could not listen on %s (tls-port): %w", addr, err)
	}
	if err := s.ServeTLS(ln); err != nil {
		ln.Close()
		return nil, err
	}
	return ln.Addr(), nil
}

// ServeTLS serves TLS connections accepted on ln (a TCP listener) with
// the configured certificates, in the background, until Close or a
// CONFIG SET of tls-port; tls-port then reports ln's port. On error ln
// is left to the caller.
func (s *Server) ServeTLS(ln net.Listener) error {
	s.confMu.Lock()
	defer s.confMu.Unlock()
	cfg := *s.config()
	tc, err := cfg.tlsConfig()
	if err != nil {
		return err
	}
	s.tls.mu.Lock()
	defer s.tls.mu.Unlock()
	if s.tls.ln != nil {
		return fmt.Errorf("already listening for TLS on %s", s.tls.ln.Addr())
	}
	if err := s.serveTLS(ln, tc); err != nil {
		return err
	}
	cfg.TLSPort = ln.Addr().(*net.TCPAddr).Port
	s.conf.Store(&cfg)
	return nil
}

// serveTLS starts serving TLS on ln with configuration tc. The caller
// holds s.tls.mu; on error ln is the caller's to close.
func (s *Server) serveTLS(ln net.Listener, tc *tls.Config) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return net.ErrClosed
	}
	s.extraLns = append(s.extraLns, ln)
	s.wg.Add(1)
	s.mu.Unlock()
	s.tls.conf.Store(tc)
	s.tls.ln = ln // on success only: reconfigureTLS keeps the old one otherwise
	shell := &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		return s.tls.conf.Load(), nil
	}}
	go func() {
		defer s.wg.Done()
		s.acceptLoop(tls.NewListener(ln, shell))
	}()
	return nil
}

// closeListener stops listening on ln, one of extraLns; the connections
// it accepted stay.
func (s *Server) closeListener(ln net.Listener) {
	s.mu.Lock()
	s.extraLns = slices.DeleteFunc(s.extraLns, func(l net.Listener) bool { return l == ln })
	s.mu.Unlock()
	ln.Close()
}

// reconfigureTLS makes cfg's TLS settings those of the running server
// (CONFIG SET of a tls-* directive, with confMu held): it loads the
// files and, when tls-port changed, listens on the new port (0: none)
// before closing the old one. On error nothing changes.
func (s *Server) reconfigureTLS(cfg *Config) error {
	s.tls.mu.Lock()
	defer s.tls.mu.Unlock()
	if cfg.TLSPort == 0 {
		if s.tls.ln != nil {
			s.closeListener(s.tls.ln)
			s.tls.ln = nil
		}
		return nil
	}
	tc, err := cfg.tlsConfig()
	if err != nil {
		return err
	}
	if old := s.tls.ln; old == nil || old.Addr().(*net.TCPAddr).Port != cfg.TLSPort {
		addr := net.JoinHostPort(cfg.Bind, strconv.Itoa(cfg.TLSPort))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("could not listen on %s (tls-port): %w", addr, err)
		}
		if err := s.serveTLS(ln, tc); err != nil {
			ln.Close()
			return err
		}
		if old != nil {
			s.closeListener(old)
		}
	}
	s.tls.conf.Store(tc)
	return nil
}

// isTLSDirective reports whether d is one of the tls-* settings, which
// CONFIG SET applies together through reconfigureTLS.
func isTLSDirective(d *directive) bool { return strings.HasPrefix(d.name, "tls-") }
