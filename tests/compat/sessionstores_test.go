package compat

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The code paths of popular session stores, against the real binary:
// Spring Session's indexed repository, a phpredis-style lock, django-redis's
// EVAL increments, redis-py's Lock (testdata/redispy_lock.py), and
// redis-benchmark's default test list.

// releaseLock is the compare-and-delete every Redis lock library sends.
const releaseLock = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`

// TestSpringSessionFlow follows Spring Session's RedisIndexedSessionRepository:
// the session hash (HMSET + EXPIRE), the principal index (SADD), the
// expirations bucket (ZADD of the session id at its expiry), and a
// subscription to expired key events, which must report the session key
// once it times out, without anybody reading it.
func TestSpringSessionFlow(t *testing.T) {
	for _, proto := range protocols {
		t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) {
			n := startNode(t)
			c := goRedisClient(t, n, proto)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := c.ConfigSet(ctx, "notify-keyspace-events", "Egx").Err(); err != nil {
				t.Fatalf("CONFIG SET notify-keyspace-events: %v", err)
			}
			sub := c.PSubscribe(ctx, "__keyevent@*__:expired", "__keyevent@*__:del")
			defer sub.Close()
			if _, err := sub.Receive(ctx); err != nil {
				t.Fatalf("PSUBSCRIBE: %v", err)
			}
			const id = "4f2b7c1e-1111-2222-3333-444455556666"
			sessKey := "spring:session:sessions:" + id
			expKey := "spring:session:sessions:expires:" + id
			idx := "spring:session:index:org.springframework.session.FindByIndexNameSessionRepository.PRINCIPAL_NAME_INDEX_NAME:alice"
			now := time.Now().UnixMilli()
			if err := c.HMSet(ctx, sessKey, "creationTime", now, "lastAccessedTime", now,
				"maxInactiveInterval", 1, "sessionAttr:user", "alice").Err(); err != nil {
				t.Fatalf("HMSET: %v", err)
			}
			if err := c.Expire(ctx, sessKey, time.Hour).Err(); err != nil {
				t.Fatalf("EXPIRE: %v", err)
			}
			if err := c.Set(ctx, expKey, "", 0).Err(); err != nil {
				t.Fatal(err)
			}
			if err := c.PExpire(ctx, expKey, 300*time.Millisecond).Err(); err != nil {
				t.Fatalf("PEXPIRE: %v", err)
			}
			if err := c.SAdd(ctx, idx, id).Err(); err != nil {
				t.Fatalf("SADD: %v", err)
			}
			bucket := "spring:session:expirations:" + strconv.FormatInt((now/60000+1)*60000, 10)
			if err := c.ZAdd(ctx, bucket, redis.Z{Score: float64(now + 1000), Member: expKey}).Err(); err != nil {
				t.Fatalf("ZADD: %v", err)
			}
			if m, err := c.SMembers(ctx, idx).Result(); err != nil || len(m) != 1 || m[0] != id {
				t.Fatalf("SMEMBERS = %v, %v", m, err)
			}
			if m, err := c.ZRangeByScore(ctx, bucket, &redis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(now+2000, 10)}).Result(); err != nil || len(m) != 1 || m[0] != expKey {
				t.Fatalf("ZRANGEBYSCORE = %v, %v", m, err)
			}
			// Nobody reads expKey: the expired event must still come.
			for {
				msg, err := sub.ReceiveMessage(ctx)
				if err != nil {
					t.Fatalf("no expired event for %s: %v", expKey, err)
				}
				if strings.HasSuffix(msg.Channel, ":expired") && msg.Payload == expKey {
					break
				}
			}
			// The listener cleans up as Spring does.
			if err := c.SRem(ctx, idx, id).Err(); err != nil {
				t.Fatal(err)
			}
			if err := c.ZRem(ctx, bucket, expKey).Err(); err != nil {
				t.Fatal(err)
			}
			if err := c.Del(ctx, sessKey).Err(); err != nil {
				t.Fatal(err)
			}
			// SREM and ZREM emptied their keys: del events for them too.
			dels := map[string]bool{}
			for !dels[sessKey] {
				msg, err := sub.ReceiveMessage(ctx)
				if err != nil {
					t.Fatalf("del events %v, then: %v", dels, err)
				}
				if strings.HasSuffix(msg.Channel, ":del") {
					dels[msg.Payload] = true
				}
			}
			if !dels[idx] || !dels[bucket] || len(dels) != 3 {
				t.Fatalf("del events for %v, want the index, the bucket and the session", dels)
			}
			if n, err := c.Exists(ctx, idx, bucket, sessKey).Result(); err != nil || n != 0 {
				t.Fatalf("after cleanup EXISTS = %d, %v", n, err)
			}
		})
	}
}

// TestPhpRedisLock is phpredis's session locking: SET NX PX to take the
// lock, a Lua compare-and-delete to release it, by EVAL and by EVALSHA.
func TestPhpRedisLock(t *testing.T) {
	n := startNode(t)
	c := goRedisClient(t, n, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const key = "PHPREDIS_SESSION:abc123_LOCK"
	if ok, err := c.SetNX(ctx, key, "token-1", 30*time.Second).Result(); err != nil || !ok {
		t.Fatalf("first SET NX PX = %v, %v", ok, err)
	}
	if ok, err := c.SetNX(ctx, key, "token-2", 30*time.Second).Result(); err != nil || ok {
		t.Fatalf("second SET NX PX = %v, %v (the lock is held)", ok, err)
	}
	if n, err := c.Eval(ctx, releaseLock, []string{key}, "token-2").Int(); err != nil || n != 0 {
		t.Fatalf("release with another token = %d, %v", n, err)
	}
	if n, err := c.Eval(ctx, releaseLock, []string{key}, "token-1").Int(); err != nil || n != 1 {
		t.Fatalf("release = %d, %v", n, err)
	}
	sha, err := c.ScriptLoad(ctx, releaseLock).Result()
	if err != nil {
		t.Fatalf("SCRIPT LOAD: %v", err)
	}
	if err := c.Set(ctx, key, "token-3", 30*time.Second).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := c.EvalSha(ctx, sha, []string{key}, "token-3").Int(); err != nil || n != 1 {
		t.Fatalf("EVALSHA release = %d, %v", n, err)
	}
	if err := c.EvalSha(ctx, strings.Repeat("0", 40), []string{key}).Err(); err == nil || !strings.HasPrefix(err.Error(), "NOSCRIPT") {
		t.Fatalf("EVALSHA of an unknown script: %v", err)
	}
}

// TestDjangoRedisIncr is django-redis's incr: an EVAL that increments a
// key only if it exists, keeping its TTL.
func TestDjangoRedisIncr(t *testing.T) {
	const script = `local exists = redis.call('EXISTS', KEYS[1])
if (exists == 1) then
    return redis.call('INCRBY', KEYS[1], ARGV[1])
else return false end`
	n := startNode(t)
	c := goRedisClient(t, n, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Eval(ctx, script, []string{":1:hits"}, 1).Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("incr of a missing key: %v, want nil", err)
	}
	if err := c.Set(ctx, ":1:hits", 10, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Eval(ctx, script, []string{":1:hits"}, 5).Int(); err != nil || v != 15 {
		t.Fatalf("incr = %d, %v", v, err)
	}
	if ttl, err := c.TTL(ctx, ":1:hits").Result(); err != nil || ttl <= 0 {
		t.Fatalf("TTL after incr = %v, %v", ttl, err)
	}
}

// TestRedisPyLock runs testdata/redispy_lock.py: redis-py's Lock
// (acquire, blocking timeout, extend, reacquire, release: all Lua).
func TestRedisPyLock(t *testing.T) {
	version, _ := needRedisPy(t)
	n := startNode(t)
	res := run(t, 2*time.Minute, "", nil, systemPython, "testdata/redispy_lock.py", strconv.Itoa(n.port))
	var exit *exec.ExitError
	if errors.As(res.err, &exit) && exit.ExitCode() == 77 {
		t.Skipf("redis-py %s: %s", version, strings.TrimSpace(res.stdout))
	}
	if res.err != nil || !strings.Contains(res.stdout, "ok: redis-py lock") {
		t.Fatalf("redis-py %s Lock: %v\nstdout:\n%s\nstderr:\n%s", version, res.err, res.stdout, res.stderr)
	}
}

// TestRedisBenchmarkDefaultTests runs redis-benchmark with no -t: its
// default list (PING, SET, GET, INCR, LPUSH, RPUSH, LPOP, RPOP, SADD,
// HSET, SPOP, ZADD, ZPOPMIN, LRANGE_100..600, MSET) must complete with a
// throughput line for every test and no error.
func TestRedisBenchmarkDefaultTests(t *testing.T) {
	bench := needTool(t, "redis-benchmark", "redis-tools")
	n := startNode(t)
	args := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(n.port), "-n", "2000", "-q", "--csv"}
	res := run(t, 5*time.Minute, "", nil, bench, args...)
	report := "redis-benchmark " + strings.Join(args, " ") + "\nstdout:\n" + res.stdout + "\nstderr:\n" + res.stderr
	if res.err != nil || res.stderr != "" {
		t.Fatalf("%v\n%s", res.err, report)
	}
	rows, err := csv.NewReader(strings.NewReader(res.stdout)).ReadAll()
	if err != nil {
		t.Fatalf("CSV: %v\n%s", err, report)
	}
	seen := map[string]bool{}
	for _, r := range rows[1:] {
		if rps, err := strconv.ParseFloat(r[1], 64); err != nil || rps <= 0 {
			t.Errorf("test %q: requests per second %q", r[0], r[1])
		}
		seen[strings.Fields(r[0])[0]] = true
	}
	for _, want := range []string{"PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "LPUSH", "RPUSH", "LPOP", "RPOP",
		"SADD", "HSET", "SPOP", "ZADD", "ZPOPMIN", "LRANGE_100", "LRANGE_300", "LRANGE_500", "LRANGE_600", "MSET"} {
		if !seen[want] {
			t.Errorf("no result for %s\n%s", want, report)
		}
	}
}
