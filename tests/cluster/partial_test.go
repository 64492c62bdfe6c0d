package cluster

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sessiond/server"
	"sessiond/shard"
)

// TestPartialKillNode runs five real nodes in cluster mode with the
// default layout: five shard groups of three replicas each, so every node
// holds three groups and leads one. redis-cli --cluster check must accept
// it; a go-redis ClusterClient writes keys over every slot; kill -9 of
// one node must leave every group writable (only the groups it led may
// wait for an election) and lose no acknowledged write; once restarted,
// the node catches up and each group's three replicas hold the same data.
func TestPartialKillNode(t *testing.T) {
	ids := []string{"n1", "n2", "n3", "n4", "n5"}
	const groups = 5
	nodes := startNodes(t, ids, true, "--cluster-enabled", "yes")
	// holders[g]: the nodes holding group g (server/placement.go: the
	// three IDs from position g, sorted, wrapping around).
	holders := make([][]*node, groups)
	for g := range groups {
		for j := range 3 {
			holders[g] = append(holders[g], nodes[(g+j)%len(nodes)])
		}
	}
	ctx := context.Background()
	waitPartialSlots(t, nodes, holders)

	if _, err := exec.LookPath("redis-cli"); err == nil {
		out, _ := exec.CommandContext(ctx, "redis-cli", "--cluster", "check", nodes[0].addr()).CombinedOutput()
		for _, want := range []string{"[OK] All nodes agree about slots configuration.", "[OK] All 16384 slots covered."} {
			if !strings.Contains(string(out), want) {
				t.Fatalf("redis-cli --cluster check: no %q in:\n%s", want, out)
			}
		}
	} else {
		t.Logf("SKIP part: redis-cli is not installed (make deps installs it): %v", err)
	}

	var addrs []string
	for _, n := range nodes {
		addrs = append(addrs, n.addr())
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, DialTimeout: time.Second,
		ReadTimeout: 5 * time.Second, WriteTimeout: 2 * time.Second, MaxRedirects: 8,
		ClusterStateReloadInterval: time.Second})
	defer cc.Close()
	key := func(i int) string { return fmt.Sprintf("sess:%d", i) }
	var acked []int
	write := func(from, to int) {
		for b := from; b < to; b += 200 {
			cmds, _ := cc.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i := b; i < min(b+200, to); i++ {
					p.Set(ctx, key(i), i, 0)
				}
				return nil
			})
			for j, c := range cmds {
				if c.Err() == nil {
					acked = append(acked, b+j)
				}
			}
		}
	}
	const before = 20000
	write(0, before)
	if len(acked) != before {
		t.Fatalf("%d of %d writes acknowledged before any failure", len(acked), before)
	}

	victim := nodes[2]
	victim.kill()
	killed := time.Now()
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
					t.Errorf("group %d: no write acknowledged within 30s of killing %s: %v", g, victim.id, err)
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
	for g, d := range downFor {
		held := slices.Contains(holders[g], victim)
		t.Logf("group %d (held by %s; %s holds it: %v): first write acknowledged %v after kill -9", g,
			names(holders[g]), victim.id, held, d.Round(time.Millisecond))
	}
	write(before, before+2000)

	missing := 0
	for b := 0; b < len(acked); b += 500 {
		batch := acked[b:min(b+500, len(acked))]
		cmds, _ := cc.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, i := range batch {
				p.Get(ctx, key(i))
			}
			return nil
		})
		for j, c := range cmds {
			if v, err := c.(*redis.StringCmd).Int(); err != nil || v != batch[j] {
				missing++
				if missing <= 5 {
					t.Errorf("acknowledged %s: got %d, %v", key(batch[j]), v, err)
				}
			}
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged writes lost", missing, len(acked))
	}

	restart(t, victim)
	for g := range groups {
		deadline := time.Now().Add(60 * time.Second)
		for {
			var ds []string
			for _, n := range holders[g] {
				c := newClient(n.addr(), 5*time.Second)
				d, err := c.Do(ctx, "debug", "digest-group", g).Text()
				c.Close()
				if err != nil {
					d = err.Error()
				}
				ds = append(ds, d)
			}
			if ds[0] == ds[1] && ds[1] == ds[2] {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("group %d digests differ across %s: %v", g, names(holders[g]), ds)
			}
			time.Sleep(50 * time.Millisecond) // polling for the catch-up, bounded
		}
	}
	waitPartialSlots(t, nodes, holders)
}

// names lists nodes' IDs.
func names(ns []*node) string {
	var out []string
	for _, n := range ns {
		out = append(out, n.id)
	}
	return strings.Join(out, ",")
}

// waitPartialSlots waits until every node's CLUSTER SLOTS has one range
// per group, listing exactly the group's holders, each range mastered by
// a different node (the leaderships are spread).
func waitPartialSlots(t *testing.T, nodes []*node, holders [][]*node) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for _, n := range nodes {
		c := newClient(n.addr(), 5*time.Second)
		for {
			slots, err := c.ClusterSlots(context.Background()).Result()
			why := ""
			switch {
			case err != nil:
				why = err.Error()
			case len(slots) != len(holders):
				why = fmt.Sprintf("%d ranges", len(slots))
			}
			masters := map[string]bool{}
			for g := 0; why == "" && g < len(holders); g++ {
				var got, want []string
				for _, sn := range slots[g].Nodes {
					got = append(got, sn.Addr)
				}
				for _, h := range holders[g] {
					want = append(want, h.addr())
				}
				sort.Strings(got)
				sort.Strings(want)
				if !slices.Equal(got, want) {
					why = fmt.Sprintf("range %d lists %v, want %v", g, got, want)
				}
				masters[slots[g].Nodes[0].Addr] = true
			}
			if why == "" && len(masters) != len(holders) {
				why = fmt.Sprintf("%d distinct masters for %d groups", len(masters), len(holders))
			}
			if why == "" {
				break
			}
			if time.Now().After(deadline) {
				c.Close()
				t.Fatalf("%s: CLUSTER SLOTS never settled: %s", n.id, why)
			}
			time.Sleep(50 * time.Millisecond) // polling for leader spreading and directories, bounded
		}
		c.Close()
	}
}
