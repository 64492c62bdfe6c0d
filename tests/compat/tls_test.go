package compat

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"sessiond/internal/testcerts"
)

// TestTLSRedisCLI drives the tls-port through redis-cli --tls (and
// redis-py's ssl=True and redis-benchmark --tls), with a client certificate as tls-auth-clients
// yes requires, as one would against a Redis or ElastiCache node with
// in-transit encryption.
func TestTLSRedisCLI(t *testing.T) {
	cli := needTool(t, "redis-cli", "redis-tools")
	if res := run(t, time.Minute, "", cliEnv, cli, "--help"); !strings.Contains(res.stdout+res.stderr, "--tls") {
		t.Skip("SKIP: this redis-cli was built without TLS; not testing it")
	}
	f, err := testcerts.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tlsPort := freePort(t)
	n := startNode(t, "--tls-port", strconv.Itoa(tlsPort), "--tls-cert-file", f.ServerCert,
		"--tls-key-file", f.ServerKey, "--tls-ca-cert-file", f.CA)
	tlsArgs := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(tlsPort), "--tls", "--cacert", f.CA,
		"--cert", f.ClientCert, "--key", f.ClientKey}
	cliTLS := func(args ...string) toolResult {
		return run(t, time.Minute, "", cliEnv, cli, append(tlsArgs, args...)...)
	}
	for _, step := range []struct {
		args []string
		want string
	}{
		{[]string{"PING"}, "PONG"},
		{[]string{"SET", "sess:tls", "user=u1", "EX", "1800"}, "OK"},
		{[]string{"HSET", "sess:h", "user", "u1", "csrf", "t9"}, "2"},
		{[]string{"GET", "sess:tls"}, "user=u1"},
		{[]string{"CONFIG", "GET", "tls-port"}, "tls-port\n" + strconv.Itoa(tlsPort)},
	} {
		res := cliTLS(step.args...)
		if res.err != nil || strings.TrimSpace(res.stdout) != step.want {
			t.Fatalf("redis-cli --tls %s: %q (stderr %q, %v), want %q", strings.Join(step.args, " "), res.stdout, res.stderr, res.err, step.want)
		}
	}
	// The plain port serves the same data.
	if got := strings.TrimSpace(redisCLI(t, cli, n, "", "HGET", "sess:h", "csrf")); got != "t9" {
		t.Fatalf("HGET on the plain port: %q", got)
	}
	// Without a client certificate the handshake fails.
	res := run(t, time.Minute, "", cliEnv, cli, "-h", "127.0.0.1", "-p", strconv.Itoa(tlsPort), "--tls", "--cacert", f.CA, "PING")
	if strings.TrimSpace(res.stdout) == "PONG" {
		t.Fatal("redis-cli --tls without a client certificate got PONG; tls-auth-clients yes requires one")
	}

	// redis-py (Debian's python3-redis) with ssl=True.
	needRedisPy(t)
	py := `import sys, redis
r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]), ssl=True, ssl_ca_certs=sys.argv[2],
                ssl_certfile=sys.argv[3], ssl_keyfile=sys.argv[4], decode_responses=True)
r.hset("sess:py", mapping={"user": "u2"})
r.expire("sess:py", 60)
print(r.hget("sess:py", "user"), r.get("sess:tls"))`
	res = run(t, time.Minute, "", nil, systemPython, "-c", py, strconv.Itoa(tlsPort), f.CA, f.ClientCert, f.ClientKey)
	if res.err != nil || strings.TrimSpace(res.stdout) != "u2 user=u1" {
		t.Fatalf("redis-py over TLS: %q %v\nstderr:\n%s", res.stdout, res.err, res.stderr)
	}

	bench := needTool(t, "redis-benchmark", "redis-tools")
	args := append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(tlsPort), "--tls", "--cacert", f.CA,
		"--cert", f.ClientCert, "--key", f.ClientKey}, "-n", "2000", "-c", "4", "-P", "8", "-q", "-t", "set,get")
	res = run(t, 2*time.Minute, "", cliEnv, bench, args...)
	if res.err != nil || !strings.Contains(res.stdout, "SET: ") || !strings.Contains(res.stdout, "GET: ") {
		t.Fatalf("redis-benchmark --tls: %v\nstdout:\n%s\nstderr:\n%s", res.err, res.stdout, res.stderr)
	}
}
