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
	p := startBinary(t, bin, port, conf, "--port", strconv.Itoa(port), "--maxmemory", "2mb", "--requirepass", "pw")
	conn, br := p.conn, p.br
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
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.waitExit("SIGTERM")
}

// TestBinaryShutdownCommand: SHUTDOWN stops the process as SIGTERM does,
// closing the connection without a reply, as Redis does; SHUTDOWN ABORT
// and bad arguments get Redis's errors.
func TestBinaryShutdownCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	port := freePort(t)
	p := startBinary(t, bin, port, "--port", strconv.Itoa(port), "--dir", t.TempDir())
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"SHUTDOWN", "ABORT"}, "-ERR No shutdown in progress.\r\n"},
		{[]string{"SHUTDOWN", "NOSAVE", "SAVE"}, "-ERR syntax error\r\n"},
		{[]string{"SHUTDOWN", "ABORT", "NOW"}, "-ERR syntax error\r\n"},
		{[]string{"SHUTDOWN", "FOO"}, "-ERR syntax error\r\n"},
		{[]string{"SET", "k", "v"}, "+OK\r\n"},
	} {
		if got := command(t, p.conn, p.br, tt.args...); got != tt.want {
			t.Errorf("%q: got %q, want %q", tt.args, got, tt.want)
		}
	}
	fmt.Fprintf(p.conn, "*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n")
	p.waitExit("SHUTDOWN")
	if !strings.Contains(p.stderr.String(), "User requested shutdown") {
		t.Errorf("no shutdown line in the log:\n%s", p.stderr.String())
	}
}

// binProc is a sessiond process a test started, with a connection to it.
type binProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stderr *proctest.Output
	exited chan struct{} // closed when the process has ended
	err    error         // its exit status, once exited is closed
	conn   net.Conn
	br     *bufio.Reader
}

// startBinary runs bin with args and connects to it on port; the test's
// end kills it if it still runs.
func startBinary(t *testing.T, bin string, port int, args ...string) *binProc {
	t.Helper()
	p := &binProc{t: t, cmd: exec.Command(bin, args...), stderr: &proctest.Output{}, exited: make(chan struct{})}
	p.cmd.Stderr = p.stderr
	p.cmd.Stdout = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			p.cmd.Process.Kill()
			<-p.exited
		}
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			p.conn, p.br = conn, bufio.NewReader(conn)
			t.Cleanup(func() { conn.Close() })
			return p
		}
		select {
		case <-p.exited:
			t.Fatalf("sessiond exited early: %v\n%s", p.err, p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("sessiond did not listen on %s: %v\n%s", addr, err, p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond) // polling for the listener, bounded
	}
}

// waitExit waits for a clean exit after what (SIGTERM, SHUTDOWN), then
// checks the log's last line and that the connection was closed.
func (p *binProc) waitExit(what string) {
	t := p.t
	t.Helper()
	select {
	case <-p.exited:
		if p.err != nil {
			t.Fatalf("exit after %s: %v\n%s", what, p.err, p.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("sessiond did not exit after %s\n%s", what, p.stderr.String())
	}
	for _, line := range []string{"Ready to accept connections", "bye bye"} {
		if !strings.Contains(p.stderr.String(), line) {
			t.Errorf("no %q line in the log:\n%s", line, p.stderr.String())
		}
	}
	// The connection was closed by the shutdown, with no reply.
	p.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if b, err := p.br.ReadByte(); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("connection after %s: read %q, %v", what, b, err)
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
		{"tls without files", []string{"--port", "0", "--tls-port", "1"}, 1, []string{"failed to configure TLS", "tls-cert-file and tls-key-file"}},
		{"bad tls-auth-clients", []string{"--tls-auth-clients", "sometimes"}, 1, []string{"*** FATAL CONFIG FILE ERROR", "must be one of the following: no, yes, optional"}},
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
