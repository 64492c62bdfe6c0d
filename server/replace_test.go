package server

import (
	"context"
	"slices"
	"testing"
	"time"
)

// TestReplaceFailedNode: a node that stays down for replace-after has its
// replicas replaced without SESSIOND-LEAVE, so every group is back at
// three live replicas; when it comes back it drops the copies it lost and
// takes its share again.
func TestReplaceFailedNode(t *testing.T) {
	tc := startPartial(t, 4, 4, 3, Config{ReplaceAfter: 2 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	want := tc.writeKeys(ctx, 100)
	n4 := tc.nodes[3]
	if len(n4.node.Server.local()) == 0 {
		t.Fatal("n4 holds no group to lose")
	}
	tc.stop(n4)
	waitFor(t, "every group to have 3 voters without n4", func() bool {
		for g := range 4 {
			if vs := tc.groupVoters(g); len(vs) != 3 || slices.Contains(vs, "n4") {
				return false
			}
		}
		return true
	})
	tc.waitVoters(3) // and held by exactly them
	for id, n := range tc.heldCounts() {
		if n != 4 {
			t.Errorf("%s holds %d groups, want all 4 (three nodes, four groups of three)", id, n)
		}
	}
	tc.convergeHeld()
	tc.readAll(ctx, want)

	tc.open(n4)
	waitFor(t, "the returned n4 to take its share back (3 groups each)", func() bool {
		for _, n := range tc.heldCounts() {
			if n != 3 {
				return false
			}
		}
		return true
	})
	tc.waitVoters(3)
	tc.convergeHeld()
	tc.readAll(ctx, want)
}

// TestReplaceAfterDirective: replace-after is in seconds, 0 turns
// replacing off, and CONFIG SET changes it live.
func TestReplaceAfterDirective(t *testing.T) {
	c := DefaultConfig()
	if c.ReplaceAfter != DefaultReplaceAfter {
		t.Fatalf("default %v, want %v", c.ReplaceAfter, DefaultReplaceAfter)
	}
	d := findDirective(directives(), "replace-after")
	if d == nil {
		t.Fatal("no replace-after directive")
	}
	if got := d.get(&c); got != "300" {
		t.Errorf("CONFIG GET replace-after = %q, want 300", got)
	}
	for _, tt := range []struct {
		in   string
		want time.Duration
		get  string
	}{{"0", -1, "0"}, {"60", time.Minute, "60"}} {
		if err := d.set(&c, []string{tt.in}); err != nil {
			t.Fatalf("set %s: %v", tt.in, err)
		}
		if c.ReplaceAfter != tt.want || d.get(&c) != tt.get {
			t.Errorf("set %s: %v (get %q), want %v (%q)", tt.in, c.ReplaceAfter, d.get(&c), tt.want, tt.get)
		}
	}
	for _, bad := range []string{"-1", "x", "1.5"} {
		if err := d.set(&c, []string{bad}); err == nil {
			t.Errorf("set %q accepted", bad)
		}
	}
	if d.mode != mutable {
		t.Error("replace-after is not settable at run time")
	}
}
