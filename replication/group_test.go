package replication

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"sessiond/shard"
)

// openSingle opens a one-member group on dir and waits until it leads.
func openSingle(t *testing.T, dir string, tune func(*Config)) (*Group, *shard.Store) {
	t.Helper()
	st := shard.New(shard.Config{})
	cfg := Config{NodeID: "n1", Dir: dir, Bind: "127.0.0.1:0", Store: st, ClientAddr: "127.0.0.1:1"}
	if tune != nil {
		tune(&cfg)
	}
	g, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !g.Ready() {
		if time.Now().After(deadline) {
			g.Close()
			t.Fatal("single node did not become a ready leader")
		}
		time.Sleep(5 * time.Millisecond) // polling for the election, bounded
	}
	return g, st
}

func set(t *testing.T, g *Group, k, v string) {
	t.Helper()
	op := shard.Op{Kind: shard.KindSet, Now: time.Now().UnixMilli(), Key: []byte(k), Args: [][]byte{[]byte(v)}}
	res, err := g.Apply(context.Background(), &op)
	if err != nil || res.Kind != shard.ROK {
		t.Fatalf("SET %s: %+v, %v", k, res, err)
	}
}

func get(st *shard.Store, k string) string {
	r := st.Read(&shard.Op{Kind: shard.KindGet, Key: []byte(k)})
	if r.Kind != shard.RStr {
		return "<nil>"
	}
	return r.Str
}

func TestSingleNodeRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	g, _ := openSingle(t, dir, nil)
	for i := 0; i < 300; i++ {
		set(t, g, fmt.Sprint("k", i), fmt.Sprint("v", i))
		if i == 150 {
			if err := g.Snapshot(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Pipelined submissions from one goroutine apply in order.
	var ps []Pending
	for i := 0; i < 100; i++ {
		op := shard.Op{Kind: shard.KindIncrBy, Key: []byte("ctr"), N: 1}
		p, err := g.Submit(&op)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	for i, p := range ps {
		res, err := p.Wait()
		if err != nil || res.Kind != shard.RInt || res.Int != int64(i+1) {
			t.Fatalf("INCR %d: %+v %v", i, res, err)
		}
	}
	digest := g.cfg.Store.Digest()
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	g2, st2 := openSingle(t, dir, nil)
	defer g2.Close()
	if got := get(st2, "k299"); got != "v299" {
		t.Fatalf("after restart k299 = %q", got)
	}
	if d := st2.Digest(); d != digest {
		t.Fatalf("digest after restart %s, before %s", d, digest)
	}
	if _, err := g2.Apply(context.Background(), &shard.Op{Kind: shard.KindSet, Key: []byte("after"), Args: [][]byte{[]byte("x")}}); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptLogRefusesStart(t *testing.T) {
	dir := t.TempDir()
	g, _ := openSingle(t, dir, nil)
	set(t, g, "marker", "CORRUPTME-0123456789")
	g.Close()
	p := filepath.Join(dir, "raft", "log.db")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte("CORRUPTME-0123456789"))
	if i < 0 {
		t.Fatal("marker not found in the log file")
	}
	b[i+3] ^= 0x20
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	st := shard.New(shard.Config{})
	g2, err := Open(Config{NodeID: "n1", Dir: dir, Bind: "127.0.0.1:0", Store: st})
	if err == nil {
		g2.Close()
		t.Fatal("Open succeeded on a corrupt log")
	}
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open: %v, want ErrCorrupt", err)
	}
}

func TestCorruptSnapshotRefusesStart(t *testing.T) {
	dir := t.TempDir()
	g, _ := openSingle(t, dir, nil)
	for i := 0; i < 20; i++ {
		set(t, g, fmt.Sprint("k", i), "SNAPVALUE")
	}
	if err := g.Snapshot(); err != nil {
		t.Fatal(err)
	}
	g.Close()
	states, _ := filepath.Glob(filepath.Join(dir, "raft", "snapshots", "*", "state.bin"))
	if len(states) == 0 {
		t.Fatal("no snapshot written")
	}
	b, err := os.ReadFile(states[0])
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte("SNAPVALUE"))
	if i < 0 {
		t.Fatal("value not found in the snapshot")
	}
	b[i] ^= 1
	if err := os.WriteFile(states[0], b, 0o644); err != nil {
		t.Fatal(err)
	}
	st := shard.New(shard.Config{})
	g2, err := Open(Config{NodeID: "n1", Dir: dir, Bind: "127.0.0.1:0", Store: st})
	if err == nil {
		g2.Close()
		t.Fatal("Open succeeded on a corrupt snapshot")
	}
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open: %v, want ErrCorrupt", err)
	}
}

func TestEntryChecksum(t *testing.T) {
	e := encodeNode("n1", "127.0.0.1:7001")
	if err := checkEntry(e); err != nil {
		t.Fatal(err)
	}
	for i := range e {
		bad := append([]byte(nil), e...)
		bad[i] ^= 0x10
		if err := checkEntry(bad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("flip at %d: %v", i, err)
		}
	}
	for n := 0; n < len(e); n++ {
		if err := checkEntry(e[:n]); !errors.Is(err, ErrCorrupt) {
			t.Errorf("truncated to %d: %v", n, err)
		}
	}
}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		err  error
		want error
	}{
		{raft.ErrNotLeader, ErrNotLeader},
		{raft.ErrLeadershipTransferInProgress, ErrNotLeader},
		{raft.ErrEnqueueTimeout, ErrNotLeader},
		{raft.ErrLeadershipLost, ErrUnknownOutcome},
		{raft.ErrRaftShutdown, ErrUnknownOutcome},
		{errors.New("other"), ErrUnknownOutcome},
	} {
		if got := classify(c.err); !errors.Is(got, c.want) {
			t.Errorf("classify(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestParseFsync(t *testing.T) {
	for _, s := range []string{"always", "everysec", "no"} {
		f, err := ParseFsync(s)
		if err != nil || f.String() != s {
			t.Errorf("ParseFsync(%q) = %v, %v", s, f, err)
		}
	}
	if _, err := ParseFsync("sometimes"); err == nil {
		t.Error("ParseFsync accepted sometimes")
	}
}

// TestPromoteNonvoterNeverAddsBackARemovedNode: promotion acts only on
// a node that is still the non-voter it was added as (a removal racing
// with it is kept apart by cfgMu: it lands before the check or after the
// promotion's commit).
func TestPromoteNonvoterNeverAddsBackARemovedNode(t *testing.T) {
	g, _ := openSingle(t, t.TempDir(), nil)
	defer g.Close()
	const addr = "127.0.0.1:1" // a non-voter does not count for the quorum
	if err := g.AddNonvoter("n2", addr); err != nil {
		t.Fatal(err)
	}
	if err := g.PromoteNonvoter("n2", "127.0.0.1:2"); !errors.Is(err, ErrNotNonvoter) {
		t.Fatalf("promote at another address: %v", err)
	}
	if err := g.RemoveServer("n2"); err != nil {
		t.Fatal(err)
	}
	if err := g.PromoteNonvoter("n2", addr); !errors.Is(err, ErrNotNonvoter) {
		t.Fatalf("promote of a removed node: %v", err)
	}
	for _, m := range g.Servers() {
		if m.ID == "n2" {
			t.Fatalf("removed node is back: %+v", m)
		}
	}
}
