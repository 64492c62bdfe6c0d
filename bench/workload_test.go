package bench

import (
	"slices"
	"strings"
	"testing"
)

func TestPaddedKey(t *testing.T) {
	for _, tt := range []struct {
		i    int
		want string
	}{{0, "sess:000000000000"}, {99999, "sess:000000099999"}, {1234567890123, "sess:1234567890123"}} {
		if got := paddedKey(sessPrefix, tt.i); got != tt.want {
			t.Errorf("paddedKey(%d) = %q, want %q", tt.i, got, tt.want)
		}
	}
}

func TestWorkloads(t *testing.T) {
	ws := Workloads("val")
	var names []string
	for _, w := range ws {
		names = append(names, w.Name)
		if w.IsMix() {
			if w.Name != MixName {
				t.Errorf("%s has no command but is not the mix", w.Name)
			}
			continue
		}
		if w.Needs != stringData && w.Needs != hashData {
			// Issue 5's workloads: one big key (a member is random) or,
			// for LOCK, a random lock key after the script's SHA.
			if n := strings.Count(strings.Join(w.Command, " "), randInt); n > 1 {
				t.Errorf("%s: command %q randomizes %d arguments", w.Name, w.Command, n)
			}
			continue
		}
		if n := strings.Count(strings.Join(w.Command, " "), randInt); n != 1 || !strings.Contains(w.Command[1], randInt) {
			t.Errorf("%s: command %q must randomize exactly its key", w.Name, w.Command)
		}
		prefix := strPrefix
		if w.Needs == hashData {
			prefix = sessPrefix
		}
		if !strings.HasPrefix(w.Command[1], prefix) {
			t.Errorf("%s: key %q is not in its dataset %s", w.Name, w.Command[1], w.Needs)
		}
	}
	if want := []string{"SET", "GET", "HSET", "HGETALL", "SETEX", "EXPIRE", "MIX", "ZADD", "SADD", "LPUSH", "LPOP", "LOCK"}; !slices.Equal(names, want) {
		t.Fatalf("workloads = %v, want %v", names, want)
	}
	hset := ws[2].Command
	if len(hset) != 2+2*len(sessionFields) {
		t.Fatalf("HSET writes %d arguments, want the ten fields", len(hset))
	}
}

func TestProbes(t *testing.T) {
	ws := Workloads("val")
	got := ws[4].probes() // SETEX
	want := [][]string{{"SETEX", "str:000000000000", sessionTTL, "val"}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("SETEX probes = %q, want %q", got, want)
	}
	if ws[4].Command[1] != strPrefix+randInt {
		t.Fatal("probes modified the workload's command")
	}
	mix := ws[6].probes()
	var cmds []string
	for _, c := range mix {
		cmds = append(cmds, c[0])
	}
	if !slices.Equal(cmds, []string{"HGETALL", "HSET", "EXPIRE"}) {
		t.Fatalf("mix probes = %q, want every command the mix sends", mix)
	}
}

func TestSelectWorkloads(t *testing.T) {
	all := Workloads("v")
	tests := []struct {
		names   string
		want    []string
		wantErr bool
	}{
		{"", []string{"SET", "GET", "HSET", "HGETALL", "SETEX", "EXPIRE", "MIX", "ZADD", "SADD", "LPUSH", "LPOP", "LOCK"}, false},
		{"all", []string{"SET", "GET", "HSET", "HGETALL", "SETEX", "EXPIRE", "MIX", "ZADD", "SADD", "LPUSH", "LPOP", "LOCK"}, false},
		{"mix, get", []string{"GET", "MIX"}, false},
		{"hgetall,nope", nil, true},
	}
	for _, tt := range tests {
		got, err := SelectWorkloads(all, tt.names)
		if (err != nil) != tt.wantErr {
			t.Fatalf("SelectWorkloads(%q) err = %v", tt.names, err)
		}
		var names []string
		for _, w := range got {
			names = append(names, w.Name)
		}
		if !slices.Equal(names, tt.want) {
			t.Errorf("SelectWorkloads(%q) = %v, want %v", tt.names, names, tt.want)
		}
	}
}

func TestProcAndInfoParsing(t *testing.T) {
	status := "Name:\tredis-server\nVmPeak:\t  100 kB\nVmRSS:\t   12345 kB\nCpus_allowed_list:\t0\n"
	v, ok := procStatusField(status, "VmRSS")
	if !ok {
		t.Fatal("VmRSS not found")
	}
	if n, err := parseKB(v); err != nil || n != 12345*1024 {
		t.Fatalf("parseKB(%q) = %d, %v", v, n, err)
	}
	if v, _ := procStatusField(status, "Cpus_allowed_list"); v != "0" {
		t.Fatalf("Cpus_allowed_list = %q", v)
	}
	if _, ok := procStatusField(status, "VmSwap"); ok {
		t.Fatal("found a field that is not there")
	}
	if _, err := parseKB("12 MB"); err == nil {
		t.Fatal("parseKB accepted MB")
	}

	info := "# Memory\r\nused_memory:1043392\r\nused_memory_human:1018.94K\r\nused_memory_rss:7000000\r\n"
	if n, err := infoField(info, "used_memory"); err != nil || n != 1043392 {
		t.Fatalf("used_memory = %d, %v", n, err)
	}
	if _, err := infoField(info, "used_memory_peak"); err == nil {
		t.Fatal("infoField found a missing field")
	}
}

func TestLockWorkload(t *testing.T) {
	var lock Workload
	for _, w := range Workloads("v") {
		if w.Name == "LOCK" {
			lock = w
		}
	}
	p := lock.probes()
	if len(p) != 2 || p[0][0] != "SCRIPT" || p[0][2] != lockScript || p[1][0] != "EVALSHA" || p[1][1] != lockSHA() {
		t.Fatalf("LOCK probes = %q: SCRIPT LOAD first, then the EVALSHA", p)
	}
	if len(lockSHA()) != 40 {
		t.Fatalf("lockSHA = %q", lockSHA())
	}
}
