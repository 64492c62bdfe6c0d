package compat

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestBinaryVersion checks `sessiond --version`.
func TestBinaryVersion(t *testing.T) {
	if reference() {
		t.Skip("sessiond's own flag")
	}
	res := run(t, time.Minute, "", nil, serverBin, "--version")
	if res.err != nil || !strings.HasPrefix(res.stdout, "sessiond v=") || !strings.Contains(res.stdout, "redis_version=") {
		t.Fatalf("sessiond --version = %q, %q, %v; want \"sessiond v=... redis_version=...\"", res.stdout, res.stderr, res.err)
	}
}

// TestBinaryPortBind starts the binary the way the README does,
// `sessiond --port P --bind 127.0.0.1` with no other flag, in an empty
// working directory, and checks that it serves on that port and address
// only.
func TestBinaryPortBind(t *testing.T) {
	wd := t.TempDir()
	n := launch(t, wd, nil, "")
	c := goRedisClient(t, n, 2)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.Set(ctx, "sess:1", "v", sessionTTL*time.Second).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	if got, err := c.Get(ctx, "sess:1").Result(); err != nil || got != "v" {
		t.Fatalf("GET = %q, %v; want v", got, err)
	}
	if runtime.GOOS == "linux" {
		// All of 127/8 is loopback on Linux: a server bound to 127.0.0.1
		// only must refuse 127.0.0.2.
		nc, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.2", strconv.Itoa(n.port)), 2*time.Second)
		if err == nil {
			nc.Close()
			t.Fatalf("--bind 127.0.0.1: the server also accepts connections on 127.0.0.2:%d", n.port)
		}
	}
}

// TestBinaryShutdown sends SIGTERM while clients are connected (one idle
// after a command, one inside MULTI) and expects a clean exit that closes
// their connections.
func TestBinaryShutdown(t *testing.T) {
	n := startNode(t)
	dial := func() (net.Conn, *bufio.Reader) {
		nc, err := net.DialTimeout("tcp", n.addr, 5*time.Second)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		t.Cleanup(func() { nc.Close() })
		nc.SetDeadline(time.Now().Add(30 * time.Second))
		return nc, bufio.NewReader(nc)
	}
	exchange := func(nc net.Conn, br *bufio.Reader, send string, want ...string) {
		t.Helper()
		if _, err := nc.Write([]byte(send)); err != nil {
			t.Fatalf("write: %v", err)
		}
		for _, w := range want {
			if line, err := br.ReadString('\n'); err != nil || line != w {
				t.Fatalf("reply to %q: %q, %v; want %q", send, line, err, w)
			}
		}
	}
	idle, idleR := dial()
	exchange(idle, idleR, "*3\r\n$3\r\nSET\r\n$6\r\nsess:1\r\n$1\r\nv\r\n", "+OK\r\n")
	multi, multiR := dial()
	exchange(multi, multiR, "MULTI\r\nSET sess:2 v\r\n", "+OK\r\n", "+QUEUED\r\n")

	n.stop(t) // fails the test unless the exit is clean

	for name, br := range map[string]*bufio.Reader{"idle": idleR, "inside MULTI": multiR} {
		if line, err := br.ReadString('\n'); err != io.EOF {
			t.Errorf("%s connection after shutdown: read %q, %v; want EOF", name, line, err)
		}
	}
}

// TestBinaryRelativeDir starts the binary with a relative --dir: like
// redis-server, CONFIG GET dir must report the absolute directory.
func TestBinaryRelativeDir(t *testing.T) {
	wd := t.TempDir()
	if err := os.Mkdir(filepath.Join(wd, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	n := launch(t, wd, []string{"--dir", "data"}, filepath.Join(wd, "data"))
	c := goRedisClient(t, n, 2)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got, err := c.ConfigGet(ctx, "dir").Result()
	if err != nil {
		t.Fatalf("CONFIG GET dir: %v", err)
	}
	real, _ := filepath.EvalSymlinks(n.dir)
	if got["dir"] != n.dir && got["dir"] != real {
		t.Fatalf("CONFIG GET dir after --dir data = %q; want the absolute %q", got["dir"], n.dir)
	}
}
