package server

import (
	"sync/atomic"
)

// SAVE, BGSAVE and BGREWRITEAOF. sessiond's durable state is each shard
// group's Raft log and snapshots, so all three take a Raft snapshot of
// every group this node holds, which also lets Raft drop the log before
// it (what an AOF rewrite does for Redis). LASTSAVE and INFO persistence
// report the last one that succeeded. As in Redis, one runs at a time.

// saves is the state of SAVE and its kin.
type saves struct {
	kind     atomic.Int32 // the one running: saveNone, saveRDB (SAVE, BGSAVE) or saveAOF
	last     atomic.Int64 // Unix seconds of the last successful one; 0: none yet (the start time is shown)
	count    atomic.Int64 // successful ones (rdb_saves)
	lastFail atomic.Bool  // the last one failed (rdb_last_bgsave_status:err)
}

const (
	saveNone int32 = iota
	saveRDB
	saveAOF
)

// snapshotHeld takes a Raft snapshot of every group this node holds and
// records the outcome.
func (s *Server) snapshotHeld() error {
	for _, u := range s.local() {
		if u.group == nil {
			continue // not replicated: nothing is on disk
		}
		if err := u.group.Snapshot(); err != nil {
			s.saves.lastFail.Store(true)
			s.log.Warn("save: a Raft snapshot failed", "group", u.idx, "err", err)
			return err
		}
	}
	s.saves.lastFail.Store(false)
	s.saves.last.Store(s.clock.Now().Unix())
	s.saves.count.Add(1)
	return nil
}

// lastSave returns LASTSAVE's answer: the last successful save, or the
// start time before any.
func (s *Server) lastSave() int64 {
	if t := s.saves.last.Load(); t != 0 {
		return t
	}
	return s.started.Unix()
}

// cmdSave is SAVE: refused while a BGSAVE runs, as in Redis (while an
// AOF rewrite runs it saves all the same); a failure is logged and
// answered with a bare ERR, as Redis does.
func cmdSave(c *client, _ [][]byte) {
	mine := c.s.saves.kind.CompareAndSwap(saveNone, saveRDB)
	if !mine && c.s.saves.kind.Load() == saveRDB {
		c.w.errorText("ERR Background save already in progress")
		return
	}
	err := c.s.snapshotHeld()
	if mine {
		c.s.saves.kind.Store(saveNone)
	}
	if err != nil {
		c.w.errorText("ERR")
		return
	}
	c.w.ok()
}

// backgroundSave runs snapshotHeld in the background for a save of kind
// kind, already marked running.
func (s *Server) backgroundSave(kind int32) {
	s.background(func() {
		s.snapshotHeld()
		s.saves.kind.CompareAndSwap(kind, saveNone)
	})
}

// cmdBgsave is BGSAVE [SCHEDULE], with Redis's answers while a save or an
// AOF rewrite runs (a scheduled one is moot here: the running one takes
// the same snapshots).
func cmdBgsave(c *client, args [][]byte) {
	if len(args) > 2 || len(args) == 2 && !eq(args[1], "schedule") {
		c.w.errorText(errSyntax.Error())
		return
	}
	if c.s.saves.kind.CompareAndSwap(saveNone, saveRDB) {
		c.s.backgroundSave(saveRDB)
		c.w.simple("Background saving started")
		return
	}
	switch {
	case c.s.saves.kind.Load() == saveRDB:
		c.w.errorText("ERR Background save already in progress")
	case len(args) == 2:
		c.w.simple("Background saving scheduled")
	default:
		c.w.errorText("ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.")
	}
}

func cmdBgrewriteaof(c *client, _ [][]byte) {
	if c.s.saves.kind.CompareAndSwap(saveNone, saveAOF) {
		c.s.backgroundSave(saveAOF)
		c.w.simple("Background append only file rewriting started")
		return
	}
	if c.s.saves.kind.Load() == saveAOF {
		c.w.errorText("ERR Background append only file rewriting already in progress")
		return
	}
	c.w.simple("Background append only file rewriting scheduled")
}

// background runs fn in a goroutine Close waits for. Only a goroutine
// Close also waits for (a connection's) may call it.
func (s *Server) background(fn func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
}

// b2i is 1 for true, 0 for false (INFO's flags).
func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
