package compat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// protocols are the RESP versions go-redis is tested with.
var protocols = []int{2, 3}

// goRedisClient returns a go-redis client for n speaking RESP proto, with
// go-redis's defaults otherwise (it sends HELLO and CLIENT SETINFO as in
// production). Every new connection checks with HELLO that proto really
// was negotiated: go-redis silently falls back to RESP2 when HELLO 3 is
// refused.
func goRedisClient(t testing.TB, n *node, proto int) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{
		Addr:       n.addr,
		Protocol:   proto,
		MaxRetries: -1, // a retry must not hide a failed command
		OnConnect: func(ctx context.Context, cn *redis.Conn) error {
			v, err := cn.Do(ctx, "HELLO").Result()
			if err != nil {
				return fmt.Errorf("HELLO on a new connection: %w", err)
			}
			got, ok := helloField(v, "proto")
			if !ok || got != int64(proto) {
				return fmt.Errorf("HELLO on a new connection: proto = %v (reply %#v), want %d: RESP%d not negotiated", got, v, proto, proto)
			}
			return nil
		},
	})
	t.Cleanup(func() { c.Close() })
	return c
}

// helloField returns a field of a HELLO reply as go-redis decodes it: a
// map in RESP3, a flat array of name/value pairs in RESP2.
func helloField(v interface{}, name string) (interface{}, bool) {
	switch r := v.(type) {
	case map[interface{}]interface{}:
		x, ok := r[name]
		return x, ok
	case []interface{}:
		for i := 0; i+1 < len(r); i += 2 {
			if r[i] == name {
				return r[i+1], true
			}
		}
	}
	return nil, false
}

func TestGoRedisSessionLifecycle(t *testing.T) {
	for _, proto := range protocols {
		t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) {
			c := goRedisClient(t, startNode(t), proto)
			goRedisLifecycle(t, c)
		})
	}
}

// goRedisLifecycle runs a session store's whole life cycle the way Go
// session libraries use go-redis: hash sessions created with HSET+EXPIRE
// in a MULTI, JSON sessions with SET EX, then read, touch, update, an
// optimistic WATCH update, delete and a full SCAN.
func goRedisLifecycle(t *testing.T, c *redis.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Keys that are not sessions: SCAN MATCH sess:* must skip them.
	noise := []string{"user:1", "session-count", "xsess:1", "sess", "csrf:sess:1"}
	for _, k := range noise {
		if err := c.Set(ctx, k, "noise", 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
	}

	// Create.
	hashIDs, jsonIDs := sessionIDs("h", hashSessions), sessionIDs("j", jsonSessions)
	want := map[string]bool{}
	for i, id := range hashIDs {
		key := "sess:" + id
		cmds, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, key, "user", "u"+strconv.Itoa(i), "csrf", "tok-"+id, "created", "1700000000")
			p.Expire(ctx, key, sessionTTL*time.Second)
			return nil
		})
		if err != nil {
			t.Fatalf("create %s: MULTI HSET+EXPIRE: %v", key, err)
		}
		if got := cmds[0].(*redis.IntCmd).Val(); got != 3 {
			t.Fatalf("create %s: HSET in MULTI = %d, want 3 new fields", key, got)
		}
		if !cmds[1].(*redis.BoolCmd).Val() {
			t.Fatalf("create %s: EXPIRE in MULTI = false, want true", key)
		}
		want[key] = true
	}
	for i, id := range jsonIDs {
		key := "sess:" + id
		if got, err := c.Set(ctx, key, sessionJSON(i, "tok-"+id), sessionTTL*time.Second).Result(); err != nil || got != "OK" {
			t.Fatalf("create %s: SET EX = %q, %v; want OK", key, got, err)
		}
		want[key] = true
	}

	// Create without overwriting (SET NX EX, as stores that must not
	// clobber a colliding id do), and binary-safe, large session data.
	if ok, err := c.SetNX(ctx, "sess:"+jsonIDs[0], "clobbered", sessionTTL*time.Second).Result(); err != nil || ok {
		t.Fatalf("SET NX EX on an existing session = %v, %v; want false", ok, err)
	}
	if ok, err := c.SetNX(ctx, "sess:nx", "fresh", sessionTTL*time.Second).Result(); err != nil || !ok {
		t.Fatalf("SET NX EX on a new session = %v, %v; want true", ok, err)
	}
	want["sess:nx"] = true
	blob := binarySession(256 << 10)
	if err := c.Set(ctx, "sess:blob", blob, sessionTTL*time.Second).Err(); err != nil {
		t.Fatalf("SET of a %d-byte binary session: %v", len(blob), err)
	}
	if err := c.HSet(ctx, "sess:blob-h", "data", blob[:4096], "user", "ü-ß\r\n\x00").Err(); err != nil {
		t.Fatalf("HSET of binary fields: %v", err)
	}
	want["sess:blob"], want["sess:blob-h"] = true, true
	if got, err := c.Get(ctx, "sess:blob").Result(); err != nil || got != blob {
		t.Fatalf("GET of a %d-byte binary session: %d bytes back, equal %v, %v", len(blob), len(got), got == blob, err)
	}
	if got, err := c.HGetAll(ctx, "sess:blob-h").Result(); err != nil || got["data"] != blob[:4096] || got["user"] != "ü-ß\r\n\x00" {
		t.Fatalf("HGETALL of binary fields = %q, %v", got, err)
	}
	if got, err := c.Get(ctx, "sess:"+jsonIDs[0]).Result(); err != nil || got != sessionJSON(0, "tok-"+jsonIDs[0]) {
		t.Fatalf("GET after a refused SET NX = %q, %v; want the original session", got, err)
	}

	// Read.
	for i, id := range hashIDs {
		key := "sess:" + id
		got, err := c.HGetAll(ctx, key).Result()
		if err != nil {
			t.Fatalf("HGETALL %s: %v", key, err)
		}
		exp := map[string]string{"user": "u" + strconv.Itoa(i), "csrf": "tok-" + id, "created": "1700000000"}
		if !equalMaps(got, exp) {
			t.Fatalf("HGETALL %s = %v, want %v", key, got, exp)
		}
	}
	for i, id := range jsonIDs {
		key := "sess:" + id
		got, err := c.Get(ctx, key).Result()
		if err != nil {
			t.Fatalf("GET %s: %v", key, err)
		}
		if got != sessionJSON(i, "tok-"+id) {
			t.Fatalf("GET %s = %q, want %q", key, got, sessionJSON(i, "tok-"+id))
		}
		var s map[string]interface{}
		if err := json.Unmarshal([]byte(got), &s); err != nil || s["csrf"] != "tok-"+id {
			t.Fatalf("GET %s: stored JSON %q does not decode to the session: %v", key, got, err)
		}
	}
	if got, err := c.HGetAll(ctx, "sess:missing").Result(); err != nil || len(got) != 0 {
		t.Fatalf("HGETALL of a missing session = %v, %v; want empty map, no error", got, err)
	}
	if got, err := c.Get(ctx, "sess:missing").Result(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET of a missing session = %q, %v; want redis.Nil", got, err)
	}
	if got, err := c.Exists(ctx, "sess:"+hashIDs[0], "sess:"+jsonIDs[0], "sess:missing").Result(); err != nil || got != 2 {
		t.Fatalf("EXISTS two sessions and a missing one = %d, %v; want 2", got, err)
	}

	// TTL checks.
	hk, jk := "sess:"+hashIDs[0], "sess:"+jsonIDs[0]
	for _, k := range []string{hk, jk} {
		checkGoRedisTTL(ctx, t, c, k, sessionTTL)
		if got, err := c.PTTL(ctx, k).Result(); err != nil || got <= (sessionTTL-ttlSlack)*time.Second || got > sessionTTL*time.Second {
			t.Fatalf("PTTL %s = %v, %v; want within %ds of %ds", k, got, err, ttlSlack, sessionTTL)
		}
	}
	if got, err := c.Do(ctx, "TTL", "sess:missing").Int64(); err != nil || got != -2 {
		t.Fatalf("TTL of a missing key = %d, %v; want -2", got, err)
	}
	if got, err := c.Do(ctx, "TTL", noise[0]).Int64(); err != nil || got != -1 {
		t.Fatalf("TTL of a key without expiry = %d, %v; want -1", got, err)
	}
	if got, err := c.Do(ctx, "TYPE", hk).Text(); err != nil || got != "hash" {
		t.Fatalf("TYPE %s = %q, %v; want hash", hk, got, err)
	}
	if got, err := c.Do(ctx, "TYPE", jk).Text(); err != nil || got != "string" {
		t.Fatalf("TYPE %s = %q, %v; want string", jk, got, err)
	}

	// Touch: EXPIRE for hash sessions, GETEX EX for JSON sessions.
	if ok, err := c.Expire(ctx, hk, touchedTTL*time.Second).Result(); err != nil || !ok {
		t.Fatalf("touch: EXPIRE %s %d = %v, %v; want true", hk, touchedTTL, ok, err)
	}
	checkGoRedisTTL(ctx, t, c, hk, touchedTTL)
	if got, err := c.GetEx(ctx, jk, touchedTTL*time.Second).Result(); err != nil || got != sessionJSON(0, "tok-"+jsonIDs[0]) {
		t.Fatalf("touch: GETEX %s EX %d = %q, %v; want the session", jk, touchedTTL, got, err)
	}
	checkGoRedisTTL(ctx, t, c, jk, touchedTTL)
	if ok, err := c.Expire(ctx, "sess:missing", touchedTTL*time.Second).Result(); err != nil || ok {
		t.Fatalf("touch: EXPIRE of a missing session = %v, %v; want false", ok, err)
	}

	// Update fields: HSET keeps the TTL, SET KEEPTTL too, plain SET EX resets it.
	if got, err := c.HSet(ctx, hk, "csrf", "rotated", "last_seen", "1700000100").Result(); err != nil || got != 1 {
		t.Fatalf("update: HSET %s csrf last_seen = %d, %v; want 1 new field", hk, got, err)
	}
	if got, err := c.HGet(ctx, hk, "csrf").Result(); err != nil || got != "rotated" {
		t.Fatalf("update: HGET %s csrf = %q, %v; want rotated", hk, got, err)
	}
	if got, err := c.HIncrBy(ctx, hk, "hits", 1).Result(); err != nil || got != 1 {
		t.Fatalf("update: HINCRBY %s hits 1 = %d, %v; want 1", hk, got, err)
	}
	if got, err := c.HMGet(ctx, hk, "user", "nosuch", "hits").Result(); err != nil || len(got) != 3 || got[0] != "u0" || got[1] != nil || got[2] != "1" {
		t.Fatalf("update: HMGET %s user nosuch hits = %#v, %v; want [u0 <nil> 1]", hk, got, err)
	}
	if got, err := c.HDel(ctx, hk, "last_seen", "nosuch").Result(); err != nil || got != 1 {
		t.Fatalf("update: HDEL %s last_seen nosuch = %d, %v; want 1", hk, got, err)
	}
	if got, err := c.HLen(ctx, hk).Result(); err != nil || got != 4 {
		t.Fatalf("update: HLEN %s = %d, %v; want 4 (user csrf created hits)", hk, got, err)
	}
	checkGoRedisTTL(ctx, t, c, hk, touchedTTL)
	updated := sessionJSON(0, "rotated")
	if err := c.Set(ctx, jk, updated, redis.KeepTTL).Err(); err != nil {
		t.Fatalf("update: SET %s KEEPTTL: %v", jk, err)
	}
	checkGoRedisTTL(ctx, t, c, jk, touchedTTL)
	if err := c.Set(ctx, jk, updated, sessionTTL*time.Second).Err(); err != nil {
		t.Fatalf("update: SET %s EX: %v", jk, err)
	}
	checkGoRedisTTL(ctx, t, c, jk, sessionTTL)
	if got, err := c.Get(ctx, jk).Result(); err != nil || got != updated {
		t.Fatalf("update: GET %s = %q, %v; want %q", jk, got, err, updated)
	}

	// Optimistic update with WATCH/MULTI.
	err := c.Watch(ctx, func(tx *redis.Tx) error {
		hits, err := tx.HGet(ctx, hk, "hits").Int()
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, hk, "hits", hits+1)
			p.Expire(ctx, hk, sessionTTL*time.Second)
			return nil
		})
		return err
	}, hk)
	if err != nil {
		t.Fatalf("WATCH/MULTI update of %s: %v", hk, err)
	}
	if got, err := c.HGet(ctx, hk, "hits").Result(); err != nil || got != "2" {
		t.Fatalf("after WATCH update: HGET %s hits = %q, %v; want 2", hk, got, err)
	}
	checkGoRedisTTL(ctx, t, c, hk, sessionTTL)

	// Delete: one at a time, then several at once.
	for _, id := range hashIDs[:10] {
		key := "sess:" + id
		if got, err := c.Del(ctx, key).Result(); err != nil || got != 1 {
			t.Fatalf("DEL %s = %d, %v; want 1", key, got, err)
		}
		if got, err := c.Del(ctx, key).Result(); err != nil || got != 0 {
			t.Fatalf("second DEL %s = %d, %v; want 0", key, got, err)
		}
		if got, err := c.HGetAll(ctx, key).Result(); err != nil || len(got) != 0 {
			t.Fatalf("HGETALL of deleted %s = %v, %v; want empty", key, got, err)
		}
		delete(want, key)
	}
	var batch []string
	for _, id := range jsonIDs[:10] {
		batch = append(batch, "sess:"+id)
		delete(want, "sess:"+id)
	}
	batch = append(batch, "sess:missing")
	if got, err := c.Del(ctx, batch...).Result(); err != nil || got != 10 {
		t.Fatalf("DEL of 10 sessions and a missing key = %d, %v; want 10", got, err)
	}
	if got, err := c.Exists(ctx, batch...).Result(); err != nil || got != 0 {
		t.Fatalf("EXISTS of deleted sessions = %d, %v; want 0", got, err)
	}

	// Scan: the cursor loop and go-redis's iterator find exactly the live sessions.
	got := map[string]bool{}
	var cursor uint64
	for calls := 0; ; calls++ {
		if calls > 10000 {
			t.Fatalf("SCAN did not return cursor 0 after %d calls", calls)
		}
		keys, next, err := c.Scan(ctx, cursor, "sess:*", scanCount).Result()
		if err != nil {
			t.Fatalf("SCAN %d MATCH sess:* COUNT %d: %v", cursor, scanCount, err)
		}
		for _, k := range keys {
			got[k] = true
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	if missing, extra := setDiff(got, want); len(missing)+len(extra) > 0 {
		t.Fatalf("SCAN MATCH sess:* found %d keys, want %d: missing %v, unexpected %v", len(got), len(want), firstN(missing, 10), firstN(extra, 10))
	}
	iterated := map[string]bool{}
	it := c.Scan(ctx, 0, "sess:*", scanCount).Iterator()
	for it.Next(ctx) {
		iterated[it.Val()] = true
	}
	if err := it.Err(); err != nil {
		t.Fatalf("SCAN iterator: %v", err)
	}
	if missing, extra := setDiff(iterated, want); len(missing)+len(extra) > 0 {
		t.Fatalf("SCAN iterator found %d keys, want %d: missing %v, unexpected %v", len(iterated), len(want), firstN(missing, 10), firstN(extra, 10))
	}
	if got, err := c.DBSize(ctx).Result(); err != nil || got != int64(len(want)+len(noise)) {
		t.Fatalf("DBSIZE = %d, %v; want %d", got, err, len(want)+len(noise))
	}
}

// sessionJSON is the serialized form of a JSON session, as connect-redis
// style stores write it.
func sessionJSON(i int, csrf string) string {
	b, _ := json.Marshal(map[string]interface{}{
		"cookie": map[string]interface{}{"maxAge": sessionTTL * 1000, "httpOnly": true, "path": "/"},
		"user":   "u" + strconv.Itoa(i),
		"csrf":   csrf,
	})
	return string(b)
}

// binarySession returns n bytes of session data as a binary serializer
// (gob, pickle) produces: every byte value, CR LF and NUL included.
func binarySession(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/256)
	}
	copy(b, "\r\n\x00$-1\r\n*3\r\n")
	return string(b)
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// checkGoRedisTTL fails the test unless key's TTL is within ttlSlack
// seconds below set.
func checkGoRedisTTL(ctx context.Context, t *testing.T, c *redis.Client, key string, set int64) {
	t.Helper()
	got, err := c.TTL(ctx, key).Result()
	if err != nil || !ttlInRange(int64(got/time.Second), set) {
		t.Fatalf("TTL %s = %v, %v; want within %ds below %ds", key, got, err, ttlSlack, set)
	}
}

func TestGoRedisWatch(t *testing.T) {
	for _, proto := range protocols {
		t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) {
			n := startNode(t)
			c, other := goRedisClient(t, n, proto), goRedisClient(t, n, proto)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			key := "sess:watched"
			if err := c.HSet(ctx, key, "user", "u1", "hits", "0").Err(); err != nil {
				t.Fatalf("HSET: %v", err)
			}

			// A write by another client between WATCH and EXEC aborts the transaction.
			err := c.Watch(ctx, func(tx *redis.Tx) error {
				if err := tx.HGet(ctx, key, "hits").Err(); err != nil {
					return err
				}
				if err := other.HSet(ctx, key, "user", "intruder").Err(); err != nil {
					return err
				}
				_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
					p.HSet(ctx, key, "user", "u2")
					return nil
				})
				return err
			}, key)
			if !errors.Is(err, redis.TxFailedErr) {
				t.Fatalf("EXEC after a concurrent write to a watched key: %v; want redis.TxFailedErr", err)
			}
			if got, err := c.HGet(ctx, key, "user").Result(); err != nil || got != "intruder" {
				t.Fatalf("HGET user after aborted EXEC = %q, %v; want intruder", got, err)
			}

			// A watched key created by another client aborts too.
			fresh := "sess:fresh"
			err = c.Watch(ctx, func(tx *redis.Tx) error {
				if n, err := tx.Exists(ctx, fresh).Result(); err != nil || n != 0 {
					return fmt.Errorf("EXISTS %s = %d, %v; want 0", fresh, n, err)
				}
				if err := other.Set(ctx, fresh, "other", 0).Err(); err != nil {
					return err
				}
				_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
					p.Set(ctx, fresh, "mine", sessionTTL*time.Second)
					return nil
				})
				return err
			}, fresh)
			if !errors.Is(err, redis.TxFailedErr) {
				t.Fatalf("EXEC after another client created the watched key: %v; want redis.TxFailedErr", err)
			}
			if got, err := c.Get(ctx, fresh).Result(); err != nil || got != "other" {
				t.Fatalf("GET %s = %q, %v; want other", fresh, got, err)
			}

			// Concurrent optimistic increments: none is lost.
			const workers, each = 4, 25
			var wg sync.WaitGroup
			errs := make(chan error, workers)
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < each; i++ {
						if err := watchIncr(ctx, c, key); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("optimistic increment: %v", err)
			}
			if got, err := c.HGet(ctx, key, "hits").Result(); err != nil || got != strconv.Itoa(workers*each) {
				t.Fatalf("hits after %d optimistic increments = %q, %v; want %d", workers*each, got, err, workers*each)
			}
		})
	}
}

// watchIncr increments a hash field with WATCH/MULTI/EXEC, retrying when
// another client won the race.
func watchIncr(ctx context.Context, c *redis.Client, key string) error {
	for attempt := 0; attempt < 1000; attempt++ {
		err := c.Watch(ctx, func(tx *redis.Tx) error {
			hits, err := tx.HGet(ctx, key, "hits").Int()
			if err != nil {
				return err
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.HSet(ctx, key, "hits", hits+1)
				return nil
			})
			return err
		}, key)
		if !errors.Is(err, redis.TxFailedErr) {
			return err
		}
	}
	return errors.New("1000 attempts all aborted")
}

func TestGoRedisExpiry(t *testing.T) {
	for _, proto := range protocols {
		t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) {
			c := goRedisClient(t, startNode(t), proto)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := c.Set(ctx, "sess:live", "v", sessionTTL*time.Second).Err(); err != nil {
				t.Fatalf("SET sess:live EX: %v", err)
			}
			if err := c.Set(ctx, "sess:short-str", "v", 150*time.Millisecond).Err(); err != nil {
				t.Fatalf("SET PX 150: %v", err)
			}
			if _, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.HSet(ctx, "sess:short-hash", "user", "u1")
				p.PExpire(ctx, "sess:short-hash", 150*time.Millisecond)
				return nil
			}); err != nil {
				t.Fatalf("MULTI HSET+PEXPIRE 150: %v", err)
			}
			// Poll until both short sessions are gone; they must disappear
			// without anyone deleting them.
			deadline := time.Now().Add(20 * time.Second)
			for {
				n, err := c.Exists(ctx, "sess:short-str", "sess:short-hash").Result()
				if err != nil {
					t.Fatalf("EXISTS: %v", err)
				}
				if n == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("sessions with a 150ms TTL still exist (%d) after 20s", n)
				}
				time.Sleep(20 * time.Millisecond) // poll interval
			}
			if got, err := c.Get(ctx, "sess:short-str").Result(); !errors.Is(err, redis.Nil) {
				t.Fatalf("GET expired session = %q, %v; want redis.Nil", got, err)
			}
			if got, err := c.HGetAll(ctx, "sess:short-hash").Result(); err != nil || len(got) != 0 {
				t.Fatalf("HGETALL expired session = %v, %v; want empty", got, err)
			}
			for _, k := range []string{"sess:short-str", "sess:short-hash"} {
				if got, err := c.Do(ctx, "TTL", k).Int64(); err != nil || got != -2 {
					t.Fatalf("TTL of expired %s = %d, %v; want -2", k, got, err)
				}
			}
			keys, err := c.Keys(ctx, "sess:*").Result()
			if err != nil || len(keys) != 1 || keys[0] != "sess:live" {
				t.Fatalf("KEYS sess:* after expiry = %v, %v; want [sess:live]", keys, err)
			}
			// PERSIST removes a session's TTL.
			if ok, err := c.Persist(ctx, "sess:live").Result(); err != nil || !ok {
				t.Fatalf("PERSIST sess:live = %v, %v; want true", ok, err)
			}
			if got, err := c.Do(ctx, "TTL", "sess:live").Int64(); err != nil || got != -1 {
				t.Fatalf("TTL after PERSIST = %d, %v; want -1", got, err)
			}
		})
	}
}
