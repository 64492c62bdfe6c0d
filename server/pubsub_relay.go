package server

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Pub/sub across a partial layout. A message published on a channel goes
// through the log of the channel's group, and every replica of the group
// hands it to its own subscribers; keyspace events are made where the
// key's group applies its log. With --replicas below the number of nodes
// some nodes hold no replica of that group, so the group's leader relays
// each message and event it delivers to those nodes (SESSIOND-DELIVER),
// in order, over one connection per node. A relay is best effort, as
// Redis's pub/sub is: messages queued for a node that is down, or more
// than relayMaxBytes behind, are dropped, and around a change of leader a
// message may reach those nodes twice or not at all.

// relayMaxBytes bounds what waits for one node.
const relayMaxBytes = 8 << 20

// relayEntryCost is what one queued message costs besides its bytes (two
// string headers and slice room), so that empty messages count too.
const relayEntryCost = 48

// relayBatch bounds the messages of one SESSIOND-DELIVER.
const relayBatch = 512

// relayTimeout bounds one SESSIOND-DELIVER.
const relayTimeout = 5 * time.Second

// relay queues messages for one node.
type relay struct {
	d  *directory
	id string

	mu      sync.Mutex
	queue   []string // channel, message, channel, message...
	bytes   int
	dropped int64 // messages dropped since the last warning
	wake    chan struct{}
}

// startRelays starts a relay for every peer (directory.start).
func (d *directory) startRelays() {
	for id := range d.peerList() {
		d.startRelay(id)
	}
}

// startRelay starts node id's relay unless it has one. Callers run in a
// goroutine the server's wait group counts.
func (d *directory) startRelay(id string) {
	d.relayMu.Lock()
	defer d.relayMu.Unlock()
	if _, ok := d.relays[id]; ok {
		return
	}
	r := &relay{d: d, id: id, wake: make(chan struct{}, 1)}
	d.relays[id] = r
	d.s.wg.Add(1)
	go r.run()
}

// relayFrom hands a message this node delivered for group u to the nodes
// that hold no replica of u, when this node leads u.
func (s *Server) relayFrom(u *unit, channel, msg string) {
	d := s.dir()
	if d == nil || u.group == nil || !u.group.IsLeader() {
		return
	}
	holders := u.relayHolders(s)
	d.relayMu.Lock()
	defer d.relayMu.Unlock()
	for id, r := range d.relays {
		if !slices.Contains(holders, id) {
			r.push(channel, msg)
		}
	}
}

// push queues one message, or drops it when the queue is full.
func (r *relay) push(channel, msg string) {
	r.mu.Lock()
	cost := len(channel) + len(msg) + relayEntryCost
	if r.bytes+cost > relayMaxBytes {
		r.dropped++
		r.mu.Unlock()
		return
	}
	r.queue = append(r.queue, channel, msg)
	r.bytes += cost
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// run sends the queued messages until the server closes.
func (r *relay) run() {
	s := r.d.s
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-r.wake:
		}
		for s.ctx.Err() == nil {
			r.mu.Lock()
			n := min(len(r.queue), 2*relayBatch)
			batch := r.queue[:n:n]
			r.queue = r.queue[n:]
			for i := 0; i < len(batch); i += 2 {
				r.bytes -= len(batch[i]) + len(batch[i+1]) + relayEntryCost
			}
			if len(r.queue) == 0 {
				r.queue = nil
			}
			dropped := r.dropped
			r.dropped = 0
			r.mu.Unlock()
			if dropped > 0 {
				s.log.Warn("pub/sub relay: messages dropped (the node is down or too slow)", "node", r.id, "dropped", dropped)
			}
			if n == 0 {
				break
			}
			r.send(batch)
		}
	}
}

// send delivers one batch; a node that cannot be reached loses it.
func (r *relay) send(batch []string) {
	s := r.d.s
	addr, ok := r.d.clientAddr(r.id)
	if !ok {
		s.log.Debug("pub/sub relay: node address unknown; messages dropped", "node", r.id, "messages", len(batch)/2)
		return
	}
	args := make([][]byte, 0, 1+len(batch))
	args = append(args, []byte("sessiond-deliver"))
	for _, x := range batch {
		args = append(args, []byte(x))
	}
	ctx, cancel := context.WithTimeout(s.ctx, relayTimeout)
	defer cancel()
	if _, _, err := s.up.do(ctx, addr, 2, args, nil); err != nil {
		s.log.Debug("pub/sub relay failed; messages dropped", "node", r.id, "messages", len(batch)/2, "err", err)
	}
}

// cmdSessiondDeliver is SESSIOND-DELIVER channel message [channel
// message ...]: messages a group's leader relays (relayFrom), handed to
// this node's subscribers.
func cmdSessiondDeliver(c *client, args [][]byte) {
	if len(args)%2 == 0 {
		c.w.errorText("ERR wrong number of arguments for 'sessiond-deliver' command")
		return
	}
	s := c.s
	h := s.pubsub()
	lim := s.config().ClientOutputBufferLimit.class(classPubSub)
	for i := 1; i < len(args); i += 2 {
		h.publish(string(args[i]), string(args[i+1]), lim, s.logOutputLimit)
	}
	c.w.ok()
}

// holdersTTL is how long relayFrom reuses a group's holders: reading the
// Raft configuration for every message and event would cost more than
// the message, and a relay is best effort around a change anyway.
const holdersTTL = time.Second

// holdersSnap is a group's holders as read at a moment.
type holdersSnap struct {
	ids []string
	at  time.Time
}

// relayHolders returns s.holders(u), read at most once per holdersTTL.
func (u *unit) relayHolders(s *Server) []string {
	if h := u.holdersCache.Load(); h != nil && time.Since(h.at) < holdersTTL {
		return h.ids
	}
	h := &holdersSnap{ids: s.holders(u), at: time.Now()}
	u.holdersCache.Store(h)
	return h.ids
}
