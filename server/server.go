package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"sessiond/replication"
	"sessiond/script"
	"sessiond/shard"
	"sessiond/ttl"
)

// Applier applies a write op and returns its result. It is the seam where
// replication sits: the single-node server applies to the local store;
// with Raft, Apply returns once a majority has the op in its log and the
// local store has applied it. An error means the outcome is unknown or
// the op was refused; it is never a Result error such as WRONGTYPE.
type Applier interface {
	Apply(ctx context.Context, op *shard.Op) (shard.Result, error)
}

// LocalApplier applies ops directly to a store.
type LocalApplier struct{ Store *shard.Store }

// Apply applies op to the store.
func (a LocalApplier) Apply(_ context.Context, op *shard.Op) (shard.Result, error) {
	return a.Store.Apply(op), nil
}

// Server is one sessiond node's RESP endpoint.
type Server struct {
	conf   atomic.Pointer[Config]
	confMu sync.Mutex // serialises CONFIG SET
	clock  ttl.Clock
	log    *slog.Logger

	errorCodes errorCodes // INFO errorstats
	cmds       map[string]*command
	started    time.Time
	epoch      time.Time // a monotonic clock reading at start, for durations (sinceEpoch)
	// shutdown receives SHUTDOWN's requests (ShutdownRequests).
	shutdown chan struct{}
	saves    saves // SAVE, BGSAVE, BGREWRITEAOF (cmd_save.go)

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	ln       net.Listener
	extraLns []net.Listener // the tls-port listener (tls.go)
	tls      tlsState
	clients  map[int64]*client
	closed   bool
	nextID   atomic.Int64
	// blockedClients counts the clients CLIENT LIST flags b (INFO's
	// blocked_clients), which blocked.n, the registered waiters, runs
	// ahead of.
	blockedClients atomic.Int64
	stats          serverStats
	memState       memoryState // maxmemory bookkeeping (memory.go)
	ops            opsSampler  // instantaneous_ops_per_sec

	// The shard groups (units.go), in slot order, and which one holds
	// each slot. A standalone server has one unit without a Raft group.
	tab  atomic.Pointer[unitTable] // the shard groups as this node sees them (units.go)
	host groupHost                 // opens and drops replicas at run time; nil unless partial (moves.go)
	mv   moves
	// replicasWanted is --replicas where groups are held by some nodes
	// only (moves.go).
	replicasWanted int
	slotUnit       []uint8
	raft           bool                      // writes go through Raft
	dirp           atomic.Pointer[directory] // where remote groups' leaders are (directory.go); nil unless partial

	nodeIDSelf string // this node's Raft ID ("" on a standalone server)

	up *upstreamPool // connections a follower forwards commands on (replica.go)

	ps       *hub       // pub/sub subscriptions and delivery (pubsub_hub.go)
	blocked  blockers   // connections waiting in blocking list commands (blocking.go)
	eventsMu sync.Mutex // serialises refreshEvents
	pause    pauseState // CLIENT PAUSE (pause.go)
	slow     slowLog    // SLOWLOG (slowlog.go)
	// monitoring counts the connections in MONITOR mode (monitor.go).
	monitoring atomic.Int32
	scriptEng  *script.Engine // compiled scripts of this node (script.go)
}

// serverStats are the counters INFO stats reports.
type serverStats struct {
	connsReceived atomic.Int64
	connsRejected atomic.Int64
	commands      atomic.Int64
	netInput      atomic.Int64
	netOutput     atomic.Int64
	errorReplies  atomic.Int64
	reaperCycles  atomic.Int64
	fwdCommands   atomic.Int64 // commands forwarded to another node's group leader
	fwdBatches    atomic.Int64 // writes to it that carried them (pipelined forwarding)
}

// New returns a Server for cfg with one shard group. Store and Applier
// may be nil: New then makes a store from cfg and applies to it directly.
func New(cfg Config, store *shard.Store, applier Applier) (*Server, error) {
	return NewSharded(cfg, []Unit{{Store: store, Applier: applier}})
}

// NewSharded returns a Server for cfg whose slots are split over the
// groups of units, in slot order (group i holds SlotRange(i, len(units))).
// A nil Store or Applier is filled in as New does. Either every Applier
// is a *replication.Group or none is.
func NewSharded(cfg Config, units []Unit) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if len(units) == 0 || len(units) > MaxShards {
		return nil, fmt.Errorf("shards: %d groups (1 to %d)", len(units), MaxShards)
	}
	units = append([]Unit(nil), units...)
	raft := 0
	for i := range units {
		if units[i].Remote {
			raft++
			continue
		}
		if units[i].Store == nil {
			units[i].Store = shard.New(shard.Config{Clock: cfg.Clock})
		}
		if units[i].Applier == nil {
			units[i].Applier = LocalApplier{Store: units[i].Store}
		}
		if _, ok := units[i].Applier.(*replication.Group); ok {
			raft++
		}
	}
	if raft != 0 && raft != len(units) {
		return nil, errors.New("shards: either every group is replicated or none is")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{
		clock:    cfg.Clock,
		log:      logger,
		clients:  make(map[int64]*client),
		started:  cfg.Clock.Now(),
		epoch:    time.Now(),
		shutdown: make(chan struct{}, 1),
	}
	us, slots := newUnits(units, s.notifyHook)
	s.slotUnit = slots
	s.tab.Store(newUnitTable(us))
	for _, u := range us {
		if u.group != nil {
			s.nodeIDSelf = u.group.NodeID()
		}
	}
	if len(s.local()) == 0 {
		// A node holding no group still needs its ID: every group has
		// the same, the one in its config.
		s.nodeIDSelf = cfg.NodeID
	}
	s.raft = raft > 0
	s.initPubSub()
	s.initScripts()
	s.up = newUpstreamPool(upstreamConfig{Password: cfg.RequirePass, ClientName: forwarderName})
	c := cfg
	s.conf.Store(&c)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.mv.leaderTok = make(chan struct{}, 1)
	s.cmds = s.commandTable()
	return s, nil
}

// Store returns the store of the server's first shard group (its only
// one unless sharded), or nil when other nodes hold it (--replicas).
func (s *Server) Store() *shard.Store { return s.units()[0].store }

// config returns the current configuration. Callers must not modify it.
func (s *Server) config() *Config { return s.conf.Load() }

// Addr returns the listening address, or nil before Serve.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// ListenAndServe listens on the configured bind address and port and
// serves until Close.
func (s *Server) ListenAndServe() error {
	cfg := s.config()
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Bind, fmt.Sprint(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	return s.Serve(ln)
}

// Serve accepts connections on ln and serves them until Close. It also
// runs the expiry reaper and the eviction loop. It returns nil after Close.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed { // closed before it served: nothing to do, as after Close
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.ln = ln
	// Held until Serve returns, so Close's wg.Wait never races the
	// background Adds below (Add on a zero counter concurrent with Wait
	// is a misuse of sync.WaitGroup).
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	s.startBackground()
	s.acceptLoop(ln)
	return nil
}

// acceptLoop accepts connections on ln and serves them until ln is
// closed.
func (s *Server) acceptLoop(ln net.Listener) {
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("accept failed", "err", err)
			time.Sleep(5 * time.Millisecond) // EMFILE and friends: do not spin
			continue
		}
		s.accept(nc)
	}
}

// accept registers a connection and starts its goroutine. When maxclients
// connections are already open it answers "-ERR max number of clients
// reached" and closes, as Redis does; after Close it just closes.
func (s *Server) accept(nc net.Conn) {
	s.stats.connsReceived.Add(1)
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	cfg := s.config()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		nc.Close()
		return
	}
	if len(s.clients) >= cfg.MaxClients {
		s.stats.connsRejected.Add(1)
		refuse := func() {
			nc.Write([]byte("-ERR max number of clients reached\r\n"))
			closeConn(nc)
		}
		if _, ok := nc.(*tls.Conn); ok {
			// The write needs the TLS handshake first, which waits for
			// the client: not in the accept loop, and bounded.
			nc.SetDeadline(time.Now().Add(time.Second))
			s.wg.Add(1)
			s.mu.Unlock()
			go func() {
				defer s.wg.Done()
				refuse()
			}()
			return
		}
		s.mu.Unlock()
		// Best effort, like Redis: a client that does not read it
		// must not hold up the accept loop.
		nc.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		refuse()
		return
	}
	c := newClient(s, nc)
	s.clients[c.id] = c
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		c.serve()
		s.mu.Lock()
		delete(s.clients, c.id)
		s.mu.Unlock()
	}()
}

// startBackground starts the reaper and other periodic work once.
func (s *Server) startBackground() {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		r := ttl.Reaper{Clock: s.clock, Reap: s.reapDue}
		r.Run(s.ctx)
	}()
	s.startMemoryLoop()
	if s.replicated() {
		for _, u := range s.local() {
			s.wg.Add(1)
			go s.runFollowerLink(u)
		}
		if d := s.dir(); d != nil {
			d.start()
		}
		if s.sharded() {
			s.wg.Add(1)
			go s.runBalancer()
		}
		if addrs, _ := parseJoin(s.config().Join); len(addrs) > 0 {
			switch {
			case s.host == nil:
				s.wg.Add(1)
				go s.runJoin(addrs)
			case !s.mv.joined.Load():
				s.wg.Add(1)
				go s.runJoinPartial(addrs)
			}
		}
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.ops.run(s.ctx, &s.stats.commands)
	}()
}

// reapDue proposes, for each group this node leads, one reap op for up
// to max due keys. Only a group's leader reaps; the op goes through the
// group's Applier like any write.
func (s *Server) reapDue(now int64, max int) int {
	start := int(s.stats.reaperCycles.Add(1))
	n := 0
	for _, u := range s.local() {
		n += s.reapUnit(u, now, max, start)
	}
	return n
}

func (s *Server) reapUnit(u *unit, now int64, max, start int) int {
	if u.group != nil && !u.group.Ready() {
		return 0
	}
	keys := u.store.DueKeys(now, max, start)
	if len(keys) == 0 {
		// Nothing is due: no read here has hidden a key that is still
		// stored, so a new leader with a slower clock has nothing to
		// resurrect, and an idle group logs nothing. A key that falls
		// due is reaped by an op that carries this leader's time.
		return 0
	}
	op := shard.Op{Kind: shard.KindReap, Now: now, Args: keys}
	_, err := u.applier.Apply(s.ctx, &op)
	if err != nil {
		s.log.Debug("reap failed", "err", err)
		return 0
	}
	return len(keys)
}

// Close stops accepting, closes every connection and waits for their
// goroutines and the background loops to end.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	ln := s.ln
	for _, l := range s.extraLns {
		l.Close()
	}
	for _, c := range s.clients {
		closeConn(c.nc)
	}
	s.mu.Unlock()
	s.cancel()
	var err error
	if ln != nil {
		err = ln.Close()
	}
	if d := s.dir(); d != nil {
		d.close()
	}
	s.wg.Wait()
	s.up.Close()
	return err
}
