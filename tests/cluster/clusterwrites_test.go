package cluster

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sessiond/server"
	"sessiond/shard"
)

// clusterWrites SETs sess:<i> = i through a ClusterClient and remembers
// which writes were acknowledged, to read them all back after failures.
type clusterWrites struct {
	cc    *redis.ClusterClient
	acked []int
}

// newClusterClient returns a ClusterClient over addrs that reloads the
// cluster's layout every second: go-redis otherwise sends a slot's
// writes to the master its last CLUSTER SLOTS named until a MOVED or its
// 60 s ClusterStateReloadInterval, so a dead master would go unnoticed
// (README recommends about a second).
func newClusterClient(addrs []string) *redis.ClusterClient {
	return redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, DialTimeout: time.Second,
		ReadTimeout: 5 * time.Second, WriteTimeout: 2 * time.Second, MaxRedirects: 8,
		ClusterStateReloadInterval: time.Second})
}

func clusterKey(i int) string { return fmt.Sprintf("sess:%d", i) }

// write SETs the keys from..to-1 in pipelined batches of 200.
func (w *clusterWrites) write(ctx context.Context, from, to int) {
	for b := from; b < to; b += 200 {
		cmds, _ := w.cc.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := b; i < min(b+200, to); i++ {
				p.Set(ctx, clusterKey(i), i, 0)
			}
			return nil
		})
		for j, c := range cmds {
			if c.Err() == nil {
				w.acked = append(w.acked, b+j)
			}
		}
	}
}

// verify reads every acknowledged key back and fails the test for any
// lost one.
func (w *clusterWrites) verify(ctx context.Context, t *testing.T) {
	t.Helper()
	missing := 0
	for b := 0; b < len(w.acked); b += 500 {
		batch := w.acked[b:min(b+500, len(w.acked))]
		cmds, _ := w.cc.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, i := range batch {
				p.Get(ctx, clusterKey(i))
			}
			return nil
		})
		for j, c := range cmds {
			if v, err := c.(*redis.StringCmd).Int(); err != nil || v != batch[j] {
				missing++
				if missing <= 5 {
					t.Errorf("acknowledged %s: got %d, %v", clusterKey(batch[j]), v, err)
				}
			}
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged writes lost", missing, len(w.acked))
	}
}

// probeGroups writes, for each of groups shard groups at once, keys of
// that group's slots until one is acknowledged, and returns how long
// after killed each group took. It fails the test when a group takes
// longer than 30 s.
func probeGroups(ctx context.Context, t *testing.T, cc *redis.ClusterClient, groups int, killed time.Time) []time.Duration {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	downFor := make([]time.Duration, groups)
	for g := range groups {
		lo, hi := server.SlotRange(g, groups)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				k := fmt.Sprintf("probe:%d:%d", g, i)
				if s := shard.KeySlot([]byte(k)); s < lo || s > hi {
					continue
				}
				err := cc.Set(ctx, k, k, 0).Err()
				if err == nil {
					mu.Lock()
					downFor[g] = time.Since(killed)
					mu.Unlock()
					return
				}
				if time.Since(killed) > 30*time.Second {
					t.Errorf("group %d: no write acknowledged within 30s of the kill: %v", g, err)
					return
				}
				time.Sleep(20 * time.Millisecond) // retry interval while the survivors elect
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return downFor
}
