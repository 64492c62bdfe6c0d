package shard

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"sessiond/ttl"
)

// ksT0 is the time, in Unix ms, at which keyspace test scripts start.
const ksT0 = int64(1_700_000_000_000)

// ksStore returns a store with a fake clock at ksT0.
func ksStore(t *testing.T, stripes int) (*Store, *ttl.FakeClock) {
	t.Helper()
	clk := ttl.NewFakeClock(time.UnixMilli(ksT0))
	return New(Config{Stripes: stripes, Clock: clk}), clk
}

func ksBytes(ss ...string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

// Op builders for the scripts below; now is the op's time.
func ksSetOp(now int64, k, v string, at int64) Op {
	return Op{Kind: KindSet, Now: now, Key: []byte(k), Args: ksBytes(v), At: at}
}
func ksArgsOp(now int64, kind Kind, keys ...string) Op {
	return Op{Kind: kind, Now: now, Args: ksBytes(keys...)}
}
func ksKeyOp(now int64, kind Kind, k string) Op {
	return Op{Kind: kind, Now: now, Key: []byte(k)}
}
func ksExpireOp(now int64, k string, at int64, f Flags) Op {
	return Op{Kind: KindExpire, Now: now, Key: []byte(k), At: at, Flags: f}
}
func ksTTLOp(now int64, k string, f Flags) Op {
	return Op{Kind: KindTTL, Now: now, Key: []byte(k), Flags: f}
}
func ksRenameOp(now int64, from, to string, f Flags) Op {
	return Op{Kind: KindRename, Now: now, Key: []byte(from), Args: ksBytes(to), Flags: f}
}

func ksStatus(s string) Result { return Result{Kind: RStatus, Str: s} }

func ksList(ss ...string) Result {
	vals := make([]Val, len(ss))
	for i, s := range ss {
		vals[i] = Val{S: s}
	}
	return Result{Kind: RList, Vals: vals}
}

// ksSame compares results, errors by errors.Is and lists ignoring
// nil-versus-empty.
func ksSame(got, want Result) bool {
	if got.Kind != want.Kind || got.Int != want.Int || got.Str != want.Str {
		return false
	}
	if (got.Err == nil) != (want.Err == nil) || (want.Err != nil && !errors.Is(got.Err, want.Err)) {
		return false
	}
	if len(got.Vals) != len(want.Vals) || !slices.Equal(got.Ints, want.Ints) || len(got.Subs) != len(want.Subs) {
		return false
	}
	for i := range got.Vals {
		if got.Vals[i] != want.Vals[i] {
			return false
		}
	}
	for i := range got.Subs {
		if !ksSame(got.Subs[i], want.Subs[i]) {
			return false
		}
	}
	return true
}

// ksStep is one op of a script and the result it must give.
type ksStep struct {
	op   Op
	want Result
}

func ksRun(t *testing.T, s *Store, steps []ksStep) {
	t.Helper()
	for i, st := range steps {
		got := s.Apply(&st.op)
		if !ksSame(got, st.want) {
			t.Fatalf("step %d (kind %d key %q args %q): got %+v, want %+v",
				i, st.op.Kind, st.op.Key, st.op.Args, got, st.want)
		}
	}
}

func TestKeyspaceOps(t *testing.T) {
	const T = ksT0
	tests := []struct {
		name  string
		steps []ksStep
	}{
		{"del counts live keys once", []ksStep{
			{ksSetOp(T, "a", "1", 0), OK()},
			{ksSetOp(T, "b", "1", 0), OK()},
			{ksArgsOp(T, KindDel, "a", "a", "b", "c"), Int(2)},
			{ksArgsOp(T, KindExists, "a", "b"), Int(0)},
			{ksArgsOp(T, KindDel, "a"), Int(0)},
		}},
		{"del of an expired key counts 0", []ksStep{
			{ksSetOp(T, "a", "1", T+10), OK()},
			{ksArgsOp(T+11, KindDel, "a"), Int(0)},
			{ksArgsOp(T+11, KindDBSize), Int(0)},
		}},
		{"exists counts repeats", []ksStep{
			{ksSetOp(T, "a", "1", 0), OK()},
			{ksArgsOp(T, KindExists, "a", "a", "x", "a"), Int(3)},
		}},
		{"exists holds through the deadline, not after", []ksStep{
			{ksSetOp(T, "a", "1", T+100), OK()},
			{ksArgsOp(T+99, KindExists, "a"), Int(1)},
			{ksArgsOp(T+100, KindExists, "a"), Int(1)},
			{ksArgsOp(T+101, KindExists, "a"), Int(0)},
		}},
		{"type", []ksStep{
			{ksSetOp(T, "s", "1", 0), OK()},
			{ksKeyOp(T, KindType, "s"), ksStatus("string")},
			{ksKeyOp(T, KindType, "nope"), ksStatus("none")},
			{ksSetOp(T, "e", "1", T+1), OK()},
			{ksKeyOp(T+1, KindType, "e"), ksStatus("string")},
			{ksKeyOp(T+2, KindType, "e"), ksStatus("none")},
		}},
		{"touch", []ksStep{
			{ksSetOp(T, "a", "1", 0), OK()},
			{ksSetOp(T, "b", "1", T+5), OK()},
			{ksArgsOp(T+5, KindTouch, "a", "a", "b", "c"), Int(3)},
			{ksArgsOp(T+6, KindTouch, "a", "a", "b", "c"), Int(2)},
		}},
		{"rename moves value and deadline", []ksStep{
			{ksSetOp(T, "a", "va", T+5000), OK()},
			{ksSetOp(T, "b", "vb", 0), OK()},
			{ksRenameOp(T, "a", "b", 0), OK()},
			{ksKeyOp(T, KindGet, "b"), Str("va")},
			{ksKeyOp(T, KindGet, "a"), Nil()},
			{ksTTLOp(T, "b", Millis), Int(5000)},
			{ksTTLOp(T, "a", Millis), Int(-2)},
			{ksArgsOp(T+5000, KindExists, "b"), Int(1)},
			{ksArgsOp(T+5001, KindExists, "b"), Int(0)},
		}},
		{"rename over a volatile destination drops its deadline", []ksStep{
			{ksSetOp(T, "a", "va", 0), OK()},
			{ksSetOp(T, "b", "vb", T+10), OK()},
			{ksRenameOp(T, "a", "b", 0), OK()},
			{ksTTLOp(T, "b", Millis), Int(-1)},
			{ksArgsOp(T+20, KindExists, "b"), Int(1)},
		}},
		{"rename errors and self", []ksStep{
			{ksRenameOp(T, "x", "y", 0), Err(ErrNoSuchKey)},
			{ksRenameOp(T, "x", "x", 0), Err(ErrNoSuchKey)},
			{ksRenameOp(T, "x", "x", NX), Err(ErrNoSuchKey)},
			{ksSetOp(T, "a", "1", T+10), OK()},
			{ksRenameOp(T, "a", "a", 0), OK()},
			{ksRenameOp(T, "a", "a", NX), Int(0)},
			{ksTTLOp(T, "a", Millis), Int(10)},
			{ksRenameOp(T+11, "a", "b", 0), Err(ErrNoSuchKey)},
		}},
		{"renamenx", []ksStep{
			{ksSetOp(T, "a", "va", 0), OK()},
			{ksSetOp(T, "b", "vb", 0), OK()},
			{ksRenameOp(T, "a", "b", NX), Int(0)},
			{ksKeyOp(T, KindGet, "a"), Str("va")},
			{ksKeyOp(T, KindGet, "b"), Str("vb")},
			{ksRenameOp(T, "a", "c", NX), Int(1)},
			{ksKeyOp(T, KindGet, "c"), Str("va")},
			{ksArgsOp(T, KindExists, "a"), Int(0)},
			{ksSetOp(T, "d", "vd", T+10), OK()},
			{ksRenameOp(T+10, "c", "d", NX), Int(0)}, // d's last millisecond: still there
			{ksRenameOp(T+11, "c", "d", NX), Int(1)}, // expired destination counts as absent
			{ksKeyOp(T+11, KindGet, "d"), Str("va")},
		}},
		{"expire sets and replaces", []ksStep{
			{ksExpireOp(T, "a", T+1000, 0), Int(0)},
			{ksSetOp(T, "a", "1", 0), OK()},
			{ksExpireOp(T, "a", T+1000, 0), Int(1)},
			{ksTTLOp(T, "a", Millis), Int(1000)},
			{ksExpireOp(T, "a", T+5000, 0), Int(1)},
			{ksTTLOp(T, "a", Millis), Int(5000)},
			{ksKeyOp(T, KindGet, "a"), Str("1")},
		}},
		{"expire at now deletes", []ksStep{
			{ksSetOp(T, "a", "1", 0), OK()},
			{ksExpireOp(T, "a", T, 0), Int(1)},
			{ksArgsOp(T, KindExists, "a"), Int(0)},
			{ksArgsOp(T, KindDBSize), Int(0)},
		}},
		{"expire in the past or negative deletes", []ksStep{
			{ksSetOp(T, "a", "1", 0), OK()},
			{ksSetOp(T, "b", "1", 0), OK()},
			{ksExpireOp(T, "a", -5, 0), Int(1)},
			{ksExpireOp(T, "b", 0, 0), Int(1)},
			{ksArgsOp(T, KindExists, "a", "b"), Int(0)},
		}},
		{"expire one ms ahead survives through then", []ksStep{
			{ksSetOp(T, "a", "1", 0), OK()},
			{ksExpireOp(T, "a", T+1, 0), Int(1)},
			{ksArgsOp(T, KindExists, "a"), Int(1)},
			{ksArgsOp(T+1, KindExists, "a"), Int(1)},
			{ksArgsOp(T+2, KindExists, "a"), Int(0)},
		}},
		{"expire NX", []ksStep{
			{ksSetOp(T, "a", "1", 0), OK()},
			{ksExpireOp(T, "a", T+100, NX), Int(1)},
			{ksExpireOp(T, "a", T+200, NX), Int(0)},
			{ksTTLOp(T, "a", Millis), Int(100)},
		}},
		{"expire XX", []ksStep{
			{ksSetOp(T, "a", "1", 0), OK()},
			{ksExpireOp(T, "a", T+100, XX), Int(0)},
			{ksTTLOp(T, "a", Millis), Int(-1)},
			{ksExpireOp(T, "a", T+100, 0), Int(1)},
			{ksExpireOp(T, "a", T+200, XX), Int(1)},
			{ksTTLOp(T, "a", Millis), Int(200)},
		}},
		{"expire GT", []ksStep{
			{ksSetOp(T, "a", "1", 0), OK()},
			{ksExpireOp(T, "a", T+100, GT), Int(0)}, // persistent = infinite
			{ksExpireOp(T, "a", T+100, 0), Int(1)},
			{ksExpireOp(T, "a", T+100, GT), Int(0)},
			{ksExpireOp(T, "a", T+99, GT), Int(0)},
			{ksExpireOp(T, "a", T+101, GT), Int(1)},
			{ksTTLOp(T, "a", Millis), Int(101)},
			{ksExpireOp(T, "a", T+200, XX|GT), Int(1)},
			{ksTTLOp(T, "a", Millis), Int(200)},
		}},
		{"expire LT", []ksStep{
			{ksSetOp(T, "a", "1", 0), OK()},
			{ksExpireOp(T, "a", T+100, LT), Int(1)}, // persistent = infinite
			{ksExpireOp(T, "a", T+100, LT), Int(0)},
			{ksExpireOp(T, "a", T+101, LT), Int(0)},
			{ksExpireOp(T, "a", T+50, LT), Int(1)},
			{ksTTLOp(T, "a", Millis), Int(50)},
			{ksExpireOp(T, "a", T-1, LT), Int(1)},
			{ksArgsOp(T, KindExists, "a"), Int(0)},
			{ksSetOp(T, "b", "1", 0), OK()},
			{ksExpireOp(T, "b", T+10, XX|LT), Int(0)},
			{ksTTLOp(T, "b", Millis), Int(-1)},
		}},
		{"expire on an expired key", []ksStep{
			{ksSetOp(T, "a", "1", T+10), OK()},
			{ksExpireOp(T+11, "a", T+1000, 0), Int(0)},
			{ksArgsOp(T+11, KindExists, "a"), Int(0)},
		}},
		{"expire keeps the value and type", []ksStep{
			{ksSetOp(T, "a", "v", 0), OK()},
			{ksExpireOp(T, "a", T+10, 0), Int(1)},
			{ksKeyOp(T+9, KindGet, "a"), Str("v")},
			{ksKeyOp(T+9, KindType, "a"), ksStatus("string")},
		}},
		{"ttl family", []ksStep{
			{ksTTLOp(T, "a", 0), Int(-2)},
			{ksTTLOp(T, "a", Millis), Int(-2)},
			{ksTTLOp(T, "a", Absolute), Int(-2)},
			{ksTTLOp(T, "a", Millis|Absolute), Int(-2)},
			{ksSetOp(T, "a", "1", 0), OK()},
			{ksTTLOp(T, "a", 0), Int(-1)},
			{ksTTLOp(T, "a", Millis), Int(-1)},
			{ksTTLOp(T, "a", Absolute), Int(-1)},
			{ksTTLOp(T, "a", Millis|Absolute), Int(-1)},
			{ksExpireOp(T, "a", T+10_499, 0), Int(1)},
			{ksTTLOp(T, "a", 0), Int(10)},
			{ksTTLOp(T, "a", Millis), Int(10_499)},
			{ksTTLOp(T, "a", Absolute), Int((T + 10_499 + 500) / 1000)},
			{ksTTLOp(T, "a", Millis|Absolute), Int(T + 10_499)},
			{ksTTLOp(T+9_999, "a", 0), Int(1)},  // 500 ms left rounds to 1
			{ksTTLOp(T+10_000, "a", 0), Int(0)}, // 499 ms left rounds to 0
			{ksTTLOp(T+10_498, "a", Millis), Int(1)},
			{ksTTLOp(T+10_499, "a", Millis), Int(0)}, // the deadline's own ms
			{ksTTLOp(T+10_499, "a", 0), Int(0)},
			{ksTTLOp(T+10_500, "a", Millis), Int(-2)},
			{ksTTLOp(T+10_500, "a", 0), Int(-2)},
		}},
		{"ttl seconds near the largest deadline", []ksStep{
			{ksSetOp(T, "a", "1", math.MaxInt64), OK()},
			{ksTTLOp(T, "a", Absolute), Int(math.MaxInt64/1000 + 1)},
			{ksTTLOp(T, "a", Millis|Absolute), Int(math.MaxInt64)},
			{ksTTLOp(T, "a", 0), Int((math.MaxInt64-T)/1000 + 1)},
		}},
		{"ttl rounds half up", []ksStep{
			{ksSetOp(T, "a", "1", T+1500), OK()},
			{ksTTLOp(T, "a", 0), Int(2)},
			{ksTTLOp(T, "a", Absolute), Int((T + 2000) / 1000)},
		}},
		{"persist", []ksStep{
			{ksKeyOp(T, KindPersist, "a"), Int(0)},
			{ksSetOp(T, "a", "1", 0), OK()},
			{ksKeyOp(T, KindPersist, "a"), Int(0)},
			{ksExpireOp(T, "a", T+10, 0), Int(1)},
			{ksKeyOp(T, KindPersist, "a"), Int(1)},
			{ksTTLOp(T, "a", 0), Int(-1)},
			{ksArgsOp(T+20, KindExists, "a"), Int(1)},
			{ksExpireOp(T+20, "a", T+30, 0), Int(1)},
			{ksKeyOp(T+31, KindPersist, "a"), Int(0)},
		}},
		{"dbsize counts unreclaimed expired keys", []ksStep{
			{ksArgsOp(T, KindDBSize), Int(0)},
			{ksSetOp(T, "a", "1", 0), OK()},
			{ksSetOp(T, "b", "1", T+10), OK()},
			{ksArgsOp(T+10, KindReap, "b"), Int(0)}, // not due until T+11
			{ksArgsOp(T+11, KindDBSize), Int(2)},
			{ksArgsOp(T+11, KindReap, "b"), Int(1)},
			{ksArgsOp(T+11, KindDBSize), Int(1)},
		}},
		{"keys matches live keys in hash order", []ksStep{
			{ksSetOp(T, "user:1", "1", 0), OK()},
			{ksSetOp(T, "user:2", "1", 0), OK()},
			{ksSetOp(T, "user:3", "1", T+5), OK()},
			{ksSetOp(T, "sess:1", "1", 0), OK()},
			{Op{Kind: KindKeys, Now: T + 5, Args: ksBytes("user:*")}, ksList(ksByHash("user:1", "user:2", "user:3")...)},
			{Op{Kind: KindKeys, Now: T + 6, Args: ksBytes("user:*")}, ksList(ksByHash("user:1", "user:2")...)},
			{Op{Kind: KindKeys, Now: T + 6, Args: ksBytes("*")}, ksList(ksByHash("user:1", "user:2", "sess:1")...)},
			{Op{Kind: KindKeys, Now: T + 6, Args: ksBytes("nomatch*")}, ksList()},
		}},
		{"randomkey", []ksStep{
			{Op{Kind: KindRandomKey, Now: T, N: 7}, Nil()},
			{ksSetOp(T, "only", "1", 0), OK()},
			{Op{Kind: KindRandomKey, Now: T, N: 7}, Str("only")},
			{Op{Kind: KindRandomKey, Now: T, N: 8}, Str("only")},
		}},
		{"randomkey skips expired keys", []ksStep{
			{ksSetOp(T, "live", "1", 0), OK()},
			{ksSetOp(T, "e1", "1", T+1), OK()},
			{ksSetOp(T, "e2", "1", T+1), OK()},
			{ksSetOp(T, "e3", "1", T+1), OK()},
			{Op{Kind: KindRandomKey, Now: T + 2, N: 1}, Str("live")},
			{Op{Kind: KindRandomKey, Now: T + 2, N: 2}, Str("live")},
			{Op{Kind: KindRandomKey, Now: T + 2, N: 3}, Str("live")},
			{ksExpireOp(T+2, "live", T+3, 0), Int(1)},
			{Op{Kind: KindRandomKey, Now: T + 3, N: 3}, Str("live")},
			{Op{Kind: KindRandomKey, Now: T + 4, N: 3}, Nil()},
		}},
		{"flush", []ksStep{
			{ksSetOp(T, "a", "1", 0), OK()},
			{ksSetOp(T, "b", "1", T+10), OK()},
			{ksArgsOp(T, KindFlush), OK()},
			{ksArgsOp(T, KindDBSize), Int(0)},
			{ksArgsOp(T, KindExists, "a", "b"), Int(0)},
			{ksSetOp(T, "a", "2", T+10), OK()},
			{ksKeyOp(T, KindGet, "a"), Str("2")},
			{ksArgsOp(T, KindDBSize), Int(1)},
		}},
		{"persist cancels a pending reap", []ksStep{
			{ksSetOp(T, "a", "1", T+10), OK()},
			{ksKeyOp(T, KindPersist, "a"), Int(1)},
			{ksArgsOp(T+20, KindReap, "a"), Int(0)}, // no longer due
			{ksKeyOp(T+20, KindGet, "a"), Str("1")},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := ksStore(t, 16)
			ksRun(t, s, tc.steps)
		})
	}
}

// TestKeysSeeHashes runs the keyspace ops on hash values: TYPE, SCAN
// TYPE, and RENAME carrying field deadlines along.
func TestKeysSeeHashes(t *testing.T) {
	const T = ksT0
	s, _ := ksStore(t, 8)
	ints := func(ns ...int64) Result { return Result{Kind: RInts, Ints: ns} }
	ksRun(t, s, []ksStep{
		{Op{Kind: KindHSet, Now: T, Key: []byte("h"), Args: ksBytes("f", "v", "g", "w")}, Int(2)},
		{ksSetOp(T, "s", "v", 0), OK()},
		{ksKeyOp(T, KindType, "h"), ksStatus("hash")},
		{Op{Kind: KindScan, Now: T, At: 10, Args: ksBytes("", "HASH"), Flags: TypeFilter}, Result{Kind: RScan, Vals: []Val{{S: "h"}}}},
		{Op{Kind: KindHExpire, Now: T, Key: []byte("h"), At: T + 100, Args: ksBytes("f")}, ints(1)},
		{ksExpireOp(T, "h", T+500, 0), Int(1)},
		{ksRenameOp(T, "h", "h2", 0), OK()},
		{ksKeyOp(T, KindType, "h2"), ksStatus("hash")},
		{ksTTLOp(T, "h2", Millis), Int(500)},
		{Op{Kind: KindHTTL, Now: T, Key: []byte("h2"), Args: ksBytes("f", "g"), Flags: Millis}, ints(100, -1)},
		{ksKeyOp(T, KindPersist, "h2"), Int(1)},
		{Op{Kind: KindHTTL, Now: T, Key: []byte("h2"), Args: ksBytes("f"), Flags: Millis}, ints(100)},
		{ksRenameOp(T, "h2", "s", 0), OK()},
		{ksKeyOp(T, KindType, "s"), ksStatus("hash")},
		{ksArgsOp(T, KindDel, "s"), Int(1)},
		{ksArgsOp(T, KindDBSize), Int(0)},
	})
	if keys, volatile := s.Len(); keys != 0 || volatile != 0 {
		t.Fatalf("Len = %d, %d after deleting everything", keys, volatile)
	}
	if due := s.DueKeys(T+1000, 10, 0); len(due) != 0 {
		t.Fatalf("DueKeys = %q after deleting everything", due)
	}
	if n := s.UsedBytes(); n != 0 {
		t.Fatalf("UsedBytes = %d after deleting everything", n)
	}
}

// TestKeysCountHitsAndMisses checks which keyspace ops count in
// keyspace_hits and keyspace_misses, as redis-server 7.0 does.
func TestKeysCountHitsAndMisses(t *testing.T) {
	const T = ksT0
	s, _ := ksStore(t, 8)
	s.Apply(&Op{Kind: KindSet, Now: T, Key: []byte("k"), Args: ksBytes("v")})
	tests := []struct {
		op           Op
		hits, misses int64
	}{
		{ksArgsOp(T, KindExists, "k", "nokey"), 1, 1},
		{ksKeyOp(T, KindType, "k"), 1, 0},
		{ksKeyOp(T, KindType, "nokey"), 0, 1},
		{ksTTLOp(T, "k", 0), 1, 0},
		{ksTTLOp(T, "nokey", Millis|Absolute), 0, 1},
		{ksArgsOp(T, KindTouch, "k", "nokey"), 1, 1},
		{ksExpireOp(T, "k", T+100, 0), 0, 0},
		{ksKeyOp(T, KindPersist, "k"), 0, 0},
		{ksRenameOp(T, "k", "k2", 0), 0, 0},
		{ksRenameOp(T, "k2", "k", NX), 0, 0},
		{Op{Kind: KindScan, Now: T, At: 10}, 0, 0},
		{Op{Kind: KindKeys, Now: T, Args: ksBytes("*")}, 0, 0},
		{Op{Kind: KindRandomKey, Now: T}, 0, 0},
		{ksArgsOp(T, KindDBSize), 0, 0},
		{ksArgsOp(T, KindDel, "k", "nokey"), 0, 0},
	}
	for _, tc := range tests {
		h0, m0 := s.Stats().Hits.Load(), s.Stats().Misses.Load()
		s.Apply(&tc.op)
		if h, m := s.Stats().Hits.Load()-h0, s.Stats().Misses.Load()-m0; h != tc.hits || m != tc.misses {
			t.Errorf("kind %d: %d hits, %d misses; want %d, %d", tc.op.Kind, h, m, tc.hits, tc.misses)
		}
	}
}

// ksByHash returns keys in the order KEYS and SCAN return them.
func ksByHash(keys ...string) []string {
	out := slices.Clone(keys)
	sort.Slice(out, func(i, j int) bool { return hashKey([]byte(out[i])) < hashKey([]byte(out[j])) })
	return out
}

// TestKeysIndexesStayRight checks the deadline index and the memory
// account after each kind of keyspace write: both must agree with the
// keys left.
func TestKeysIndexesStayRight(t *testing.T) {
	const T = ksT0
	s, _ := ksStore(t, 8)
	ksRun(t, s, []ksStep{
		{ksSetOp(T, "a", "12345", T+100), OK()},
		{ksSetOp(T, "b", "1", 0), OK()},
		{ksSetOp(T, "c", "1", T+50), OK()},
		{ksRenameOp(T, "a", "b", 0), OK()},     // b volatile now, a gone
		{ksKeyOp(T, KindPersist, "c"), Int(1)}, // c persistent
		{ksExpireOp(T, "c", T+70, 0), Int(1)},  // c volatile again
		{ksExpireOp(T, "c", T+80, 0), Int(1)},  // moved
		{ksRenameOp(T, "c", "d", NX), Int(1)},  // d volatile at T+80
		{ksExpireOp(T, "b", T-1, 0), Int(1)},   // deleted
		{ksSetOp(T, "e", "1", 0), OK()},        // persistent
		{ksArgsOp(T, KindDel, "e"), Int(1)},    //
		{ksArgsOp(T, KindDBSize), Int(1)},      // d
		{ksTTLOp(T, "d", Millis), Int(80)},     //
		{ksArgsOp(T+80, KindExists, "d"), Int(1)},
		{ksArgsOp(T+81, KindExists, "d"), Int(0)},
	})
	keys, volatile := s.Len()
	if keys != 1 || volatile != 1 {
		t.Fatalf("Len = %d keys, %d volatile; want 1, 1", keys, volatile)
	}
	if due := s.DueKeys(T+80, 10, 0); len(due) != 0 {
		t.Fatalf("DueKeys at the deadline = %q", due)
	}
	due := s.DueKeys(T+81, 10, 0)
	if len(due) != 1 || string(due[0]) != "d" {
		t.Fatalf("DueKeys = %q, want [d]", due)
	}
	// The same single key written directly costs the same.
	ref, _ := ksStore(t, 8)
	ref.Apply(&Op{Kind: KindSet, Now: T, Key: []byte("d"), Args: ksBytes("1"), At: T + 80})
	if got, want := s.UsedBytes(), ref.UsedBytes(); got != want || want == 0 {
		t.Fatalf("UsedBytes = %d, want %d", got, want)
	}
	s.Apply(&Op{Kind: KindReap, Now: T + 81, Args: due})
	if got := s.UsedBytes(); got != 0 {
		t.Fatalf("UsedBytes after reap = %d, want 0", got)
	}
}

func TestFlushResetsEverything(t *testing.T) {
	const T = ksT0
	s, _ := ksStore(t, 4)
	for i := range 100 {
		at := int64(0)
		if i%2 == 0 {
			at = T + 1000
		}
		s.Apply(&Op{Kind: KindSet, Now: T, Key: fmt.Appendf(nil, "k%d", i), Args: ksBytes("v"), At: at})
	}
	present := s.WatchKey([]byte("k1"))
	absent := s.WatchKey([]byte("nope"))
	if r := s.Apply(&Op{Kind: KindFlush, Now: T}); r.Kind != ROK {
		t.Fatalf("flush: %+v", r)
	}
	if keys, volatile := s.Len(); keys != 0 || volatile != 0 {
		t.Fatalf("Len after flush = %d, %d", keys, volatile)
	}
	if n := s.UsedBytes(); n != 0 {
		t.Fatalf("UsedBytes after flush = %d", n)
	}
	if due := s.DueKeys(T+5000, 1000, 0); len(due) != 0 {
		t.Fatalf("DueKeys after flush = %d keys", len(due))
	}
	// Like Redis, FLUSH breaks the WATCH of a key it removed, not of a
	// key that was absent all along.
	if r := s.Apply(&Op{Kind: KindMulti, Now: T, Watch: []Watch{present}, Subs: []Op{ksArgsOp(T, KindDBSize)}}); r.Kind != RNilList {
		t.Errorf("EXEC watching a present key after FLUSH: %+v, want aborted", r)
	}
	if r := s.Apply(&Op{Kind: KindMulti, Now: T, Watch: []Watch{absent}, Subs: []Op{ksArgsOp(T, KindDBSize)}}); r.Kind != RMulti {
		t.Errorf("EXEC watching an absent key after FLUSH: %+v, want it to run", r)
	}
	// Watching after the flush works again.
	w := s.WatchKey([]byte("nope"))
	r := s.Apply(&Op{Kind: KindMulti, Now: T, Watch: []Watch{w}, Subs: []Op{ksArgsOp(T, KindDBSize)}})
	if r.Kind != RMulti || r.Subs[0].Int != 0 {
		t.Fatalf("EXEC after flush: %+v", r)
	}
}

func TestExpireBreaksWatch(t *testing.T) {
	const T = ksT0
	s, _ := ksStore(t, 4)
	s.Apply(&Op{Kind: KindSet, Now: T, Key: []byte("a"), Args: ksBytes("v")})
	for _, op := range []Op{
		ksExpireOp(T, "a", T+100, 0),
		ksKeyOp(T, KindPersist, "a"),
		ksRenameOp(T, "a", "b", 0),
	} {
		w := s.WatchKey([]byte("a"))
		s.Apply(&op)
		r := s.Apply(&Op{Kind: KindMulti, Now: T, Watch: []Watch{w}})
		if r.Kind != RNilList {
			t.Fatalf("kind %d did not break WATCH: %+v", op.Kind, r)
		}
	}
}

func TestKthSmallest(t *testing.T) {
	if got := kthSmallest([]uint64{math.MaxUint64, 0, math.MaxUint64}, 1); got != math.MaxUint64 {
		t.Errorf("kthSmallest(max, 0, max; 1) = %d", got)
	}
	// Against sorting, on inputs full of repeated values.
	rng := splitMix64(1)
	for round := range 3000 {
		n := int(rng.next()%40) + 1
		hs := make([]uint64, n)
		for i := range hs {
			hs[i] = rng.next() % uint64(1+round%13)
		}
		k := int(rng.next() % uint64(n))
		sorted := slices.Clone(hs)
		slices.Sort(sorted)
		if got := kthSmallest(hs, k); got != sorted[k] {
			t.Fatalf("kthSmallest(%v, %d) = %d, want %d", sorted, k, got, sorted[k])
		}
	}
}

// TestScanSplitsAtHashBoundaries checks the cursor SCAN returns when the
// count ends inside a stripe: it is one past the last hash returned, and
// the next call starts exactly there.
func TestScanSplitsAtHashBoundaries(t *testing.T) {
	const T = ksT0
	s, _ := ksStore(t, 1)
	var keys []string
	for i := range 10 {
		keys = append(keys, fmt.Sprintf("k%d", i))
		s.Apply(&Op{Kind: KindSet, Now: T, Key: []byte(keys[i]), Args: ksBytes("v")})
	}
	keys = ksByHash(keys...)
	r := s.Apply(&Op{Kind: KindScan, Now: T, At: 3})
	if len(r.Vals) != 3 || r.Vals[0].S != keys[0] || r.Vals[2].S != keys[2] {
		t.Fatalf("first SCAN: %+v, want the 3 smallest hashes of %q", r.Vals, keys)
	}
	if want := hashKey([]byte(keys[2])) + 1; uint64(r.Int) != want {
		t.Fatalf("cursor %d, want %d", uint64(r.Int), want)
	}
	r = s.Apply(&Op{Kind: KindScan, Now: T, N: r.Int, At: 3})
	if len(r.Vals) != 3 || r.Vals[0].S != keys[3] {
		t.Fatalf("second SCAN: %+v", r.Vals)
	}
}

// ksScanAll runs a full SCAN with count and returns every key returned and
// the number of calls; every cursor must grow until the final 0.
func ksScanAll(t *testing.T, s *Store, now int64, count int64, args [][]byte, flags Flags) (map[string]int, int) {
	t.Helper()
	seen := map[string]int{}
	cursor := uint64(0)
	for calls := 1; ; calls++ {
		if calls > 1_000_000 {
			t.Fatal("SCAN does not terminate")
		}
		r := s.Apply(&Op{Kind: KindScan, Now: now, N: int64(cursor), At: count, Args: args, Flags: flags})
		if r.Kind != RScan {
			t.Fatalf("SCAN: %+v", r)
		}
		for _, v := range r.Vals {
			seen[v.S]++
		}
		next := uint64(r.Int)
		if next == 0 {
			return seen, calls
		}
		if next <= cursor {
			t.Fatalf("cursor went from %d to %d", cursor, next)
		}
		cursor = next
	}
}

func TestScanReturnsEveryKey(t *testing.T) {
	const T = ksT0
	for _, stripes := range []int{1, 2, 16, 256} {
		for _, count := range []int64{1, 3, 10, 1000} {
			t.Run(fmt.Sprintf("stripes=%d/count=%d", stripes, count), func(t *testing.T) {
				s, _ := ksStore(t, stripes)
				const n = 300
				for i := range n {
					s.Apply(&Op{Kind: KindSet, Now: T, Key: fmt.Appendf(nil, "key:%d", i), Args: ksBytes("v")})
				}
				seen, calls := ksScanAll(t, s, T, count, nil, 0)
				if len(seen) != n {
					t.Fatalf("SCAN returned %d distinct keys, want %d", len(seen), n)
				}
				for k, c := range seen {
					if c != 1 {
						t.Fatalf("key %q returned %d times on a stable keyspace", k, c)
					}
				}
				if maxCalls := n/int(count) + 2; calls > maxCalls {
					t.Fatalf("SCAN took %d calls, want at most %d", calls, maxCalls)
				}
			})
		}
	}
}

func TestScanEmptyAndCursorEnd(t *testing.T) {
	const T = ksT0
	s, _ := ksStore(t, 16)
	r := s.Apply(&Op{Kind: KindScan, Now: T, At: 10})
	if r.Kind != RScan || r.Int != 0 || len(r.Vals) != 0 || r.Vals == nil {
		t.Fatalf("SCAN on empty store: %+v", r)
	}
	s.Apply(&Op{Kind: KindSet, Now: T, Key: []byte("k"), Args: ksBytes("v")})
	r = s.Apply(&Op{Kind: KindScan, Now: T, N: -1, At: 10}) // cursor 2^64-1
	if r.Int != 0 {
		t.Fatalf("SCAN at the last cursor: %+v", r)
	}
	h := hashKey([]byte("k"))
	r = s.Apply(&Op{Kind: KindScan, Now: T, N: int64(h), At: 10})
	if len(r.Vals) != 1 || r.Vals[0].S != "k" {
		t.Fatalf("SCAN at the key's own hash: %+v", r)
	}
	r = s.Apply(&Op{Kind: KindScan, Now: T, N: int64(h + 1), At: 10})
	if len(r.Vals) != 0 {
		t.Fatalf("SCAN past the key's hash: %+v", r)
	}
}

func TestScanFilters(t *testing.T) {
	const T = ksT0
	s, _ := ksStore(t, 16)
	for i := range 50 {
		s.Apply(&Op{Kind: KindSet, Now: T, Key: fmt.Appendf(nil, "user:%d", i), Args: ksBytes("v")})
		s.Apply(&Op{Kind: KindSet, Now: T, Key: fmt.Appendf(nil, "sess:%d", i), Args: ksBytes("v"), At: T + 10})
	}
	tests := []struct {
		name  string
		now   int64
		args  [][]byte
		flags Flags
		want  int
	}{
		{"all", T, nil, 0, 100},
		{"match", T, ksBytes("sess:*", ""), Match, 50},
		{"match star", T, ksBytes("*", ""), Match, 100},
		{"match none", T, ksBytes("x*", ""), Match, 0},
		{"type string", T, ksBytes("", "string"), TypeFilter, 100},
		{"type case-insensitive", T, ksBytes("", "STRING"), TypeFilter, 100},
		{"type hash", T, ksBytes("", "hash"), TypeFilter, 0},
		{"type unknown", T, ksBytes("", "strin"), TypeFilter, 0},
		{"match and type", T, ksBytes("user:1*", "string"), Match | TypeFilter, 11},
		{"empty pattern", T, [][]byte{nil, nil}, Match, 0},
		{"empty type", T, [][]byte{nil, nil}, TypeFilter, 0},
		{"deadline ms still shown", T + 10, nil, 0, 100}, // last two: time never goes back
		{"expired hidden", T + 11, nil, 0, 50},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seen, _ := ksScanAll(t, s, tc.now, 7, tc.args, tc.flags)
			if len(seen) != tc.want {
				t.Fatalf("got %d keys, want %d", len(seen), tc.want)
			}
		})
	}
}

// TestScanGuaranteeUnderChurn changes the keyspace between SCAN calls and
// checks Redis's guarantee: every key present for the whole scan is
// returned.
func TestScanGuaranteeUnderChurn(t *testing.T) {
	const T = ksT0
	s, _ := ksStore(t, 32)
	for i := range 500 {
		s.Apply(&Op{Kind: KindSet, Now: T, Key: fmt.Appendf(nil, "stable:%d", i), Args: ksBytes("v")})
	}
	seen := map[string]bool{}
	cursor := uint64(0)
	for round := 0; ; round++ {
		// Churn: add some keys, delete earlier churn keys, rename some.
		for j := range 5 {
			k := fmt.Appendf(nil, "churn:%d:%d", round, j)
			s.Apply(&Op{Kind: KindSet, Now: T, Key: k, Args: ksBytes("v")})
			if round > 0 {
				s.Apply(&Op{Kind: KindDel, Now: T, Args: [][]byte{fmt.Appendf(nil, "churn:%d:%d", round-1, j)}})
			}
		}
		r := s.Apply(&Op{Kind: KindScan, Now: T, N: int64(cursor), At: 4})
		for _, v := range r.Vals {
			seen[v.S] = true
		}
		cursor = uint64(r.Int)
		if cursor == 0 {
			break
		}
	}
	for i := range 500 {
		if k := fmt.Sprintf("stable:%d", i); !seen[k] {
			t.Fatalf("SCAN missed %q, present throughout", k)
		}
	}
}

// TestWalksInsideMulti runs the keyspace walks inside a MULTI, where every
// stripe is already locked: they must not lock again.
func TestWalksInsideMulti(t *testing.T) {
	const T = ksT0
	s, _ := ksStore(t, 8)
	s.Apply(&Op{Kind: KindSet, Now: T, Key: []byte("a"), Args: ksBytes("v")})
	done := make(chan Result, 1)
	go func() {
		done <- s.Apply(&Op{Kind: KindMulti, Now: T, Subs: []Op{
			{Kind: KindScan, Now: T, At: 10},
			{Kind: KindKeys, Now: T, Args: ksBytes("*")},
			{Kind: KindRandomKey, Now: T, N: 1},
			{Kind: KindDBSize, Now: T},
			{Kind: KindDel, Now: T, Args: ksBytes("a")},
			{Kind: KindDBSize, Now: T},
			{Kind: KindFlush, Now: T},
		}})
	}()
	select {
	case r := <-done:
		want := Result{Kind: RMulti, Subs: []Result{
			{Kind: RScan, Vals: []Val{{S: "a"}}},
			ksList("a"),
			Str("a"),
			Int(1),
			Int(1),
			Int(0),
			OK(),
		}}
		if !ksSame(r, want) {
			t.Fatalf("MULTI: %+v", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("MULTI with keyspace walks deadlocked")
	}
}

// TestWalksConcurrentWithWrites runs the walks through Read while writers
// change the keyspace, for the race detector and for deadlocks.
func TestWalksConcurrentWithWrites(t *testing.T) {
	const T = ksT0
	s, _ := ksStore(t, 8)
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				k := fmt.Appendf(nil, "w%d:%d", w, i%50)
				s.Apply(&Op{Kind: KindSet, Now: T, Key: k, Args: ksBytes("v"), At: T + int64(i%3)*1000})
				s.Apply(&Op{Kind: KindRename, Now: T, Key: k, Args: [][]byte{fmt.Appendf(nil, "w%d:%d", w, (i+7)%50)}})
				if i%100 == 99 {
					s.Apply(&Op{Kind: KindFlush, Now: T})
				}
			}
		}()
	}
	for i := range 100 {
		cursor := uint64(0)
		for range 1000 {
			r := s.Read(&Op{Kind: KindScan, N: int64(cursor), At: 5})
			if r.Kind != RScan {
				t.Fatalf("SCAN: %+v", r)
			}
			if cursor = uint64(r.Int); cursor == 0 {
				break
			}
		}
		for _, op := range []Op{{Kind: KindKeys, Args: ksBytes("w*")}, {Kind: KindDBSize}, {Kind: KindRandomKey, N: int64(i)}} {
			if r := s.Read(&op); r.Kind == RErr {
				t.Fatalf("kind %d: %v", op.Kind, r.Err)
			}
		}
	}
	wg.Wait()
}

func TestRandomKeyCoversKeys(t *testing.T) {
	const T = ksT0
	s, _ := ksStore(t, 16)
	for i := range 20 {
		s.Apply(&Op{Kind: KindSet, Now: T, Key: fmt.Appendf(nil, "k%d", i), Args: ksBytes("v")})
	}
	seen := map[string]bool{}
	for seed := range 2000 {
		r := s.Apply(&Op{Kind: KindRandomKey, Now: T, N: int64(seed)})
		if r.Kind != RStr {
			t.Fatalf("RANDOMKEY: %+v", r)
		}
		seen[r.Str] = true
	}
	if len(seen) != 20 {
		t.Fatalf("2000 RANDOMKEYs saw %d of 20 keys", len(seen))
	}
	// Deterministic: the same seed on the same data picks the same key.
	a := s.Apply(&Op{Kind: KindRandomKey, Now: T, N: 42})
	b := s.Apply(&Op{Kind: KindRandomKey, Now: T, N: 42})
	if a.Str != b.Str {
		t.Fatalf("same seed gave %q then %q", a.Str, b.Str)
	}
}

func TestReadUsesStoreClock(t *testing.T) {
	s, clk := ksStore(t, 4)
	s.Apply(&Op{Kind: KindSet, Now: ksT0, Key: []byte("a"), Args: ksBytes("v"), At: ksT0 + 2000})
	if r := s.Read(&Op{Kind: KindTTL, Key: []byte("a"), Flags: Millis}); r.Int != 2000 {
		t.Fatalf("PTTL = %+v, want 2000", r)
	}
	clk.Advance(2 * time.Second)
	if r := s.Read(&Op{Kind: KindTTL, Key: []byte("a"), Flags: Millis}); r.Kind != RInt || r.Int != 0 {
		t.Fatalf("PTTL at the deadline = %+v, want 0", r)
	}
	clk.Advance(time.Millisecond)
	if r := s.Read(&Op{Kind: KindTTL, Key: []byte("a")}); r.Int != -2 {
		t.Fatalf("TTL after the deadline = %+v, want -2", r)
	}
	if r := s.Read(&Op{Kind: KindExpire, Key: []byte("a"), At: 1}); r.Err != ErrUnknownOp {
		t.Fatalf("Read of a write kind: %+v", r)
	}
}
