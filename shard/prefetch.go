package shard

import "slices"

// Prefetch brings the index entries of ops' keys (and of the keys of the
// ops a MULTI carries) into the CPU cache and changes nothing. Applying a
// log entry's ops one by one waits on main memory for each key in turn;
// here the lookups are independent of each other, so the processor
// overlaps their cache misses, and the Apply calls that follow find the
// lines cached. It holds every stripe's lock for the whole pass: taking a
// lock per key would order each lookup after the previous one's misses.
// Callers apply ops right after, from the same goroutine.
func (s *Store) Prefetch(ops []Op) {
	for i := range s.stripes {
		s.stripes[i].mu.Lock()
	}
	n := 0
	for i := range ops {
		n += s.warm(&ops[i])
	}
	for i := range s.stripes {
		s.stripes[i].mu.Unlock()
	}
	s.warmed.Add(int64(n))
}

// warm looks up op's key and those of its sub-ops; it returns how many
// were present. The caller holds every stripe's lock.
func (s *Store) warm(op *Op) int {
	n := 0
	if op.Key != nil {
		if _, ok := s.stripes[s.stripeOf(op.Key)].m[string(op.Key)]; ok {
			n++
		}
	}
	for i := range op.Subs {
		n += s.warm(&op.Subs[i])
	}
	return n
}

// maxWarm is the most keys Warm looks at in one call.
const maxWarm = 32

// Warm brings the index entries of keys (at most maxWarm of them) and
// the first bytes of their values into the CPU cache and changes
// nothing. A connection calls it with the keys of the reads its client
// has pipelined, before running them: the lookups are independent, so
// the processor overlaps their cache misses, and each read then finds its
// lines cached. It locks the keys' stripes, in stripe order, for the
// whole pass (see Prefetch). It returns how many keys are present.
func (s *Store) Warm(keys [][]byte) int {
	keys = keys[:min(len(keys), maxWarm)]
	var idx [maxWarm]int
	var locked [maxWarm]int
	for i, k := range keys {
		idx[i] = s.stripeOf(k)
	}
	stripes := append(locked[:0], idx[:len(keys)]...)
	slices.Sort(stripes)
	stripes = slices.Compact(stripes)
	for _, i := range stripes {
		s.stripes[i].mu.Lock()
	}
	n := 0
	var b byte
	for i, k := range keys {
		if e, ok := s.stripes[idx[i]].m[string(k)]; ok {
			n++
			if len(e.s) > 0 {
				b ^= e.s[0]
			}
		}
	}
	for _, i := range stripes {
		s.stripes[i].mu.Unlock()
	}
	s.warmed.Add(int64(n))
	s.warmFold.Add(int64(b)) // keeps the value reads
	return n
}

// Warmed returns how many keys Prefetch and Warm have found so far.
func (s *Store) Warmed() int64 { return s.warmed.Load() }
