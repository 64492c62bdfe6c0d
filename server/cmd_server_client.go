package server

import (
	"cmp"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// CLIENT and its subcommands.

func cmdClient(c *client, args [][]byte) { c.runSubcommand("client", args) }

func cmdClientID(c *client, _ [][]byte) { c.w.int(c.id) }

func cmdClientGetName(c *client, _ [][]byte) {
	if name := c.info.getName(); name != "" {
		c.w.bulk(name)
		return
	}
	c.w.null()
}

func cmdClientSetName(c *client, args [][]byte) {
	if err := validClientName(args[2]); err != nil {
		c.w.err(err)
		return
	}
	c.info.mu.Lock()
	c.info.name = string(args[2])
	c.info.mu.Unlock()
	c.fwdConn = string(args[2]) == forwarderName
	c.w.ok()
}

// cmdClientSetInfo sets LIB-NAME or LIB-VER, shown by CLIENT LIST.
func cmdClientSetInfo(c *client, args [][]byte) {
	attr, val := args[2], args[3]
	var dst *string
	switch {
	case eq(attr, "lib-name"):
		dst = &c.info.libName
	case eq(attr, "lib-ver"):
		dst = &c.info.libVer
	default:
		c.w.errorText("ERR Unrecognized option '" + string(attr) + "'")
		return
	}
	if !validClientAttr(val) {
		c.w.errorText("ERR " + string(attr) + " cannot contain spaces, newlines or special characters.")
		return
	}
	c.info.mu.Lock()
	*dst = string(val)
	c.info.mu.Unlock()
	c.w.ok()
}

// cmdClientNoTouch is CLIENT NO-TOUCH ON|OFF: while on, this connection's
// reads leave the keys' access clock (LRU/LFU) alone, except TOUCH's.
func cmdClientNoTouch(c *client, args [][]byte) {
	switch {
	case eq(args[2], "on"):
		c.noTouch = true
	case eq(args[2], "off"):
		c.noTouch = false
	default:
		c.w.err(errSyntax)
		return
	}
	c.w.ok()
}

func cmdClientNoEvict(c *client, args [][]byte) {
	var on bool
	switch {
	case eq(args[2], "on"):
		on = true
	case eq(args[2], "off"):
	default:
		c.w.err(errSyntax)
		return
	}
	c.info.mu.Lock()
	c.info.noEvict = on
	c.info.mu.Unlock()
	c.w.ok()
}

func cmdClientInfo(c *client, _ [][]byte) {
	c.w.verbatim(c.listLine(c) + "\n")
}

// clientTypes are the names CLIENT LIST/KILL TYPE accept. Every sessiond
// connection is "normal".
var clientTypes = []string{"normal", "master", "replica", "slave", "pubsub"}

func clientTypeOK(t []byte) bool {
	return slices.Contains(clientTypes, strings.ToLower(string(t)))
}

// cmdClientList answers one line per connection: all of them, those of
// a TYPE, or those with the given IDs (in the order asked).
func cmdClientList(c *client, args [][]byte) {
	var list []*client
	switch {
	case len(args) == 4 && eq(args[2], "type"):
		if !clientTypeOK(args[3]) {
			c.w.errorText("ERR Unknown client type '" + string(args[3]) + "'")
			return
		}
		if eq(args[3], "normal") {
			list = c.s.clientList()
		}
	case len(args) > 3 && eq(args[2], "id"):
		ids := make([]int64, 0, len(args)-3)
		for _, a := range args[3:] {
			id, ok := parseStrictInt(string(a))
			if !ok {
				c.w.errorText("ERR Invalid client ID")
				return
			}
			ids = append(ids, id)
		}
		all := c.s.clientList()
		for _, id := range ids {
			if i := slices.IndexFunc(all, func(cl *client) bool { return cl.id == id }); i >= 0 {
				list = append(list, all[i])
			}
		}
	case len(args) != 2:
		c.w.err(errSyntax)
		return
	default:
		list = c.s.clientList()
	}
	var b strings.Builder
	for _, cl := range list {
		b.WriteString(c.listLine(cl))
		b.WriteByte('\n')
	}
	c.w.verbatim(b.String())
}

// clientList returns the connected clients in ID order.
func (s *Server) clientList() []*client {
	s.mu.Lock()
	list := make([]*client, 0, len(s.clients))
	for _, cl := range s.clients {
		list = append(list, cl)
	}
	s.mu.Unlock()
	slices.SortFunc(list, func(a, b *client) int { return cmp.Compare(a.id, b.id) })
	return list
}

// listLine formats cl as a CLIENT LIST line (without the newline), in
// Redis 7.4's field order. c is the client asking: its own connection
// state (READONLY, watched keys) is read directly; other clients' only
// through their clientInfo.
func (c *client) listLine(cl *client) string {
	ci := &cl.info
	now := c.s.clock.Now()
	ci.mu.Lock()
	name, libName, libVer, noEvict := ci.name, ci.libName, ci.libVer, ci.noEvict
	ci.mu.Unlock()
	multi := int64(ci.multiLen.Load())
	if cl == c {
		multi = -1
		if c.multi != nil {
			multi = int64(len(c.multi.queued))
		}
	}
	flags := ""
	subs, psubs := int64(ci.subs.Load()), int64(ci.psubs.Load())
	if subs+psubs > 0 {
		flags += "P"
	}
	if multi >= 0 {
		flags += "x"
	}
	if ci.blocked.Load() {
		flags += "b"
	}
	watch := 0
	if cl == c {
		watch = len(c.watches)
		if c.readonly {
			flags += "r"
		}
	}
	if noEvict {
		flags += "e"
	}
	if flags == "" {
		flags = "N"
	}
	resp := ci.resp.Load()
	if resp == 0 {
		resp = 2
	}
	age := max(int64(now.Sub(ci.created)/time.Second), 0)
	idle := max((now.UnixNano()-ci.lastTime.Load())/int64(time.Second), 0)
	b := make([]byte, 0, 320)
	field := func(k, v string) {
		if len(b) > 0 {
			b = append(b, ' ')
		}
		b = append(b, k...)
		b = append(b, '=')
		b = append(b, v...)
	}
	num := func(k string, v int64) { field(k, strconv.FormatInt(v, 10)) }
	num("id", cl.id)
	field("addr", cl.addr)
	field("laddr", cl.laddr)
	num("fd", int64(connFD(cl.nc)))
	field("name", name)
	num("age", age)
	num("idle", idle)
	field("flags", flags)
	num("db", 0)
	num("sub", subs)
	num("psub", psubs)
	num("ssub", 0)
	num("multi", multi)
	num("watch", int64(watch))
	for _, k := range []string{"qbuf", "qbuf-free", "argv-mem", "multi-mem", "rbs", "rbp", "obl", "oll", "omem", "tot-mem"} {
		num(k, 0)
	}
	field("events", "r")
	field("cmd", ci.lastCmd())
	field("user", "default")
	num("redir", -1)
	num("resp", int64(resp))
	field("lib-name", libName)
	field("lib-ver", libVer)
	return string(b)
}

// connFD returns nc's file descriptor, or -1.
func connFD(nc net.Conn) int {
	if tc, ok := nc.(interface{ NetConn() net.Conn }); ok {
		nc = tc.NetConn() // a TLS connection
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return -1
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1
	}
	fd := -1
	if raw.Control(func(f uintptr) { fd = int(f) }) != nil {
		return -1
	}
	return fd
}

// clientKillFilter selects the connections CLIENT KILL closes.
type clientKillFilter struct {
	id          int64
	typ         string
	addr, laddr string
	skipMe      bool
}

func (f *clientKillFilter) match(self, cl *client) bool {
	switch {
	case f.addr != "" && cl.addr != f.addr,
		f.laddr != "" && cl.laddr != f.laddr,
		f.typ != "" && f.typ != "normal",
		f.id != 0 && cl.id != f.id,
		f.skipMe && cl == self:
		return false
	}
	return true
}

var errNoSuchClient = errors.New("ERR No such client")

// cmdClientKill closes connections: CLIENT KILL ip:port (old form,
// answers OK), or CLIENT KILL <filter> <value> ... (answers the number
// closed). The caller's own connection closes after this reply.
func cmdClientKill(c *client, args [][]byte) {
	f := clientKillFilter{skipMe: true}
	oldForm := len(args) == 3
	if oldForm {
		f.addr, f.skipMe = string(args[2]), false
	} else {
		if len(args)%2 != 0 {
			c.w.err(errSyntax)
			return
		}
		for i := 2; i < len(args); i += 2 {
			opt, val := args[i], args[i+1]
			switch {
			case eq(opt, "id"):
				id, ok := parseStrictInt(string(val))
				if !ok || id < 1 {
					c.w.errorText("ERR client-id should be greater than 0")
					return
				}
				f.id = id
			case eq(opt, "type"):
				if !clientTypeOK(val) {
					c.w.errorText("ERR Unknown client type '" + string(val) + "'")
					return
				}
				f.typ = strings.ToLower(string(val))
			case eq(opt, "addr"):
				f.addr = string(val)
			case eq(opt, "laddr"):
				f.laddr = string(val)
			case eq(opt, "user"):
				if string(val) != "default" {
					c.w.errorText("ERR No such user '" + string(val) + "'")
					return
				}
			case eq(opt, "skipme"):
				switch {
				case eq(val, "yes"):
					f.skipMe = true
				case eq(val, "no"):
					f.skipMe = false
				default:
					c.w.err(errSyntax)
					return
				}
			default:
				c.w.err(errSyntax)
				return
			}
		}
	}
	killed := 0
	for _, cl := range c.s.clientList() {
		if !f.match(c, cl) {
			continue
		}
		killed++
		if cl == c {
			c.quit = true // after this reply is written
			continue
		}
		// Gone from CLIENT LIST and maxclients at once, as in Redis; its
		// goroutine ends on the closed connection.
		c.s.mu.Lock()
		delete(c.s.clients, cl.id)
		c.s.mu.Unlock()
		closeConn(cl.nc)
	}
	switch {
	case !oldForm:
		c.w.int(int64(killed))
	case killed == 0:
		c.w.err(errNoSuchClient)
	default:
		c.w.ok()
	}
}

func cmdClientHelp(c *client, _ [][]byte) {
	c.w.helpLines([]string{
		"CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"GETNAME",
		"    Return the name of the current connection.",
		"ID",
		"    Return the ID of the current connection.",
		"INFO",
		"    Return information about the current client connection.",
		"KILL <ip:port>",
		"    Kill connection made from <ip:port>.",
		"KILL <option> <value> [<option> <value> [...]]",
		"    Kill connections. Options are:",
		"    * ADDR (<ip:port>|<unixsocket>:0)",
		"      Kill connections made from the specified address",
		"    * LADDR (<ip:port>|<unixsocket>:0)",
		"      Kill connections made to specified local address",
		"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
		"      Kill connections by type.",
		"    * USER <username>",
		"      Kill connections authenticated by <username>.",
		"    * SKIPME (YES|NO)",
		"      Skip killing current connection (default: yes).",
		"    * ID <client-id>",
		"      Kill connections by client id.",
		"LIST [options ...]",
		"    Return information about client connections. Options:",
		"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
		"      Return clients of specified type.",
		"    * ID <client-id> [<client-id> ...]",
		"      Return clients of specified IDs.",
		"UNPAUSE",
		"    Stop the current client pause, resuming traffic.",
		"PAUSE <timeout> [WRITE|ALL]",
		"    Suspend all, or just write, clients for <timeout> milliseconds.",
		"SETNAME <name>",
		"    Assign the name <name> to the current connection.",
		"UNBLOCK <clientid> [TIMEOUT|ERROR]",
		"    Unblock the specified blocked client.",
		"SETINFO <option> <value>",
		"    Set client meta attr. Options are:",
		"    * LIB-NAME: the client lib name.",
		"    * LIB-VER: the client lib version.",
		"NO-EVICT (ON|OFF)",
		"    Protect current client connection from eviction.",
		"NO-TOUCH (ON|OFF)",
		"    Will not touch LRU/LFU stats when this mode is on.",
		"HELP",
		"    Prints this help.",
	})
}
