package compat

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// systemPython is Debian's interpreter, which sees the python3-redis
// package (a pyenv python earlier on PATH does not).
const systemPython = "/usr/bin/python3"

// probeRedisPy prints redis-py's version and whether redis.Redis takes a
// protocol argument (redis-py 5 and later: RESP3 support).
const probeRedisPy = `import inspect, redis
print(redis.__version__, "protocol" in inspect.signature(redis.Redis.__init__).parameters)`

// needRedisPy skips the test (fails it when CI=true) unless
// /usr/bin/python3 can import redis. It returns redis-py's version and
// whether it speaks RESP3.
func needRedisPy(t *testing.T) (version string, resp3 bool) {
	t.Helper()
	res := run(t, time.Minute, "", nil, systemPython, "-c", probeRedisPy)
	if f := strings.Fields(res.stdout); res.err == nil && len(f) == 2 {
		return f[0], f[1] == "True"
	}
	msg := fmt.Sprintf("%s cannot import redis (install Debian package python3-redis, or run `make deps`): %v %s", systemPython, res.err, strings.TrimSpace(res.stderr))
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip("SKIP: " + msg)
	return "", false
}

// TestRedisPy runs testdata/session_lifecycle.py, the session life cycle
// in redis-py, against a fresh server for each protocol the installed
// redis-py speaks.
func TestRedisPy(t *testing.T) {
	version, resp3 := needRedisPy(t)
	for _, proto := range protocols {
		t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) {
			if proto == 3 && !resp3 {
				t.Skipf("SKIP: redis-py %s does not support protocol=3 (redis-py 5 does)", version)
			}
			n := startNode(t)
			res := run(t, 3*time.Minute, "", nil, systemPython, "testdata/session_lifecycle.py", strconv.Itoa(n.port), strconv.Itoa(proto))
			var exit *exec.ExitError
			if errors.As(res.err, &exit) && exit.ExitCode() == 77 {
				t.Skipf("redis-py %s: %s", version, strings.TrimSpace(res.stdout))
			}
			if res.err != nil {
				t.Fatalf("redis-py %s life cycle (protocol %d): %v\nstdout:\n%s\nstderr:\n%s", version, proto, res.err, res.stdout, res.stderr)
			}
			if !strings.Contains(res.stdout, "ok: redis-py") {
				t.Fatalf("redis-py life cycle ended without its ok line:\nstdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
			}
			t.Log(strings.TrimSpace(res.stdout))
		})
	}
}
