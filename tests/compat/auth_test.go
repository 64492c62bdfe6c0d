package compat

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	redigo "github.com/gomodule/redigo/redis"
	"github.com/redis/go-redis/v9"
)

// TestRequirePass checks that every client authenticates the way it does
// in production against a server started with --requirepass, and that a
// missing or wrong password is refused with Redis's errors.
func TestRequirePass(t *testing.T) {
	const pass = "s3cret"
	n := startNode(t, "--requirepass", pass)

	for _, proto := range protocols {
		t.Run(fmt.Sprintf("GoRedisRESP%d", proto), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			c := redis.NewClient(&redis.Options{Addr: n.addr, Protocol: proto, Password: pass, MaxRetries: -1, ClientName: "sessions"})
			defer c.Close()
			if err := c.Set(ctx, "sess:auth", "v", sessionTTL*time.Second).Err(); err != nil {
				t.Fatalf("SET with the password: %v", err)
			}
			hello, err := c.Do(ctx, "HELLO").Result()
			if err != nil {
				t.Fatalf("HELLO: %v", err)
			}
			if got, _ := helloField(hello, "proto"); got != int64(proto) {
				t.Fatalf("HELLO proto = %v, want %d: go-redis did not negotiate RESP%d with HELLO AUTH", got, proto, proto)
			}
			if got, err := c.ClientGetName(ctx).Result(); err != nil || got != "sessions" {
				t.Fatalf("CLIENT GETNAME = %q, %v; want the ClientName option, sessions", got, err)
			}
			for _, bad := range []struct{ password, want string }{{"", "NOAUTH "}, {pass + "x", "WRONGPASS "}} {
				b := redis.NewClient(&redis.Options{Addr: n.addr, Protocol: proto, Password: bad.password, MaxRetries: -1})
				err := b.Get(ctx, "sess:auth").Err()
				b.Close()
				if err == nil || !strings.Contains(err.Error(), bad.want) {
					t.Errorf("GET with password %q = %v; want a %s error", bad.password, err, strings.TrimSpace(bad.want))
				}
			}
		})
	}

	t.Run("Redigo", func(t *testing.T) {
		c, err := redigo.Dial("tcp", n.addr, redigo.DialPassword(pass), redigo.DialReadTimeout(30*time.Second))
		if err != nil {
			t.Fatalf("dial with the password: %v", err)
		}
		defer c.Close()
		if got, err := redigo.String(c.Do("GET", "sess:auth")); err != nil || got != "v" {
			t.Fatalf("GET = %q, %v; want v", got, err)
		}
		if _, err := redigo.Dial("tcp", n.addr, redigo.DialPassword("wrong")); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
			t.Fatalf("dial with a wrong password: %v; want WRONGPASS", err)
		}
	})

	t.Run("RedisCLI", func(t *testing.T) {
		cli := needTool(t, "redis-cli", "redis-tools")
		args := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(n.port), "GET", "sess:auth"}
		res := run(t, time.Minute, "", append([]string{"REDISCLI_AUTH=" + pass}, cliEnv...), cli, args...)
		if res.err != nil || res.stderr != "" || res.stdout != "v\n" {
			t.Fatalf("REDISCLI_AUTH=... redis-cli GET = %q, stderr %q, %v; want v", res.stdout, res.stderr, res.err)
		}
		res = run(t, time.Minute, "", cliEnv, cli, args...)
		if !strings.HasPrefix(res.stdout, "NOAUTH ") {
			t.Fatalf("redis-cli GET without a password = %q, stderr %q; want NOAUTH", res.stdout, res.stderr)
		}
	})

	t.Run("RedisPy", func(t *testing.T) {
		needRedisPy(t)
		res := run(t, time.Minute, "", nil, systemPython, "testdata/auth.py", strconv.Itoa(n.port), pass)
		if res.err != nil || !strings.Contains(res.stdout, "ok: redis-py") {
			t.Fatalf("redis-py with requirepass: %v\nstdout:\n%s\nstderr:\n%s", res.err, res.stdout, res.stderr)
		}
	})
}
