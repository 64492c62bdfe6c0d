package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
)

// TLS for clients: tls-port opens a second client port whose connections
// speak TLS and are then served exactly like the plain port's, as Redis
// does (redis-server built with TLS; redis-cli --tls, go-redis's
// TLSConfig). tls-cert-file and tls-key-file are the server's certificate
// and key; with tls-auth-clients yes (Redis's default) or optional, a
// client presents a certificate signed by a CA of tls-ca-cert-file
// (required, or checked when given). The plain port stays open; traffic
// between nodes (Raft and forwarded commands) is not encrypted.

// tlsDirectives are the TLS settings; all are start-up only.
func tlsDirectives() []directive {
	return []directive{
		intDirective("tls-port", "", 0, 65535, immutable, func(c *Config) *int { return &c.TLSPort }),
		stringDirective("tls-cert-file", func(c *Config) *string { return &c.TLSCertFile }, nil),
		stringDirective("tls-key-file", func(c *Config) *string { return &c.TLSKeyFile }, nil),
		stringDirective("tls-ca-cert-file", func(c *Config) *string { return &c.TLSCACertFile }, nil),
		withMode(enumDirective("tls-auth-clients", []string{"yes", "no", "optional"},
			func(c *Config) *string { return &c.TLSAuthClients }, nil), immutable),
	}
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
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	switch c.TLSAuthClients {
	case "no":
		tc.ClientAuth = tls.NoClientCert
		return tc, nil
	case "optional":
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	default:
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	if c.TLSCACertFile == "" {
		// Redis refuses to start the same way.
		return nil, fmt.Errorf("%w: tls-ca-cert-file must be set when tls-auth-clients is %s", errTLSConfig, c.TLSAuthClients)
	}
	pem, err := os.ReadFile(c.TLSCACertFile)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errTLSConfig, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%w: no certificate in %s", errTLSConfig, c.TLSCACertFile)
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

// ListenTLS listens on addr and serves TLS connections there, with the
// configured certificates, until Close. It returns the address it listens
// on (addr may name port 0).
func (s *Server) ListenTLS(addr string) (net.Addr, error) {
	tc, err := s.config().tlsConfig()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("could not listen on %s (tls-port): %w", addr, err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return nil, net.ErrClosed
	}
	s.extraLns = append(s.extraLns, ln)
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		s.acceptLoop(tls.NewListener(ln, tc))
	}()
	return ln.Addr(), nil
}
