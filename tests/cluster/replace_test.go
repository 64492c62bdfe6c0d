package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// layout is the part of SESSIOND-LAYOUT's JSON these tests read.
type layout struct {
	Nodes []struct {
		ID   string `json:"id"`
		Zone string `json:"zone"`
	} `json:"nodes"`
	Groups [][]string `json:"groups"`
}

// waitLayout polls n's SESSIOND-LAYOUT until ok accepts it.
func waitLayout(t *testing.T, n *node, what string, ok func(l layout) bool) layout {
	t.Helper()
	c := newClient(n.addr(), 5*time.Second)
	defer c.Close()
	deadline := time.Now().Add(90 * time.Second)
	var l layout
	for {
		s, err := c.Do(context.Background(), "SESSIOND-LAYOUT").Text()
		if err == nil {
			l = layout{}
			err = json.Unmarshal([]byte(s), &l)
		}
		if err == nil && ok(l) {
			return l
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 90 s; last layout %+v, %v", what, l, err)
		}
		time.Sleep(100 * time.Millisecond) // polling the layout, bounded
	}
}

// TestPartialReplaceAndZones runs four real nodes (four groups of three
// replicas). kill -9 of one: with --replace-after 6 every group is back
// at three replicas without it, no key lost. Then a rolling restart gives
// every node a zone (a a b c, the killed node coming back in c): the
// groups spread over the three zones, and every key reads back through
// every node.
func TestPartialReplaceAndZones(t *testing.T) {
	ids := []string{"n1", "n2", "n3", "n4"}
	nodes := startNodes(t, ids, true, "--shards", "4", "--replicas", "3", "--replace-after", "6")
	ctx := context.Background()
	c1 := newClient(nodes[0].addr(), 10*time.Second)
	defer c1.Close()
	const keys = 1000
	for i := range keys {
		if err := c1.Set(ctx, fmt.Sprintf("sess:%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	verify := func(when string) {
		t.Helper()
		for _, n := range nodes {
			if !n.running() {
				continue
			}
			c := newClient(n.addr(), 10*time.Second)
			// A leadership the balancer hands over after the layout
			// settles leaves a group without a known leader for a moment
			// (-CLUSTERDOWN): retried, bounded; the value must still match.
			get := func(key string) (int, error) {
				deadline := time.Now().Add(20 * time.Second)
				for {
					v, err := c.Get(ctx, key).Int()
					if err == nil || !strings.HasPrefix(err.Error(), "CLUSTERDOWN") || time.Now().After(deadline) {
						return v, err
					}
					time.Sleep(50 * time.Millisecond) // a handover is under way, bounded
				}
			}
			for i := range keys {
				if v, err := get(fmt.Sprintf("sess:%d", i)); err != nil || v != i {
					c.Close()
					t.Fatalf("%s: GET sess:%d via %s = %d, %v", when, i, n.id, v, err)
				}
			}
			c.Close()
		}
	}

	nodes[3].kill()
	waitLayout(t, nodes[0], "every group at three replicas without the killed n4", func(l layout) bool {
		for _, vs := range l.Groups {
			if len(vs) != 3 || slices.Contains(vs, "n4") {
				return false
			}
		}
		return len(l.Groups) == 4
	})
	verify("after n4 was replaced")

	zones := map[string]string{"n1": "a", "n2": "a", "n3": "b", "n4": "c"}
	for _, n := range nodes {
		n.kill()
		n.args = append(n.args, "--zone", zones[n.id])
		restart(t, n)
	}
	l := waitLayout(t, nodes[0], "every group spread over zones a, b and c", func(l layout) bool {
		for _, vs := range l.Groups {
			seen := map[string]bool{}
			for _, v := range vs {
				seen[zones[v]] = true
			}
			if len(vs) != 3 || len(seen) != 3 {
				return false
			}
		}
		return len(l.Groups) == 4
	})
	for _, n := range l.Nodes {
		if n.Zone != zones[n.ID] {
			t.Errorf("layout shows %s in zone %q, want %q", n.ID, n.Zone, zones[n.ID])
		}
	}
	t.Logf("groups: %v", l.Groups)
	verify("after the rolling restart into zones")
}
