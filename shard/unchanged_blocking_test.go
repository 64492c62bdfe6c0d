package shard

import (
	"math/rand/v2"
	"testing"
)

// TestUnchangedBlockingAgreesWithApply: the blocking pop kinds Unchanged
// answers from memory (BLPOP/BRPOP, BLMOVE, BLMPOP, BZPOPMIN/MAX, BZMPOP)
// against Apply, over lists, sorted sets, strings, hashes and keys that
// expire (some already due), with wrong-type destinations for BLMOVE.
func TestUnchangedBlockingAgreesWithApply(t *testing.T) {
	s := New(Config{Stripes: 4})
	rng := rand.New(rand.NewPCG(3, 4))
	keys := []string{"l", "z", "str", "h", "gone", "x"}
	const now = 1_000_000
	pickKeys := func() [][]byte {
		out := make([][]byte, 1+rng.IntN(3))
		for i := range out {
			out[i] = []byte(keys[rng.IntN(len(keys))])
		}
		return out
	}
	claimed := map[Kind]int{}
	for i := range 30000 {
		key := []byte(keys[rng.IntN(len(keys))])
		var op Op
		switch rng.IntN(12) {
		case 0:
			op = Op{Kind: KindRPush, Key: key, Args: [][]byte{[]byte("e")}}
		case 1:
			op = Op{Kind: KindZAdd, Key: key, Args: [][]byte{[]byte("1"), []byte("m")}}
		case 2:
			op = Op{Kind: KindSet, Key: key, Args: [][]byte{[]byte("v")}}
		case 3:
			op = Op{Kind: KindHSet, Key: key, Args: [][]byte{[]byte("f"), []byte("v")}}
		case 4:
			op = Op{Kind: KindExpire, Key: key, At: now + int64(rng.IntN(3)-1)}
		case 5:
			op = Op{Kind: KindDel, Args: [][]byte{key}}
		case 6:
			op = Op{Kind: KindBPop, Args: pickKeys(), N: int64(rng.IntN(2))}
		case 7:
			op = Op{Kind: KindBLMove, Key: key, Args: [][]byte{[]byte(keys[rng.IntN(len(keys))])}, N: int64(rng.IntN(2)), At: int64(rng.IntN(2))}
		case 8:
			op = Op{Kind: KindBLMPop, Args: pickKeys(), N: int64(rng.IntN(2)), At: int64(1 + rng.IntN(3))}
		case 9:
			op = Op{Kind: KindBZPop, Args: pickKeys(), N: int64(rng.IntN(2)), At: 1}
		case 10:
			op = Op{Kind: KindBZMPop, Args: pickKeys(), N: int64(rng.IntN(2)), At: int64(1 + rng.IntN(3))}
		case 11:
			op = Op{Kind: KindLPush, Key: key, Args: [][]byte{[]byte("e"), []byte("f")}}
		}
		// The clock moves on, so that keys given a deadline fall due.
		op.Now = now + int64(i%3)
		if unchangedAgrees(t, s, i, &op) {
			claimed[op.Kind]++
		}
	}
	for _, k := range []Kind{KindBPop, KindBLMove, KindBLMPop, KindBZPop, KindBZMPop} {
		if claimed[k] == 0 {
			t.Errorf("Unchanged never answered a %v op", k)
		}
	}
}
