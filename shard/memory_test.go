package shard

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// liveHeap returns the live heap after a full collection.
func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// sessionFields returns the HSET arguments of a ten-field session hash.
func sessionFields(i int) [][]byte {
	kv := []string{
		"user_id", fmt.Sprintf("u%08d", i),
		"username", fmt.Sprintf("user_%d", i),
		"email", fmt.Sprintf("user%d@example.com", i),
		"created_at", fmt.Sprint(1700000000 + i),
		"last_seen", fmt.Sprint(1700003600 + i),
		"ip", fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255),
		"user_agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
		"csrf", fmt.Sprintf("%032x", uint64(i)*0x9e3779b97f4a7c15),
		"role", "member",
		"locale", "en-US",
	}
	out := make([][]byte, len(kv))
	for j, s := range kv {
		out[j] = []byte(s)
	}
	return out
}

// TestCostTracksHeap checks the memory model behind used_memory and
// maxmemory: for keys of several shapes, the store's accounted bytes
// (cost per key, plus the deadline indexes' buckets) must stay within 25%
// of the live heap the keys really add. It is a measurement with generous
// bounds: the map share of a key swings with the key count (Go maps grow
// by doubling and never shrink), which the model averages.
func TestCostTracksHeap(t *testing.T) {
	const now = int64(1_700_000_000_000)
	const n = 40_000
	big := make([][]byte, 0, 2*300)
	for f := 0; f < 300; f++ {
		big = append(big, []byte(fmt.Sprintf("field:%d", f)), []byte(fmt.Sprintf("value-%d", f*f)))
	}
	for _, tc := range []struct {
		name string
		n    int
		key  func(i int) []byte
		ops  func(key []byte, i int) []Op
	}{
		{"short strings", n, func(i int) []byte { return []byte(fmt.Sprint("k:", i)) },
			func(key []byte, i int) []Op {
				return []Op{{Kind: KindSet, Key: key, Args: [][]byte{[]byte(fmt.Sprint(i))}}}
			}},
		{"200-byte strings, bulk-loaded TTLs", n, sessionKey,
			func(key []byte, i int) []Op {
				return []Op{{Kind: KindSet, Key: key, Args: [][]byte{[]byte(strings.Repeat("s", 200))},
					At: now + 1800_000 + int64(i/50)}}
			}},
		{"strings, a TTL bucket each", n, sessionKey,
			func(key []byte, i int) []Op {
				return []Op{{Kind: KindSet, Key: key, Args: [][]byte{[]byte("v")}, At: now + 1800_000 + int64(i)*1000}}
			}},
		{"ten-field session hashes with TTL", n, sessionKey,
			func(key []byte, i int) []Op {
				return []Op{
					{Kind: KindHSet, Key: key, Args: sessionFields(i)},
					{Kind: KindExpire, Key: key, At: now + 1800_000 + int64(i/50)},
				}
			}},
		{"300-field hashes", 200, func(i int) []byte { return []byte(fmt.Sprint("big:", i)) },
			func(key []byte, i int) []Op {
				return []Op{{Kind: KindHSet, Key: key, Args: big}}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := liveHeap()
			s := New(Config{})
			for i := 0; i < tc.n; i++ {
				for _, op := range tc.ops(tc.key(i), i) {
					op.Now = now
					if r := s.Apply(&op); r.Kind == RErr {
						t.Fatalf("%v: %v", op.Kind, r.Err)
					}
				}
			}
			heap := liveHeap() - before
			acc := s.MemoryUsage().Bytes()
			runtime.KeepAlive(s)
			t.Logf("%d keys: heap %d B/key, accounted %d B/key", tc.n, heap/int64(tc.n), acc/int64(tc.n))
			if ratio := float64(acc) / float64(heap); ratio < 0.75 || ratio > 1.25 {
				t.Errorf("accounted %d bytes for %d of heap (ratio %.2f)", acc, heap, ratio)
			}
			// Deleting every key returns the account to zero.
			for i := 0; i < tc.n; i++ {
				s.Apply(&Op{Kind: KindEvict, Args: [][]byte{tc.key(i)}, Now: now})
			}
			if u := s.MemoryUsage(); u.Keys != 0 || u.DeadlineBuckets != 0 {
				t.Errorf("after deleting every key: %+v", u)
			}
		})
	}
}

func sessionKey(i int) []byte { return []byte(fmt.Sprintf("session:%08d", i)) }

func TestAllocSize(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want int64
	}{
		{0, 0}, {1, 1}, {15, 15}, {16, 16}, {17, 24}, {33, 48}, {200, 208},
		{1000, 1024}, {32768, 32768}, {32769, 40960}, {100000, 106496},
	} {
		if got := allocSize(tc.n); got != tc.want {
			t.Errorf("allocSize(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
	// Measured: a string of each size really takes its allocSize.
	for _, n := range []int{20, 100, 300, 5000, 40000} {
		const count = 2000
		keep := make([]string, count)
		src := []byte(strings.Repeat("a", n))
		before := liveHeap()
		for i := range keep {
			keep[i] = string(src)
		}
		per := float64(liveHeap()-before) / count
		runtime.KeepAlive(keep)
		if want := float64(allocSize(n)); per < want*0.95 || per > want*1.1 {
			t.Errorf("a %d-byte string takes %.0f bytes, allocSize says %.0f", n, per, want)
		}
	}
}
