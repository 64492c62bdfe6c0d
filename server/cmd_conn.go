package server

import (
	"crypto/subtle"
	"math"

	"sessiond/shard"
)

// Version is the Redis version sessiond reports (HELLO, INFO): the release
// whose command set and replies it follows.
const Version = "7.4.0"

// SessiondVersion is sessiond's own version.
const SessiondVersion = "0.1.0"

func cmdPing(c *client, args [][]byte) {
	switch len(args) {
	case 1:
		c.w.simple("PONG")
	case 2:
		c.w.bulkBytes(args[1])
	default:
		c.w.err(errWrongArgs("ping"))
	}
}

func cmdEcho(c *client, args [][]byte) { c.w.bulkBytes(args[1]) }

func cmdQuit(c *client, _ [][]byte) {
	c.w.ok()
	c.quit = true
}

func cmdReset(c *client, _ [][]byte) {
	if c.ps != nil {
		c.s.pubsub().stopMonitor(c.s, c.ps)
	}
	c.multi = nil
	c.info.multiLen.Store(-1)
	c.watches = nil
	c.readonly = false
	c.w.resp3 = false
	c.info.resp.Store(2)
	c.info.mu.Lock()
	c.info.name = ""
	c.info.noEvict = false
	c.info.mu.Unlock()
	c.fwdConn = false
	c.authed = c.s.config().RequirePass == ""
	c.w.simple("RESET")
}

// checkPassword reports whether user/pass authenticate as the default
// user. With no requirepass the default user takes any password.
func (c *client) checkPassword(user, pass []byte) bool {
	if string(user) != "default" {
		return false
	}
	want := c.s.config().RequirePass
	if want == "" {
		return true
	}
	return subtle.ConstantTimeCompare([]byte(want), pass) == 1
}

const errWrongPass = "WRONGPASS invalid username-password pair or user is disabled."

func cmdAuth(c *client, args [][]byte) {
	switch len(args) {
	case 2:
		if c.s.config().RequirePass == "" {
			c.w.errorText("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
			return
		}
		if !c.checkPassword([]byte("default"), args[1]) {
			c.w.errorText(errWrongPass)
			return
		}
	case 3:
		if !c.checkPassword(args[1], args[2]) {
			c.w.errorText(errWrongPass)
			return
		}
	default:
		c.w.err(errSyntax)
		return
	}
	c.authed = true
	c.w.ok()
}

func cmdHello(c *client, args [][]byte) {
	proto := 0
	i := 1
	if len(args) >= 2 {
		v, err := argInt(args[1])
		if err != nil {
			c.w.errorText("ERR Protocol version is not an integer or out of range")
			return
		}
		if v < 2 || v > 3 {
			c.w.errorText("NOPROTO unsupported protocol version")
			return
		}
		proto = int(v)
		i = 2
	}
	var name []byte
	setName := false
	for ; i < len(args); i++ {
		more := len(args) - i - 1
		switch {
		case eq(args[i], "auth") && more >= 2:
			if !c.checkPassword(args[i+1], args[i+2]) {
				c.w.errorText(errWrongPass)
				return
			}
			c.authed = true
			i += 2
		case eq(args[i], "setname") && more >= 1:
			if err := validClientName(args[i+1]); err != nil {
				c.w.err(err)
				return
			}
			name, setName = args[i+1], true
			i++
		default:
			c.w.errorText("ERR Syntax error in HELLO option '" + string(args[i]) + "'")
			return
		}
	}
	if !c.authed {
		c.w.errorText("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
		return
	}
	if setName {
		c.info.mu.Lock()
		c.info.name = string(name)
		c.info.mu.Unlock()
		c.fwdConn = string(name) == forwarderName
	}
	if proto != 0 {
		c.w.resp3 = proto == 3
		c.info.resp.Store(int32(proto))
	}
	cur := 2
	if c.w.resp3 {
		cur = 3
	}
	c.w.mapHeader(7)
	c.w.bulk("server")
	c.w.bulk("redis")
	c.w.bulk("version")
	c.w.bulk(Version)
	c.w.bulk("proto")
	c.w.int(int64(cur))
	c.w.bulk("id")
	c.w.int(c.id)
	c.w.bulk("mode")
	if c.s.clusterOn() {
		c.w.bulk("cluster")
	} else {
		c.w.bulk("standalone")
	}
	c.w.bulk("role")
	if len(c.s.ledUnits()) == 0 {
		c.w.bulk("replica")
	} else {
		c.w.bulk("master")
	}
	c.w.bulk("modules")
	c.w.array(0)
}

func cmdSelect(c *client, args [][]byte) {
	n, ok := shard.ParseInt(args[1])
	if !ok || n < math.MinInt32 || n > math.MaxInt32 {
		c.w.errorText("ERR value is not an integer or out of range")
		return
	}
	if n != 0 {
		if c.s.clusterOn() {
			c.w.errorText("ERR SELECT is not allowed in cluster mode")
		} else {
			c.w.errorText("ERR DB index is out of range")
		}
		return
	}
	c.w.ok()
}
