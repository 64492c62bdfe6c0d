package shard

import (
	"fmt"
	"runtime/debug"
	"slices"
	"testing"
	"time"

	"sessiond/ttl"
)

// rpT0 is the reap tests' start time, in Unix ms.
const rpT0 = int64(1_700_000_000_000)

// rpRaceEnabled reports whether the test binary was built with -race.
func rpRaceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

func rpStore(stripes int) (*Store, *ttl.FakeClock) {
	clock := ttl.NewFakeClock(time.UnixMilli(rpT0))
	return New(Config{Stripes: stripes, Clock: clock}), clock
}

func rpSet(s *Store, now int64, key, val string, at int64) Result {
	op := Op{Kind: KindSet, Now: now, At: at, Key: []byte(key), Args: [][]byte{[]byte(val)}}
	if at != 0 {
		op.Flags |= SetExpiry
	}
	return s.Apply(&op)
}

func rpGet(s *Store, now int64, key string) Result {
	return s.Apply(&Op{Kind: KindGet, Now: now, Key: []byte(key)})
}

func rpReap(s *Store, now int64, keys [][]byte) Result {
	return s.Apply(&Op{Kind: KindReap, Now: now, Args: keys})
}

func rpStrings(keys [][]byte) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = string(k)
	}
	slices.Sort(out)
	return out
}

// TestDueKeysExact checks that DueKeys offers exactly the keys due at now
// (deadline before now, as Redis's keyIsExpired), however the deadlines
// fall in the index's buckets, and honours max.
func TestDueKeysExact(t *testing.T) {
	s, _ := rpStore(4)
	now := rpT0 + 1000
	deadlines := map[string]int64{
		"past":        rpT0 + 1,
		"just-due":    now - 1, // passed one ms ago: due
		"at-deadline": now,     // its own last millisecond: not due yet
		"next-ms":     now + 1, // same bucket or the next: not due
		"in-a-second": now + 1000,
		"bucket-edge": (now>>ttl.BucketShift)<<ttl.BucketShift + 1<<ttl.BucketShift - 1,
	}
	for k, d := range deadlines {
		if r := rpSet(s, rpT0, k, "v", d); r.Kind != ROK {
			t.Fatalf("SET %s: %+v", k, r)
		}
	}
	rpSet(s, rpT0, "persistent", "v", 0)
	got := rpStrings(s.DueKeys(now, 100, 0))
	if want := []string{"just-due", "past"}; !slices.Equal(got, want) {
		t.Fatalf("DueKeys(now) = %q, want %q", got, want)
	}
	if got := s.DueKeys(now, 1, 3); len(got) != 1 {
		t.Fatalf("DueKeys with max 1 gave %d keys", len(got))
	}
	if got := s.DueKeys(rpT0, 100, 0); len(got) != 0 {
		t.Fatalf("DueKeys before any deadline = %q", rpStrings(got))
	}
	if got := s.DueKeys(now+2000, 100, 1); len(got) != len(deadlines) {
		t.Fatalf("DueKeys after every deadline = %q", rpStrings(got))
	}
	// Applying the reap deletes them and counts them.
	r := rpReap(s, now, s.DueKeys(now, 100, 0))
	if r.Kind != RInt || r.Int != 2 || s.Stats().ExpiredKeys.Load() != 2 {
		t.Fatalf("reap: %+v, ExpiredKeys %d", r, s.Stats().ExpiredKeys.Load())
	}
	if keys, volatile := s.Len(); keys != 5 || volatile != 4 {
		t.Fatalf("after the reap: %d keys, %d volatile", keys, volatile)
	}
}

// TestReapSkipsRefreshedKeys: the leader picks due keys, then writes
// refresh some before the reap op is applied. The reap deletes only what
// is still due at its own time.
func TestReapSkipsRefreshedKeys(t *testing.T) {
	s, _ := rpStore(4)
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		rpSet(s, rpT0, k, "old", rpT0+100)
	}
	at := rpT0 + 200
	keys := s.DueKeys(at, 100, 0)
	if len(keys) != 5 {
		t.Fatalf("DueKeys = %q", rpStrings(keys))
	}
	// In between: a rewritten without a deadline, b with a later one, c
	// with KEEPTTL (the old deadline is gone with the old value), d
	// deleted and created again; e left alone.
	rpSet(s, at, "a", "new", 0)
	rpSet(s, at, "b", "new", at+1000)
	s.Apply(&Op{Kind: KindSet, Now: at, Key: []byte("c"), Args: [][]byte{[]byte("new")}, Flags: KeepTTL})
	s.Apply(&Op{Kind: KindDel, Now: at, Args: [][]byte{[]byte("d")}})
	rpSet(s, at, "d", "new", 0)

	r := rpReap(s, at, keys)
	if r.Kind != RInt || r.Int != 1 {
		t.Fatalf("reap removed %+v, want only e", r)
	}
	for k, want := range map[string]Result{"a": Str("new"), "b": Str("new"), "c": Str("new"), "d": Str("new"), "e": Nil()} {
		if got := rpGet(s, at, k); !sameResult(got, want) {
			t.Fatalf("GET %s after the reap = %+v, want %+v", k, got, want)
		}
	}
	if keys, volatile := s.Len(); keys != 4 || volatile != 1 {
		t.Fatalf("after the reap: %d keys (%d volatile), want 4 (1)", keys, volatile)
	}
}

// TestTimeNeverGoesBack applies ops stamped with an older time than one
// already applied (a new leader with a slower clock): they run at the
// newer time, so nothing that expired comes back.
func TestTimeNeverGoesBack(t *testing.T) {
	s, clock := rpStore(4)
	rpSet(s, rpT0, "k", "v", rpT0+100)
	rpSet(s, rpT0, "later", "v", rpT0+300)
	if r := rpGet(s, rpT0+200, "k"); r.Kind != RNil {
		t.Fatalf("GET at +200 = %+v, want nil", r)
	}
	// An op from the past: k stays expired.
	if r := rpGet(s, rpT0+50, "k"); r.Kind != RNil {
		t.Fatalf("GET stamped +50 after +200 was applied = %+v, want nil", r)
	}
	// A TTL answered at the newer time.
	ttlOp := Op{Kind: KindTTL, Flags: Millis, Now: rpT0 + 50, Key: []byte("later")}
	if r := s.Apply(&ttlOp); r.Kind != RInt || r.Int != 100 {
		t.Fatalf("PTTL stamped +50 = %+v, want 100 (judged at +200)", r)
	}
	// A SET from the past whose deadline is already behind the newer time
	// leaves nothing.
	rpSet(s, rpT0+50, "born-dead", "v", rpT0+150)
	if r := rpGet(s, rpT0+200, "born-dead"); r.Kind != RNil {
		t.Fatalf("SET stamped +50 with deadline +150 = %+v, want nil", r)
	}
	// A reap stamped in the past still reaps what is due at the newer time.
	if r := rpReap(s, rpT0+50, [][]byte{[]byte("k")}); r.Int != 1 {
		t.Fatalf("reap stamped +50 removed %d, want 1", r.Int)
	}
	// A replica's clock behind the applied time reads at the applied time.
	clock.Set(time.UnixMilli(rpT0))
	if r := s.Read(&Op{Kind: KindGet, Key: []byte("k")}); r.Kind != RNil {
		t.Fatalf("Read with the clock at +0 = %+v, want nil", r)
	}
	if r := s.Read(&Op{Kind: KindTTL, Flags: Millis, Key: []byte("later")}); r.Int != 100 {
		t.Fatalf("Read PTTL with the clock at +0 = %+v, want 100", r)
	}
}

// TestReapHashFields: due hash fields are reclaimed by the reap without
// any read, live ones stay, and a hash whose last field expired goes.
func TestReapHashFields(t *testing.T) {
	s, _ := rpStore(4)
	hset := func(key string, kv ...string) {
		op := Op{Kind: KindHSet, Now: rpT0, Key: []byte(key)}
		for _, a := range kv {
			op.Args = append(op.Args, []byte(a))
		}
		if r := s.Apply(&op); r.Kind == RErr {
			t.Skipf("HSET: %v", r.Err)
		}
	}
	hexpire := func(key string, at int64, fields ...string) {
		op := Op{Kind: KindHExpire, Now: rpT0, At: at, Key: []byte(key)}
		for _, f := range fields {
			op.Args = append(op.Args, []byte(f))
		}
		if r := s.Apply(&op); r.Kind == RErr {
			t.Skipf("HEXPIRE: %v", r.Err)
		}
	}
	hset("h", "f1", "v1", "f2", "v2", "f3", "v3")
	hexpire("h", rpT0+100, "f1", "f2")
	hset("gone", "f", "v")
	hexpire("gone", rpT0+100, "f")
	hset("big", "x", "y")
	for i := 0; i < 200; i++ { // over hash-max-listpack-entries
		hset("big", fmt.Sprint("f", i), "v")
	}
	hexpire("big", rpT0+100, "f7")
	before := s.UsedBytes()

	at := rpT0 + 200
	keys := rpStrings(s.DueKeys(at, 100, 0))
	if want := []string{"big", "gone", "h"}; !slices.Equal(keys, want) {
		t.Fatalf("DueKeys = %q, want %q", keys, want)
	}
	r := rpReap(s, at, s.DueKeys(at, 100, 0))
	if r.Kind != RInt || r.Int != 4 || s.Stats().ExpiredFields.Load() != 4 {
		t.Fatalf("reap: %+v, ExpiredFields %d; want 4 fields", r, s.Stats().ExpiredFields.Load())
	}
	if n, _ := s.Len(); n != 2 {
		t.Fatalf("%d keys left, want h and big", n)
	}
	hlen := s.Apply(&Op{Kind: KindHLen, Now: at, Key: []byte("h")})
	if hlen.Int != 1 {
		t.Fatalf("HLEN h = %+v, want 1", hlen)
	}
	if after := s.UsedBytes(); after >= before {
		t.Fatalf("memory account %d after reaping fields, %d before", after, before)
	}
	if got := s.DueKeys(at, 100, 0); len(got) != 0 {
		t.Fatalf("still due after the reap: %q", rpStrings(got))
	}
}

// TestReaperMillionKeysBounded expires a million keys at once and reaps
// them with a ttl.Reaper whose fake clock advances a millisecond per
// batch: every cycle stays within its budget, repeated cycles reclaim
// everything, and the memory account returns to zero. Under the race
// detector, which makes this map work several times slower, and with
// -short, it uses 100,000 keys.
func TestReaperMillionKeysBounded(t *testing.T) {
	n := 1_000_000
	if testing.Short() || rpRaceEnabled() {
		n = 100_000
	}
	s, clock := rpStore(256)
	mset := Op{Kind: KindMSet, Now: rpT0}
	for i := 0; i < n; i++ {
		k := []byte(fmt.Sprint("sess:", i))
		mset.Args = append(mset.Args, k, []byte("v"))
	}
	s.Apply(&mset)
	for i := 0; i < n; i += 2 { // half by SET PX, half by EXPIRE
		k := mset.Args[2*i]
		rpSet(s, rpT0, string(k), "v", rpT0+100)
		s.Apply(&Op{Kind: KindExpire, Now: rpT0, At: rpT0 + 150, Key: mset.Args[2*i+2]})
	}
	mset.Args = nil
	if keys, volatile := s.Len(); keys != n || volatile != n {
		t.Fatalf("%d keys, %d volatile", keys, volatile)
	}
	clock.Advance(time.Second)

	const batch, budget = 512, 25 * time.Millisecond
	perCycle := batch * int(budget/time.Millisecond) // a batch costs 1 ms of fake time
	start, calls := 0, 0
	r := ttl.Reaper{Clock: clock, Batch: batch, Budget: budget, Reap: func(now int64, max int) int {
		calls++
		start++
		keys := s.DueKeys(now, max, start)
		if len(keys) > max {
			t.Fatalf("DueKeys gave %d keys, max %d", len(keys), max)
		}
		rpReap(s, now, keys)
		clock.Advance(time.Millisecond)
		return len(keys)
	}}
	cycles, reaped := 0, 0
	for {
		left, _ := s.Len()
		if left == 0 {
			break
		}
		c := r.Cycle()
		cycles++
		if c > perCycle {
			t.Fatalf("cycle %d reaped %d keys, budget allows %d", cycles, c, perCycle)
		}
		if c == 0 {
			t.Fatalf("cycle %d made no progress with %d keys left", cycles, left)
		}
		reaped += c
	}
	if reaped != n || s.Stats().ExpiredKeys.Load() != int64(n) {
		t.Fatalf("reaped %d, ExpiredKeys %d, want %d", reaped, s.Stats().ExpiredKeys.Load(), n)
	}
	if s.UsedBytes() != 0 {
		t.Fatalf("memory account %d after reaping every key", s.UsedBytes())
	}
	if min := n / perCycle; cycles < min {
		t.Fatalf("%d cycles for %d keys: a cycle overran its budget", cycles, n)
	}
	t.Logf("%d keys reaped in %d cycles, %d batches", n, cycles, calls)
	for i := range s.stripes {
		if b := s.stripes[i].keyTTL.Buckets(); b != 0 {
			t.Fatalf("stripe %d keeps %d emptied deadline buckets", i, b)
		}
	}
}
