package shard

import (
	"fmt"
	"testing"
)

// TestKeySlotGolden checks KeySlot against values a real Redis Cluster
// answers to CLUSTER KEYSLOT, including the hash tag rules.
func TestKeySlotGolden(t *testing.T) {
	for _, tc := range []struct {
		key  string
		slot int
	}{
		{"", 0},
		{"123456789", 12739}, // CRC-16/XMODEM check value 0x31C3
		{"foo", 12182},
		{"bar", 5061},
		{"somekey", 11058},
		{"{user1000}.following", 3443},
		{"{user1000}.followers", 3443},
		{"user1000", 3443},
		{"foo{}{bar}", 8363},    // empty first tag: the whole key
		{"foo{{bar}}zap", 4015}, // tag is "{bar"
		{"{bar", 4015},
		{"foo{bar}{zap}", 5061}, // first tag only: "bar"
		{"{}", 15257},
		{"{", 4092},
		{"}{x}", 16287},
		{"x", 16287},
	} {
		if got := KeySlot([]byte(tc.key)); got != tc.slot {
			t.Errorf("KeySlot(%q) = %d, want %d", tc.key, got, tc.slot)
		}
	}
}

// TestSlotKeys checks the count and the keys of one slot: expired keys
// are left out, the list is sorted and cut at max.
func TestSlotKeys(t *testing.T) {
	s := snStore(8)
	now := int64(snT0)
	var want []string
	for i := range 200 {
		k := fmt.Sprintf("{tag}k%03d", i)
		op := hop(KindSet, now, k, "v")
		if i%10 == 0 {
			op.At = now + 5 // expires before the query below
		}
		s.Apply(&op)
		if i%10 != 0 {
			want = append(want, k)
		}
		s.Apply(ptr(hop(KindSet, now, fmt.Sprintf("other%d", i), "v")))
	}
	slot := KeySlot([]byte("tag"))
	keys, total := s.SlotKeys(slot, 5, now+10)
	if total != len(want) {
		t.Fatalf("total = %d, want %d", total, len(want))
	}
	if fmt.Sprint(keys) != fmt.Sprint(want[:5]) {
		t.Fatalf("keys = %v, want %v", keys, want[:5])
	}
	if keys, total := s.SlotKeys(slot, 0, now+10); keys != nil || total != len(want) {
		t.Fatalf("max 0: %v, %d", keys, total)
	}
	if _, total := s.SlotKeys(slot, 10, now); total != 200 {
		t.Fatalf("before the deadlines: total %d, want 200", total)
	}
}
