package shard

import (
	"slices"
	"testing"
)

// TestKeyMissEvents checks that a read that finds no key reports keymiss
// (class m) while events are on, as does a write's lookup of a source
// key, and that writes' own keys and hits do not.
func TestKeyMissEvents(t *testing.T) {
	var got []string
	s := New(Config{Stripes: 4})
	s.SetEventSink(func(e Event) {
		if e.Class == EventKeyMiss {
			got = append(got, e.Name+":"+e.Key)
		}
	})
	s.Read(&Op{Kind: KindGet, Key: []byte("a"), Now: 1}) // events off
	s.EnableEvents(true)
	s.Read(&Op{Kind: KindGet, Key: []byte("b"), Now: 1})
	s.Apply(&Op{Kind: KindSet, Key: []byte("c"), Args: [][]byte{[]byte("v")}, Now: 1})
	s.Read(&Op{Kind: KindGet, Key: []byte("c"), Now: 1})
	s.Read(&Op{Kind: KindHGet, Key: []byte("d"), Args: [][]byte{[]byte("f")}, Now: 1})
	// SUNIONSTORE dst e: e is a missing source; dst is written.
	s.Apply(&Op{Kind: KindSUnionStore, Key: []byte("dst"), Args: [][]byte{[]byte("e")}, Now: 1})
	s.Apply(&Op{Kind: KindSAdd, Key: []byte("f"), Args: [][]byte{[]byte("m")}, Now: 1})
	if want := []string{"keymiss:b", "keymiss:d", "keymiss:e"}; !slices.Equal(got, want) {
		t.Fatalf("keymiss events %q, want %q", got, want)
	}
}
