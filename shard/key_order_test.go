package shard

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// checkOrder fails unless o holds exactly the keys of m, in hashOrder's
// order, in chunks that are non-empty and at most orderChunkMax long,
// and answers at, from and all as a sorted slice would.
func checkOrder[V any](t *testing.T, o *keyOrder, m map[string]V, rng *rand.Rand) {
	t.Helper()
	want := hashOrder(m)
	if o.len() != len(want) {
		t.Fatalf("len %d, want %d", o.len(), len(want))
	}
	var got []hkey
	for j, c := range o.chunks {
		if len(c) == 0 || len(c) > orderChunkMax {
			t.Fatalf("chunk %d of %d has %d keys", j, len(o.chunks), len(c))
		}
		got = append(got, c...)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("order differs from hashOrder: %d keys, want %d", len(got), len(want))
	}
	var all []hkey
	for k := range o.all() {
		all = append(all, k)
	}
	if !slices.Equal(all, want) {
		t.Fatal("all() differs from hashOrder")
	}
	for range 20 {
		if len(want) == 0 {
			break
		}
		i := rng.IntN(len(want))
		if k := o.at(i); k != want[i] {
			t.Fatalf("at(%d) = %v, want %v", i, k, want[i])
		}
		// from a key's own hash, and from just after it.
		h := want[i].h
		first := slices.IndexFunc(want, func(k hkey) bool { return k.h >= h })
		var from []hkey
		for k := range o.from(h) {
			from = append(from, k)
			if len(from) == 3 {
				break
			}
		}
		if exp := want[first:min(first+3, len(want))]; !slices.Equal(from, exp) {
			t.Fatalf("from(%x) = %v, want %v", h, from, exp)
		}
	}
}

func TestKeyOrderAgainstSortedSlice(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{0, 1, 5, orderChunkMax, 5 * orderChunkMax} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			m := map[string]struct{}{}
			for i := range size {
				m[fmt.Sprintf("m%d", i)] = struct{}{}
			}
			o := newKeyOrder(m)
			checkOrder(t, o, m, rng)
			// Grow past several splits, shrink through merges to empty,
			// and grow again, checking along the way.
			for round, phase := range []struct{ adds, dels int }{{3 * orderChunkMax, 0}, {orderChunkMax, 4 * orderChunkMax}, {0, 1 << 30}, {orderChunkMax + 7, 0}} {
				for range phase.adds {
					s := fmt.Sprintf("n%d", rng.IntN(1<<20))
					if _, ok := m[s]; !ok {
						m[s] = struct{}{}
						o.insert(s)
					}
				}
				for range min(phase.dels, len(m)) {
					// delete a random present key (map order is random
					// enough, but pick by rank to be reproducible)
					k := o.at(rng.IntN(o.len())).f
					delete(m, k)
					o.remove(k)
				}
				o.remove("absent") // a no-op
				checkOrder(t, o, m, rng)
				if round == 2 && (o.len() != 0 || len(o.chunks) != 0) {
					t.Fatalf("emptied order keeps %d keys in %d chunks", o.len(), len(o.chunks))
				}
			}
		})
	}
}

func TestKeyOrderEqualHashes(t *testing.T) {
	// Keys that share a hash stay ordered by name across a split.
	var ks []hkey
	for i := range orderChunkMax {
		ks = append(ks, hkey{h: uint64(i / 3), f: fmt.Sprintf("k%04d", i)})
	}
	o := orderOf(slices.Clone(ks))
	var got []hkey
	for k := range o.from(5) {
		got = append(got, k)
		if len(got) == 4 {
			break
		}
	}
	if want := ks[15:19]; !slices.Equal(got, want) {
		t.Fatalf("from(5) = %v, want %v", got, want)
	}
	if o.at(orderChunkMax-1) != ks[orderChunkMax-1] {
		t.Fatal("at(last) wrong")
	}
}

// TestOrderKeptThroughWrites drives big sets, hashes and sorted sets
// through Apply, reading in order (which builds each one's keyOrder)
// between writes and snapshots (after which a write copies the value),
// and checks that the kept order always equals one built afresh from the
// map: SPOP, SRANDMEMBER, HRANDFIELD and the SCAN
// cursors then answer what they answered when the order was rebuilt
// after every write.
func TestOrderKeptThroughWrites(t *testing.T) {
	s := hashStore(2, 16) // hashes of more than 2 fields are big
	rng := rand.New(rand.NewPCG(3, 4))
	apply := func(kind Kind, key string, args ...string) Result {
		op := Op{Kind: kind, Key: []byte(key), Now: hashT0}
		for _, a := range args {
			op.Args = append(op.Args, []byte(a))
		}
		return s.Apply(&op)
	}
	checked := map[string]int{}
	member := func() string { return fmt.Sprintf("m%d", rng.IntN(3000)) }
	for i := range 1500 {
		m := fmt.Sprintf("m%d", 2*i)
		apply(KindSAdd, "s", m)
		apply(KindHSet, "h", m, "v")
		apply(KindZAdd, "z", fmt.Sprint(i%50), m)
	}
	for step := range 6000 {
		m := member()
		switch rng.IntN(9) {
		case 0, 1:
			apply(KindSAdd, "s", m, member())
		case 2:
			apply(KindSRem, "s", m)
		case 3:
			op := Op{Kind: KindSPop, Key: []byte("s"), Now: hashT0, At: int64(step) + 1}
			if rng.IntN(2) == 0 {
				op.Flags |= HasCount
				op.N = int64(rng.IntN(4))
			}
			s.Apply(&op)
		case 4:
			apply(KindHSet, "h", m, "v")
		case 5:
			apply(KindHDel, "h", m)
		case 6:
			apply(KindZAdd, "z", fmt.Sprint(rng.IntN(50)), m)
		case 7:
			apply(KindZRem, "z", m)
		case 8:
			if step%7 == 0 {
				// Freeze every value: the next write to each copies it,
				// and the copy must carry a correct order.
				s.Snapshot()
			}
			// Ordered reads build the orders.
			for _, op := range []Op{
				{Kind: KindSScan, Key: []byte("s")},
				{Kind: KindHScan, Key: []byte("h")},
				{Kind: KindZScan, Key: []byte("z")},
			} {
				op.Now = hashT0
				s.Apply(&op)
			}
		}
		if step%500 != 499 {
			continue
		}
		if e, ok := rawEntry(s, "s"); ok {
			d := e.big.coll.(*setColl).d
			if d.order != nil {
				checkOrder(t, d.order, d.m, rng)
				checked["set"]++
			}
		}
		if e, ok := rawEntry(s, "h"); ok && e.big != nil && e.big.order != nil {
			checkOrder(t, e.big.order, e.big.hash, rng)
			checked["hash"]++
		}
		if e, ok := rawEntry(s, "z"); ok && e.big != nil {
			if z := e.big.coll.(zsetColl).z; z.order != nil {
				checkOrder(t, z.order, z.dict, rng)
				checked["zset"]++
			}
		}
	}
	// COPY each value (orders built), then write to the copies only: the
	// sources' orders must not see those writes.
	for _, k := range []string{"s", "h", "z"} {
		for _, op := range []Op{{Kind: KindSScan, Key: []byte("s")}, {Kind: KindHScan, Key: []byte("h")}, {Kind: KindZScan, Key: []byte("z")}} {
			op.Now = hashT0
			s.Apply(&op)
		}
		op := Op{Kind: KindCopy, Key: []byte(k), Args: [][]byte{[]byte(k + "2")}, N: 1, Now: hashT0}
		if r := s.Apply(&op); r.Kind == RErr {
			t.Fatalf("COPY %s: %v", k, r.Err)
		}
	}
	for i := range 50 {
		m := fmt.Sprintf("copy%d", i)
		apply(KindSAdd, "s2", m)
		apply(KindSRem, "s2", fmt.Sprintf("m%d", 2*i))
		apply(KindHSet, "h2", m, "v")
		apply(KindHDel, "h2", fmt.Sprintf("m%d", 2*i))
		apply(KindZAdd, "z2", "1", m)
		apply(KindZRem, "z2", fmt.Sprintf("m%d", 2*i))
	}
	for _, k := range []string{"s", "h", "z", "s2", "h2", "z2"} {
		e, _ := rawEntry(s, k)
		switch k[0] {
		case 's':
			d := e.big.coll.(*setColl).d
			checkOrder(t, d.sorted(), d.m, rng)
		case 'h':
			checkOrder(t, e.big.sorted(), e.big.hash, rng)
		case 'z':
			z := e.big.coll.(zsetColl).z
			checkOrder(t, z.sorted(), z.dict, rng)
		}
	}
	if checked["set"] < 5 || checked["hash"] < 5 || checked["zset"] < 5 {
		t.Fatalf("orders checked: %v; want each kept order checked at least 5 times", checked)
	}
}
