package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sessiond/internal/proctest"
	"sessiond/internal/testcerts"
)

// tlsClientConfig returns a client TLS config trusting f's CA, with the
// client certificate when withCert.
func tlsClientConfig(t *testing.T, f testcerts.Files, withCert bool) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(f.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tc := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	if withCert {
		cert, err := tls.LoadX509KeyPair(f.ClientCert, f.ClientKey)
		if err != nil {
			t.Fatal(err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc
}

// TestTLSPort serves clients over TLS on a second listener, for each
// tls-auth-clients setting: the same commands and data as the plain port,
// and a client without the certificate the setting requires refused.
func TestTLSPort(t *testing.T) {
	f, err := testcerts.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		auth            string
		withoutCertOK   bool
		configuredValue string
	}{
		{"", false, "yes"}, // Redis's default: a client certificate is required
		{"optional", true, "optional"},
		{"no", true, "no"},
	} {
		t.Run("auth="+tt.configuredValue, func(t *testing.T) {
			cfg := Config{TLSCertFile: f.ServerCert, TLSKeyFile: f.ServerKey, TLSCACertFile: f.CA, TLSAuthClients: tt.auth}
			ts := startServer(t, cfg)
			addr, err := ts.ListenTLS("127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c := redis.NewClient(&redis.Options{Addr: addr.String(), TLSConfig: tlsClientConfig(t, f, true), MaxRetries: -1, Protocol: 3})
			defer c.Close()
			if err := c.Set(ctx, "sess:tls", "v1", time.Hour).Err(); err != nil {
				t.Fatalf("SET over TLS: %v", err)
			}
			if got, err := c.HSet(ctx, "h", "f", "x").Result(); err != nil || got != 1 {
				t.Fatalf("HSET over TLS: %v %v", got, err)
			}
			// The plain port sees what the TLS one wrote.
			if got, err := ts.goRedis(t, 2).Get(ctx, "sess:tls").Result(); err != nil || got != "v1" {
				t.Fatalf("GET on the plain port: %q %v", got, err)
			}
			if got, err := c.ConfigGet(ctx, "tls-auth-clients").Result(); err != nil || got["tls-auth-clients"] != tt.configuredValue {
				t.Fatalf("CONFIG GET tls-auth-clients: %v %v", got, err)
			}
			// CLIENT LIST finds the TLS connection's descriptor.
			if list, err := c.ClientList(ctx).Result(); err != nil || strings.Contains(list, "fd=-1") {
				t.Fatalf("CLIENT LIST over TLS: %q %v", list, err)
			}

			bare := redis.NewClient(&redis.Options{Addr: addr.String(), TLSConfig: tlsClientConfig(t, f, false), MaxRetries: -1})
			defer bare.Close()
			err = bare.Ping(ctx).Err()
			if tt.withoutCertOK && err != nil {
				t.Fatalf("PING without a client certificate: %v", err)
			}
			if !tt.withoutCertOK && err == nil {
				t.Fatal("PING without a client certificate succeeded; tls-auth-clients yes requires one")
			}

			// A plain-text client on the TLS port gets nowhere.
			plain := redis.NewClient(&redis.Options{Addr: addr.String(), MaxRetries: -1, DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second})
			defer plain.Close()
			if err := plain.Ping(ctx).Err(); err == nil {
				t.Fatal("a plain-text PING on the TLS port succeeded")
			}
		})
	}
}

// TestTLSConfigErrors checks the settings a node refuses to start with.
func TestTLSConfigErrors(t *testing.T) {
	dir := t.TempDir()
	f, err := testcerts.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	notPEM := dir + "/not.pem"
	if err := os.WriteFile(notPEM, []byte("nothing here\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no tls-port", Config{}, ""},
		{"no key", Config{TLSPort: 1, TLSCertFile: f.ServerCert}, "tls-cert-file and tls-key-file must both be set"},
		{"missing cert", Config{TLSPort: 1, TLSCertFile: dir + "/none.crt", TLSKeyFile: f.ServerKey}, "none.crt"},
		{"key of another cert", Config{TLSPort: 1, TLSCertFile: f.ServerCert, TLSKeyFile: f.ClientKey, TLSAuthClients: "no"}, "private key does not match"},
		{"auth without CA", Config{TLSPort: 1, TLSCertFile: f.ServerCert, TLSKeyFile: f.ServerKey, TLSAuthClients: "yes"}, "tls-ca-cert-file or tls-ca-cert-dir must be set"},
		{"CA directory", Config{TLSPort: 1, TLSCertFile: f.ServerCert, TLSKeyFile: f.ServerKey, TLSCACertDir: dir}, ""},
		{"CA directory without certificates", Config{TLSPort: 1, TLSCertFile: f.ServerCert, TLSKeyFile: f.ServerKey, TLSCACertDir: t.TempDir()}, "no certificate in"},
		{"CA not PEM", Config{TLSPort: 1, TLSCertFile: f.ServerCert, TLSKeyFile: f.ServerKey, TLSCACertFile: notPEM, TLSAuthClients: "optional"}, "no certificate in"},
		{"auth no, no CA", Config{TLSPort: 1, TLSCertFile: f.ServerCert, TLSKeyFile: f.ServerKey, TLSAuthClients: "no"}, ""},
		{"unknown protocol", Config{TLSPort: 1, TLSCertFile: f.ServerCert, TLSKeyFile: f.ServerKey, TLSAuthClients: "no", TLSProtocols: "TLSv1.2 SSLv3"}, "Invalid tls-protocols specified"},
		{"protocols with a gap", Config{TLSPort: 1, TLSCertFile: f.ServerCert, TLSKeyFile: f.ServerKey, TLSAuthClients: "no", TLSProtocols: "TLSv1.1 TLSv1.3"}, "consecutive"},
		{"one protocol", Config{TLSPort: 1, TLSCertFile: f.ServerCert, TLSKeyFile: f.ServerKey, TLSAuthClients: "no", TLSProtocols: "tlsv1.3"}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.CheckTLS()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("CheckTLS: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, errTLSConfig)):
				t.Fatalf("CheckTLS: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestTLSReconfigure changes the TLS settings of a running server with
// CONFIG SET, as Redis allows (certificate rotation): new handshakes take
// the new files, connections already made keep working, a file that does
// not load changes nothing, and tls-port moves or closes the listener.
func TestTLSReconfigure(t *testing.T) {
	f, err := testcerts.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	g, err := testcerts.Write(t.TempDir()) // another CA: the rotation's
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, Config{TLSCertFile: f.ServerCert, TLSKeyFile: f.ServerKey, TLSCACertFile: f.CA})
	addr, err := ts.ListenTLS("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin := ts.goRedis(t, 2)
	client := func(addr string, fs testcerts.Files, withCert bool) *redis.Client {
		c := redis.NewClient(&redis.Options{Addr: addr, TLSConfig: tlsClientConfig(t, fs, withCert), MaxRetries: -1,
			DialTimeout: 5 * time.Second, PoolSize: 1})
		t.Cleanup(func() { c.Close() })
		return c
	}
	ping := func(c *redis.Client) error { return c.Ping(ctx).Err() }
	configSet := func(kv ...string) error {
		args := []interface{}{"CONFIG", "SET"}
		for _, s := range kv {
			args = append(args, s)
		}
		return admin.Do(ctx, args...).Err()
	}

	early := client(addr.String(), f, true)
	if err := ping(early); err != nil {
		t.Fatalf("PING with a client certificate: %v", err)
	}
	if got, err := admin.ConfigGet(ctx, "tls-port").Result(); err != nil || got["tls-port"] != strconv.Itoa(addr.(*net.TCPAddr).Port) {
		t.Fatalf("CONFIG GET tls-port after listening on port 0: %v %v", got, err)
	}
	if err := ping(client(addr.String(), f, false)); err == nil {
		t.Fatal("PING without a client certificate succeeded under tls-auth-clients yes")
	}
	if err := configSet("tls-auth-clients", "no"); err != nil {
		t.Fatal(err)
	}
	if err := ping(client(addr.String(), f, false)); err != nil {
		t.Fatalf("PING without a client certificate after tls-auth-clients no: %v", err)
	}

	// A file that does not load: refused, nothing changes.
	err = configSet("tls-cert-file", "/nonexistent/server.crt")
	if want := "ERR CONFIG SET failed (possibly related to argument 'tls-cert-file') - Unable to update TLS configuration. Check server logs."; err == nil || err.Error() != want {
		t.Fatalf("CONFIG SET of a missing certificate: %v, want %q", err, want)
	}
	if got, _ := admin.ConfigGet(ctx, "tls-cert-file").Result(); got["tls-cert-file"] != f.ServerCert {
		t.Fatalf("tls-cert-file changed by a failed CONFIG SET: %v", got)
	}

	// Rotation to certificates of another CA.
	if err := configSet("tls-cert-file", g.ServerCert, "tls-key-file", g.ServerKey, "tls-ca-cert-file", g.CA, "tls-auth-clients", "yes"); err != nil {
		t.Fatal(err)
	}
	if err := ping(client(addr.String(), g, true)); err != nil {
		t.Fatalf("PING trusting the new CA: %v", err)
	}
	if err := ping(client(addr.String(), f, true)); err == nil {
		t.Fatal("PING trusting only the old CA succeeded after the rotation")
	}
	if err := ping(early); err != nil {
		t.Fatalf("a connection made before the rotation: %v", err)
	}

	// tls-protocols: a client that speaks TLS 1.2 at most is refused
	// under TLSv1.3 alone.
	tls12 := func() *redis.Client {
		tc := tlsClientConfig(t, g, true)
		tc.MaxVersion = tls.VersionTLS12
		c := redis.NewClient(&redis.Options{Addr: addr.String(), TLSConfig: tc, MaxRetries: -1, PoolSize: 1})
		t.Cleanup(func() { c.Close() })
		return c
	}
	if err := ping(tls12()); err != nil {
		t.Fatalf("a TLS 1.2 client under the default tls-protocols: %v", err)
	}
	if err := configSet("tls-protocols", "TLSv1.3"); err != nil {
		t.Fatal(err)
	}
	if err := ping(tls12()); err == nil {
		t.Fatal("a TLS 1.2 client was served under tls-protocols TLSv1.3")
	}
	if err := ping(client(addr.String(), g, true)); err != nil {
		t.Fatalf("a TLS 1.3 client under tls-protocols TLSv1.3: %v", err)
	}
	err = configSet("tls-protocols", "TLSv1.3 SSLv3")
	if want := "ERR CONFIG SET failed (possibly related to argument 'tls-protocols') - Unable to update TLS configuration. Check server logs."; err == nil || err.Error() != want {
		t.Fatalf("CONFIG SET of an unknown protocol: %v, want %q", err, want)
	}

	// Redis's TLS settings sessiond does not implement take their
	// defaults only, and say why.
	if err := configSet("tls-replication", "no", "tls-ciphers", ""); err != nil {
		t.Fatalf("CONFIG SET of Redis's defaults: %v", err)
	}
	if err := configSet("tls-replication", "yes"); err == nil || !strings.Contains(err.Error(), "does not encrypt traffic between nodes yet") {
		t.Fatalf("CONFIG SET tls-replication yes: %v", err)
	}

	// tls-port moves the listener, 0 closes it.
	ports, err := proctest.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	moved := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	if err := configSet("tls-port", strconv.Itoa(ports[0])); err != nil {
		t.Fatal(err)
	}
	if err := ping(client(moved, g, true)); err != nil {
		t.Fatalf("PING on the new tls-port: %v", err)
	}
	if nc, err := net.DialTimeout("tcp", addr.String(), 5*time.Second); err == nil {
		nc.Close()
		t.Fatal("the old tls-port still accepts connections")
	}
	if err := configSet("tls-port", "0"); err != nil {
		t.Fatal(err)
	}
	if nc, err := net.DialTimeout("tcp", moved, 5*time.Second); err == nil {
		nc.Close()
		t.Fatal("tls-port 0 left the listener open")
	}
	if err := ping(early); err != nil {
		t.Fatalf("a connection made before tls-port changed: %v", err)
	}
}

// TestTLSMaxClientsSilentClient checks that a client over maxclients that
// connects to the TLS port and never sends its ClientHello holds up
// neither the accept loop (the next client gets the maxclients error) nor
// Close.
func TestTLSMaxClientsSilentClient(t *testing.T) {
	f, err := testcerts.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{MaxClients: 1, TLSCertFile: f.ServerCert, TLSKeyFile: f.ServerKey, TLSCACertFile: f.CA}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	a, err := srv.ListenTLS("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first := redis.NewClient(&redis.Options{Addr: a.String(), TLSConfig: tlsClientConfig(t, f, true), MaxRetries: -1, PoolSize: 1})
	defer first.Close()
	if err := first.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	silent, err := net.Dial("tcp", a.String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	for srv.stats.connsRejected.Load() < 1 {
		if ctx.Err() != nil {
			t.Fatal("the silent connection was never refused")
		}
		runtime.Gosched()
	}
	// The next client is refused with Redis's error (read before writing
	// anything: the server closes right after it).
	second, err := tls.DialWithDialer(&net.Dialer{Timeout: 20 * time.Second}, "tcp", a.String(), tlsClientConfig(t, f, true))
	if err != nil {
		t.Fatalf("TLS handshake of a client over maxclients: %v", err)
	}
	defer second.Close()
	second.SetReadDeadline(time.Now().Add(20 * time.Second))
	if line, err := bufio.NewReader(second).ReadString('\n'); line != "-ERR max number of clients reached\r\n" {
		t.Fatalf("a TLS client over maxclients read %q (%v), want the maxclients error", line, err)
	}
	closed := make(chan struct{})
	go func() { srv.Close(); close(closed) }()
	select {
	case <-closed:
	case <-ctx.Done():
		t.Fatal("Close waits on the silent client's handshake")
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}

// TestTLSSlowReader checks that with timeout set, a TLS client reading a
// large reply slowly but steadily gets all of it, as on the plain port: a
// write that times out breaks a TLS connection, so the reply goes out a
// record at a time, each with a fresh deadline.
func TestTLSSlowReader(t *testing.T) {
	f, err := testcerts.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, Config{Timeout: 3 * time.Second, TLSCertFile: f.ServerCert, TLSKeyFile: f.ServerKey, TLSCACertFile: f.CA})
	a, err := ts.ListenTLS("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	const size = 16 << 20 // well past what the socket buffers hold
	if err := ts.goRedis(t, 2).Set(context.Background(), "big", strings.Repeat("x", size), 0).Err(); err != nil {
		t.Fatal(err)
	}
	tc, err := tls.Dial("tcp", a.String(), tlsClientConfig(t, f, true))
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	tc.NetConn().(*net.TCPConn).SetReadBuffer(32 << 10)
	if _, err := tc.Write([]byte("*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n")); err != nil {
		t.Fatal(err)
	}
	want := size + len("$16777216\r\n\r\n")
	buf := make([]byte, 32<<10)
	total := 0
	for total < want {
		tc.SetReadDeadline(time.Now().Add(20 * time.Second))
		n, err := tc.Read(buf)
		total += n
		if err != nil {
			t.Fatalf("dropped after %d of %d bytes: %v", total, want, err)
		}
		// A slow reader: a record (16 KB) per 5 ms at most, so the reply
		// takes longer than the 3 s timeout (beyond what the socket
		// buffers hold), while each record is read well within it.
		time.Sleep(5 * time.Millisecond)
	}
	if total != want {
		t.Fatalf("read %d bytes, want %d", total, want)
	}
}

// TestTLSCACertDirAndResumption: client certificates are checked against
// the CAs of tls-ca-cert-dir, and a client comes back with a resumed
// session unless tls-session-caching is no.
func TestTLSCACertDirAndResumption(t *testing.T) {
	f, err := testcerts.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	caDir := t.TempDir()
	pem, err := os.ReadFile(f.CA)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(caDir+"/ca.pem", pem, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(caDir+"/README", []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, caching := range []string{"yes", "no"} {
		t.Run("tls-session-caching "+caching, func(t *testing.T) {
			ts := startServer(t, Config{TLSCertFile: f.ServerCert, TLSKeyFile: f.ServerKey, TLSCACertDir: caDir, TLSSessionCaching: caching})
			a, err := ts.ListenTLS("127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			tc := tlsClientConfig(t, f, true)
			tc.ClientSessionCache = tls.NewLRUClientSessionCache(4)
			resumed := make([]bool, 2)
			for i := range resumed {
				conn, err := tls.Dial("tcp", a.String(), tc)
				if err != nil {
					t.Fatalf("connection %d: %v", i, err)
				}
				conn.SetDeadline(time.Now().Add(20 * time.Second))
				// A round trip, so that the client reads the server's
				// session ticket (TLS 1.3 sends it after the handshake).
				if _, err := conn.Write([]byte("PING\r\n")); err != nil {
					t.Fatal(err)
				}
				if line, err := bufio.NewReader(conn).ReadString('\n'); err != nil || line != "+PONG\r\n" {
					t.Fatalf("connection %d: PING read %q, %v", i, line, err)
				}
				resumed[i] = conn.ConnectionState().DidResume
				conn.Close()
			}
			if want := caching == "yes"; resumed[0] || resumed[1] != want {
				t.Fatalf("resumed %v with tls-session-caching %s, want [false %v]", resumed, caching, want)
			}
		})
	}
}
