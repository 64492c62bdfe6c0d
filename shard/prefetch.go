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
	n, m := 0, 0
	for i := range ops {
		k, f := s.warm(&ops[i])
		n, m = n+k, m+f
	}
	for i := range s.stripes {
		s.stripes[i].mu.Unlock()
	}
	s.warmed.Add(int64(n))
	s.warmedMembers.Add(int64(m))
}

// warm looks up op's key (and, in a big set, sorted set or hash, the
// first member or field it adds or removes) and those of its sub-ops; it
// returns how many keys and members were present. The caller holds every
// stripe's lock.
func (s *Store) warm(op *Op) (keys, members int) {
	if op.Key != nil {
		if e, ok := s.stripes[s.stripeOf(op.Key)].m[string(op.Key)]; ok {
			keys++
			if m := opMember(op); m != nil && e.big != nil {
				if _, found := e.big.warm(m); found {
					members++
				}
			}
		}
	}
	for i := range op.Subs {
		k, m := s.warm(&op.Subs[i])
		keys, members = keys+k, members+m
	}
	return keys, members
}

// opMember returns the first member or field op adds to or removes from
// its key's set, sorted set or hash, or nil.
func opMember(op *Op) []byte {
	switch op.Kind {
	case KindSAdd, KindSRem, KindZRem, KindHSet, KindHDel:
		if len(op.Args) > 0 {
			return op.Args[0]
		}
	case KindZAdd:
		if len(op.Args) > 1 {
			return op.Args[1]
		}
	}
	return nil
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
func (s *Store) Warm(keys [][]byte) int { return s.WarmMembers(keys, nil) }

// WarmMembers is Warm that also looks up, in the set, sorted set or hash
// stored at keys[i], the member or field members[i] (when members is
// not nil and members[i] is not nil): the lookup a SADD, SISMEMBER,
// ZADD, ZSCORE, HGET... of a pipeline makes next then finds its lines
// cached.
func (s *Store) WarmMembers(keys, members [][]byte) int {
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
	n, m := 0, 0
	var b byte
	for i, k := range keys {
		if e, ok := s.stripes[idx[i]].m[string(k)]; ok {
			n++
			if len(e.s) > 0 {
				b ^= e.s[0]
			}
			if e.big != nil && i < len(members) && members[i] != nil {
				if v, ok := e.big.warm(members[i]); ok {
					m++
					b ^= v
				}
			}
		}
	}
	for _, i := range stripes {
		s.stripes[i].mu.Unlock()
	}
	s.warmed.Add(int64(n))
	s.warmedMembers.Add(int64(m))
	s.warmFold.Add(int64(b)) // keeps the value reads
	return n
}

// WarmedMembers returns how many members or fields WarmMembers has found
// so far.
func (s *Store) WarmedMembers() int64 { return s.warmedMembers.Load() }

// Warmed returns how many keys Prefetch and Warm have found so far.
func (s *Store) Warmed() int64 { return s.warmed.Load() }

// warm looks member up in the big hash, set or sorted set and reports
// whether it is there, with a byte of what it found (kept by the caller,
// so that the lookup is not dropped). Small sets, scanned in place, and
// lists are left alone.
func (l *large) warm(member []byte) (byte, bool) {
	switch c := l.coll.(type) {
	case nil:
		if f, ok := l.hash[string(member)]; ok {
			if len(f.v) > 0 {
				return f.v[0], true
			}
			return 0, true
		}
	case *setColl:
		if c.d.enc == setHashtable {
			_, ok := c.d.m[string(member)]
			return 1, ok
		}
	case zsetColl:
		_, ok := c.z.dict[string(member)]
		return 1, ok
	}
	return 0, false
}
