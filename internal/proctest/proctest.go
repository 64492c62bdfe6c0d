// Package proctest holds what the tests that run real server processes
// share: a goroutine-safe buffer for a process's output and free loopback
// ports. It is imported by tests only.
package proctest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

// Output collects a process's stdout and stderr, which the process
// writes from two goroutines while a test reads it.
type Output struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

// String returns everything written so far.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// FreePorts returns k distinct TCP ports that were free on 127.0.0.1 a
// moment ago (all probed at once, so they differ). Another process may
// take one before the caller binds it: callers retry on "address already
// in use".
func FreePorts(k int) ([]int, error) {
	ports := make([]int, 0, k)
	for range k {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("probe port: %w", err)
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// BuildSessiond builds cmd/sessiond into dir (with the race detector when
// race is set) and returns the binary's path. The build's output goes to
// os.Stderr.
func BuildSessiond(ctx context.Context, dir string, race bool) (string, error) {
	bin := filepath.Join(dir, "sessiond")
	args := []string{"build", "-o", bin}
	if race {
		args = append(args, "-race") // the server then reports data races and exits 66
	}
	build := exec.CommandContext(ctx, "go", append(args, "sessiond/cmd/sessiond")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("building sessiond: %w", err)
	}
	return bin, nil
}
