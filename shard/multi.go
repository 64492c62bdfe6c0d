package shard

// WatchKey returns what WATCH must remember about key: its version and
// its stripe's deletion count, read at the store's current time.
func (s *Store) WatchKey(key []byte) Watch {
	now := s.cfg.Clock.Now().UnixMilli()
	if last := s.lastNow.Load(); last > now {
		now = last
	}
	st := &s.stripes[s.stripeOf(key)]
	st.mu.Lock()
	defer st.mu.Unlock()
	w := Watch{Key: append([]byte(nil), key...), Deletes: st.deletes}
	if e, ok := st.m[string(key)]; ok {
		w.Version = e.ver
		w.Expired = e.exp != 0 && e.exp <= now
	}
	return w
}

// watchBroken reports whether w no longer holds at t.now.
func (t *txn) watchBroken(w *Watch) bool {
	st := t.stripe(w.Key)
	e, ok := st.m[string(w.Key)]
	switch {
	case ok && e.ver == w.Version:
		// Unchanged, but a key that was live when watched and has
		// expired since counts as changed (Redis 7).
		return !w.Expired && e.exp != 0 && e.exp <= t.now
	case ok:
		return true
	case w.Version != 0:
		// Gone: deleted (a change) unless it was already expired when
		// watched and has only been reclaimed since.
		return !w.Expired
	default:
		// Absent then and now; a key created and deleted in between
		// shows as a deletion in its stripe.
		return st.deletes != w.Deletes
	}
}

// multi runs op.Subs in order as one atomic step, unless a watched key
// changed, in which case it runs nothing and returns a null list.
func (t *txn) multi(op *Op) Result {
	for i := range op.Watch {
		if t.watchBroken(&op.Watch[i]) {
			return Result{Kind: RNilList}
		}
	}
	subs := make([]Result, len(op.Subs))
	for i := range op.Subs {
		subs[i] = t.exec(&op.Subs[i])
	}
	return Result{Kind: RMulti, Subs: subs}
}
