package shard

// DueKeys returns up to max keys that have a key or hash-field deadline at
// or before now, for the leader's reaper to propose as one KindReap op.
// The keys are copies. start rotates the stripe it begins with so that no
// stripe starves.
func (s *Store) DueKeys(now int64, max int, start int) [][]byte {
	var out [][]byte
	n := len(s.stripes)
	for i := 0; i < n && len(out) < max; i++ {
		st := &s.stripes[(start+i)&(n-1)]
		st.mu.Lock()
		st.keyTTL.Due(now, max-len(out), func(k string) bool {
			if e, ok := st.m[k]; ok && expired(e.exp, now) {
				out = append(out, []byte(k))
			}
			return len(out) < max
		})
		if len(out) < max {
			st.fieldTTL.Due(now, max-len(out), func(k string) bool {
				if e, ok := st.m[k]; ok && !expired(e.exp, now) {
					if fe := fieldDeadline(e); expired(fe, now) {
						out = append(out, []byte(k))
					}
				}
				return len(out) < max
			})
		}
		st.mu.Unlock()
	}
	return out
}

// reap deletes each key of op.Args that is expired at t.now and removes
// the due fields of hashes. A key refreshed after DueKeys looked is left
// alone, which is what makes a reap safe to decide on one node and apply
// on all. It returns the number of keys and fields removed.
func (t *txn) reap(op *Op) Result {
	var removed int64
	for _, k := range op.Args {
		st := t.stripe(k)
		e, ok := st.m[string(k)]
		if !ok {
			continue
		}
		if expired(e.exp, t.now) {
			t.remove(st, string(k), e)
			t.s.stats.ExpiredKeys.Add(1)
			// Exactly once per key on every replica: when this op applies.
			t.event(EventExpired, "expired", k)
			removed++
			continue
		}
		if fe := fieldDeadline(e); expired(fe, t.now) {
			removed += t.reapFields(k, e)
		}
	}
	return Int(removed)
}

// evict deletes the keys in op.Args to free memory and counts them.
func (t *txn) evict(op *Op) Result {
	var n int64
	for _, k := range op.Args {
		if t.del(k) {
			n++
			t.event(EventEvicted, "evicted", k)
		}
	}
	t.s.stats.EvictedKeys.Add(n)
	return Int(n)
}
