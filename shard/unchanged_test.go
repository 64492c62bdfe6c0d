package shard

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestUnchangedAgreesWithApply runs random writes on a store: SADD, SREM,
// ZADD, ZREM, SET NX/XX, HSETNX, the writes that set keys up, and kinds
// Unchanged must leave to the log (DEL, EXPIRE, PERSIST, HDEL). Whenever
// Unchanged claims an op changes nothing, applying it must give the same
// reply and leave the store's digest as it was. It also checks that
// Unchanged does claim each kind it handles, so that the test cannot pass
// by refusing all.
func TestUnchangedAgreesWithApply(t *testing.T) {
	s := New(Config{Stripes: 4})
	rng := rand.New(rand.NewPCG(1, 2))
	members := []string{"a", "b", "1", "2", "long-member-name"}
	keys := []string{"s", "z", "h", "str", "gone", "lock"}
	pick := func(n int) [][]byte {
		out := make([][]byte, 1+rng.IntN(n))
		for i := range out {
			out[i] = []byte(members[rng.IntN(len(members))])
		}
		return out
	}
	scores := []string{"0", "1", "-0", "2.5", "inf", "-inf", "x"}
	const now = 1_000_000
	s.Apply(&Op{Kind: KindSet, Key: []byte("str"), Args: [][]byte{[]byte("v")}, Now: now})
	claimed := map[Kind]int{}
	for i := range 20000 {
		key := []byte(keys[rng.IntN(len(keys))])
		var op Op
		switch rng.IntN(11) {
		case 6:
			op = Op{Kind: KindSet, Key: key, Args: [][]byte{[]byte("v")}}
			op.Flags |= []Flags{0, NX, XX, NX | Get, XX | Get}[rng.IntN(5)]
			if rng.IntN(2) == 0 {
				op.At = now + 5000
			}
		case 7:
			op = Op{Kind: KindDel, Args: [][]byte{key, []byte(keys[rng.IntN(len(keys))])}}
		case 8:
			op = Op{Kind: KindExpire, Key: key, At: now + int64(rng.IntN(3)-1)*1000 + 3000}
			op.Flags |= []Flags{0, NX, XX, GT, LT}[rng.IntN(5)]
			if rng.IntN(8) == 0 {
				op.At = now - 1 // deletes a live key
			}
		case 9:
			op = Op{Kind: KindPersist, Key: key}
		case 10:
			op = Op{Kind: KindHSet, Key: key, Flags: NX, Args: [][]byte{pick(1)[0], []byte("w")}}
		case 0:
			op = Op{Kind: KindSAdd, Key: key, Args: pick(3)}
		case 1:
			op = Op{Kind: KindSRem, Key: key, Args: pick(2)}
		case 2:
			op = Op{Kind: KindZAdd, Key: key}
			for range 1 + rng.IntN(2) {
				op.Args = append(op.Args, []byte(scores[rng.IntN(len(scores))]), pick(1)[0])
			}
			switch rng.IntN(6) {
			case 0:
				op.Flags |= NX
			case 1:
				op.Flags |= XX
			case 2:
				op.Flags |= GT
			case 3:
				op.Flags |= LT
			case 4:
				op.N |= ZAddCH
			}
		case 3:
			op = Op{Kind: KindZRem, Key: key, Args: pick(2)}
		case 4:
			op = Op{Kind: KindHDel, Key: key, Args: pick(2)}
		case 5:
			op = Op{Kind: KindHSet, Key: key, Args: [][]byte{pick(1)[0], []byte("v")}}
		}
		op.Now = now
		if unchangedAgrees(t, s, i, &op) {
			claimed[op.Kind]++
		}
	}
	for _, k := range []Kind{KindSAdd, KindSRem, KindZAdd, KindZRem, KindSet, KindHSet} {
		if claimed[k] == 0 {
			t.Errorf("Unchanged never answered a %v op", k)
		}
	}
	for _, k := range []Kind{KindHDel, KindDel, KindExpire, KindPersist} {
		if claimed[k] != 0 {
			t.Errorf("Unchanged answered %d %v ops: that kind is left to the log", claimed[k], k)
		}
	}
}

// unchangedAgrees applies op (the i-th of a run) to s and reports whether
// Unchanged answered it; when it did, Apply must have given the same
// reply and left the store's digest as it was.
func unchangedAgrees(t *testing.T, s *Store, i int, op *Op) bool {
	t.Helper()
	before := s.Digest()
	res, ok := s.Unchanged(op)
	got := s.Apply(op)
	if !ok {
		return false
	}
	if want, have := fmt.Sprint(got), fmt.Sprint(res); want != have {
		t.Fatalf("op %d %v %s %q: Unchanged replied %s, Apply %s", i, op.Kind, op.Key, op.Args, have, want)
	}
	if after := s.Digest(); after != before {
		t.Fatalf("op %d %v %s %q: Unchanged claimed no change, Apply changed the store", i, op.Kind, op.Key, op.Args)
	}
	return true
}
