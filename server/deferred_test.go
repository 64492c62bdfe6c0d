package server

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestDeferredNoopDuringLeaderTransfer: a planned leadership transfer
// lets every write already submitted commit (transferTo), and a write
// arriving meanwhile is forwarded to the new leader: a client sees no
// error. A no-op SADD deferred behind an in-flight SADD of its key is
// not submitted yet: settle resolves it while the transfer runs
// (IsLeader false) and Submit refuses it: it must be forwarded, as
// execData would have, not answered CLUSTERDOWN. (The sleep only varies
// where in the pipeline the transfer lands.)
func TestDeferredNoopDuringLeaderTransfer(t *testing.T) {
	tc := startCluster(t, 3, Config{}, nil)
	l := tc.leader()
	ctx := context.Background()
	const pairs = 150
	var deferredErrs, otherErrs []string
	for round := 0; round < 15 && len(deferredErrs) == 0; round++ {
		l = tc.leader()
		lc := tc.client(l)
		for j := range pairs {
			if err := lc.SAdd(ctx, fmt.Sprintf("r%d:k%d", round, j), "a").Err(); err != nil {
				t.Fatal(err)
			}
		}
		var cmds []redis.Cmder
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmds, _ = lc.Pipelined(ctx, func(p redis.Pipeliner) error {
				for j := range pairs {
					k := fmt.Sprintf("r%d:k%d", round, j)
					p.SAdd(ctx, k, "new") // a real add: in flight
					p.SAdd(ctx, k, "a")   // a no-op behind it: deferred
				}
				return nil
			})
		}()
		time.Sleep(time.Duration(round%5) * time.Millisecond)
		if err := l.node.Group.TransferLeadership(); err != nil {
			t.Logf("round %d: transfer: %v", round, err)
		}
		wg.Wait()
		for i, c := range cmds {
			if err := c.Err(); err != nil {
				if i%2 == 1 {
					deferredErrs = append(deferredErrs, fmt.Sprintf("round %d cmd %d %v: %v", round, i, c.Args(), err))
				} else {
					otherErrs = append(otherErrs, fmt.Sprintf("round %d cmd %d %v: %v", round, i, c.Args(), err))
				}
			}
		}
	}
	if len(otherErrs) > 0 {
		t.Logf("%d errors on the real adds, first %s", len(otherErrs), otherErrs[0])
	}
	if len(deferredErrs) > 0 {
		t.Fatalf("%d errors on deferred no-ops during a leadership transfer (none on real adds: %v), first: %s",
			len(deferredErrs), len(otherErrs) == 0, strings.Join(deferredErrs[:min(3, len(deferredErrs))], "; "))
	}
}

// TestDeferredResolvedTogether: SREM k a; SADD k a on many
// keys in one pipeline (take a member out of an index and put it back).
// Each SADD is a no-op when it arrives (a is there), so it is deferred;
// in settle the SREM has removed a, so resolveDeferred submits it and
// waits for it before the next entry: one log entry, one full commit
// round trip, per pair, where the pipeline used to share one or two.
// Now the first such SADD takes every deferred write after it to the log
// with it.
func TestDeferredResolvedTogether(t *testing.T) {
	tc := startCluster(t, 3, Config{}, nil)
	lc := tc.client(tc.leader())
	ctx := context.Background()
	const pairs = 100
	for j := range pairs {
		if err := lc.SAdd(ctx, fmt.Sprintf("k%d", j), "a", "b").Err(); err != nil {
			t.Fatal(err)
		}
	}
	before := infoInt(t, lc, "raft", "raft_proposed_entries")
	start := time.Now()
	cmds, err := lc.Pipelined(ctx, func(p redis.Pipeliner) error {
		for j := range pairs {
			k := fmt.Sprintf("k%d", j)
			p.SRem(ctx, k, "a")
			p.SAdd(ctx, k, "a")
		}
		return nil
	})
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cmds {
		if v := c.(*redis.IntCmd).Val(); v != 1 {
			t.Fatalf("reply %d = %d, want 1", i, v)
		}
	}
	entries := infoInt(t, lc, "raft", "raft_proposed_entries") - before
	t.Logf("%d pairs: %d log entries, %v", pairs, entries, took)
	if entries > pairs/4 {
		t.Fatalf("%d log entries for a pipeline of %d SREM/SADD pairs (%v): the deferred SADDs were committed one at a time", entries, pairs, took)
	}
}

// TestErrorCountAfterInnerSettle: by the same
// pattern as execData's settle: dispatch counted an error reply by the
// first byte written after the command started, but execData may settle
// the in-flight replies first, so it looked at the first settled reply
// instead of the command's own (c.replyMark now follows settle).
func TestErrorCountAfterInnerSettle(t *testing.T) {
	tc := startCluster(t, 1, Config{}, nil)
	lc := tc.client(tc.leader())
	ctx := context.Background()
	count := func() int64 { return infoInt(t, lc, "stats", "total_error_replies") }
	before := count()
	lc.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "a", "1", 0)                  // in flight: +OK
		p.Do(ctx, "zadd", "z", "notafloat", "m") // parse error: settles first
		return nil
	})
	if d := count() - before; d != 1 {
		t.Fatalf("total_error_replies went up by %d for one error reply", d)
	}
}
