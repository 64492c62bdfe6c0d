package bench

import (
	"math"
	"testing"
	"time"
)

func TestBucketBounds(t *testing.T) {
	values := []int64{0, 1, 127, 128, 129, 255, 256, 257, 1000, 999_999, 1 << 40, math.MaxInt64 - 1, math.MaxInt64}
	for v := int64(1); v < 1<<20; v = v*3/2 + 1 {
		values = append(values, v, v+1)
	}
	for _, v := range values {
		i := bucketOf(v)
		if i < 0 || i >= numBuckets {
			t.Fatalf("bucketOf(%d) = %d, outside [0, %d)", v, i, numBuckets)
		}
		high := bucketHigh(i)
		if high < v {
			t.Fatalf("bucketHigh(bucketOf(%d)) = %d, below the value", v, high)
		}
		if float64(high-v) > float64(v)/(1<<subBits) {
			t.Fatalf("bucket of %d reaches %d: more than 1/%d above", v, high, 1<<subBits)
		}
		if i > 0 && bucketHigh(i-1) >= v {
			t.Fatalf("bucket %d below %d's bucket already holds it (high %d)", i-1, v, bucketHigh(i-1))
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var a, b Histogram
	// 1..10000 µs, split over two histograms to exercise Merge.
	for i := 1; i <= 10000; i++ {
		h := &a
		if i%2 == 0 {
			h = &b
		}
		h.Record(time.Duration(i) * time.Microsecond)
	}
	a.Merge(&b)
	if a.Count() != 10000 {
		t.Fatalf("Count = %d, want 10000", a.Count())
	}
	for _, tt := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5000 * time.Microsecond}, {0.99, 9900 * time.Microsecond}, {1, 10000 * time.Microsecond}, {0.0001, time.Microsecond}} {
		got := a.Quantile(tt.q)
		if got < tt.want || float64(got-tt.want) > float64(tt.want)/(1<<subBits) {
			t.Errorf("Quantile(%v) = %v, want %v (+0.8%%)", tt.q, got, tt.want)
		}
	}
	if a.Max() != 10*time.Millisecond {
		t.Errorf("Max = %v, want 10ms", a.Max())
	}
	if want := 5000500 * time.Nanosecond; a.Mean() != want {
		t.Errorf("Mean = %v, want %v", a.Mean(), want)
	}
}

func TestHistogramEdges(t *testing.T) {
	var h Histogram
	if h.Quantile(0.5) != 0 || h.Mean() != 0 || h.Max() != 0 {
		t.Fatal("empty histogram reports non-zero figures")
	}
	h.Record(-time.Second)
	h.Record(3 * time.Millisecond)
	if h.Quantile(0.5) != 0 {
		t.Errorf("negative duration not counted as zero: p50 = %v", h.Quantile(0.5))
	}
	if h.Quantile(1) != 3*time.Millisecond {
		t.Errorf("p100 = %v, want exactly the max 3ms (capped at Max)", h.Quantile(1))
	}
}
