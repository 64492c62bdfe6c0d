package shard

// WatchKey returns what WATCH must remember about key: its version and
// the store's sequence number, read under the key's stripe lock at the
// store's current time. Every write takes its version while holding the
// stripes it touches, so any write to this stripe after WatchKey returns
// has a version above Seq.
func (s *Store) WatchKey(key []byte) Watch {
	now := s.cfg.Clock.Now().UnixMilli()
	if last := s.lastNow.Load(); last > now {
		now = last
	}
	st := &s.stripes[s.stripeOf(key)]
	st.mu.Lock()
	defer st.mu.Unlock()
	w := Watch{Key: append([]byte(nil), key...), Seq: s.seq.Load()}
	if e, ok := st.m[string(key)]; ok {
		w.Version = e.ver
		w.Expired = expired(e.exp, now)
	}
	return w
}

// WatchBroken reports whether w (from WatchKey) no longer holds at the
// store's current time: EXEC would abort. A server asks before it would
// refuse the transaction for another reason, as Redis answers a
// transaction whose watched key changed before anything else.
func (s *Store) WatchBroken(w *Watch) bool {
	now := s.cfg.Clock.Now().UnixMilli()
	if last := s.lastNow.Load(); last > now {
		now = last
	}
	st := &s.stripes[s.stripeOf(w.Key)]
	st.mu.Lock()
	defer st.mu.Unlock()
	return watchBroken(st, now, w)
}

// watchBroken reports whether w no longer holds at t.now.
func (t *txn) watchBroken(w *Watch) bool {
	return watchBroken(t.stripe(w.Key), t.now, w)
}

// watchBroken reports whether w no longer holds in st, its key's
// stripe, at now.
func watchBroken(st *stripe, now int64, w *Watch) bool {
	e, ok := st.m[string(w.Key)]
	switch {
	case ok && e.ver == w.Version:
		// Unchanged, but a key that was live when watched and has
		// expired since counts as changed (Redis 7).
		return !w.Expired && expired(e.exp, now)
	case ok:
		return true
	case w.Version != 0:
		// Gone: deleted (a change) unless it was already expired when
		// watched and has only been reclaimed since.
		return !w.Expired
	default:
		// Absent then and now. If it was created and deleted in between,
		// its stripe removed a key written after the watch. (Another key
		// of the stripe written and removed since aborts too: stricter
		// than Redis, never looser.)
		return st.delVer > w.Seq
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
	t.nonBlocking = true
	defer func() { t.nonBlocking = false }()
	for i := range op.Subs {
		subs[i] = t.exec(&op.Subs[i])
	}
	return Result{Kind: RMulti, Subs: subs}
}
