package server

import (
	"fmt"
	"strings"
	"time"

	"sessiond/shard"
)

// CLUSTER and ASKING, in Redis Cluster's formats (cluster.go has the
// routing and the view of the members these replies describe).

// cmdCluster runs a CLUSTER subcommand. With cluster mode off, Redis
// still answers an unknown subcommand or a wrong arity first, then its
// cluster-disabled error.
func cmdCluster(c *client, args [][]byte) {
	if !c.s.clusterOn() {
		want := "cluster|" + strings.ToLower(string(args[1]))
		for _, sc := range c.s.subcommands("cluster") {
			if sc.name == want && sc.arityOK(len(args)) {
				c.w.errorText(errClusterOff)
				return
			}
		}
	}
	c.runSubcommand("cluster", args)
}

// cmdAsking accepts ASKING. Slots never migrate between nodes yet, so no
// node answers -ASK and the flag has nothing to change.
func cmdAsking(c *client, _ [][]byte) {
	if !c.s.clusterOn() {
		c.w.errorText(errClusterOff)
		return
	}
	c.w.ok()
}

// clusterSubcommands is CLUSTER's subcommand table.
func clusterSubcommands() []*command {
	sub := func(name string, arity int, r runFunc) *command {
		c := def("cluster|"+name, arity, flagLoading|flagStale, noKeys, "@slow")
		c.run = r
		return c
	}
	return []*command{
		sub("info", 2, cmdClusterInfo),
		sub("myid", 2, cmdClusterMyID),
		sub("keyslot", 3, cmdClusterKeySlot),
		sub("countkeysinslot", 3, cmdClusterCountKeys),
		sub("getkeysinslot", 4, cmdClusterGetKeys),
		sub("slots", 2, cmdClusterSlots),
		sub("shards", 2, cmdClusterShards),
		sub("nodes", 2, cmdClusterNodes),
		sub("forget", 3, cmdClusterForget),
		sub("failover", -2, cmdClusterFailover),
		sub("help", 2, cmdClusterHelp),
	}
}

func cmdClusterHelp(c *client, _ [][]byte) {
	c.w.helpLines([]string{
		"CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"COUNTKEYSINSLOT <slot>",
		"    Return the number of keys in <slot>.",
		"FAILOVER [FORCE|TAKEOVER]",
		"    Promote current replica node to being a master (its Raft group's leader).",
		"FORGET <node-id>",
		"    Remove a node from the cluster (from its Raft group, not only from this node's table).",
		"GETKEYSINSLOT <slot> <count>",
		"    Return key names stored by current node in a slot.",
		"INFO",
		"    Return information about the cluster.",
		"KEYSLOT <key>",
		"    Return the hash slot for <key>.",
		"MYID",
		"    Return the node id.",
		"NODES",
		"    Return cluster configuration seen by node. Output format:",
		"    <id> <ip:port@bus-port[,hostname]> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
		"SHARDS",
		"    Return information about slot range mappings and the nodes associated with them.",
		"SLOTS",
		"    Return information about slots range mappings. Each range is made of:",
		"    start, end, master and replicas IP addresses, ports and ids",
		"HELP",
		"    Print this help.",
	})
}

func cmdClusterMyID(c *client, _ [][]byte) { c.w.bulk(clusterName(c.s.selfID())) }

func cmdClusterKeySlot(c *client, args [][]byte) {
	c.w.int(int64(shard.KeySlot(args[2])))
}

// slotArg parses COUNTKEYSINSLOT's slot number as Redis does.
func slotArg(c *client, a []byte) (int, bool) {
	n, ok := parseStrictInt(string(a))
	if !ok {
		c.w.errorText("ERR value is not an integer or out of range")
		return 0, false
	}
	if n < 0 || n >= shard.SlotCount {
		c.w.errorText("ERR Invalid slot")
		return 0, false
	}
	return int(n), true
}

func cmdClusterCountKeys(c *client, args [][]byte) {
	slot, ok := slotArg(c, args[2])
	if !ok {
		return
	}
	u := c.s.unitOfSlot(slot)
	if u.remote {
		c.w.int(0) // the slot's keys are on other nodes, as in Redis Cluster
		return
	}
	_, n := u.store.SlotKeys(slot, 0, c.now())
	c.w.int(int64(n))
}

func cmdClusterGetKeys(c *client, args [][]byte) {
	slot, ok1 := parseStrictInt(string(args[2]))
	count, ok2 := parseStrictInt(string(args[3]))
	switch {
	case !ok1 || !ok2:
		c.w.errorText("ERR value is not an integer or out of range")
		return
	case slot < 0 || slot >= shard.SlotCount || count < 0:
		c.w.errorText("ERR Invalid slot or number of keys")
		return
	}
	var keys []string
	if u := c.s.unitOfSlot(int(slot)); !u.remote {
		keys, _ = u.store.SlotKeys(int(slot), int(min(count, 1<<30)), c.now())
	}
	c.w.array(len(keys))
	for _, k := range keys {
		c.w.bulk(k)
	}
}

func cmdClusterInfo(c *client, _ [][]byte) {
	cv := c.s.clusterViews()
	state, slots := "ok", 0
	for _, v := range cv.groups {
		if v.ok {
			slots += v.u.hi - v.u.lo + 1
		} else {
			state = "fail"
		}
	}
	size := 0
	for _, n := range cv.nodes {
		if len(n.slots) > 0 {
			size++
		}
	}
	var b strings.Builder
	kv := func(k string, v any) { fmt.Fprintf(&b, "%s:%v\r\n", k, v) }
	kv("cluster_state", state)
	kv("cluster_slots_assigned", slots)
	kv("cluster_slots_ok", slots)
	kv("cluster_slots_pfail", 0)
	kv("cluster_slots_fail", 0)
	kv("cluster_known_nodes", len(cv.nodes))
	kv("cluster_size", size)
	kv("cluster_current_epoch", cv.epoch)
	kv("cluster_my_epoch", cv.epoch)
	kv("cluster_stats_messages_sent", 0)
	kv("cluster_stats_messages_received", 0)
	kv("total_cluster_links_buffer_limit_exceeded", 0)
	c.w.verbatim(b.String())
}

// cmdClusterSlots answers one range per shard group that has a leader:
// its slots, the leader, then the followers as its replicas.
func cmdClusterSlots(c *client, _ [][]byte) {
	var served []groupView
	for _, v := range c.s.clusterViews().groups {
		if v.ok {
			served = append(served, v)
		}
	}
	c.w.array(len(served))
	for _, v := range served {
		c.w.array(2 + len(v.nodes))
		c.w.int(int64(v.u.lo))
		c.w.int(int64(v.u.hi))
		for _, n := range v.nodes {
			c.w.array(4)
			c.w.bulk(n.host)
			c.w.int(int64(n.port))
			c.w.bulk(n.name)
			c.w.mapHeader(0)
		}
	}
}

// cmdClusterShards answers one shard per group with known members.
func cmdClusterShards(c *client, _ [][]byte) {
	var shards []groupView
	for _, v := range c.s.clusterViews().groups {
		if len(v.nodes) > 0 {
			shards = append(shards, v)
		}
	}
	c.w.array(len(shards))
	for _, v := range shards {
		c.w.mapHeader(2)
		c.w.bulk("slots")
		if v.ok {
			c.w.array(2)
			c.w.int(int64(v.u.lo))
			c.w.int(int64(v.u.hi))
		} else {
			c.w.array(0)
		}
		c.w.bulk("nodes")
		c.w.array(len(v.nodes))
		for _, n := range v.nodes {
			c.w.mapHeader(7)
			c.w.bulk("id")
			c.w.bulk(n.name)
			c.w.bulk("port")
			c.w.int(int64(n.port))
			c.w.bulk("ip")
			c.w.bulk(n.host)
			c.w.bulk("endpoint")
			c.w.bulk(n.host)
			c.w.bulk("role")
			if n.master {
				c.w.bulk("master")
			} else {
				c.w.bulk("replica")
			}
			c.w.bulk("replication-offset")
			c.w.int(int64(n.offset))
			c.w.bulk("health")
			c.w.bulk("online")
		}
	}
}

// cmdClusterNodes answers one line per node, Redis's format:
// <id> <ip:port@cport> <flags> <master> <ping-sent> <pong-recv>
// <config-epoch> <link-state> <slot-range>...
// A node that leads shard groups is a master with their slots; any other
// is a replica of the first group's leader (see clusterViews).
func cmdClusterNodes(c *client, _ [][]byte) {
	cv := c.s.clusterViews()
	var b strings.Builder
	now := time.Now().Unix() * 1000
	for _, n := range cv.nodes {
		// With no leader known a node shows as a master without slots,
		// as Redis shows nodes that serve none.
		flags, of, pong := "slave", n.replicaOf, n.seen
		if len(n.slots) > 0 || of == "" {
			flags, of = "master", "-"
		}
		if n.myself {
			flags, pong = "myself,"+flags, now
		}
		fmt.Fprintf(&b, "%s %s:%d@%d %s %s 0 %d %d connected", n.name, n.host, n.port, n.cport, flags, of, pong, cv.epoch)
		for _, r := range n.slots {
			fmt.Fprintf(&b, " %d-%d", r[0], r[1])
		}
		b.WriteByte('\n')
	}
	c.w.verbatim(b.String())
}

// cmdClusterFailover is CLUSTER FAILOVER [FORCE|TAKEOVER], sent to a
// replica: the leader hands its leadership to this node (a Raft
// leadership transfer, so no acknowledged write is lost whichever option
// is given). It answers once the transfer is done.
func cmdClusterFailover(c *client, args [][]byte) {
	if len(args) > 3 {
		c.w.errorText("ERR syntax error")
		return
	}
	if len(args) == 3 {
		if o := strings.ToLower(string(args[2])); o != "force" && o != "takeover" {
			c.w.errorText("ERR syntax error")
			return
		}
	}
	if len(c.s.ledUnits()) > 0 {
		c.w.errorText("ERR You should send CLUSTER FAILOVER to a replica")
		return
	}
	// This node is a replica of the first group's leader (CLUSTER NODES):
	// it takes over every group that node leads.
	local := c.s.local()
	if len(local) == 0 {
		c.w.errorText("ERR I'm a replica but my master is unknown to me")
		return
	}
	master, _, ok := local[0].group.Leader()
	if !ok {
		c.w.errorText("ERR I'm a replica but my master is unknown to me")
		return
	}
	var take []*unit
	for _, u := range c.s.local() {
		if id, _, ok := u.group.Leader(); ok && id == master {
			take = append(take, u)
		}
	}
	id := c.s.selfID()
	replies := c.eachUnit(take, func() {
		g := c.u.group
		c.onLeader(c.groupArgs("SESSIOND-FAILOVER", id), func() error { return g.TransferLeadershipTo(id) })
	})
	c.w.firstErrorOrOK(replies)
}

// cmdSessiondFailover is SESSIOND-FAILOVER id [group], which CLUSTER
// FAILOVER forwards to the group's leader: hand leadership to voter id.
func cmdSessiondFailover(c *client, args [][]byte) {
	if !c.groupArg(args, 2) {
		return
	}
	id, g := string(args[1]), c.u.group
	c.onLeader(args, func() error { return g.TransferLeadershipTo(id) })
}
