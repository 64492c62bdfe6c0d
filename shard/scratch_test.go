package shard

import "testing"

// TestReadScratch checks that list reads append into Op.Scratch instead of
// allocating, and still answer right.
func TestReadScratch(t *testing.T) {
	const now = int64(1_700_000_000_000)
	s := New(Config{})
	s.Apply(&Op{Kind: KindHSet, Now: now, Key: []byte("h"), Args: [][]byte{[]byte("a"), []byte("1"), []byte("b"), []byte("2")}})
	s.Apply(&Op{Kind: KindSet, Now: now, Key: []byte("k"), Args: [][]byte{[]byte("v")}})
	scratch := make([]Val, 0, 16)
	ops := []Op{
		{Kind: KindHGetAll, Now: now, Key: []byte("h")},
		{Kind: KindHMGet, Now: now, Key: []byte("h"), Args: [][]byte{[]byte("b"), []byte("zz")}},
		{Kind: KindMGet, Now: now, Args: [][]byte{[]byte("k"), []byte("nope")}},
	}
	want := [][]Val{
		{{S: "a"}, {S: "1"}, {S: "b"}, {S: "2"}},
		{{S: "2"}, {Nil: true}},
		{{S: "v"}, {Nil: true}},
	}
	for i := range ops {
		op := ops[i]
		op.Scratch = scratch
		var r Result
		allocs := testing.AllocsPerRun(20, func() { r = s.Read(&op) })
		if allocs != 0 {
			t.Errorf("%v: %v allocations per read with a scratch slice", op.Kind, allocs)
		}
		if len(r.Vals) != len(want[i]) {
			t.Fatalf("%v: got %+v, want %+v", op.Kind, r.Vals, want[i])
		}
		for j := range want[i] {
			if r.Vals[j] != want[i][j] {
				t.Fatalf("%v: got %+v, want %+v", op.Kind, r.Vals, want[i])
			}
		}
		if &r.Vals[:1][0] != &scratch[:1][0] {
			t.Errorf("%v: result does not use the scratch slice", op.Kind)
		}
	}
}
