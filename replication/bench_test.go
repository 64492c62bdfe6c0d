package replication

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"sessiond/shard"
)

// BenchmarkGroupApply measures SETs through a one-member group:
// par goroutines, each submitting pipe ops before waiting for them.
func BenchmarkGroupApply(b *testing.B) {
	st := shard.New(shard.Config{})
	g, err := Open(Config{NodeID: "a", Dir: b.TempDir(), Bind: "127.0.0.1:0", Store: st})
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	for !g.Ready() {
		time.Sleep(time.Millisecond) // polling for the election
	}
	for _, c := range []struct{ par, pipe int }{{1, 1}, {50, 1}, {50, 16}} {
		b.Run(fmt.Sprintf("clients=%d/pipeline=%d", c.par, c.pipe), func(b *testing.B) {
			var wg sync.WaitGroup
			n := b.N/c.par/c.pipe + 1
			for w := 0; w < c.par; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ps := make([]Pending, c.pipe)
					key := []byte("key:000000000000")
					for i := 0; i < n; i++ {
						for j := range ps {
							copy(key[4:], fmt.Sprintf("%012d", (w*n+i)*c.pipe+j))
							op := shard.Op{Kind: shard.KindSet, Key: key, Args: [][]byte{[]byte("xxx")}}
							p, err := g.Submit(&op)
							if err != nil {
								b.Error(err)
								return
							}
							ps[j] = p
						}
						for _, p := range ps {
							if _, err := p.Wait(); err != nil {
								b.Error(err)
								return
							}
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}
