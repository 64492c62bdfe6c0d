package shard

import "slices"

// SlotKeys answers CLUSTER COUNTKEYSINSLOT and GETKEYSINSLOT: how many
// keys live at now (Unix ms) hash to slot, and up to max of them in byte
// order (none when max is 0). It walks the whole keyspace, one stripe
// lock at a time, computing each key's slot: O(keys), meant for
// operators, not for a request path. Keys written while it walks may or
// may not be counted.
func (s *Store) SlotKeys(slot, max int, now int64) (keys []string, total int) {
	for i := range s.stripes {
		st := &s.stripes[i]
		st.mu.Lock()
		for k, e := range st.m {
			if expired(e.exp, now) || KeySlot([]byte(k)) != slot {
				continue
			}
			total++
			if max > 0 {
				keys = append(keys, k)
			}
		}
		st.mu.Unlock()
	}
	slices.Sort(keys)
	if len(keys) > max {
		keys = keys[:max]
	}
	return keys, total
}
