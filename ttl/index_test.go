package ttl

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// due collects what Due offers, in order.
func due(x *Index, now int64, max int) []string {
	var out []string
	x.Due(now, max, func(k string) bool {
		out = append(out, k)
		return true
	})
	return out
}

func TestIndexBucketBoundaries(t *testing.T) {
	const w = 1 << BucketShift // 128 ms
	tests := []struct {
		name     string
		deadline int64
		now      int64
		offered  bool
	}{
		{"deadline is now", 5 * w, 5 * w, true},
		{"deadline one ms later, same bucket", 5*w + 1, 5 * w, true}, // offered: the caller checks exactly
		{"last ms of the bucket holding now", 6*w - 1, 5 * w, true},
		{"first ms of the next bucket", 6 * w, 6*w - 1, false},
		{"first ms of the next bucket, now there", 6 * w, 6 * w, true},
		{"long past", 1, 100 * w, true},
		{"far future", 1 << 50, 100 * w, false},
		{"bucket 0", 1, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := NewIndex()
			x.Add("k", tc.deadline)
			got := due(x, tc.now, 10)
			if (len(got) == 1) != tc.offered {
				t.Fatalf("Due(%d) with deadline %d offered %v, want offered=%v", tc.now, tc.deadline, got, tc.offered)
			}
			if x.Len() != 1 {
				t.Fatalf("Due removed the key: Len = %d", x.Len())
			}
		})
	}
}

func TestIndexAddRemoveMove(t *testing.T) {
	x := NewIndex()
	x.Remove("absent", 1000) // no bucket at all
	x.Add("a", 1000)
	x.Add("a", 1001) // same bucket: no duplicate
	if x.Len() != 1 || x.Buckets() != 1 {
		t.Fatalf("after re-adding in the same bucket: Len %d Buckets %d, want 1 1", x.Len(), x.Buckets())
	}
	x.Remove("absent", 1000) // bucket exists, key does not
	x.Remove("a", 5000)      // wrong deadline: another bucket
	if x.Len() != 1 {
		t.Fatalf("removing absent keys changed Len to %d", x.Len())
	}

	x.Move("a", 1000, 9000)
	if got := due(x, 2000, 10); len(got) != 0 {
		t.Fatalf("after Move to 9000, Due(2000) = %v", got)
	}
	if got := due(x, 9000, 10); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("after Move to 9000, Due(9000) = %v", got)
	}
	if x.Buckets() != 1 {
		t.Fatalf("the bucket emptied by Move was kept: Buckets = %d", x.Buckets())
	}
	x.Move("a", 9000, 9000) // no-op
	x.Move("a", 9000, 0)    // persist
	if x.Len() != 0 || x.Buckets() != 0 {
		t.Fatalf("after Move to 0: Len %d Buckets %d", x.Len(), x.Buckets())
	}
	x.Move("a", 0, 300) // gains a deadline
	if got := due(x, 300, 10); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("after Move from 0, Due = %v", got)
	}
	x.Remove("a", 300)
	x.Remove("a", 300) // twice: no-op
	if x.Len() != 0 || x.Buckets() != 0 {
		t.Fatalf("after Remove: Len %d Buckets %d", x.Len(), x.Buckets())
	}
}

func TestIndexDueOrdering(t *testing.T) {
	const w = 1 << BucketShift
	x := NewIndex()
	// Buckets added out of order; one key each, so the order is exact.
	order := []int64{7, 3, 9, 1, 4, 8, 2, 6, 5}
	for _, b := range order {
		x.Add(fmt.Sprint("k", b), b*w+3)
	}
	got := due(x, 100*w, 100)
	want := []string{"k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9"}
	if !slices.Equal(got, want) {
		t.Fatalf("Due order = %v, want %v", got, want)
	}
	// max stops early, oldest first, and the rest is offered next time.
	if got := due(x, 100*w, 3); !slices.Equal(got, want[:3]) {
		t.Fatalf("Due with max 3 = %v, want %v", got, want[:3])
	}
	// fn returning false stops at once.
	calls := 0
	x.Due(100*w, 100, func(string) bool { calls++; return false })
	if calls != 1 {
		t.Fatalf("fn returning false was called %d times", calls)
	}
	// Only buckets up to now.
	if got := due(x, 4*w+w/2, 100); !slices.Equal(got, want[:4]) {
		t.Fatalf("Due(bucket 4) = %v, want %v", got, want[:4])
	}
	if got := due(x, 100*w, 0); len(got) != 0 {
		t.Fatalf("Due with max 0 offered %v", got)
	}
}

func TestIndexEmptiedBuckets(t *testing.T) {
	const w = 1 << BucketShift
	x := NewIndex()
	for b := int64(1); b <= 5; b++ {
		x.Add(fmt.Sprint("k", b), b*w)
	}
	// Empty a bucket in the middle and the oldest one.
	x.Remove("k3", 3*w)
	x.Remove("k1", 1*w)
	if x.Buckets() != 3 {
		t.Fatalf("Buckets = %d, want 3", x.Buckets())
	}
	if got := due(x, 10*w, 100); !slices.Equal(got, []string{"k2", "k4", "k5"}) {
		t.Fatalf("Due = %v", got)
	}
	// Reuse an emptied bucket, and Due still finds it in order.
	x.Add("again", 3*w+1)
	if got := due(x, 10*w, 100); !slices.Equal(got, []string{"k2", "again", "k4", "k5"}) {
		t.Fatalf("Due after reuse = %v", got)
	}
	// Removing keys from inside fn (a reaper deleting as it goes) is
	// allowed and empties buckets cleanly.
	x.Due(10*w, 100, func(k string) bool {
		for b := int64(1); b <= 5; b++ {
			x.Remove(k, b*w)
		}
		x.Remove(k, 3*w+1)
		return true
	})
	if x.Len() != 0 || x.Buckets() != 0 {
		t.Fatalf("after removing inside Due: Len %d Buckets %d", x.Len(), x.Buckets())
	}
	// Adding inside fn to the bucket being visited keeps it.
	x.Add("a", 2*w)
	x.Due(10*w, 1, func(string) bool { x.Add("b", 2*w+5); return true })
	if got := due(x, 10*w, 100); len(got) != 2 {
		t.Fatalf("after adding inside Due: offered %v, want a and b", got)
	}
	x.Clear()
	if x.Len() != 0 || x.Buckets() != 0 || len(due(x, 1<<40, 10)) != 0 {
		t.Fatalf("Clear left keys")
	}
}

// TestIndexRandomModel checks the Index against a plain map under random
// adds, removes, moves and Due calls with deadlines spread far apart.
func TestIndexRandomModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	x := NewIndex()
	model := map[string]int64{}
	for step := 0; step < 20000; step++ {
		k := fmt.Sprint("k", rng.IntN(300))
		switch rng.IntN(4) {
		case 0, 1:
			d := 1 + rng.Int64N(1<<20)
			x.Move(k, model[k], d)
			model[k] = d
		case 2:
			x.Remove(k, model[k])
			delete(model, k)
		case 3:
			now := rng.Int64N(1 << 20)
			max := 1 + rng.IntN(50)
			seen := map[string]bool{}
			lastBucket := int64(-1)
			x.Due(now, max, func(k string) bool {
				d, ok := model[k]
				if !ok || seen[k] {
					t.Fatalf("Due offered %q (in model %v, seen %v)", k, ok, seen[k])
				}
				seen[k] = true
				if b := d >> BucketShift; b > now>>BucketShift || b < lastBucket {
					t.Fatalf("Due(%d) offered %q at %d out of order (last bucket %d)", now, k, d, lastBucket)
				} else {
					lastBucket = b
				}
				return true
			})
			wantN := 0
			for _, d := range model {
				if d>>BucketShift <= now>>BucketShift {
					wantN++
				}
			}
			if len(seen) != min(wantN, max) {
				t.Fatalf("Due(%d, %d) offered %d keys, want %d", now, max, len(seen), min(wantN, max))
			}
		}
		if x.Len() != len(model) {
			t.Fatalf("step %d: Len %d, model %d", step, x.Len(), len(model))
		}
	}
	buckets := map[int64]bool{}
	for _, d := range model {
		buckets[d>>BucketShift] = true
	}
	if x.Buckets() != len(buckets) {
		t.Fatalf("Buckets = %d, want %d", x.Buckets(), len(buckets))
	}
}

// TestIndexScatteredDeadlines adds keys whose deadlines are spread over
// years in random order: each Add must stay cheap (no linear shifting of
// a sorted bucket list); the heap invariant holds throughout.
func TestIndexScatteredDeadlines(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	x := NewIndex()
	const n = 30000
	for i := 0; i < n; i++ {
		x.Add(fmt.Sprint(i), 1+rng.Int64N(3*365*24*3600*1000))
	}
	if x.Len() != n {
		t.Fatalf("Len = %d", x.Len())
	}
	// The heap property holds everywhere.
	for i := 1; i < len(x.heap); i++ {
		if p := (i - 1) / 2; x.heap[p].num > x.heap[i].num || x.heap[i].at != i {
			t.Fatalf("heap broken at %d", i)
		}
	}
	got := due(x, 1<<62, n)
	if len(got) != n {
		t.Fatalf("Due offered %d keys, want %d", len(got), n)
	}
}

// TestIndexMoveWithinBucket checks that moving a deadline inside its
// bucket keeps the key findable by its new deadline, and that moving it to
// another bucket still moves it.
func TestIndexMoveWithinBucket(t *testing.T) {
	const w = 1 << BucketShift
	x := NewIndex()
	x.Add("k", 3*w+1)
	x.Move("k", 3*w+1, 3*w+w-1) // same bucket
	if x.Len() != 1 || x.Buckets() != 1 {
		t.Fatalf("after Move in bucket: Len %d Buckets %d", x.Len(), x.Buckets())
	}
	if got := due(x, 3*w+w-1, 10); !slices.Equal(got, []string{"k"}) {
		t.Fatalf("Due after Move in bucket = %v", got)
	}
	x.Move("k", 3*w+w-1, 5*w) // another bucket
	if got := due(x, 4*w+w-1, 10); len(got) != 0 {
		t.Fatalf("Due before the new bucket = %v", got)
	}
	x.Remove("k", 5*w)
	if x.Len() != 0 || x.Buckets() != 0 {
		t.Fatalf("after Remove: Len %d Buckets %d", x.Len(), x.Buckets())
	}
}
