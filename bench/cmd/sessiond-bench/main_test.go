package main

import (
	"testing"
	"time"
)

func TestParseOptions(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		rounds, n  int
		np, mem    int
		mixTime    time.Duration
		wantErr    bool
		wantQuick  bool
		wantBudget time.Duration
	}{
		{name: "defaults", rounds: 3, n: 150_000, np: 1_000_000, mem: 1_000_000, mixTime: 3 * time.Second, wantBudget: 11 * time.Minute},
		{name: "quick", args: []string{"-quick"}, rounds: 1, n: 20_000, np: 100_000, mem: 100_000, mixTime: time.Second, wantQuick: true, wantBudget: 11 * time.Minute},
		{name: "explicit flags beat quick", args: []string{"-rounds", "2", "-quick", "-n", "5000", "-mem-sessions", "0"},
			rounds: 2, n: 5000, np: 100_000, mem: 0, mixTime: time.Second, wantQuick: true, wantBudget: 11 * time.Minute},
		{name: "mix time not below timeout", args: []string{"-mix-time", "2m"}, wantErr: true},
		{name: "zero rounds", args: []string{"-rounds", "0"}, wantErr: true},
		{name: "stray argument", args: []string{"now"}, wantErr: true},
		{name: "replication suite", args: []string{"-suite", "replication", "-quick"}, rounds: 1, n: 20_000, np: 100_000, mem: 100_000,
			mixTime: time.Second, wantQuick: true, wantBudget: replRoundsBudget},
		{name: "replication suite explicit budget", args: []string{"-suite", "replication", "-rounds-budget", "5m"}, rounds: 3, n: 150_000,
			np: 1_000_000, mem: 1_000_000, mixTime: 3 * time.Second, wantBudget: 5 * time.Minute},
		{name: "unknown suite", args: []string{"-suite", "raft"}, wantErr: true},
		{name: "cluster suite", args: []string{"-suite", "cluster", "-quick", "-shards", "1"}, rounds: 1, n: 20_000, np: 100_000, mem: 100_000,
			mixTime: time.Second, wantQuick: true, wantBudget: replRoundsBudget},
		{name: "zero shards", args: []string{"-suite", "cluster", "-shards", "0"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseOptions(tt.args)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parseOptions(%q) accepted", tt.args)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.quick != tt.wantQuick || o.rounds != tt.rounds || o.requests != tt.n || o.requestsPipelined != tt.np ||
				o.memSessions != tt.mem || o.mixTime != tt.mixTime || o.roundsBudget != tt.wantBudget {
				t.Fatalf("got quick=%v rounds=%d n=%d np=%d mem=%d mix=%s budget=%s",
					o.quick, o.rounds, o.requests, o.requestsPipelined, o.memSessions, o.mixTime, o.roundsBudget)
			}
		})
	}
}
