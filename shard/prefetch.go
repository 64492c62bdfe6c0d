package shard

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
