package shard

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// FuzzSmallIntScore checks ParseScore's integer fast path against strtod:
// whenever it accepts a text, strtod must give the very same float64
// (bit for bit, so -0 stays -0).
func FuzzSmallIntScore(f *testing.F) {
	for _, s := range []string{"0", "-0", "1700000000000", "-1", "007", "999999999999999", "1000000000000000",
		"", "-", "+5", "1e3", "12a", " 1", "9007199254740993", "-999999999999999"} {
		f.Add(s)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		f.Add(strconv.FormatInt(rng.Int64N(1_000_000_000_000_000)-500_000_000_000_000, 10))
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := smallIntScore(s)
		if !ok {
			return
		}
		want, sok, erange := strtod(s)
		if !sok || erange || math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("smallIntScore(%q) = %v; strtod gives %v, %v, %v", s, got, want, sok, erange)
		}
		if b, ok := smallIntScore([]byte(s)); !ok || b != got {
			t.Fatalf("smallIntScore([]byte(%q)) = %v, %v", s, b, ok)
		}
	})
}
