package server

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"
)

// Shared forwarding connections. A forwarded command (or a client's
// pipeline of them, forward_pipeline.go) used to take a pooled connection
// of its own: one write and one read on each side per command or
// pipeline, so clients that do not pipeline cost the leader a read and a
// write each. upstreamMux carries the forwarded commands of every client
// for one leader (and protocol) over one connection: whoever submits while no one
// is writing becomes the writer, yields once so that the other ready
// clients queue theirs, and writes them all at once; one reader goroutine
// per connection hands the replies back in order. The leader sees a
// pipeline. Failures keep do's contract: a command that may have been
// written is answered with sent=true and an error, never retried here.

// errMuxUnexpectedReply is a reply the mux did not ask for.
var errMuxUnexpectedReply = errors.New("upstream: reply without a request")

// muxReq is one command submitted to a mux.
type muxReq struct {
	enc   []byte // the command, RESP-encoded
	reply []byte
	sent  bool  // written (or being written) to the connection
	err   error // set before done is closed
	done  chan struct{}
}

// upstreamMux is the shared connection to one leader.
type upstreamMux struct {
	pool *upstreamPool
	key  upstreamKey

	mu      sync.Mutex
	conns   [muxConns]*muxConn // nil: not dialled yet, or the last one broke
	dialing [muxConns]bool     // a background dial of that slot is running
	next    int                // the slot the next batch goes to
	queue   []*muxReq
	writing bool
	wbuf    []byte // the writer's buffer (only the writer touches it)
}

// muxConns is how many connections a mux spreads its batches over. A
// leader serves one connection's pipeline a batch at a time (it answers a
// batch of writes once their log entry commits, then reads on), so a few
// connections let several entries be in flight, as separate clients'
// connections would.
const muxConns = 4

// muxWriterRounds bounds the batches one submitter writes for others
// before it hands the writing to a goroutine of its own and returns.
const muxWriterRounds = 2

// muxConn is one connection of a mux and the requests written to it
// whose replies have not come yet, in order.
type muxConn struct {
	c    *upstreamConn
	mu   sync.Mutex // guards fifo, dead, and the read deadline
	fifo []*muxReq
	dead bool
}

// mux returns the pool's mux for key, or nil once the pool is closed.
func (p *upstreamPool) mux(key upstreamKey) *upstreamMux {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	if p.muxes == nil {
		p.muxes = make(map[upstreamKey]*upstreamMux)
	}
	m := p.muxes[key]
	if m == nil {
		m = &upstreamMux{pool: p, key: key}
		p.muxes[key] = m
	}
	return m
}

// muxDo is do over the shared connection to addr (see upstreamMux), with
// do's contract for sent and err.
func (p *upstreamPool) muxDo(ctx context.Context, addr string, proto int, args [][]byte, dst []byte) ([]byte, bool, error) {
	if proto != 2 && proto != 3 {
		return dst, false, fmt.Errorf("upstream %s: unsupported protocol %d", addr, proto)
	}
	if len(args) == 0 {
		return dst, false, fmt.Errorf("upstream %s: empty command", addr)
	}
	m := p.mux(upstreamKey{addr: addr, proto: proto})
	if m == nil {
		return dst, false, errUpstreamClosed
	}
	r := &muxReq{enc: upstreamAppendCommand(nil, args), done: make(chan struct{})}
	m.submitAll(ctx, []*muxReq{r})
	select {
	case <-r.done:
		if r.err != nil {
			return dst, r.sent, r.err
		}
		return append(dst, r.reply...), true, nil
	case <-ctx.Done():
		return dst, true, fmt.Errorf("upstream %s: %w", addr, ctx.Err())
	}
}

// submitAll queues rs, kept together and in order, and writes the queue
// unless another submitter is writing it. Each request is completed
// (done closed) exactly once: with its reply, or with an error whose
// sent flag says whether it may have been written.
func (m *upstreamMux) submitAll(ctx context.Context, rs []*muxReq) {
	m.mu.Lock()
	m.queue = append(m.queue, rs...)
	if m.writing {
		m.mu.Unlock()
		return
	}
	m.writing = true
	m.mu.Unlock()
	runtime.Gosched() // the other ready clients queue theirs first
	m.write(ctx, muxWriterRounds)
}

// isDead reports whether the connection failed.
func (mc *muxConn) isDead() bool {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	return mc.dead
}

// conn returns a live connection for the next batch: the next slot's,
// else any live one (while the empty slot is dialled in the background),
// else one dialled now, without the lock, bounded by ctx. Only the writer
// calls it.
func (m *upstreamMux) conn(ctx context.Context) (*muxConn, error) {
	m.mu.Lock()
	i := m.next
	m.next = (m.next + 1) % muxConns
	if mc := m.conns[i]; mc != nil && !mc.isDead() {
		m.mu.Unlock()
		return mc, nil
	}
	for _, mc := range m.conns {
		if mc != nil && !mc.isDead() {
			if !m.dialing[i] {
				m.dialing[i] = true
				go m.dialSlot(context.Background(), i)
			}
			m.mu.Unlock()
			return mc, nil
		}
	}
	m.mu.Unlock()
	return m.dialSlot(ctx, i)
}

// dialSlot dials a connection for slot i and starts its reader.
func (m *upstreamMux) dialSlot(ctx context.Context, i int) (*muxConn, error) {
	c, err := m.pool.get(ctx, m.key.addr, m.key.proto)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dialing[i] = false
	if err != nil {
		return nil, err
	}
	// A connection the pool kept idle may carry the deadline of its last
	// request: the reader must not inherit it.
	c.nc.SetDeadline(time.Time{})
	mc := &muxConn{c: c}
	if old := m.conns[i]; old != nil && !old.isDead() {
		// Dialled meanwhile by the writer: keep that one.
		m.pool.put(c, true)
		return old, nil
	}
	m.conns[i] = mc
	go m.read(mc)
	return mc, nil
}

// write sends the queue, batch after batch, until it is empty; after
// rounds batches it hands the rest to a goroutine of its own, so that a
// submitter is not kept writing other clients' batches.
func (m *upstreamMux) write(ctx context.Context, rounds int) {
	for n := 0; ; n++ {
		m.mu.Lock()
		batch := m.queue
		m.queue = nil
		if len(batch) == 0 {
			m.writing = false
			m.mu.Unlock()
			return
		}
		m.mu.Unlock()
		if rounds > 0 && n == rounds {
			m.mu.Lock()
			m.queue = append(batch, m.queue...)
			m.mu.Unlock()
			go m.write(context.Background(), 0)
			return
		}
		mc, err := m.conn(ctx)
		if err != nil {
			failMux(batch, false, err) // nothing of it written: the callers may retry
			continue
		}
		mc.mu.Lock()
		if mc.dead {
			mc.mu.Unlock()
			failMux(batch, false, errUpstreamBroken)
			continue
		}
		for _, r := range batch {
			r.sent = true
		}
		mc.fifo = append(mc.fifo, batch...)
		mc.c.nc.SetReadDeadline(time.Now().Add(m.pool.cfg.IOTimeout))
		mc.mu.Unlock()
		m.wbuf = m.wbuf[:0]
		for _, r := range batch {
			m.wbuf = append(m.wbuf, r.enc...)
		}
		mc.c.nc.SetWriteDeadline(time.Now().Add(m.pool.cfg.IOTimeout))
		if _, err := mc.c.nc.Write(m.wbuf); err != nil {
			mc.c.nc.Close() // the reader fails every request written
		}
		if cap(m.wbuf) > upstreamKeepWriteBuf {
			m.wbuf = nil
		}
	}
}

// failMux completes reqs with err.
func failMux(reqs []*muxReq, sent bool, err error) {
	for _, r := range reqs {
		r.sent, r.err = sent, err
		close(r.done)
	}
}

// read hands mc's replies to its requests in order until the connection
// fails; then it fails the requests still waiting and drops mc. A reply
// the peer sent without a request is caught only when none is waiting
// (in a pipeline it cannot be told apart); the read deadline runs from
// the last batch written.
func (m *upstreamMux) read(mc *muxConn) {
	var push []byte
	pushes := 0
	for {
		reply, err := upstreamReadReply(mc.c.br, nil)
		if err == nil && reply[0] == '>' && m.key.proto == 3 {
			if pushes++; pushes > upstreamMaxPushes {
				err = fmt.Errorf("%w: more than %d push messages before a reply", errUpstreamProtocol, upstreamMaxPushes)
			} else {
				push = append(push, reply...) // relayed with the next reply, as do does
				continue
			}
		}
		mc.mu.Lock()
		if err == nil && len(mc.fifo) == 0 {
			err = errMuxUnexpectedReply
		}
		if err != nil {
			mc.dead = true
			pending := mc.fifo
			mc.fifo = nil
			mc.mu.Unlock()
			failMux(pending, true, fmt.Errorf("upstream %s: read reply: %w", m.key.addr, err))
			m.pool.put(mc.c, false) // closes it
			m.mu.Lock()
			for i := range m.conns {
				if m.conns[i] == mc {
					m.conns[i] = nil
				}
			}
			m.mu.Unlock()
			return
		}
		r := mc.fifo[0]
		mc.fifo[0] = nil
		mc.fifo = mc.fifo[1:]
		if len(mc.fifo) == 0 {
			mc.c.nc.SetReadDeadline(time.Time{}) // idle: no reply is due
		}
		mc.mu.Unlock()
		r.reply = append(push, reply...)
		push, pushes = nil, 0
		close(r.done)
	}
}
