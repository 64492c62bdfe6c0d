package server

import (
	"context"
	"path/filepath"
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

// TestSilentFor: a node is silent since its last report, or since this
// node began to ask it; a node not known yet (a voter that just joined,
// heard of before it is asked) is not silent at all, however long this
// node has been up.
func TestSilentFor(t *testing.T) {
	now := time.Now()
	d := &directory{self: "n1", started: now.Add(-time.Hour),
		known:   map[string]time.Time{"n2": now.Add(-time.Hour), "n3": now.Add(-time.Hour), "n4": now.Add(-time.Second)},
		reports: map[string]dirPeer{"n2": {at: now.Add(-2 * time.Second)}}}
	for _, tt := range []struct {
		id       string
		min, max time.Duration
	}{
		{"n1", 0, 0},                         // itself
		{"n2", 2 * time.Second, time.Minute}, // last report
		{"n3", time.Hour, 2 * time.Hour},     // known since start, never answered
		{"n4", time.Second, time.Minute},     // learned a second ago
		{"n5", 0, 0},                         // not known yet
	} {
		if got := d.silentFor(tt.id); got < tt.min || got > tt.max {
			t.Errorf("silentFor(%s) = %v, want %v..%v", tt.id, got, tt.min, tt.max)
		}
	}
}

// TestLeftNodeStaysOut: a node removed by SESSIOND-LEAVE while it was down
// learns it when it comes back (the removal's tombstone, spread by the
// directory), retires, and takes no replica back.
func TestLeftNodeStaysOut(t *testing.T) {
	tc := startPartial(t, 4, 4, 3, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	n2 := tc.nodes[1]
	tc.stop(n2)
	if err := tc.client(tc.nodes[0]).Do(ctx, "SESSIOND-LEAVE", "n2").Err(); err != nil {
		t.Fatalf("SESSIOND-LEAVE of the dead n2: %v", err)
	}
	tc.waitVoters(3)
	tc.open(n2)
	waitFor(t, "the returned n2 to retire and drop its replicas", func() bool {
		return n2.node.Server.mv.retired.Load() && len(n2.node.Server.local()) == 0
	})
	if !fileExists(filepath.Join(n2.dir, "retired")) {
		t.Error("n2 did not record that it is retired")
	}
	tc.waitVoters(3)
	for id, n := range tc.heldCounts() {
		if want := map[bool]int{true: 0, false: 4}[id == "n2"]; n != want {
			t.Errorf("%s holds %d groups, want %d", id, n, want)
		}
	}
	l := tc.nodes[0].node.Server.layout()
	if n, ok := l.node("n2"); !ok || !n.Retired {
		t.Errorf("n1's layout shows n2 as %+v, want retired", n)
	}
}

// TestRemovedAt: a tombstone applies to the node's dirs first used before
// the removal (or of unknown age), not to the same ID on a newer dir;
// merging keeps the later removal.
func TestRemovedAt(t *testing.T) {
	s := &Server{}
	s.noteLeft(map[string]int64{"n2": 100})
	s.noteLeft(map[string]int64{"n2": 50, "n3": 70})
	for _, tt := range []struct {
		id   string
		inc  int64
		want bool
	}{
		{"n2", 0, true},    // a dir from before incarnations were recorded
		{"n2", 99, true},   // first used before the removal
		{"n2", 100, true},  // the same instant
		{"n2", 101, false}, // a new dir: a new node
		{"n3", 60, true},
		{"n3", 80, false},
		{"n4", 0, false}, // never removed
	} {
		if got := s.removedAt(tt.id, tt.inc); got != tt.want {
			t.Errorf("removedAt(%s, %d) = %v, want %v", tt.id, tt.inc, got, tt.want)
		}
	}
}
