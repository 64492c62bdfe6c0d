package server

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sessiond/shard"
)

// setMemoryLimit sets maxmemory and maxmemory-policy on a running server,
// as CONFIG SET does.
func setMemoryLimit(ts *testServer, limit int64, policy string) {
	c := *ts.config()
	c.MaxMemory, c.MaxMemoryPolicy = limit, policy
	ts.conf.Store(&c)
	applyMemoryConfig(ts.Server, &c)
}

// fill writes n string keys prefix0..prefix<n-1> with a 100-byte value and
// the given expiry (0: none).
func fill(t *testing.T, rdb *redis.Client, prefix string, n int, ex time.Duration) {
	t.Helper()
	ctx := context.Background()
	val := strings.Repeat("v", 100)
	for i := 0; i < n; i++ {
		if err := rdb.Set(ctx, fmt.Sprint(prefix, i), val, ex).Err(); err != nil {
			t.Fatalf("SET %s%d: %v", prefix, i, err)
		}
	}
}

func TestMaxMemoryNoEviction(t *testing.T) {
	ts := startServer(t, Config{})
	rdb := ts.goRedis(t, 3)
	ctx := context.Background()
	fill(t, rdb, "k", 50, 0)
	used := ts.memoryInfo().Used
	setMemoryLimit(ts, used-1, "noeviction")

	oom := shard.ErrOOM.Error()
	for _, cmd := range [][]any{
		{"set", "new", "v"},
		{"set", "k1", "v"}, // even an overwrite that would shrink: Redis checks before
		{"hset", "h", "f", "v"},
		{"mset", "a", "1", "b", "2"},
		{"incr", "counter"},
		{"append", "k2", "more"},
	} {
		if err := rdb.Do(ctx, cmd...).Err(); err == nil || err.Error() != oom {
			t.Errorf("%v: got %v, want %q", cmd, err, oom)
		}
	}
	// The exact bytes (an error is the same line in RESP2 and RESP3).
	ts.raw(t).roundTrip("*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$1\r\ny\r\n", "-"+oom+"\r\n")
	// Reads, deletes and other commands that do not grow memory still run.
	if v, err := rdb.Get(ctx, "k0").Result(); err != nil || len(v) != 100 {
		t.Errorf("GET k0 = %q, %v", v, err)
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Errorf("PING: %v", err)
	}
	// In MULTI, queuing a denyoom command fails and EXEC aborts.
	pipe := rdb.TxPipeline()
	pipe.Set(ctx, "new", "v", 0)
	if _, err := pipe.Exec(ctx); err == nil || !strings.HasPrefix(err.Error(), "EXECABORT") {
		t.Errorf("MULTI SET EXEC: %v, want EXECABORT", err)
	}
	// Queuing any command counts, as in Redis (for the dispatcher to use).
	if err := ts.checkOOMQueued(); err != shard.ErrOOM {
		t.Errorf("checkOOMQueued = %v, want ErrOOM", err)
	}
	if n := ts.memoryInfo().EvictedKeys; n != 0 {
		t.Errorf("noeviction evicted %d keys", n)
	}
	// Deleting brings memory back under the limit, and writes work again.
	for i := 0; i < 10; i++ {
		if n, err := rdb.Del(ctx, fmt.Sprint("k", i)).Result(); err != nil || n != 1 {
			t.Fatalf("DEL k%d = %d, %v", i, n, err)
		}
	}
	if err := rdb.Set(ctx, "new", "v", 0).Err(); err != nil {
		t.Errorf("SET after DEL: %v", err)
	}
	if err := ts.checkOOMQueued(); err != nil {
		t.Errorf("checkOOMQueued under the limit = %v", err)
	}
}

func TestMaxMemoryAllKeysLRU(t *testing.T) {
	ts := startServer(t, Config{})
	rdb := ts.goRedis(t, 2)
	ctx := context.Background()
	const headroom = 200 << 10
	limit := ts.memoryInfo().Used + headroom
	setMemoryLimit(ts, limit, "allkeys-lru")

	val := strings.Repeat("x", 64)
	const n = 4000
	maxKey := int64(0) // the largest accounted growth of one SET
	for i := 0; i < n; i++ {
		before, _ := ts.usedMemory()
		if err := rdb.Set(ctx, fmt.Sprint("key:", i), val, 0).Err(); err != nil {
			t.Fatalf("SET key:%d: %v", i, err)
		}
		used, _ := ts.usedMemory()
		maxKey = max(maxKey, used-before)
		// Eviction runs before each write: at most that write is over.
		if used > limit+1024 {
			t.Fatalf("after %d SETs used_memory %d is over maxmemory %d", i+1, used, limit)
		}
	}
	info := ts.memoryInfo()
	if info.EvictedKeys == 0 {
		t.Fatal("no key was evicted")
	}
	keys, _ := ts.Store().Len()
	if int64(keys)+info.EvictedKeys != n {
		t.Errorf("%d keys left + %d evicted != %d written", keys, info.EvictedKeys, n)
	}
	// Every key costs about the same, so what is left fills the headroom.
	if per := headroom / int64(keys); per > 4*maxKey || keys < 100 {
		t.Errorf("%d keys left in %d bytes of headroom", keys, headroom)
	}
}

func TestMaxMemoryVolatileLRU(t *testing.T) {
	ctx := context.Background()
	t.Run("no volatile keys: OOM", func(t *testing.T) {
		ts := startServer(t, Config{})
		rdb := ts.goRedis(t, 2)
		fill(t, rdb, "p", 50, 0)
		setMemoryLimit(ts, ts.memoryInfo().Used-1, "volatile-lru")
		if err := rdb.Set(ctx, "new", "v", 0).Err(); err == nil || err.Error() != shard.ErrOOM.Error() {
			t.Errorf("SET: %v, want OOM", err)
		}
		if n := ts.memoryInfo().EvictedKeys; n != 0 {
			t.Errorf("evicted %d persistent keys", n)
		}
	})
	t.Run("evicts only volatile keys", func(t *testing.T) {
		ts := startServer(t, Config{})
		rdb := ts.goRedis(t, 2)
		fill(t, rdb, "p", 50, 0)
		fill(t, rdb, "v", 50, time.Hour)
		setMemoryLimit(ts, ts.memoryInfo().Used-2000, "volatile-lru")
		if err := rdb.Set(ctx, "new", "v", 0).Err(); err != nil {
			t.Fatalf("SET: %v", err)
		}
		evicted := ts.memoryInfo().EvictedKeys
		if evicted == 0 {
			t.Error("nothing evicted")
		}
		for i := 0; i < 50; i++ {
			if err := rdb.Get(ctx, fmt.Sprint("p", i)).Err(); err != nil {
				t.Errorf("persistent key p%d: %v", i, err)
			}
		}
		gone := 0
		for i := 0; i < 50; i++ {
			if err := rdb.Get(ctx, fmt.Sprint("v", i)).Err(); err == redis.Nil {
				gone++
			}
		}
		if int64(gone) != evicted {
			t.Errorf("%d volatile keys gone, %d evicted", gone, evicted)
		}
	})
}

func TestMaxMemoryBackgroundEviction(t *testing.T) {
	// Lowering maxmemory with no write coming: the background loop evicts.
	ts := startServer(t, Config{})
	rdb := ts.goRedis(t, 2)
	before := ts.memoryInfo()
	fill(t, rdb, "k", 500, 0)
	after := ts.memoryInfo()
	limit := before.Used + (after.Used-before.Used)/2
	setMemoryLimit(ts, limit, "allkeys-random")
	deadline := time.Now().Add(20 * time.Second)
	for {
		if used, _ := ts.usedMemory(); used <= limit {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("used_memory still over %d", limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := ts.memoryInfo().EvictedKeys; n < 100 || n > 400 {
		t.Errorf("evicted %d of 500 keys to halve the dataset", n)
	}
}

func TestMemoryInfo(t *testing.T) {
	ts := startServer(t, Config{})
	rdb := ts.goRedis(t, 2)
	ctx := context.Background()
	m0 := ts.memoryInfo()
	if m0.Startup <= 0 || m0.Used != m0.Startup+m0.Dataset || m0.RSS <= 0 {
		t.Fatalf("memoryInfo at start: %+v", m0)
	}
	val := strings.Repeat("z", 1000)
	for i := 0; i < 100; i++ {
		rdb.Set(ctx, fmt.Sprint("key", i), val, 0)
	}
	m1 := ts.memoryInfo()
	if grew := m1.Dataset - m0.Dataset; grew < 100*1000 || grew > 100*1500 {
		t.Errorf("100 keys of 1000 bytes grew the dataset by %d", grew)
	}
	for i := 0; i < 100; i++ {
		rdb.Del(ctx, fmt.Sprint("key", i))
	}
	m2 := ts.memoryInfo()
	if m2.Dataset != m0.Dataset {
		t.Errorf("dataset %d after deleting everything, was %d", m2.Dataset, m0.Dataset)
	}
	if m2.Peak < m1.Used {
		t.Errorf("peak %d below an earlier used_memory %d", m2.Peak, m1.Used)
	}
	if m2.Policy != "volatile-lru" || m2.MaxMemory != 0 {
		t.Errorf("policy %q maxmemory %d, want the defaults", m2.Policy, m2.MaxMemory)
	}
}

func TestTuneGC(t *testing.T) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		t.Skip("GOGC or GOMEMLIMIT set: TuneGC leaves them alone")
	}
	oldPercent := debug.SetGCPercent(100)
	oldLimit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() {
		debug.SetGCPercent(oldPercent)
		debug.SetMemoryLimit(oldLimit)
	})
	TuneGC(Config{MaxMemory: 1 << 30})
	if p := debug.SetGCPercent(gcPercent); p != gcPercent {
		t.Errorf("GOGC = %d, want %d", p, gcPercent)
	}
	if l := debug.SetMemoryLimit(-1); l != 1<<30+1<<27+memoryLimitSlack {
		t.Errorf("memory limit = %d", l)
	}
	TuneGC(Config{})
	if l := debug.SetMemoryLimit(-1); l < 1<<62 {
		t.Errorf("memory limit without maxmemory = %d, want none", l)
	}
}
