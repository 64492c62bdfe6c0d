package compat

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"sessiond/internal/proctest"
)

// serverBin is the server binary under test. TestMain sets it once, before
// any test runs; tests only read it.
var serverBin string

// reference reports whether the suite runs against redis-server
// (COMPAT_AGAINST=redis-server) rather than sessiond.
func reference() bool { return os.Getenv("COMPAT_AGAINST") == "redis-server" }

// TestMain builds cmd/sessiond into a temporary directory (with the race
// detector when COMPAT_RACE=1), or in reference mode finds redis-server,
// and runs the tests.
func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if reference() {
		p, err := exec.LookPath("redis-server")
		if err != nil {
			fmt.Fprintln(os.Stderr, "compat: COMPAT_AGAINST=redis-server but redis-server is not on PATH")
			return 1
		}
		serverBin = p
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "sessiond-compat-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "compat:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if serverBin, err = proctest.BuildSessiond(ctx, dir, os.Getenv("COMPAT_RACE") == "1"); err != nil {
		fmt.Fprintln(os.Stderr, "compat:", err)
		return 1
	}
	return m.Run()
}

// node is one running server process.
type node struct {
	addr string // 127.0.0.1:port
	port int
	dir  string
	cmd  *exec.Cmd
	log  *proctest.Output // the process's stdout and stderr
	done chan struct{}
	err  error // the process's exit status; valid once done is closed

	stopOnce sync.Once
}

// pid returns the server's process id.
func (n *node) pid() int { return n.cmd.Process.Pid }

// freePort returns a port that was free on 127.0.0.1 a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ports, err := proctest.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	return ports[0]
}

// startNode starts the server under test on a free loopback port with a
// fresh data directory (--dir), waits until it answers PING and stops it
// with SIGTERM when the test ends, failing the test unless it exits
// cleanly. extra is appended to the command line.
func startNode(t testing.TB, extra ...string) *node {
	t.Helper()
	dir := t.TempDir()
	return launch(t, "", append([]string{"--dir", dir}, extra...), dir)
}

// launch starts the server with --port and --bind 127.0.0.1 followed by
// args, in working directory wd ("" for the test's), and waits until it
// answers PING. dir is recorded as the node's data directory.
func launch(t testing.TB, wd string, args []string, dir string) *node {
	t.Helper()
	var lastLog string
	// Another process may take the probed port before the server binds
	// it; then the server exits at once and we try another port.
	for attempt := 0; attempt < 3; attempt++ {
		port := freePort(t)
		argv := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1"}
		if reference() {
			argv = append(argv, "--save", "", "--appendonly", "no")
		}
		argv = append(argv, args...)
		n := &node{
			addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
			port: port,
			dir:  dir,
			cmd:  exec.Command(serverBin, argv...),
			log:  &proctest.Output{},
			done: make(chan struct{}),
		}
		n.cmd.Dir = wd
		n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
		if err := n.cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", serverBin, err)
		}
		go func() {
			n.err = n.cmd.Wait()
			close(n.done)
		}()
		if n.waitReady(20 * time.Second) {
			t.Cleanup(func() { n.stop(t) })
			return n
		}
		select {
		case <-n.done:
		default:
			n.cmd.Process.Kill()
			<-n.done
			t.Fatalf("server on port %d did not answer PING within 20s; log:\n%s", port, n.log)
		}
		lastLog = n.log.String()
		if !strings.Contains(strings.ToLower(lastLog), "address already in use") {
			break
		}
	}
	t.Fatalf("server exited before accepting connections; log:\n%s", lastLog)
	return nil
}

// waitReady polls the server with PING until it answers +PONG, the
// process exits, or the deadline passes. It reports whether the server is
// ready.
func (n *node) waitReady(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-n.done:
			return false
		default:
		}
		if n.ping() {
			return true
		}
		select {
		case <-n.done:
			return false
		case <-time.After(10 * time.Millisecond): // poll interval
		}
	}
	return false
}

// ping sends one inline PING on a fresh connection and reports whether
// the server answered it: +PONG, or -NOAUTH when it requires a password.
func (n *node) ping() bool {
	nc, err := net.DialTimeout("tcp", n.addr, time.Second)
	if err != nil {
		return false
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := nc.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(nc).ReadString('\n')
	return err == nil && (line == "+PONG\r\n" || strings.HasPrefix(line, "-NOAUTH "))
}

// stop sends SIGTERM and waits for the process to exit, failing the test
// unless it exits with status 0 within 15 seconds. Only the first call
// does anything; launch registers one for the test's end.
func (n *node) stop(t testing.TB) {
	t.Helper()
	n.stopOnce.Do(func() { n.terminate(t) })
}

func (n *node) terminate(t testing.TB) {
	t.Helper()
	select {
	case <-n.done:
		t.Errorf("server exited before the test ended: %v; log:\n%s", n.err, n.log)
		return
	default:
	}
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM: %v", err)
	}
	select {
	case <-n.done:
	case <-time.After(15 * time.Second):
		n.cmd.Process.Kill()
		<-n.done
		t.Errorf("server did not exit within 15s of SIGTERM; log:\n%s", n.log)
		return
	}
	if n.err != nil {
		t.Errorf("server exit after SIGTERM: %v (want status 0); log:\n%s", n.err, n.log)
	}
	if !reference() {
		for _, line := range strings.Split(n.log.String(), "\n") {
			if strings.Contains(line, "level=ERROR") {
				t.Errorf("server logged an error: %s", line)
			}
		}
	}
}

// needTool returns the path of an external tool, skipping the test with a
// message when it is missing, or failing it when CI=true.
func needTool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required when CI=true but not found (Debian package %s): %v", name, pkg, err)
	}
	t.Skipf("SKIP: %s not found (install Debian package %s, or run `make deps`); not testing it", name, pkg)
	return ""
}

// toolResult is the outcome of one external tool run.
type toolResult struct {
	stdout, stderr string
	err            error
}

// run runs a tool with stdin, killing it after timeout, and returns its
// output. It never fails the test itself.
func run(t testing.TB, timeout time.Duration, stdin string, env []string, name string, args ...string) toolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("killed after %v: %w", timeout, errors.Join(err, ctx.Err()))
	}
	return toolResult{stdout: out.String(), stderr: errb.String(), err: err}
}

// sessionIDs returns n distinct, deterministic session ids that look like
// the random hex ids session libraries generate.
func sessionIDs(tag string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s%016x%08x", tag, uint64(i+1)*0x9E3779B97F4A7C15, i)
	}
	return ids
}

// Session-store constants shared by every client's life cycle.
const (
	sessionTTL   = 1800 // seconds, set at creation
	touchedTTL   = 3600 // seconds, set by a touch
	ttlSlack     = 60   // seconds a TTL may have run down during a test
	scanCount    = 100  // SCAN COUNT hint
	hashSessions = 150  // hash sessions created per life cycle
	jsonSessions = 150  // JSON string sessions created per life cycle
)

// ttlInRange reports whether a TTL in seconds read back after setting
// set seconds is plausible: positive, at most set, and not run down more
// than ttlSlack.
func ttlInRange(got int64, set int64) bool { return got <= set && got > set-ttlSlack }

// setDiff returns the elements of want missing from got and those of got
// not in want, sorted, for error messages.
func setDiff(got, want map[string]bool) (missing, extra []string) {
	for k := range want {
		if !got[k] {
			missing = append(missing, k)
		}
	}
	for k := range got {
		if !want[k] {
			extra = append(extra, k)
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	return missing, extra
}

// firstN returns at most n elements of s, for error messages.
func firstN(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
