package docker

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

const (
	buildTimeout = 4 * time.Minute  // go build with a cold cache on a busy machine
	cmdTimeout   = 90 * time.Second // one docker or docker-compose command
	cleanTimeout = 60 * time.Second // each cleanup command
)

// node is one compose service: its container and its two addresses.
type node struct {
	service   string // n1, n2, n3
	container string // container ID
	raftIP    string // address on the compose network: Raft and --announce-ip
	clientIP  string // address on the test's client network
}

func (n *node) clientAddr() string { return net.JoinHostPort(n.clientIP, "6379") }
func (n *node) announced() string  { return net.JoinHostPort(n.raftIP, "6379") }

// cluster is one running copy of docker-compose.yml.
type cluster struct {
	t         *testing.T
	file      string   // the compose file
	project   string   // unique docker-compose project name
	env       []string // docker-compose's environment
	raftNet   string   // the compose network (Raft traffic, announced addresses)
	clientNet string   // the test's internal network, host <-> nodes only
	nodes     []*node
}

// requireDocker skips the test, with a message that says why, under
// -short, off Linux, or without a working Docker engine and docker-compose.
func requireDocker(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("SKIP: -short: the Docker test builds an image and runs a three-node cluster")
	}
	if runtime.GOOS != "linux" {
		t.Skipf("SKIP: needs Linux, where the host reaches containers at their addresses (GOOS=%s)", runtime.GOOS)
	}
	for _, tool := range []string{"docker", "docker-compose"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("SKIP: no Docker engine: %s is not installed: %v", tool, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := command(ctx, nil, "docker", "info", "--format", "{{.ServerVersion}}"); err != nil {
		t.Skipf("SKIP: no Docker engine: %v", err)
	}
}

// command runs name with args (env nil: the test's environment) and
// returns its standard output; an error carries the standard error.
func command(ctx context.Context, env []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w\n%s%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// mustRun runs a command with cmdTimeout and fails the test if it fails.
func mustRun(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	out, err := command(ctx, env, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// cleanup runs a command at the end of the test, also after a failure,
// and reports (without failing the test) if it fails.
func cleanup(t *testing.T, name string, args ...string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanTimeout)
		defer cancel()
		if _, err := command(ctx, nil, name, args...); err != nil {
			t.Logf("cleanup: %v", err)
		}
	})
}

func randHex(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[rand.IntN(len(digits))]
	}
	return string(b)
}

// repoRoot is the directory holding go.mod, Dockerfile and
// docker-compose.yml (the test runs in tests/docker).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"go.mod", "Dockerfile", ".dockerignore", "docker-compose.yml"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Fatalf("repository root %s: %v", root, err)
		}
	}
	return root
}

// buildImage builds a static sessiond and an image of it from the
// repository's Dockerfile, in a build context of its own, under a unique
// tag that is removed when the test ends. It returns the tag.
func buildImage(t *testing.T, root string) string {
	t.Helper()
	ctxDir := t.TempDir()
	for _, d := range []string{"bin", filepath.Join("tests", "docker")} {
		if err := os.MkdirAll(filepath.Join(ctxDir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"Dockerfile", ".dockerignore"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ctxDir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := append(os.Environ(), "CGO_ENABLED=0")
	// The flags of `make image`, so that both share the build cache.
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	if _, err := command(ctx, env, "go", "build", "-o", filepath.Join(ctxDir, "bin", "sessiond-static"), "sessiond/cmd/sessiond"); err != nil {
		t.Fatal(err)
	}
	tag := "sessiond-test:" + randHex(12)
	cleanup(t, "docker", "rmi", "-f", tag)
	mustRun(t, nil, "docker", "build", "-q", "-t", tag, ctxDir)
	return tag
}

// usedNets returns the IPv4 networks of every Docker network and every
// host interface.
func usedNets(t *testing.T) []*net.IPNet {
	t.Helper()
	var used []*net.IPNet
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			used = append(used, n)
		}
	}
	ids := strings.Fields(mustRun(t, nil, "docker", "network", "ls", "-q"))
	if len(ids) == 0 {
		return used
	}
	out := mustRun(t, nil, "docker", append([]string{"network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{end}}"}, ids...)...)
	for _, s := range strings.Fields(out) {
		if _, n, err := net.ParseCIDR(s); err == nil {
			used = append(used, n)
		}
	}
	return used
}

// freePrefixes returns k distinct "172.x.y" prefixes (x in 29..31) whose
// /24 overlaps no network in use.
func freePrefixes(t *testing.T, k int) []string {
	t.Helper()
	used := usedNets(t)
	var out []string
	for range 1000 {
		if len(out) == k {
			return out
		}
		p := fmt.Sprintf("172.%d.%d", 29+rand.IntN(3), rand.IntN(256))
		_, cand, _ := net.ParseCIDR(p + ".0/24")
		ok := true
		for _, u := range used {
			if u.Contains(cand.IP) || cand.Contains(u.IP) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, p)
			used = append(used, cand)
		}
	}
	t.Fatalf("no free /24 in 172.29.0.0-172.31.255.0")
	return nil
}

// compose runs docker-compose on the cluster's project.
func (c *cluster) compose(ctx context.Context, args ...string) (string, error) {
	return command(ctx, c.env, "docker-compose", append([]string{"-p", c.project, "-f", c.file}, args...)...)
}

// startCluster starts docker-compose.yml with image under a unique
// project name, on a free subnet, without host ports, and attaches every
// node to a new internal client network. Everything is removed when the
// test ends; on failure the nodes' logs are printed first.
func startCluster(t *testing.T, root, image string) *cluster {
	t.Helper()
	var lastErr error
	for range 3 { // a subnet can be taken between the check and the use
		nets := freePrefixes(t, 2)
		c := &cluster{t: t, file: filepath.Join(root, "docker-compose.yml"), project: "sessiondtest" + randHex(8)}
		c.env = append(os.Environ(), "SESSIOND_IMAGE="+image, "SESSIOND_NET="+nets[0],
			"SESSIOND_PORT_N1=", "SESSIOND_PORT_N2=", "SESSIOND_PORT_N3=")
		c.raftNet = c.project + "_sessiond"
		c.clientNet = c.project + "_client"
		for i, s := range []string{"n1", "n2", "n3"} {
			c.nodes = append(c.nodes, &node{service: s,
				raftIP: fmt.Sprintf("%s.%d", nets[0], 11+i), clientIP: fmt.Sprintf("%s.%d", nets[1], 11+i)})
		}
		cleanup(t, "docker", "network", "rm", c.clientNet) // runs after down
		t.Cleanup(c.down)
		ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
		_, err := command(ctx, nil, "docker", "network", "create", "--internal",
			"--subnet", nets[1]+".0/24", "--label", "sessiond-test="+c.project, c.clientNet)
		if err == nil {
			_, err = c.compose(ctx, "up", "-d", "--no-build")
		}
		cancel()
		if err != nil {
			lastErr = err
			if strings.Contains(err.Error(), "overlap") {
				continue
			}
			t.Fatal(err)
		}
		for _, n := range c.nodes {
			n.container = strings.TrimSpace(mustRun(t, c.env, "docker-compose", "-p", c.project, "-f", c.file, "ps", "-q", n.service))
			if n.container == "" {
				t.Fatalf("docker-compose ps: no container for %s", n.service)
			}
			mustRun(t, nil, "docker", "network", "connect", "--ip", n.clientIP, c.clientNet, n.container)
		}
		return c
	}
	t.Fatalf("compose up: %v", lastErr)
	return nil
}

// down prints the logs if the test failed, then removes the project's
// containers, network and volumes.
func (c *cluster) down() {
	ctx, cancel := context.WithTimeout(context.Background(), cleanTimeout)
	defer cancel()
	if c.t.Failed() {
		if out, err := c.compose(ctx, "logs", "--no-color", "--tail", "150"); err == nil {
			c.t.Logf("--- docker-compose logs:\n%s", out)
		}
	}
	if _, err := c.compose(ctx, "down", "-v", "--timeout", "10"); err != nil {
		c.t.Logf("cleanup: %v", err)
	}
}

// partition cuts n off the compose network; the client network stays.
func (c *cluster) partition(n *node) {
	c.t.Helper()
	mustRun(c.t, nil, "docker", "network", "disconnect", c.raftNet, n.container)
}

// heal reconnects n to the compose network with its former address.
func (c *cluster) heal(n *node) {
	c.t.Helper()
	mustRun(c.t, nil, "docker", "network", "connect", "--ip", n.raftIP, c.raftNet, n.container)
}

// checkNoCrash fails the test if a node's container was restarted (the
// compose file says restart: unless-stopped) or a log shows a panic.
func (c *cluster) checkNoCrash() {
	c.t.Helper()
	for _, n := range c.nodes {
		out := mustRun(c.t, nil, "docker", "inspect", "-f", "{{.RestartCount}} {{.State.Status}}", n.container)
		if got := strings.TrimSpace(out); got != "0 running" {
			c.t.Errorf("%s: restart count and state %q, want \"0 running\"", n.service, got)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	out, err := c.compose(ctx, "logs", "--no-color")
	if err != nil {
		c.t.Error(err)
		return
	}
	for _, bad := range []string{"panic:", "fatal error:"} {
		if i := strings.Index(out, bad); i >= 0 {
			c.t.Errorf("logs show %q:\n%s", bad, out[i:min(len(out), i+2000)])
		}
	}
}
