package server

import (
	"errors"
	"sort"
	"strings"

	"sessiond/replication"
	"sessiond/shard"
)

// Pub/Sub: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH and
// PUBSUB, in RESP2 (subscribed mode: only (P)(UN)SUBSCRIBE, PING, QUIT
// and RESET are allowed, conn.go) and RESP3 (messages are pushes, any
// command is allowed).
//
// A message published on any node reaches the subscribers of every node:
// PUBLISH goes through the Raft log of the channel's shard group as a
// shard.KindPublish op (forwarded to the group's leader like a write,
// but never refused with MOVED: PUBLISH has no key, and Redis Cluster
// takes it on any node), and every node, applying it, hands the message
// to its own subscribers (storeEvent). PUBLISH answers the number of
// subscriptions on the node that took the command that match the channel
// (channel and pattern subscriptions), as Redis Cluster counts local
// receivers. PUBSUB CHANNELS / NUMSUB / NUMPAT describe this node's
// subscribers only, as in Redis Cluster.

// initPubSub sets up pub/sub and keyspace notifications for a new server
// (New calls it once the units exist): every store's events go to the
// server's hub. Event reporting is off until notify-keyspace-events asks
// for events (applyNotify, on the first subscription and on CONFIG SET).
func (s *Server) initPubSub() {
	h := newHub()
	s.ps = h
	for _, u := range s.local() {
		u.store.SetEventSink(func(e shard.Event) { s.storeEvent(h, u, e) })
	}
}

// pubsub returns the server's hub.
func (s *Server) pubsub() *hub { return s.ps }

// pubsubCounts returns the node's channels with subscribers, patterns
// subscribed to, and connections with a subscription (INFO's
// pubsub_channels, pubsub_patterns and pubsub_clients).
func (s *Server) pubsubCounts() (channels, patterns, clients int) {
	h := s.pubsub()
	h.mu.RLock()
	defer h.mu.RUnlock()
	seen := make(map[*subscriber]struct{})
	for _, m := range []map[string]map[*subscriber]struct{}{h.channels, h.patterns} {
		for _, set := range m {
			for sb := range set {
				seen[sb] = struct{}{}
			}
		}
	}
	return len(h.channels), len(h.patterns), len(seen)
}

// pubsubCommands returns the pub/sub commands for the command table.
func pubsubCommands() []*command {
	const sub = flagPubSub | flagNoScript | flagLoading | flagStale
	ps := runCmd(def("pubsub", -2, 0, noKeys, "@slow"), func(c *client, args [][]byte) { c.runSubcommand("pubsub", args) })
	ps.subs = []*command{
		runCmd(def("pubsub|channels", -2, flagPubSub|flagLoading|flagStale, noKeys, "@pubsub @slow"), cmdPubsubChannels),
		runCmd(def("pubsub|help", 2, flagLoading|flagStale, noKeys, "@slow"), cmdPubsubHelp),
		runCmd(def("pubsub|numpat", 2, flagPubSub|flagLoading|flagStale, noKeys, "@pubsub @slow"), cmdPubsubNumPat),
		runCmd(def("pubsub|numsub", -2, flagPubSub|flagLoading|flagStale, noKeys, "@pubsub @slow"), cmdPubsubNumSub),
		runCmd(def("pubsub|shardchannels", -2, flagPubSub|flagLoading|flagStale, noKeys, "@pubsub @slow"), cmdPubsubShardChannels),
		runCmd(def("pubsub|shardnumsub", -2, flagPubSub|flagLoading|flagStale, noKeys, "@pubsub @slow"), cmdPubsubShardNumSub),
	}
	return []*command{
		runCmd(def("subscribe", -2, sub, noKeys, "@pubsub @slow"), cmdSubscribe),
		runCmd(def("unsubscribe", -1, sub, noKeys, "@pubsub @slow"), cmdUnsubscribe),
		runCmd(def("psubscribe", -2, sub, noKeys, "@pubsub @slow"), cmdPSubscribe),
		runCmd(def("punsubscribe", -1, sub, noKeys, "@pubsub @slow"), cmdPUnsubscribe),
		runCmd(def("publish", 3, flagPubSub|flagLoading|flagStale|flagFast, noKeys, "@pubsub @fast"), cmdPublish),
		ps,
	}
}

// pubsubDocLines are COMMAND DOCS lines for these commands, in
// commandDocLines's format.
var pubsubDocLines = []string{
	"subscribe|pubsub|2.0.0|Listens for messages published to channels.",
	"unsubscribe|pubsub|2.0.0|Stops listening to messages posted to channels.",
	"psubscribe|pubsub|2.0.0|Listens for messages published to channels that match one or more patterns.",
	"punsubscribe|pubsub|2.0.0|Stops listening to messages published to channels that match one or more patterns.",
	"publish|pubsub|2.0.0|Posts a message to a channel.",
	"pubsub|pubsub|2.8.0|A container for Pub/Sub commands.",
}

// subReply writes one (un)subscribe confirmation: [kind, name, count], a
// push in RESP3; name is null when nil is set (nothing to unsubscribe).
func (c *client) subReply(kind, name string, null bool, count int) {
	c.w.pushHeader(3)
	c.w.bulk(kind)
	if null {
		c.w.null()
	} else {
		c.w.bulk(name)
	}
	c.w.int(int64(count))
}

func cmdSubscribe(c *client, args [][]byte)  { subscribeCmd(c, args, false) }
func cmdPSubscribe(c *client, args [][]byte) { subscribeCmd(c, args, true) }

func subscribeCmd(c *client, args [][]byte, pat bool) {
	sb := c.pubsubState()
	kind := "subscribe"
	if pat {
		kind = "psubscribe"
	}
	for _, a := range args[1:] {
		sb.subscribe(string(a), pat)
		c.subReply(kind, string(a), false, sb.count())
	}
	// Events are reported from the first subscription on (nobody could
	// receive them before); CONFIG SET turns them on and off after.
	applyNotify(c.s, c.s.config())
}

func cmdUnsubscribe(c *client, args [][]byte)  { unsubscribeCmd(c, args, false) }
func cmdPUnsubscribe(c *client, args [][]byte) { unsubscribeCmd(c, args, true) }

func unsubscribeCmd(c *client, args [][]byte, pat bool) {
	kind := "unsubscribe"
	if pat {
		kind = "punsubscribe"
	}
	sb := c.ps
	if len(args) == 1 {
		n := 0
		if sb != nil {
			sb.unsubscribeAll(func(name string) {
				n++
				c.subReply(kind, name, false, sb.count())
			}, pat)
		}
		if n == 0 {
			count := 0
			if sb != nil {
				count = sb.count()
			}
			c.subReply(kind, "", true, count)
		}
		return
	}
	for _, a := range args[1:] {
		count := 0
		if sb != nil {
			sb.unsubscribe(string(a), pat)
			count = sb.count()
		}
		c.subReply(kind, string(a), false, count)
	}
}

// cmdPublish runs PUBLISH channel message: through the log of the
// channel's group (at its leader), so that every node delivers it.
func cmdPublish(c *client, args [][]byte) {
	c.settle()
	h := c.s.pubsub()
	receivers := h.receivers(string(args[1]))
	saved := c.u
	c.u = c.s.unitOfKey(args[1])
	defer func() { c.u = saved }()
	mark := len(c.w.b)
	publishHere(c, args)
	if len(c.w.b) > mark && c.w.b[mark] == '-' {
		return
	}
	c.w.b = c.w.b[:mark]
	if c.ps != nil {
		// Messages this node delivered to this very connection meanwhile
		// come before the reply, as in Redis (RESP3).
		c.w.b = c.ps.take(c.w.b)
	}
	c.w.int(int64(receivers))
}

// publishHere applies the publish op in the current group (c.u), or
// forwards the command to the group's leader. It writes an error, or
// anything else on success.
func publishHere(c *client, args [][]byte) {
	if c.u.remote {
		c.forward(args, true, func() { c.w.errorText(errClusterDown) })
		return
	}
	op := shard.Op{Kind: shard.KindPublish, Now: c.now(), Key: args[1], Args: [][]byte{args[2]}}
	_, err := c.u.applier.Apply(c.s.ctx, &op)
	switch {
	case err == nil:
		c.w.ok()
	case c.u.group != nil && errors.Is(err, replication.ErrNotLeader) && !c.inLocalRetry:
		c.forward(args, true, func() { publishHere(c, args) })
	default:
		c.replicationError(err)
	}
}

func cmdPubsubHelp(c *client, _ [][]byte) {
	c.w.helpLines([]string{
		"PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"CHANNELS [<pattern>]",
		"    Return the currently active channels matching a <pattern> (default: '*').",
		"NUMPAT",
		"    Return number of subscriptions to patterns.",
		"NUMSUB [<channel> ...]",
		"    Return the number of subscribers for the specified channels, excluding",
		"    pattern subscriptions(default: no channels).",
		"SHARDCHANNELS [<pattern>]",
		"    Return the currently active shard level channels matching a <pattern> (default: '*').",
		"SHARDNUMSUB [<shardchannel> ...]",
		"    Return the number of subscribers for the specified shard level channel(s)",
		"HELP",
		"    Prints this help.",
	})
}

func cmdPubsubChannels(c *client, args [][]byte) {
	if len(args) > 3 {
		subcommandSyntaxError(c, args)
		return
	}
	h := c.s.pubsub()
	var out []string
	h.mu.RLock()
	for ch := range h.channels {
		if len(args) < 3 || shard.GlobMatch(args[2], []byte(ch)) {
			out = append(out, ch)
		}
	}
	h.mu.RUnlock()
	sort.Strings(out)
	c.w.array(len(out))
	for _, ch := range out {
		c.w.bulk(ch)
	}
}

func cmdPubsubNumSub(c *client, args [][]byte) {
	h := c.s.pubsub()
	c.w.array(2 * (len(args) - 2))
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, a := range args[2:] {
		c.w.bulkBytes(a)
		c.w.int(int64(len(h.channels[string(a)])))
	}
}

func cmdPubsubNumPat(c *client, _ [][]byte) {
	h := c.s.pubsub()
	h.mu.RLock()
	n := len(h.patterns)
	h.mu.RUnlock()
	c.w.int(int64(n))
}

// Sharded pub/sub (SSUBSCRIBE...) is not implemented: no shard channel
// has subscribers.
func cmdPubsubShardChannels(c *client, args [][]byte) {
	if len(args) > 3 {
		subcommandSyntaxError(c, args)
		return
	}
	c.w.array(0)
}

func cmdPubsubShardNumSub(c *client, args [][]byte) {
	c.w.array(2 * (len(args) - 2))
	for _, a := range args[2:] {
		c.w.bulkBytes(a)
		c.w.int(0)
	}
}

// subscribedAllowed reports whether a RESP2 connection in subscribed mode
// may run the command named name.
func subscribedAllowed(name string) bool {
	switch name {
	case "ping", "subscribe", "ssubscribe", "unsubscribe", "sunsubscribe",
		"psubscribe", "punsubscribe", "quit", "reset":
		return true
	}
	return false
}

// subscribedError is Redis's reply to another command in subscribed mode.
func subscribedError(cmd *command, args [][]byte) string {
	name := cmd.name
	if cmd.subs != nil && len(args) > 1 {
		want := name + "|" + strings.ToLower(string(args[1]))
		for _, sc := range cmd.subs {
			if sc.name == want {
				name = want
			}
		}
	}
	return "ERR Can't execute '" + name + "': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
}

// subcommandSyntaxError is Redis's addReplySubcommandSyntaxError.
func subcommandSyntaxError(c *client, args [][]byte) {
	sub := args[1]
	if len(sub) > 128 {
		sub = sub[:128]
	}
	c.w.errorText("ERR unknown subcommand or wrong number of arguments for '" + string(sub) + "'. Try " + strings.ToUpper(string(args[0])) + " HELP.")
}
