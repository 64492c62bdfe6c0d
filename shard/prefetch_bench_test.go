package shard

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkReadPipeline reads 16 random keys of 1,000,000 one after the
// other, as a pipeline of GETs runs, with and without Warm first.
func BenchmarkReadPipeline(b *testing.B) {
	const keys, depth = 100_000, 16
	st := New(Config{})
	names := make([][]byte, keys)
	for i := range names {
		names[i] = fmt.Appendf(nil, "key:%012d", i)
		st.Apply(&Op{Kind: KindSet, Now: 1, Key: names[i], Args: [][]byte{[]byte("xxx")}})
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, warm := range []bool{false, true} {
		b.Run(fmt.Sprintf("warm=%v", warm), func(b *testing.B) {
			batch := make([][]byte, depth)
			op := Op{Kind: KindGet}
			for b.Loop() {
				for i := range batch {
					batch[i] = names[rng.IntN(keys)]
				}
				if warm {
					st.Warm(batch)
				}
				for _, k := range batch {
					op.Key = k
					if r := st.Read(&op); r.Kind != RStr {
						b.Fatal(r)
					}
				}
			}
		})
	}
}
