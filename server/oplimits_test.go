package server

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"sessiond/shard"
	"sessiond/ttl"
)

// logApplier stands in for replication: it records each write as the log
// would carry it (encoded), applies it to the leader's store, and applies
// the decoded copy to a replica's store, whose configuration the server
// never sees.
type logApplier struct {
	leader, replica *shard.Store

	mu  sync.Mutex
	ops []shard.Op // decoded, as the replica applied them
}

func (a *logApplier) Apply(_ context.Context, op *shard.Op) (shard.Result, error) {
	dec, err := shard.Decode(shard.AppendEncode(nil, op))
	if err != nil {
		return shard.Result{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ops = append(a.ops, dec)
	a.replica.Apply(&dec)
	return a.leader.Apply(op), nil
}

// last returns the last op applied.
func (a *logApplier) last() shard.Op {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ops[len(a.ops)-1]
}

// TestConfigLimitsStampedIntoOps checks that CONFIG SET proto-max-bulk-len
// and hash-max-listpack-* take effect for the next commands by being
// stamped into the ops the server builds, so that a replica applying the
// log ends up byte for byte like the leader.
func TestConfigLimitsStampedIntoOps(t *testing.T) {
	clock := ttl.NewFakeClock(time.Unix(1_700_000_000, 0))
	a := &logApplier{leader: shard.New(shard.Config{Clock: clock}), replica: shard.New(shard.Config{Clock: clock, Stripes: 1})}
	ts := startServerWith(t, Config{Clock: clock}, a.leader, a)
	c := ts.goRedis(t, 2)
	ctx := context.Background()
	do := func(args ...any) (any, error) { return c.Do(ctx, args...).Result() }
	must := func(args ...any) {
		t.Helper()
		if _, err := do(args...); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}

	// Defaults first: Redis's values, stamped explicitly.
	must("HSET", "h0", "a", "1")
	if op := a.last(); op.HashEntries != 128 || op.HashValue != 64 {
		t.Errorf("default HSET carries %d/%d, want 128/64", op.HashEntries, op.HashValue)
	}

	must("CONFIG", "SET", "hash-max-listpack-entries", "2", "hash-max-listpack-value", "5")
	hashWrites := [][]any{
		{"HSET", "h", "a", "1", "b", "2", "c", "3"},
		{"HMSET", "h2", "a", "1"},
		{"HSETNX", "h3", "a", "123456"},
		{"HINCRBY", "h4", "n", "1"},
		{"HINCRBYFLOAT", "h5", "f", "1.5"},
		{"HSETEX", "h6", "EX", "100", "FIELDS", "1", "a", "1"},
	}
	for _, w := range hashWrites {
		must(w...)
		if op := a.last(); op.HashEntries != 2 || op.HashValue != 5 {
			t.Errorf("%v carries %d/%d, want 2/5", w, op.HashEntries, op.HashValue)
		}
	}
	// Inside MULTI, the sub-op carries them.
	must("CONFIG", "SET", "hash-max-listpack-entries", "3")
	pipe := c.TxPipeline()
	pipe.HSet(ctx, "h7", "a", "1", "b", "2")
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("MULTI: %v", err)
	}
	if op := a.last(); op.Kind != shard.KindMulti || len(op.Subs) != 1 || op.Subs[0].HashEntries != 3 || op.Subs[0].HashValue != 5 {
		t.Errorf("MULTI's HSET carries %+v, want 3/5", op)
	}

	// proto-max-bulk-len bounds APPEND and SETRANGE from the next command.
	half := strings.Repeat("x", 600<<10)
	must("SET", "s", half)
	must("CONFIG", "SET", "proto-max-bulk-len", "1mb")
	const tooLong = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
	if _, err := do("APPEND", "s", half); err == nil || err.Error() != tooLong {
		t.Errorf("APPEND past 1mb: %v, want %q", err, tooLong)
	}
	if op := a.last(); op.Kind != shard.KindAppend || op.Limit != 1<<20 {
		t.Errorf("APPEND carries Limit %d, want %d", op.Limit, 1<<20)
	}
	if _, err := do("SETRANGE", "s", 1<<20, "y"); err == nil || err.Error() != tooLong {
		t.Errorf("SETRANGE past 1mb: %v, want %q", err, tooLong)
	}
	must("CONFIG", "SET", "proto-max-bulk-len", "2mb")
	if n, err := do("APPEND", "s", half); err != nil || n != int64(1200<<10) {
		t.Errorf("APPEND within 2mb: %v, %v", n, err)
	}
	if op := a.last(); op.Limit != 2<<20 {
		t.Errorf("APPEND carries Limit %d, want %d", op.Limit, 2<<20)
	}

	// The replica, which never saw a CONFIG SET, holds the same data in
	// the same encodings (the memory account tells packed from big).
	if l, r := a.leader.UsedBytes(), a.replica.UsedBytes(); l != r {
		t.Errorf("leader accounts %d bytes, replica %d", l, r)
	}
	if l, _ := a.leader.Len(); l == 0 {
		t.Error("leader holds no keys")
	}
	if l, r := fmt.Sprint(a.leader.Len()), fmt.Sprint(a.replica.Len()); l != r {
		t.Errorf("leader has %s keys (volatile), replica %s", l, r)
	}
}
