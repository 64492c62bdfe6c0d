package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"sessiond/internal/proctest"
)

// buildBinary builds bin/sessiond into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sessiond")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freePort returns a TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ports, err := proctest.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	return ports[0]
}

// command sends one RESP command on conn and returns the raw reply,
// which must be one line or one bulk string or a flat array of bulks.
func command(t *testing.T, conn net.Conn, br *bufio.Reader, args ...string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	var read func() error
	read = func() error {
		line, err := br.ReadString('\n')
		out.WriteString(line)
		if err != nil {
			return err
		}
		n, _ := strconv.Atoi(strings.TrimSpace(line[1:]))
		switch line[0] {
		case '$':
			if n >= 0 {
				buf := make([]byte, n+2)
				_, err := io.ReadFull(br, buf)
				out.Write(buf)
				return err
			}
		case '*':
			for i := 0; i < n; i++ {
				if err := read(); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := read(); err != nil {
		t.Fatalf("%q: %v (read %q)", args, err, out.String())
	}
	return out.String()
}

func TestBinaryConfigAndShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	port := freePort(t)
	conf := filepath.Join(dir, "sessiond.conf")
	// The file sets a port that the flag overrides, and values the flags
	// leave alone.
	content := fmt.Sprintf("port 1\nbind 127.0.0.1\ndir %q\nmaxmemory 1mb\nmaxmemory-policy allkeys-lru\nloglevel notice\n",
		filepath.Join(dir, "data"))
	if err := os.WriteFile(conf, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	stderr := &proctest.Output{}
	cmd := exec.Command(bin, conf, "--port", strconv.Itoa(port), "--maxmemory", "2mb", "--requirepass", "pw")
	cmd.Stderr = stderr
	cmd.Stdout = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// exited is closed when the process has ended; waitErr is then its
	// exit status.
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
	})

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	var conn net.Conn
	deadline := time.Now().Add(30 * time.Second)
	for {
		var err error
		conn, err = net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			break
		}
		select {
		case <-exited:
			t.Fatalf("sessiond exited early: %v\n%s", waitErr, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("sessiond did not listen on %s: %v\n%s", addr, err, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	bulk := func(s string) string { return fmt.Sprintf("$%d\r\n%s\r\n", len(s), s) }
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"CONFIG", "GET", "maxmemory"}, "-NOAUTH Authentication required.\r\n"},
		{[]string{"AUTH", "pw"}, "+OK\r\n"},
		{[]string{"CONFIG", "GET", "maxmemory", "maxmemory-policy", "port", "dir"}, "*8\r\n" +
			bulk("maxmemory") + bulk("2097152") + bulk("maxmemory-policy") + bulk("allkeys-lru") +
			bulk("port") + bulk(strconv.Itoa(port)) + bulk("dir") + bulk(filepath.Join(dir, "data"))},
		{[]string{"CONFIG", "SET", "maxmemory", "3mb"}, "+OK\r\n"},
		{[]string{"CONFIG", "GET", "maxmemory"}, "*2\r\n" + bulk("maxmemory") + bulk("3145728")},
	}
	for _, tt := range tests {
		if got := command(t, conn, br, tt.args...); got != tt.want {
			t.Errorf("%q: got %q, want %q", tt.args, got, tt.want)
		}
	}
	info := command(t, conn, br, "INFO", "server")
	if !strings.Contains(info, "config_file:"+conf+"\r\n") || !strings.Contains(info, "tcp_port:"+strconv.Itoa(port)+"\r\n") {
		t.Errorf("INFO server: %q", info)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err != nil {
		t.Errorf("data dir not created: %v", err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", waitErr, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("sessiond did not exit after SIGTERM\n%s", stderr.String())
	}
	for _, line := range []string{"Ready to accept connections", "bye bye"} {
		if !strings.Contains(stderr.String(), line) {
			t.Errorf("no %q line in the log:\n%s", line, stderr.String())
		}
	}
	// The connection was closed by the shutdown.
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("connection after shutdown: %v", err)
	}
}

func TestBinaryExitCodes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	badConf := filepath.Join(t.TempDir(), "bad.conf")
	if err := os.WriteFile(badConf, []byte("port 1\nmaxmemory lots\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		output []string
	}{
		{"version", []string{"--version"}, 0, []string{"sessiond v=", "redis_version="}},
		{"help", []string{"-h"}, 0, []string{"Usage: sessiond"}},
		{"bad file", []string{badConf}, 1, []string{"*** FATAL CONFIG FILE ERROR", "at line 2", ">>> 'maxmemory lots'", "argument must be a memory value"}},
		{"bad flag", []string{"--maxmemory-policy", "lru"}, 1, []string{"*** FATAL CONFIG FILE ERROR", "--maxmemory-policy", "must be one of the following"}},
		{"unknown flag", []string{"--no-such-thing", "1"}, 1, []string{"Bad directive"}},
		{"missing file", []string{filepath.Join(t.TempDir(), "none.conf")}, 1, []string{"can't open config file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, bin, tt.args...).CombinedOutput()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.code {
				t.Errorf("exit code %d, want %d\n%s", code, tt.code, out)
			}
			for _, w := range tt.output {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}
