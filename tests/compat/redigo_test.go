package compat

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
)

// redigoPool returns a redigo pool for n configured as web apps use it.
func redigoPool(t testing.TB, n *node) *redis.Pool {
	t.Helper()
	p := &redis.Pool{
		MaxIdle:     4,
		IdleTimeout: time.Minute,
		Dial: func() (redis.Conn, error) {
			return redis.Dial("tcp", n.addr,
				redis.DialConnectTimeout(5*time.Second),
				redis.DialReadTimeout(30*time.Second),
				redis.DialWriteTimeout(30*time.Second))
		},
		TestOnBorrow: func(c redis.Conn, last time.Time) error {
			if time.Since(last) < time.Minute {
				return nil
			}
			_, err := c.Do("PING")
			return err
		},
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// redigoConn borrows a connection that is returned when the test ends.
func redigoConn(t testing.TB, p *redis.Pool) redis.Conn {
	t.Helper()
	c := p.Get()
	if err := c.Err(); err != nil {
		t.Fatalf("redigo: get connection: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestRedigoSessionLifecycle runs the session life cycle with redigo
// (RESP2): MULTI HSET+EXPIRE, SET EX, read, touch, update, WATCH, delete,
// SCAN.
func TestRedigoSessionLifecycle(t *testing.T) {
	n := startNode(t)
	pool := redigoPool(t, n)
	c := redigoConn(t, pool)

	noise := []string{"user:1", "session-count", "xsess:1"}
	for _, k := range noise {
		if got, err := redis.String(c.Do("SET", k, "noise")); err != nil || got != "OK" {
			t.Fatalf("SET %s = %q, %v", k, got, err)
		}
	}

	// Create: hash sessions in MULTI/EXEC, JSON sessions with SET EX.
	hashIDs, jsonIDs := sessionIDs("h", hashSessions), sessionIDs("j", jsonSessions)
	want := map[string]bool{}
	for i, id := range hashIDs {
		key := "sess:" + id
		c.Send("MULTI")
		c.Send("HSET", key, "user", "u"+strconv.Itoa(i), "csrf", "tok-"+id, "created", "1700000000")
		c.Send("EXPIRE", key, sessionTTL)
		res, err := redis.Values(c.Do("EXEC"))
		if err != nil {
			t.Fatalf("create %s: MULTI HSET EXPIRE EXEC: %v", key, err)
		}
		if len(res) != 2 || res[0] != int64(3) || res[1] != int64(1) {
			t.Fatalf("create %s: EXEC = %#v, want [3 1]", key, res)
		}
		want[key] = true
	}
	for i, id := range jsonIDs {
		key := "sess:" + id
		if got, err := redis.String(c.Do("SET", key, sessionJSON(i, "tok-"+id), "EX", sessionTTL)); err != nil || got != "OK" {
			t.Fatalf("create %s: SET EX = %q, %v", key, got, err)
		}
		want[key] = true
	}

	// Read, pipelined as redigo users batch reads.
	for _, id := range hashIDs {
		c.Send("HGETALL", "sess:"+id)
	}
	if err := c.Flush(); err != nil {
		t.Fatalf("flush: %v", err)
	}
	for i, id := range hashIDs {
		got, err := redis.StringMap(c.Receive())
		exp := map[string]string{"user": "u" + strconv.Itoa(i), "csrf": "tok-" + id, "created": "1700000000"}
		if err != nil || !equalMaps(got, exp) {
			t.Fatalf("HGETALL sess:%s = %v, %v; want %v", id, got, err, exp)
		}
	}
	for i, id := range jsonIDs {
		if got, err := redis.String(c.Do("GET", "sess:"+id)); err != nil || got != sessionJSON(i, "tok-"+id) {
			t.Fatalf("GET sess:%s = %q, %v", id, got, err)
		}
	}
	if got, err := redis.String(c.Do("GET", "sess:missing")); !errors.Is(err, redis.ErrNil) {
		t.Fatalf("GET of a missing session = %q, %v; want redis.ErrNil", got, err)
	}
	if got, err := redis.StringMap(c.Do("HGETALL", "sess:missing")); err != nil || len(got) != 0 {
		t.Fatalf("HGETALL of a missing session = %v, %v; want empty", got, err)
	}

	// TTLs.
	hk, jk := "sess:"+hashIDs[0], "sess:"+jsonIDs[0]
	checkRedigoTTL(t, c, hk, sessionTTL)
	checkRedigoTTL(t, c, jk, sessionTTL)
	if got, err := redis.Int64(c.Do("TTL", "sess:missing")); err != nil || got != -2 {
		t.Fatalf("TTL of a missing key = %d, %v; want -2", got, err)
	}
	if got, err := redis.Int64(c.Do("TTL", noise[0])); err != nil || got != -1 {
		t.Fatalf("TTL of a key without expiry = %d, %v; want -1", got, err)
	}

	// Touch.
	if got, err := redis.Int(c.Do("EXPIRE", hk, touchedTTL)); err != nil || got != 1 {
		t.Fatalf("touch: EXPIRE %s = %d, %v; want 1", hk, got, err)
	}
	checkRedigoTTL(t, c, hk, touchedTTL)
	if got, err := redis.String(c.Do("GETEX", jk, "EX", touchedTTL)); err != nil || got != sessionJSON(0, "tok-"+jsonIDs[0]) {
		t.Fatalf("touch: GETEX %s EX = %q, %v", jk, got, err)
	}
	checkRedigoTTL(t, c, jk, touchedTTL)
	if got, err := redis.Int(c.Do("EXPIRE", "sess:missing", touchedTTL)); err != nil || got != 0 {
		t.Fatalf("touch: EXPIRE of a missing key = %d, %v; want 0", got, err)
	}

	// Update fields.
	if got, err := redis.Int(c.Do("HSET", hk, "csrf", "rotated", "last_seen", "1700000100")); err != nil || got != 1 {
		t.Fatalf("update: HSET = %d, %v; want 1", got, err)
	}
	if got, err := redis.String(c.Do("HMSET", hk, "theme", "dark")); err != nil || got != "OK" {
		t.Fatalf("update: HMSET = %q, %v; want OK", got, err)
	}
	if got, err := redis.StringMap(c.Do("HGETALL", hk)); err != nil || got["csrf"] != "rotated" || got["theme"] != "dark" || len(got) != 5 {
		t.Fatalf("update: HGETALL = %v, %v; want 5 fields with csrf=rotated theme=dark", got, err)
	}
	checkRedigoTTL(t, c, hk, touchedTTL)

	// Optimistic update with WATCH/MULTI/EXEC on a second connection.
	other := redigoConn(t, pool)
	if _, err := c.Do("WATCH", hk); err != nil {
		t.Fatalf("WATCH: %v", err)
	}
	theme, err := redis.String(c.Do("HGET", hk, "theme"))
	if err != nil || theme != "dark" {
		t.Fatalf("HGET theme = %q, %v", theme, err)
	}
	c.Send("MULTI")
	c.Send("HSET", hk, "theme", "light")
	if res, err := redis.Values(c.Do("EXEC")); err != nil || len(res) != 1 || res[0] != int64(0) {
		t.Fatalf("EXEC of an undisturbed WATCH = %#v, %v; want [0]", res, err)
	}
	if _, err := c.Do("WATCH", hk); err != nil {
		t.Fatalf("WATCH: %v", err)
	}
	if _, err := other.Do("HSET", hk, "theme", "other"); err != nil {
		t.Fatalf("HSET on the other connection: %v", err)
	}
	c.Send("MULTI")
	c.Send("HSET", hk, "theme", "mine")
	if res, err := redis.Values(c.Do("EXEC")); !errors.Is(err, redis.ErrNil) {
		t.Fatalf("EXEC after a concurrent write = %#v, %v; want a nil reply (aborted)", res, err)
	}
	if got, err := redis.String(c.Do("HGET", hk, "theme")); err != nil || got != "other" {
		t.Fatalf("HGET theme after aborted EXEC = %q, %v; want other", got, err)
	}

	// Delete.
	for _, id := range hashIDs[:10] {
		if got, err := redis.Int(c.Do("DEL", "sess:"+id)); err != nil || got != 1 {
			t.Fatalf("DEL sess:%s = %d, %v; want 1", id, got, err)
		}
		delete(want, "sess:"+id)
	}
	args := redis.Args{}
	for _, id := range jsonIDs[:10] {
		args = args.Add("sess:" + id)
		delete(want, "sess:"+id)
	}
	if got, err := redis.Int(c.Do("UNLINK", args...)); err != nil || got != 10 {
		t.Fatalf("UNLINK of 10 sessions = %d, %v; want 10", got, err)
	}

	// Scan.
	got := map[string]bool{}
	cursor := "0"
	for calls := 0; ; calls++ {
		if calls > 10000 {
			t.Fatalf("SCAN did not return cursor 0 after %d calls", calls)
		}
		res, err := redis.Values(c.Do("SCAN", cursor, "MATCH", "sess:*", "COUNT", scanCount))
		if err != nil || len(res) != 2 {
			t.Fatalf("SCAN %s = %#v, %v", cursor, res, err)
		}
		cursor, err = redis.String(res[0], nil)
		if err != nil {
			t.Fatalf("SCAN cursor %#v: %v", res[0], err)
		}
		keys, err := redis.Strings(res[1], nil)
		if err != nil {
			t.Fatalf("SCAN keys %#v: %v", res[1], err)
		}
		for _, k := range keys {
			got[k] = true
		}
		if cursor == "0" {
			break
		}
	}
	if missing, extra := setDiff(got, want); len(missing)+len(extra) > 0 {
		t.Fatalf("SCAN MATCH sess:* found %d keys, want %d: missing %v, unexpected %v", len(got), len(want), firstN(missing, 10), firstN(extra, 10))
	}
}

// checkRedigoTTL fails the test unless key's TTL is within ttlSlack
// seconds below set.
func checkRedigoTTL(t *testing.T, c redis.Conn, key string, set int64) {
	t.Helper()
	got, err := redis.Int64(c.Do("TTL", key))
	if err != nil || !ttlInRange(got, set) {
		t.Fatalf("TTL %s = %d, %v; want within %ds below %d", key, got, err, ttlSlack, set)
	}
}

// TestRedigoSessionStoreTypes is the part of a redigo session store that
// goes beyond strings and hashes: a per-user index set, an expirations
// sorted set, a flash-message list, and a lock released by redigo's
// Script (EVALSHA, falling back to EVAL on NOSCRIPT).
func TestRedigoSessionStoreTypes(t *testing.T) {
	n := startNode(t)
	c := redigoConn(t, redigoPool(t, n))
	for _, id := range []string{"s1", "s2", "s3"} {
		if _, err := c.Do("SADD", "user:42:sessions", id); err != nil {
			t.Fatalf("SADD: %v", err)
		}
	}
	ids, err := redis.Strings(c.Do("SMEMBERS", "user:42:sessions"))
	if err != nil || len(ids) != 3 {
		t.Fatalf("SMEMBERS = %v, %v", ids, err)
	}
	for i, id := range []string{"s1", "s2", "s3"} {
		if _, err := c.Do("ZADD", "sessions:by-expiry", 1700000000+i, id); err != nil {
			t.Fatalf("ZADD: %v", err)
		}
	}
	due, err := redis.Strings(c.Do("ZRANGEBYSCORE", "sessions:by-expiry", "-inf", 1700000001))
	if err != nil || len(due) != 2 || due[0] != "s1" || due[1] != "s2" {
		t.Fatalf("ZRANGEBYSCORE = %v, %v", due, err)
	}
	if n, err := redis.Int(c.Do("ZREM", "sessions:by-expiry", "s1", "s2")); err != nil || n != 2 {
		t.Fatalf("ZREM = %d, %v", n, err)
	}
	if _, err := c.Do("RPUSH", "session:s3:flash", "saved", "welcome"); err != nil {
		t.Fatal(err)
	}
	msgs, err := redis.Strings(c.Do("LRANGE", "session:s3:flash", 0, -1))
	if err != nil || len(msgs) != 2 || msgs[0] != "saved" {
		t.Fatalf("LRANGE = %v, %v", msgs, err)
	}
	if _, err := c.Do("DEL", "session:s3:flash"); err != nil {
		t.Fatal(err)
	}
	release := redis.NewScript(1, releaseLock)
	if _, err := c.Do("SET", "lock:s3", "tok", "NX", "PX", 30000); err != nil {
		t.Fatal(err)
	}
	if n, err := redis.Int(release.Do(c, "lock:s3", "other")); err != nil || n != 0 {
		t.Fatalf("release with another token = %d, %v", n, err)
	}
	if n, err := redis.Int(release.Do(c, "lock:s3", "tok")); err != nil || n != 1 {
		t.Fatalf("release = %d, %v", n, err)
	}
	if ex, err := redis.Int(c.Do("EXISTS", "lock:s3")); err != nil || ex != 0 {
		t.Fatalf("lock still there: %d, %v", ex, err)
	}
}
