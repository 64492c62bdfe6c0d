package server

import (
	"errors"
	"strings"

	"sessiond/shard"
)

// COPY, OBJECT, MEMORY and LATENCY.

// keysExtCommands returns those commands for the command table.
func keysExtCommands() []*command {
	object := runCmd(def("object", -2, flagReadonly, noKeys, "@slow"), cmdObject)
	object.first, object.last, object.step = 2, 2, 1
	object.keyed = objectKeyed
	memory := runCmd(def("memory", -2, 0, noKeys, "@slow"), cmdMemory)
	memory.first, memory.last, memory.step = 2, 2, 1
	memory.keyed = memoryKeyed
	return []*command{
		dataCmd(def("copy", -3, wrOOM, twoKeys, "@keyspace @write @slow"), parseCopy, nil),
		object,
		memory,
		runCmd(def("latency", -2, flagAdmin|flagNoScript|flagLoading|flagStale, noKeys, "@admin @slow @dangerous"), cmdLatency),
		runCmd(def("slowlog", -2, flagAdmin|flagLoading|flagStale, noKeys, "@admin @slow @dangerous"), cmdSlowlog),
		runCmd(def("monitor", 1, flagAdmin|flagNoScript|flagLoading|flagStale, noKeys, "@admin @slow @dangerous"), cmdMonitor),
	}
}

// keysExtDocLines are COMMAND DOCS lines for these commands.
var keysExtDocLines = []string{
	"copy|generic|6.2.0|Copies the value of a key to a new key.",
	"object|generic|2.2.3|A container for object introspection commands.",
	"object|encoding|generic|2.2.3|Returns the internal encoding of a Redis object.",
	"object|freq|generic|4.0.0|Returns the logarithmic access frequency counter of a Redis object.",
	"object|idletime|generic|2.2.3|Returns the time since the last access to a Redis object.",
	"object|refcount|generic|2.2.3|Returns the reference count of a value of a key.",
	"object|help|generic|6.2.0|Returns helpful text about the different subcommands.",
	"memory|server|4.0.0|A container for memory diagnostics commands.",
	"memory|usage|server|4.0.0|Estimates the memory usage of a key.",
	"memory|doctor|server|4.0.0|Outputs a memory problems report.",
	"memory|purge|server|4.0.0|Asks the allocator to release memory.",
	"memory|help|server|4.0.0|Returns helpful text about the different subcommands.",
	"latency|server|2.8.13|A container for latency diagnostics commands.",
	"latency|latest|server|2.8.13|Returns the latest latency samples for all events.",
	"latency|history|server|2.8.13|Returns timestamp-latency samples for an event.",
	"latency|reset|server|2.8.13|Resets the latency data for one or more events.",
	"latency|doctor|server|2.8.13|Returns a human-readable latency analysis report.",
	"latency|help|server|2.8.13|Returns helpful text about the different subcommands.",
	"monitor|server|1.0.0|Listens for all requests received by the server in real-time.",
	"slowlog|server|2.2.12|A container for slow log commands.",
	"slowlog|get|server|2.2.12|Returns the slow log's entries.",
	"slowlog|len|server|2.2.12|Returns the number of entries in the slow log.",
	"slowlog|reset|server|2.2.12|Clears all entries from the slow log.",
	"slowlog|help|server|6.2.0|Show helpful text about the different subcommands",
}

// parseCopy parses COPY source destination [DB destination-db] [REPLACE].
func parseCopy(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	op := shard.Op{Kind: shard.KindCopy, Key: args[1], Args: args[2:3]}
	for i := 3; i < len(args); i++ {
		switch {
		case eq(args[i], "replace"):
			op.N = 1
		case eq(args[i], "db") && i+1 < len(args):
			i++
			db, ok := shard.ParseInt(args[i])
			if !ok {
				return shard.Op{}, errNotInt
			}
			if db != 0 {
				return shard.Op{}, errors.New("ERR DB index is out of range")
			}
		default:
			return shard.Op{}, errSyntax
		}
	}
	return op, nil
}

// keyedSub is a subcommand of a container (OBJECT ENCODING, MEMORY USAGE)
// that reads one key, args[2]: a data command run by runKeyed.
func keyedSub(name string, arity int, p parseFunc) *command {
	c := dataCmd(def(name, arity, flagReadonly, noKeys, "@read @slow"), p, nil)
	c.first, c.last, c.step = 2, 2, 1
	return c
}

// runKeyed runs a container's keyed subcommand like a data command: in
// its key's group, here or at the group's leader (cluster routing was
// done on the container, whose key position is the same).
func (c *client) runKeyed(sub *command, args [][]byte) {
	if c.s.sharded() && c.routeGroups(sub, args) {
		return
	}
	if c.routeRemote(sub, args) {
		return
	}
	c.execData(sub, args)
}

// objectSubs are OBJECT's keyed subcommands.
var objectSubs = map[string]int64{
	"encoding": shard.ObjectEncoding,
	"freq":     shard.ObjectFreq,
	"idletime": shard.ObjectIdleTime,
	"refcount": shard.ObjectRefCount,
}

// errNoLFU and errLFU answer OBJECT FREQ and IDLETIME under the wrong
// kind of maxmemory-policy, as Redis does.
var (
	errNoLFU = errors.New("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
	errLFU   = errors.New("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
)

// cmdObject runs OBJECT ENCODING | FREQ | IDLETIME | REFCOUNT key | HELP.
func cmdObject(c *client, args [][]byte) {
	sub := strings.ToLower(string(args[1]))
	if sub == "help" && len(args) == 2 {
		c.w.helpLines([]string{
			"OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
			"ENCODING <key>",
			"    Return the kind of internal representation used in order to store the value",
			"    associated with a <key>.",
			"FREQ <key>",
			"    Return the access frequency index of the <key>. The returned integer is",
			"    proportional to the logarithm of the recent access frequency of the key.",
			"IDLETIME <key>",
			"    Return the idle time of the <key>, that is the approximated number of",
			"    seconds elapsed since the last access to the key.",
			"REFCOUNT <key>",
			"    Return the number of references of the value associated with the specified",
			"    <key>.",
			"HELP",
			"    Prints this help.",
		})
		return
	}
	switch sc, err := objectKeyed(c, args); {
	case err != nil:
		c.w.err(err)
	case sc == nil:
		_, ok := objectSubs[sub]
		c.badSub("object", sub, ok || sub == "help", args)
	default:
		c.runKeyed(sc, args)
	}
}

// objectKeyed is OBJECT's keyed function (command.keyed): the data
// command of OBJECT ENCODING | FREQ | IDLETIME | REFCOUNT key.
func objectKeyed(c *client, args [][]byte) (*command, error) {
	sub := strings.ToLower(string(args[1]))
	n, ok := objectSubs[sub]
	if !ok || len(args) != 3 {
		return nil, nil
	}
	lfu := strings.Contains(c.s.config().MaxMemoryPolicy, "lfu")
	switch {
	case n == shard.ObjectFreq && !lfu:
		return nil, errNoLFU
	case n == shard.ObjectIdleTime && lfu:
		return nil, errLFU
	}
	return keyedSub("object|"+sub, 3, func(_ *client, args [][]byte, _ int64) (shard.Op, error) {
		return shard.Op{Kind: shard.KindObject, Key: args[2], N: n}, nil
	}), nil
}

// cmdMemory runs MEMORY USAGE key [SAMPLES count] | DOCTOR | PURGE | HELP.
func cmdMemory(c *client, args [][]byte) {
	switch sub := strings.ToLower(string(args[1])); {
	case sub == "help" && len(args) == 2:
		c.w.helpLines([]string{
			"MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
			"DOCTOR",
			"    Return memory problems reports.",
			"PURGE",
			"    Attempt to purge dirty pages for reclamation by the allocator.",
			"USAGE <key> [SAMPLES <count>]",
			"    Return memory in bytes used by <key> and its value. Nested values are",
			"    sampled up to <count> times (default: 5, 0 means sample all).",
			"HELP",
			"    Prints this help.",
		})
	case sub == "doctor" && len(args) == 2:
		c.w.verbatim("Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.")
	case sub == "purge" && len(args) == 2:
		c.w.ok()
	case sub == "usage" && len(args) >= 3:
		sc, err := memoryKeyed(c, args)
		if err != nil {
			c.w.err(err)
			return
		}
		c.runKeyed(sc, args)
	default:
		c.badSub("memory", sub, sub == "usage" || sub == "doctor" || sub == "purge" || sub == "help", args)
	}
}

// memoryKeyed is MEMORY's keyed function (command.keyed): the data
// command of MEMORY USAGE key [SAMPLES count].
func memoryKeyed(_ *client, args [][]byte) (*command, error) {
	if len(args) < 3 || !eq(args[1], "usage") {
		return nil, nil
	}
	if len(args) != 3 && !(len(args) == 5 && eq(args[3], "samples")) {
		return nil, errSyntax
	}
	if len(args) == 5 {
		if n, ok := shard.ParseInt(args[4]); !ok || n < 0 {
			return nil, errNotInt
		}
	}
	return keyedSub("memory|usage", -3, func(_ *client, args [][]byte, _ int64) (shard.Op, error) {
		return shard.Op{Kind: shard.KindMemoryUsage, Key: args[2]}, nil
	}), nil
}

// cmdLatency runs LATENCY LATEST | HISTORY event | RESET [event ...] |
// DOCTOR | HELP. sessiond keeps no latency samples (Redis's
// latency-monitor-threshold is 0 by default, when it keeps none either),
// so LATEST and HISTORY are empty and RESET resets nothing.
func cmdLatency(c *client, args [][]byte) {
	switch sub := strings.ToLower(string(args[1])); {
	case sub == "latest" && len(args) == 2:
		c.w.array(0)
	case sub == "history" && len(args) == 3:
		c.w.array(0)
	case sub == "reset":
		c.w.int(0)
	case sub == "doctor" && len(args) == 2:
		c.w.verbatim("Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sleep tonight.\n")
	case sub == "help" && len(args) == 2:
		c.w.helpLines([]string{
			"LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
			"DOCTOR",
			"    Return a human readable latency analysis report.",
			"GRAPH <event>",
			"    Return an ASCII latency graph for the <event> class.",
			"HISTORY <event>",
			"    Return time-latency samples for the <event> class.",
			"LATEST",
			"    Return the latest latency samples for all events.",
			"RESET [<event> ...]",
			"    Reset latency data of one or more <event> classes.",
			"    (default: reset all data for all event classes)",
			"HISTOGRAM [COMMAND ...]",
			"    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
			"    If no commands are specified then all histograms are replied.",
			"HELP",
			"    Prints this help.",
		})
	case sub == "graph" && len(args) == 3:
		c.w.errorText("ERR No samples available for event '" + string(args[2]) + "'")
	default:
		known := map[string]bool{"latest": true, "history": true, "doctor": true, "help": true, "graph": true}
		c.badSub("latency", sub, known[sub], args)
	}
}

// badSub answers a container's subcommand that cannot run: for a known
// one, Redis's arity error when its command table's arity refuses the
// count (containerArities), else the syntax error Redis's container
// answers; its unknown-subcommand error otherwise.
func (c *client) badSub(parent, sub string, known bool, args [][]byte) {
	name := args[1]
	if len(name) > 128 {
		name = name[:128]
	}
	if known {
		if a, ok := containerArities[parent][sub]; ok && (&command{arity: a}).arityOK(len(args)) {
			// Redis's command table let the count through; the
			// container's own parsing refuses the form.
			c.w.errorText("ERR unknown subcommand or wrong number of arguments for '" + string(name) + "'. Try " + strings.ToUpper(parent) + " HELP.")
			return
		}
		c.w.err(errWrongArgs(parent + "|" + sub))
		return
	}
	c.w.errorText("ERR unknown subcommand '" + string(name) + "'. Try " + strings.ToUpper(parent) + " HELP.")
}
