package server

import (
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"sessiond/shard"
)

// client is one connection's state. Only its own goroutine touches it,
// except the fields read by CLIENT LIST and INFO, which are guarded by
// info (see clientInfo).
type client struct {
	s      *Server
	id     int64
	nc     net.Conn
	rd     *reader
	w      replyWriter
	addr   string
	laddr  string
	authed bool
	quit   bool // close after the pending replies are written

	multi    *multiState
	watches  []shard.Watch
	readonly bool

	info clientInfo

	batchNow time.Time // the clock, read once per batch of commands
	op       shard.Op  // scratch space for the command being executed
}

// multiState is a transaction being queued by MULTI.
type multiState struct {
	queued [][][]byte // each command's arguments, copied
	dirty  bool       // a queuing error happened: EXEC answers EXECABORT
}

func newClient(s *Server, nc net.Conn) *client {
	cfg := s.config()
	c := &client{
		s:      s,
		id:     s.nextID.Add(1),
		nc:     nc,
		addr:   nc.RemoteAddr().String(),
		laddr:  nc.LocalAddr().String(),
		authed: cfg.RequirePass == "",
	}
	c.rd = newReader(nc, cfg.ProtoMaxBulkLen, func() bool { return c.authed })
	c.info.created = s.clock.Now()
	c.batchNow = c.info.created
	c.info.lastTime.Store(c.info.created.UnixNano())
	return c
}

// serve runs the connection until the client leaves, sends QUIT, breaks
// the protocol, or the server closes.
func (c *client) serve() {
	defer c.nc.Close()
	for !c.quit {
		cfg := c.s.config()
		if cfg.Timeout > 0 {
			c.nc.SetReadDeadline(time.Now().Add(cfg.Timeout))
		}
		c.rd.maxBulk = cfg.ProtoMaxBulkLen
		args, err := c.rd.next(true)
		if err != nil {
			c.readFailed(err)
			return
		}
		// Execute everything already buffered, then write once. The clock
		// is read once per 32 commands: like Redis's cached command time,
		// every command of a batch sees the same "now".
		for n := 0; args != nil && !c.quit; n++ {
			if n%32 == 0 {
				c.batchNow = c.s.clock.Now()
			}
			c.dispatch(args)
			if len(c.w.b) > 64*1024 {
				if !c.flush() {
					return
				}
			}
			args, err = c.rd.next(false)
			if err != nil {
				c.readFailed(err)
				return
			}
		}
		if !c.flush() {
			return
		}
		c.rd.shrink()
	}
}

// readFailed answers a protocol error before the connection closes.
func (c *client) readFailed(err error) {
	if isProtocolError(err) {
		c.w.errorText(err.Error())
		c.flush()
		return
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, os.ErrDeadlineExceeded) {
		c.s.log.Debug("client read failed", "id", c.id, "err", err)
	}
}

// flush writes the pending replies; false means the connection is gone.
func (c *client) flush() bool {
	if len(c.w.b) == 0 {
		return true
	}
	n, err := c.nc.Write(c.w.b)
	c.s.stats.netOutput.Add(int64(n))
	if cap(c.w.b) > 256*1024 {
		c.w.b = nil
	} else {
		c.w.b = c.w.b[:0]
	}
	return err == nil
}

// lowerName lower-cases a command name into buf without allocating.
func lowerName(buf []byte, name []byte) []byte {
	if len(name) > len(buf) {
		return []byte(strings.ToLower(string(name)))
	}
	out := buf[:len(name)]
	for i, ch := range name {
		if ch >= 'A' && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		out[i] = ch
	}
	return out
}

// lookup finds the command args[0] names, or nil.
func (c *client) lookup(name []byte) *command {
	var buf [32]byte
	return c.s.cmds[string(lowerName(buf[:], name))]
}

// dispatch runs one command and appends its reply.
func (c *client) dispatch(args [][]byte) {
	s := c.s
	s.stats.commands.Add(1)
	cmd := c.lookup(args[0])
	errsBefore := len(c.w.b)
	defer func() {
		if len(c.w.b) > errsBefore && c.w.b[errsBefore] == '-' {
			s.stats.errorReplies.Add(1)
		}
	}()
	if cmd == nil {
		c.rejectUnknown(args)
		return
	}
	c.info.setLastCmd(&cmd.name, c.batchNow)
	if !c.authed && !cmd.has(flagNoAuth) {
		c.w.errorText("NOAUTH Authentication required.")
		c.abortMulti()
		return
	}
	if !cmd.arityOK(len(args)) {
		c.w.errorText("ERR wrong number of arguments for '" + cmd.name + "' command")
		c.abortMulti()
		return
	}
	if c.multi != nil && !cmd.has(flagMultiControl) {
		if cmd.has(flagNoMulti) {
			c.w.errorText("ERR Command not allowed inside a transaction")
			c.abortMulti()
			return
		}
		if err := s.checkOOM(cmd); err != nil {
			c.w.err(err)
			c.abortMulti()
			return
		}
		q := make([][]byte, len(args))
		for i, a := range args {
			q[i] = append([]byte(nil), a...)
		}
		c.multi.queued = append(c.multi.queued, q)
		c.w.simple("QUEUED")
		return
	}
	if cmd.run != nil {
		cmd.run(c, args)
		return
	}
	if err := s.checkOOM(cmd); err != nil {
		c.w.err(err)
		return
	}
	c.execData(cmd, args)
}

// abortMulti marks a transaction being queued as failed (EXECABORT).
func (c *client) abortMulti() {
	if c.multi != nil {
		c.multi.dirty = true
	}
}

// rejectUnknown answers an unknown command in Redis's words.
func (c *client) rejectUnknown(args [][]byte) {
	var b strings.Builder
	for _, a := range args[1:] {
		if b.Len() >= 128 {
			break
		}
		room := 128 - b.Len()
		if len(a) > room {
			a = a[:room]
		}
		b.WriteByte('\'')
		b.Write(a)
		b.WriteString("' ")
	}
	name := args[0]
	if len(name) > 128 {
		name = name[:128]
	}
	c.w.errorText("ERR unknown command '" + string(name) + "', with args beginning with: " + b.String())
	c.abortMulti()
}

// now returns the server clock in Unix milliseconds, as read for the
// current batch of commands.
func (c *client) now() int64 { return c.batchNow.UnixMilli() }

// execData parses, executes and answers a data command.
func (c *client) execData(cmd *command, args [][]byte) {
	now := c.now()
	op, err := cmd.parse(c, args, now)
	if err != nil {
		c.w.err(err)
		return
	}
	op.Now = now
	// The op lives in the client so that handing it to the Applier
	// interface does not cost a heap allocation per command.
	c.op = op
	res, err := c.execOp(&c.op)
	c.op = shard.Op{}
	if err != nil {
		c.w.err(err)
		return
	}
	c.writeResult(cmd, res)
}

// execOp sends a write through the Applier and answers a read locally.
func (c *client) execOp(op *shard.Op) (shard.Result, error) {
	if op.Kind.IsWrite() {
		return c.s.applier.Apply(c.s.ctx, op)
	}
	return c.s.store.Read(op), nil
}

// writeResult writes res with cmd's formatter.
func (c *client) writeResult(cmd *command, res shard.Result) {
	if res.Kind == shard.RErr || cmd.reply == nil {
		c.w.result(res)
		return
	}
	cmd.reply(&c.w, res)
}
