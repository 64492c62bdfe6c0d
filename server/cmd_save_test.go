package server

import (
	"context"
	"strconv"
	"testing"
)

// TestSaveCommands: SAVE, BGSAVE and BGREWRITEAOF take a Raft snapshot
// (raft_snapshot_index moves to the applied index), and LASTSAVE and INFO
// persistence report them; bad arguments get Redis's errors.
func TestSaveCommands(t *testing.T) {
	tc := startCluster(t, 1, Config{}, nil)
	c := tc.client(tc.leader())
	ctx := context.Background()
	info := func() map[string]string {
		t.Helper()
		s, err := c.Info(ctx, "persistence", "raft").Result()
		if err != nil {
			t.Fatal(err)
		}
		return infoFields(t, s)
	}
	start, err := c.LastSave(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []any
		want string
	}{
		{[]any{"bgsave", "foo"}, "ERR syntax error"},
		{[]any{"bgsave", "schedule", "x"}, "ERR syntax error"},
		{[]any{"save", "x"}, "ERR wrong number of arguments for 'save' command"},
		{[]any{"bgrewriteaof", "x"}, "ERR wrong number of arguments for 'bgrewriteaof' command"},
	} {
		if err := c.Do(ctx, tt.args...).Err(); err == nil || err.Error() != tt.want {
			t.Errorf("%v: %v, want %q", tt.args, err, tt.want)
		}
	}
	for round, cmd := range [][]any{{"save"}, {"bgsave"}, {"bgrewriteaof"}, {"bgsave", "schedule"}} {
		for i := range 10 {
			if err := c.Set(ctx, "k"+strconv.Itoa(i), round, 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
		applied, _ := strconv.ParseUint(info()["raft_applied_index"], 10, 64)
		want := map[string]string{"save": "OK", "bgsave": "Background saving started",
			"bgrewriteaof": "Background append only file rewriting started"}[cmd[0].(string)]
		if got, err := c.Do(ctx, cmd...).Text(); err != nil || got != want {
			t.Fatalf("%v: %q, %v; want %q", cmd, got, err, want)
		}
		waitFor(t, "the save to end with a snapshot of the writes before it", func() bool {
			f := info()
			snap, _ := strconv.ParseUint(f["raft_snapshot_index"], 10, 64)
			return f["rdb_bgsave_in_progress"] == "0" && f["aof_rewrite_in_progress"] == "0" &&
				f["rdb_saves"] == strconv.Itoa(round+1) && snap >= applied
		})
	}
	f := info()
	if f["rdb_last_bgsave_status"] != "ok" {
		t.Errorf("rdb_last_bgsave_status %q", f["rdb_last_bgsave_status"])
	}
	last, err := c.LastSave(ctx).Result()
	if err != nil || last < start || strconv.FormatInt(last, 10) != f["rdb_last_save_time"] {
		t.Errorf("LASTSAVE %d (%v), at start %d, rdb_last_save_time %s", last, err, start, f["rdb_last_save_time"])
	}
}
