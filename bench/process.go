package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Server names, as the reports use them.
const (
	Redis    = "redis"
	Sessiond = "sessiond"
)

// ServerSpec says how to start one server: Binary with the arguments Args
// builds for a port and an empty data directory, then Extra.
type ServerSpec struct {
	Name   string                              `json:"name"`
	Binary string                              `json:"binary"`
	Args   func(port int, dir string) []string `json:"-"`
	Extra  []string                            `json:"extra_args,omitempty"`
}

// RedisSpec starts redis-server on 127.0.0.1 with persistence off.
func RedisSpec(binary string, extra []string) ServerSpec {
	return ServerSpec{Name: Redis, Binary: binary, Extra: extra, Args: func(port int, dir string) []string {
		return []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", dir}
	}}
}

// SessiondSpec starts sessiond on 127.0.0.1 with a fresh data directory.
func SessiondSpec(binary string, extra []string) ServerSpec {
	return ServerSpec{Name: Sessiond, Binary: binary, Extra: extra, Args: func(port int, dir string) []string {
		return []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir}
	}}
}

// serverProc is one running server this package started. Its PID is the
// server's own: taskset sets the CPU affinity and then execs the server.
type serverProc struct {
	Name   string
	Addr   string // 127.0.0.1:port
	Port   int
	PID    int
	root   string // temporary directory: data dir and log, removed by stop
	cmd    *exec.Cmd
	logf   *os.File
	exited chan struct{} // closed once the process has been waited for
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startServer starts spec on a free loopback port, pinned to cpu with
// taskset (unless taskset is ""), and waits until it answers PING. It
// retries with another port when the server exits early, as it does when
// another process took the port first.
func startServer(ctx context.Context, spec ServerSpec, taskset, cpu string) (*serverProc, error) {
	var err error
	for range 3 {
		var p *serverProc
		if p, err = startOnce(ctx, spec, taskset, cpu); err == nil {
			return p, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("starting %s: %w", spec.Name, err)
}

// startOnce makes one attempt for startServer.
func startOnce(ctx context.Context, spec ServerSpec, taskset, cpu string) (*serverProc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	root, err := os.MkdirTemp("", "sessiond-bench-"+spec.Name+"-")
	if err != nil {
		return nil, err
	}
	dataDir := filepath.Join(root, "data")
	if err := os.Mkdir(dataDir, 0o755); err != nil {
		os.RemoveAll(root)
		return nil, err
	}
	logf, err := os.Create(filepath.Join(root, "server.log"))
	if err != nil {
		os.RemoveAll(root)
		return nil, err
	}
	bin, args := spec.Binary, append(spec.Args(port, dataDir), spec.Extra...)
	if taskset != "" {
		bin, args = taskset, append([]string{"-c", cpu, spec.Binary}, args...)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		os.RemoveAll(root)
		return nil, err
	}
	p := &serverProc{
		Name: spec.Name, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Port: port,
		PID: cmd.Process.Pid, root: root, cmd: cmd, logf: logf, exited: make(chan struct{}),
	}
	go func() {
		cmd.Wait()
		close(p.exited)
	}()
	if err := p.waitReady(ctx, 15*time.Second); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// waitReady polls PING until the server answers PONG, exits, or timeout
// passes.
func (p *serverProc) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := Dial(ctx, p.Addr, time.Second)
		if err == nil {
			c.SetDeadline(time.Now().Add(2 * time.Second))
			rep, perr := c.Do("PING")
			c.Close()
			if perr == nil && rep.Str == "PONG" {
				return nil
			}
			err = fmt.Errorf("PING: %v %q", perr, rep.Str)
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited at startup: %s", p.Name, p.logTail())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s: %w", p.Name, timeout, err)
		}
	}
}

// alive reports whether the server is still running.
func (p *serverProc) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stop ends the server (SIGTERM, then SIGKILL after ten seconds), waits
// for it and removes its directory. It reports an error when the server
// had already exited by itself, which means it crashed.
func (p *serverProc) stop() error {
	var crashed error
	if !p.alive() {
		crashed = fmt.Errorf("%s (pid %d) had exited by itself: %s", p.Name, p.PID, p.logTail())
	} else {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-p.exited
		}
	}
	p.logf.Close()
	os.RemoveAll(p.root)
	return crashed
}

// logTail returns the last lines of the server's log, for error messages.
func (p *serverProc) logTail() string {
	b, err := os.ReadFile(p.logf.Name())
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-3):], " | ")
}

// procStatusField returns the value of field (for example "VmRSS") in the
// text of a /proc/PID/status file.
func procStatusField(status, field string) (string, bool) {
	for _, line := range strings.Split(status, "\n") {
		name, val, ok := strings.Cut(line, ":")
		if ok && name == field {
			return strings.TrimSpace(val), true
		}
	}
	return "", false
}

// parseKB parses a /proc size such as "12345 kB" into bytes.
func parseKB(v string) (int64, error) {
	num, unit, _ := strings.Cut(v, " ")
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || strings.TrimSpace(unit) != "kB" {
		return 0, fmt.Errorf("unexpected /proc size %q", v)
	}
	return n * 1024, nil
}

// status returns field from the server's /proc/PID/status.
func (p *serverProc) status(field string) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.PID))
	if err != nil {
		return "", err
	}
	v, ok := procStatusField(string(b), field)
	if !ok {
		return "", fmt.Errorf("/proc/%d/status has no %s", p.PID, field)
	}
	return v, nil
}

// rss returns the server's resident set size in bytes (VmRSS).
func (p *serverProc) rss() (int64, error) {
	v, err := p.status("VmRSS")
	if err != nil {
		return 0, err
	}
	return parseKB(v)
}

// errNoInfoField reports an INFO reply without the wanted field.
var errNoInfoField = errors.New("field not in INFO reply")

// infoField returns the integer value of field in an INFO reply
// ("field:value" lines, "# Section" headers).
func infoField(info, field string) (int64, error) {
	for _, line := range strings.Split(info, "\n") {
		name, val, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && name == field {
			return strconv.ParseInt(val, 10, 64)
		}
	}
	return 0, fmt.Errorf("%s: %w", field, errNoInfoField)
}

// usedMemory returns used_memory from the server's INFO memory.
func (p *serverProc) usedMemory(ctx context.Context) (int64, error) {
	c, err := Dial(ctx, p.Addr, 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	rep, err := c.Do("INFO", "memory")
	if err != nil {
		return 0, fmt.Errorf("INFO memory: %w", err)
	}
	return infoField(rep.Str, "used_memory")
}

// dbsize returns the server's DBSIZE.
func (p *serverProc) dbsize(ctx context.Context) (int64, error) {
	c, err := Dial(ctx, p.Addr, 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	rep, err := c.Do("DBSIZE")
	if err != nil {
		return 0, fmt.Errorf("DBSIZE: %w", err)
	}
	return rep.Int, nil
}
