package compat

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestGoRedisPipelines sends the long pipelines and transactions a bulk
// session import or a cache warm-up sends: thousands of commands in one
// write, and a MULTI with hundreds of queued commands.
func TestGoRedisPipelines(t *testing.T) {
	for _, proto := range protocols {
		t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) {
			c := goRedisClient(t, startNode(t), proto)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			ids := sessionIDs("p", 1000)

			cmds, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i, id := range ids {
					p.HSet(ctx, "sess:"+id, "user", "u"+strconv.Itoa(i), "csrf", "tok-"+id)
					p.Expire(ctx, "sess:"+id, sessionTTL*time.Second)
				}
				return nil
			})
			if err != nil || len(cmds) != 2*len(ids) {
				t.Fatalf("pipeline of %d HSET+EXPIRE: %d replies, %v", len(ids), len(cmds), err)
			}
			for i := 0; i < len(cmds); i += 2 {
				if cmds[i].(*redis.IntCmd).Val() != 2 || !cmds[i+1].(*redis.BoolCmd).Val() {
					t.Fatalf("pipelined create #%d: HSET = %d, EXPIRE = %v; want 2, true", i/2, cmds[i].(*redis.IntCmd).Val(), cmds[i+1].(*redis.BoolCmd).Val())
				}
			}

			cmds, err = c.TxPipelined(ctx, func(p redis.Pipeliner) error {
				for _, id := range ids[:500] {
					p.HSet(ctx, "sess:"+id, "seen", "1")
				}
				return nil
			})
			if err != nil || len(cmds) != 500 {
				t.Fatalf("MULTI with 500 HSETs: %d replies, %v", len(cmds), err)
			}
			for i, cmd := range cmds {
				if cmd.(*redis.IntCmd).Val() != 1 {
					t.Fatalf("HSET #%d in MULTI = %d, want 1", i, cmd.(*redis.IntCmd).Val())
				}
			}

			reads := make([]*redis.MapStringStringCmd, len(ids))
			if _, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i, id := range ids {
					reads[i] = p.HGetAll(ctx, "sess:"+id)
				}
				return nil
			}); err != nil {
				t.Fatalf("pipeline of %d HGETALL: %v", len(ids), err)
			}
			for i, id := range ids {
				want := map[string]string{"user": "u" + strconv.Itoa(i), "csrf": "tok-" + id}
				if i < 500 {
					want["seen"] = "1"
				}
				if got := reads[i].Val(); !equalMaps(got, want) {
					t.Fatalf("pipelined HGETALL sess:%s = %v, want %v", id, got, want)
				}
			}
			if got, err := c.DBSize(ctx).Result(); err != nil || got != int64(len(ids)) {
				t.Fatalf("DBSIZE = %d, %v; want %d", got, err, len(ids))
			}
		})
	}
}

// TestGoRedisConcurrentSessions runs many session life cycles at once
// over go-redis's connection pool, as a web server's request handlers do,
// then checks that exactly the sessions that should survive do.
func TestGoRedisConcurrentSessions(t *testing.T) {
	for _, proto := range protocols {
		t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) {
			c := goRedisClient(t, startNode(t), proto)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			const workers, perWorker = 8, 40
			var (
				wg   sync.WaitGroup
				mu   sync.Mutex
				want = map[string]bool{}
				errs = make(chan error, workers)
			)
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i, id := range sessionIDs(fmt.Sprintf("w%d-", w), perWorker) {
						keep, err := concurrentSession(ctx, c, "sess:"+id, i%2 == 0)
						if err != nil {
							errs <- fmt.Errorf("worker %d session %s: %w", w, id, err)
							return
						}
						if keep {
							mu.Lock()
							want["sess:"+id] = true
							mu.Unlock()
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if t.Failed() {
				return
			}
			got := map[string]bool{}
			it := c.Scan(ctx, 0, "sess:*", scanCount).Iterator()
			for it.Next(ctx) {
				got[it.Val()] = true
			}
			if err := it.Err(); err != nil {
				t.Fatalf("SCAN: %v", err)
			}
			if missing, extra := setDiff(got, want); len(missing)+len(extra) > 0 {
				t.Fatalf("after concurrent life cycles SCAN found %d sessions, want %d: missing %v, unexpected %v", len(got), len(want), firstN(missing, 10), firstN(extra, 10))
			}
		})
	}
}

// concurrentSession runs one session's life cycle and deletes it at the
// end unless keep; it reports whether the session should still exist.
func concurrentSession(ctx context.Context, c *redis.Client, key string, keep bool) (bool, error) {
	if _, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, "user", key, "n", "0")
		p.Expire(ctx, key, sessionTTL*time.Second)
		return nil
	}); err != nil {
		return false, fmt.Errorf("create: %w", err)
	}
	for i := 1; i <= 3; i++ {
		if got, err := c.HIncrBy(ctx, key, "n", 1).Result(); err != nil || got != int64(i) {
			return false, fmt.Errorf("HINCRBY n = %d, %v; want %d", got, err, i)
		}
		if ok, err := c.Expire(ctx, key, sessionTTL*time.Second).Result(); err != nil || !ok {
			return false, fmt.Errorf("touch: EXPIRE = %v, %v", ok, err)
		}
	}
	got, err := c.HGetAll(ctx, key).Result()
	if err != nil || got["user"] != key || got["n"] != "3" {
		return false, fmt.Errorf("HGETALL = %v, %v; want user=%s n=3", got, err, key)
	}
	if keep {
		return true, nil
	}
	if n, err := c.Del(ctx, key).Result(); err != nil || n != 1 {
		return false, fmt.Errorf("DEL = %d, %v; want 1", n, err)
	}
	return false, nil
}
