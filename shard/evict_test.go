package shard

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"sessiond/ttl"
)

func TestParsePolicy(t *testing.T) {
	for _, tc := range []struct {
		name     string
		want     Policy
		ok       bool
		volatile bool
	}{
		{"noeviction", NoEviction, true, false},
		{"allkeys-lru", AllKeysLRU, true, false},
		{"VOLATILE-LRU", VolatileLRU, true, true},
		{"allkeys-lfu", AllKeysLFU, true, false},
		{"volatile-lfu", VolatileLFU, true, true},
		{"allkeys-random", AllKeysRandom, true, false},
		{"volatile-random", VolatileRandom, true, true},
		{"volatile-ttl", VolatileTTL, true, true},
		{"lru", NoEviction, false, false},
		{"", NoEviction, false, false},
	} {
		p, ok := ParsePolicy(tc.name)
		if p != tc.want || ok != tc.ok || p.Volatile() != tc.volatile {
			t.Errorf("ParsePolicy(%q) = %v, %v (volatile %v); want %v, %v (volatile %v)",
				tc.name, p, ok, p.Volatile(), tc.want, tc.ok, tc.volatile)
		}
		if ok && p.String() != strings.ToLower(tc.name) {
			t.Errorf("%v.String() = %q", p, p.String())
		}
	}
}

func TestAccessClock(t *testing.T) {
	const sec = int64(1000)
	t0 := int64(1_700_000_000_000)
	key := []byte("k")
	for _, tc := range []struct {
		name     string
		lru      uint32
		now      int64
		wantIdle int64 // idle seconds of lru at now
		wantCnt  uint8 // decayed LFU counter of lru at now
	}{
		{"never stamped", 0, t0, clockMask, 0},
		{"same second", packClock(clockAt(t0), 7), t0 + 999, 0, 7},
		{"30 s idle", packClock(clockAt(t0), 7), t0 + 30*sec, 30, 7},
		{"3 min idle decays 3", packClock(clockAt(t0), 7), t0 + 180*sec, 180, 4},
		{"decay floors at 0", packClock(clockAt(t0), 2), t0 + 600*sec, 600, 0},
		{"clock wrap", packClock(clockMask, 9), (clockMask + 1 + 4) * sec, 5, 9},
	} {
		if got := idleSeconds(tc.lru, tc.now); got != tc.wantIdle {
			t.Errorf("%s: idleSeconds = %d, want %d", tc.name, got, tc.wantIdle)
		}
		if got := lfuCounter(tc.lru, tc.now); got != tc.wantCnt {
			t.Errorf("%s: lfuCounter = %d, want %d", tc.name, got, tc.wantCnt)
		}
	}

	// A first touch stamps the time and starts the counter at
	// LFU_INIT_VAL+1; a write to a new key starts it at LFU_INIT_VAL.
	v := touched(0, t0, key)
	if idleSeconds(v, t0) != 0 || lfuCounter(v, t0) != lfuInitVal+1 {
		t.Errorf("touched(0) = %#x: idle %d counter %d", v, idleSeconds(v, t0), lfuCounter(v, t0))
	}
	if w := writeClock(0, t0, key); idleSeconds(w, t0) != 0 || lfuCounter(w, t0) != lfuInitVal {
		t.Errorf("writeClock(0) = %#x", w)
	}
	// Under LFU_INIT_VAL every access counts; then increments grow rare
	// (logarithmic counter) but the counter never goes back on access.
	v = packClock(clockAt(t0), 0)
	for i := 1; i <= lfuInitVal; i++ {
		v = touched(v, t0, key)
		if got := lfuCounter(v, t0); got != uint8(i) {
			t.Fatalf("access %d: counter %d", i, got)
		}
	}
	prev := lfuCounter(v, t0)
	for i := 0; i < 10000; i++ {
		v = touched(v, t0+int64(i), key)
		c := lfuCounter(v, t0+int64(i))
		if c < prev {
			t.Fatalf("counter went back from %d to %d", prev, c)
		}
		prev = c
	}
	if prev <= lfuInitVal+5 || prev >= 100 {
		t.Errorf("counter after 10000 accesses = %d, want logarithmic growth (between %d and 100)", prev, lfuInitVal+5)
	}
	// Pure function: same inputs, same clock.
	if touched(v, t0+5, key) != touched(v, t0+5, key) {
		t.Error("touched is not deterministic")
	}
	if packClock(0, 0) == 0 {
		t.Error("packClock produced 0, which means never stamped")
	}
}

func TestAccessWritesOnlyOnChange(t *testing.T) {
	clock := ttl.NewFakeClock(time.UnixMilli(1_700_000_000_000))
	s := New(Config{Stripes: 1, Clock: clock})
	s.Apply(&Op{Kind: KindSet, Key: []byte("k"), Args: [][]byte{[]byte("v")}, Now: 1_700_000_000_000})
	get := func() uint32 {
		t.Helper()
		if r := s.Read(&Op{Kind: KindGet, Key: []byte("k")}); r.Kind != RStr {
			t.Fatalf("GET: %+v", r)
		}
		return s.stripes[0].m["k"].lru
	}
	first := get()
	if idleSeconds(first, clock.Now().UnixMilli()) != 0 {
		t.Fatalf("GET did not stamp the access time: %#x", first)
	}
	clock.Advance(90 * time.Second)
	later := get()
	if later>>8 == first>>8 || idleSeconds(later, clock.Now().UnixMilli()) != 0 {
		t.Errorf("a GET 90 s later left the clock at %#x (was %#x)", later, first)
	}
}

// evictStore returns a one-stripe store (so that one sample sees every
// key) holding string keys; reads at the given offsets (seconds after
// start) stamp their access clocks. Keys named in ttls get that deadline
// (ms after start).
func evictStore(t *testing.T, keys []string, reads map[string][]int, ttls map[string]int64) (*Store, int64) {
	t.Helper()
	start := int64(1_700_000_000_000)
	clock := ttl.NewFakeClock(time.UnixMilli(start))
	s := New(Config{Stripes: 1, Clock: clock})
	for _, k := range keys {
		op := Op{Kind: KindSet, Key: []byte(k), Args: [][]byte{[]byte("value")}, Now: start}
		if d, ok := ttls[k]; ok {
			op.At = start + d
		}
		if r := s.Apply(&op); r.Kind != ROK {
			t.Fatalf("SET %s: %+v", k, r)
		}
	}
	// Replay the reads in time order.
	type read struct {
		at  int
		key string
	}
	var all []read
	for k, ats := range reads {
		for _, at := range ats {
			all = append(all, read{at, k})
		}
	}
	slices.SortFunc(all, func(a, b read) int { return a.at - b.at })
	for _, r := range all {
		clock.Set(time.UnixMilli(start + int64(r.at)*1000))
		if res := s.Read(&Op{Kind: KindGet, Key: []byte(r.key)}); res.Kind != RStr {
			t.Fatalf("GET %s: %+v", r.key, res)
		}
	}
	return s, start
}

// setCounters gives keys of s (one stripe) the LFU counters in lfu, as
// stamped at time at (ms).
func setCounters(s *Store, lfu map[string]uint8, at int64) {
	st := &s.stripes[0]
	for k, c := range lfu {
		e := st.m[k]
		e.lru = packClock(clockAt(at), c)
		st.m[k] = e
	}
}

// evictionOrder samples and takes candidates under p until none is left,
// deleting each (as the server's KindEvict would), and returns the keys in
// the order they were chosen.
func evictionOrder(t *testing.T, s *Store, p Policy, samples int, now int64) []string {
	t.Helper()
	pool := NewEvictionPool(rand.New(rand.NewPCG(1, 2)))
	var out []string
	for i := 0; i < 1000; i++ {
		if !s.SampleEviction(pool, p, samples, now) {
			return out
		}
		k, size, ok := s.NextEviction(pool, p)
		if !ok {
			continue
		}
		if size <= 0 {
			t.Errorf("NextEviction(%s) size %d", k, size)
		}
		out = append(out, string(k))
		if r := s.Apply(&Op{Kind: KindEvict, Args: [][]byte{k}, Now: now}); r.Kind != RInt {
			t.Fatalf("evict: %+v", r)
		}
	}
	t.Fatalf("eviction under %v did not run out of keys", p)
	return nil
}

func TestEvictionSelection(t *testing.T) {
	keys := []string{"a", "b", "c", "d"}
	for _, tc := range []struct {
		name    string
		policy  Policy
		reads   map[string][]int
		lfu     map[string]uint8 // LFU counters, stamped a second after start
		ttls    map[string]int64
		samples int
		at      int      // seconds after start
		want    []string // exact eviction order, when determined
		only    []string // the keys that may be evicted, in any order
	}{
		{
			name: "allkeys-lru takes the idlest first", policy: AllKeysLRU, samples: 5, at: 100,
			reads: map[string][]int{"a": {30}, "b": {10}, "c": {40}, "d": {20}},
			want:  []string{"b", "d", "a", "c"},
		},
		{
			name: "allkeys-lru: a never-read key is idlest", policy: AllKeysLRU, samples: 5, at: 100,
			reads: map[string][]int{"a": {30}, "b": {10}, "c": {40}},
			want:  []string{"d", "b", "a", "c"},
		},
		{
			name: "volatile-lru skips persistent keys", policy: VolatileLRU, samples: 5, at: 100,
			reads: map[string][]int{"a": {30}, "b": {10}, "c": {40}, "d": {20}},
			ttls:  map[string]int64{"a": 3600_000, "c": 3600_000},
			want:  []string{"a", "c"},
		},
		{
			name: "volatile-ttl takes the nearest deadline first", policy: VolatileTTL, samples: 5, at: 1,
			ttls: map[string]int64{"a": 50_000, "b": 7_000, "d": 900_000},
			want: []string{"b", "a", "d"},
		},
		{
			name: "volatile-ttl with one sample still finds the nearest", policy: VolatileTTL, samples: 1, at: 1,
			ttls: map[string]int64{"a": 50_000, "b": 7_000, "c": 20_000, "d": 900_000},
			want: []string{"b", "c", "a", "d"},
		},
		{
			name: "allkeys-lfu takes the least used first", policy: AllKeysLFU, samples: 5, at: 10,
			lfu:  map[string]uint8{"a": 20, "b": 5, "c": 40, "d": 9},
			want: []string{"b", "d", "a", "c"},
		},
		{
			name: "allkeys-lfu: counters decay with idleness", policy: AllKeysLFU, samples: 5, at: 60 * 30,
			// At 30 min: a 40-29=11, c 60-29=31; b and d were first
			// read at 29 min (counter 6, or 1 if the write stamped 5
			// that has decayed since), b 60 s ago (one period), d 50 s.
			reads: map[string][]int{"b": {60 * 29}, "d": {60*29 + 10}},
			lfu:   map[string]uint8{"a": 40, "c": 60},
			want:  []string{"b", "d", "a", "c"},
		},
		{
			name: "volatile-lfu skips persistent keys", policy: VolatileLFU, samples: 5, at: 10,
			lfu:  map[string]uint8{"a": 20, "b": 5, "c": 40, "d": 9},
			ttls: map[string]int64{"c": 3600_000, "d": 3600_000},
			want: []string{"d", "c"},
		},
		{
			name: "allkeys-random takes every key", policy: AllKeysRandom, samples: 5, at: 1,
			only: []string{"a", "b", "c", "d"},
		},
		{
			name: "volatile-random skips persistent keys", policy: VolatileRandom, samples: 5, at: 1,
			ttls: map[string]int64{"b": 3600_000, "d": 3600_000},
			only: []string{"b", "d"},
		},
		{
			name: "an expired key goes before a live one", policy: AllKeysLRU, samples: 5, at: 100,
			reads: map[string][]int{"a": {1}, "c": {2}, "d": {3}},
			ttls:  map[string]int64{"c": 50_000},
			want:  []string{"c", "b", "a", "d"},
		},
		{
			name: "noeviction evicts nothing", policy: NoEviction, samples: 5, at: 1,
			want: nil,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, start := evictStore(t, keys, tc.reads, tc.ttls)
			setCounters(s, tc.lfu, start+1000)
			got := evictionOrder(t, s, tc.policy, tc.samples, start+int64(tc.at)*1000)
			if tc.only != nil {
				slices.Sort(got)
				if !slices.Equal(got, tc.only) {
					t.Errorf("evicted %v, want exactly %v", got, tc.only)
				}
				return
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("eviction order %v, want %v", got, tc.want)
			}
		})
	}
}

func TestEvictionManyStripes(t *testing.T) {
	// With the default 256 stripes, sampling visits random stripes: every
	// key is eventually found, volatile policies never take a persistent
	// key, and an emptied store has nothing to sample.
	now := int64(1_700_000_000_000)
	for _, p := range []Policy{AllKeysLRU, VolatileLRU, AllKeysLFU, VolatileLFU, AllKeysRandom, VolatileRandom, VolatileTTL} {
		t.Run(p.String(), func(t *testing.T) {
			s := New(Config{})
			volatile := map[string]bool{}
			for i := 0; i < 300; i++ {
				k := fmt.Sprintf("key:%d", i)
				op := Op{Kind: KindSet, Key: []byte(k), Args: [][]byte{[]byte("v")}, Now: now}
				if i%3 == 0 {
					op.At = now + int64(i+1)*1000
					volatile[k] = true
				}
				s.Apply(&op)
			}
			got := evictionOrder(t, s, p, 5, now)
			want := 300
			if p.Volatile() {
				want = len(volatile)
			}
			if len(got) != want {
				t.Errorf("evicted %d keys, want %d", len(got), want)
			}
			seen := map[string]bool{}
			for _, k := range got {
				if seen[k] {
					t.Errorf("%s evicted twice", k)
				}
				seen[k] = true
				if p.Volatile() && !volatile[k] {
					t.Errorf("%v evicted persistent key %s", p, k)
				}
			}
			keys, vol := s.Len()
			if p.Volatile() && (vol != 0 || keys != 300-want) {
				t.Errorf("left %d keys (%d volatile)", keys, vol)
			}
		})
	}
}

func TestNextEvictionRevalidates(t *testing.T) {
	s, start := evictStore(t, []string{"a", "b"}, nil, map[string]int64{"a": 60_000, "b": 60_000})
	pool := NewEvictionPool(rand.New(rand.NewPCG(3, 4)))
	if !s.SampleEviction(pool, VolatileLRU, 5, start) || pool.Len() != 2 {
		t.Fatalf("pool holds %d candidates, want 2", pool.Len())
	}
	// a is deleted and b loses its deadline after sampling: neither may
	// be evicted by a volatile policy any more.
	s.Apply(&Op{Kind: KindEvict, Args: [][]byte{[]byte("a")}, Now: start})
	s.Apply(&Op{Kind: KindSet, Key: []byte("b"), Args: [][]byte{[]byte("v")}, Now: start})
	if k, _, ok := s.NextEviction(pool, VolatileLRU); ok {
		t.Errorf("NextEviction returned %s", k)
	}
	if s.SampleEviction(pool, VolatileLRU, 5, start) {
		t.Error("SampleEviction found a volatile key in a store without any")
	}
	if !s.SampleEviction(pool, AllKeysLRU, 5, start) {
		t.Error("SampleEviction found nothing under allkeys-lru")
	}
}

func TestEvictionPoolKeepsBest(t *testing.T) {
	p := NewEvictionPool(rand.New(rand.NewPCG(5, 6)))
	for i := 0; i < 40; i++ {
		p.add(fmt.Sprint(i), uint64((i*7)%40))
	}
	p.add("7", 1000) // a key already held gets its new score
	if p.Len() != PoolSize {
		t.Fatalf("pool holds %d, want %d", p.Len(), PoolSize)
	}
	var scores []uint64
	first, _ := p.pop()
	if first != "7" {
		t.Errorf("best candidate %q, want 7", first)
	}
	for p.Len() > 0 {
		k, _ := p.pop()
		var i int
		fmt.Sscan(k, &i)
		scores = append(scores, uint64((i*7)%40))
	}
	// The 16 best of scores 0..39 (less the one re-scored) are 39 down to
	// 24 or 23.
	if len(scores) != PoolSize-1 || scores[0] != 39 || !slices.IsSortedFunc(scores, func(a, b uint64) int { return int(b) - int(a) }) {
		t.Errorf("pool popped scores %v", scores)
	}
}

func TestEvictOpCounts(t *testing.T) {
	s, start := evictStore(t, []string{"a", "b", "c"}, nil, map[string]int64{"c": 1000})
	used := s.UsedBytes()
	// c has expired by now: deleting it frees memory but is no eviction.
	r := s.Apply(&Op{Kind: KindEvict, Args: [][]byte{[]byte("a"), []byte("c"), []byte("zz")}, Now: start + 5000})
	if r.Kind != RInt || r.Int != 1 {
		t.Errorf("evict result %+v, want 1", r)
	}
	if n := s.Stats().EvictedKeys.Load(); n != 1 {
		t.Errorf("EvictedKeys = %d, want 1", n)
	}
	if keys, _ := s.Len(); keys != 1 {
		t.Errorf("%d keys left, want 1", keys)
	}
	if s.UsedBytes() >= used {
		t.Errorf("UsedBytes %d did not fall from %d", s.UsedBytes(), used)
	}
}
