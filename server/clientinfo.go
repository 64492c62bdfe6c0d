package server

import (
	"sync"
	"sync/atomic"
	"time"
)

// clientInfo is the part of a client that other goroutines read (CLIENT
// LIST, CLIENT INFO, INFO clients).
type clientInfo struct {
	created  time.Time
	lastName atomic.Pointer[string]
	lastTime atomic.Int64 // Unix ns of the last command
	resp     atomic.Int32 // 2 or 3
	multiLen atomic.Int32 // queued commands, -1 outside MULTI
	subs     atomic.Int32 // channels subscribed to (CLIENT LIST sub=)
	psubs    atomic.Int32 // patterns subscribed to (CLIENT LIST psub=)
	blocked  atomic.Bool  // waiting in a blocking command (CLIENT LIST flag b)

	mu      sync.Mutex
	name    string
	libName string
	libVer  string
	noEvict bool
}

// setLastCmd records the command being run. name must be a command
// table name (which lives as long as the server).
func (ci *clientInfo) setLastCmd(name *string, at time.Time) {
	if ci.lastName.Load() != name {
		ci.lastName.Store(name)
	}
	ci.lastTime.Store(at.UnixNano())
}

func (ci *clientInfo) lastCmd() string {
	if p := ci.lastName.Load(); p != nil {
		return *p
	}
	return "NULL"
}

func (ci *clientInfo) getName() string {
	ci.mu.Lock()
	defer ci.mu.Unlock()
	return ci.name
}
