package server

import (
	"slices"
	"strings"
)

// COMMAND and its subcommands, in Redis 7's reply format.

func cmdCommand(c *client, args [][]byte) {
	if len(args) == 1 {
		all := c.s.sortedCommands()
		c.w.array(len(all))
		for _, cmd := range all {
			c.w.commandInfo(cmd)
		}
		return
	}
	c.runSubcommand("command", args)
}

// sortedCommands returns the top-level commands by name.
func (s *Server) sortedCommands() []*command {
	all := make([]*command, 0, len(s.cmds))
	for _, cmd := range s.cmds {
		all = append(all, cmd)
	}
	slices.SortFunc(all, func(a, b *command) int { return strings.Compare(a.name, b.name) })
	return all
}

// findCommand looks up a command by name, or a subcommand by its
// "container|sub" name, ignoring case.
func (s *Server) findCommand(name string) *command {
	name = strings.ToLower(name)
	parent, sub, isSub := strings.Cut(name, "|")
	cmd := s.cmds[parent]
	if cmd == nil || !isSub {
		return cmd
	}
	for _, sc := range s.subcommands(parent) {
		if sc.name == parent+"|"+sub {
			return sc
		}
	}
	return nil
}

// commandInfo writes one COMMAND INFO entry: name, arity, flags, first
// key, last key, step, ACL categories, tips, key specs, subcommands.
func (w *replyWriter) commandInfo(cmd *command) {
	w.array(10)
	w.bulk(cmd.name)
	w.int(int64(cmd.arity))
	flags := cmd.flagList()
	w.setHeader(len(flags))
	for _, f := range flags {
		w.simple(f)
	}
	if cmd.keyRange != nil {
		// Movable keys: Redis shows the fixed destination key, or 0 0 0.
		w.int(int64(cmd.destKey))
		w.int(int64(cmd.destKey))
		w.int(int64(min(cmd.destKey, 1)))
	} else {
		w.int(int64(cmd.first))
		w.int(int64(cmd.last))
		w.int(int64(cmd.step))
	}
	acl := cmd.aclList()
	w.setHeader(len(acl))
	for _, a := range acl {
		w.simple(a)
	}
	w.setHeader(0) // tips
	w.setHeader(0) // key specs: first/last/step describe the keys
	w.setHeader(len(cmd.subs))
	for _, sc := range cmd.subs {
		w.commandInfo(sc)
	}
}

func cmdCommandCount(c *client, _ [][]byte) { c.w.int(int64(len(c.s.cmds))) }

// cmdCommandInfo answers the named commands (nil for unknown names), or
// every command when none is named.
func cmdCommandInfo(c *client, args [][]byte) {
	if len(args) == 2 {
		cmdCommand(c, args[:1])
		return
	}
	c.w.array(len(args) - 2)
	for _, a := range args[2:] {
		if cmd := c.s.findCommand(string(a)); cmd != nil {
			c.w.commandInfo(withSubs(c.s, cmd))
		} else {
			c.w.null()
		}
	}
}

// withSubs returns cmd with its subcommands attached, for containers
// whose table entry has none yet.
func withSubs(s *Server, cmd *command) *command {
	if cmd.subs != nil || strings.Contains(cmd.name, "|") {
		return cmd
	}
	if subs := s.subcommands(cmd.name); subs != nil {
		cp := *cmd
		cp.subs = subs
		return &cp
	}
	return cmd
}

// cmdCommandDocs answers a map of command name to its documentation
// (summary, since, group; subcommands for containers), for the named
// commands that exist or for all of them.
func cmdCommandDocs(c *client, args [][]byte) {
	var list []*command
	if len(args) == 2 {
		list = c.s.sortedCommands()
	} else {
		for _, a := range args[2:] {
			if cmd := c.s.findCommand(string(a)); cmd != nil {
				list = append(list, cmd)
			}
		}
	}
	docs := commandDocs()
	c.w.mapHeader(len(list))
	for _, cmd := range list {
		c.w.bulk(cmd.name)
		c.w.commandDoc(withSubs(c.s, cmd), docs)
	}
}

func (w *replyWriter) commandDoc(cmd *command, docs map[string]commandDocEntry) {
	d, ok := docs[cmd.name]
	if !ok {
		d = commandDocEntry{group: groupOf(cmd)}
	}
	n := 3
	if len(cmd.subs) > 0 {
		n++
	}
	w.mapHeader(n)
	w.bulk("summary")
	w.bulk(d.summary)
	w.bulk("since")
	w.bulk(d.since)
	w.bulk("group")
	w.bulk(d.group)
	if len(cmd.subs) > 0 {
		w.bulk("subcommands")
		w.mapHeader(len(cmd.subs))
		for _, sc := range cmd.subs {
			w.bulk(sc.name)
			w.commandDoc(sc, docs)
		}
	}
}

// groupOf guesses a command's documentation group from its ACL
// categories, for commands the docs table does not list.
func groupOf(cmd *command) string {
	for _, a := range cmd.aclList() {
		switch a {
		case "@string", "@hash", "@list", "@set", "@pubsub", "@scripting", "@connection", "@geo", "@stream":
			return a[1:]
		case "@sortedset":
			return "sorted-set"
		case "@keyspace":
			return "generic"
		case "@transaction":
			return "transactions"
		}
	}
	return "server"
}

// cmdCommandList answers every command and subcommand name, or those of
// a FILTERBY ACLCAT category, PATTERN or MODULE (none: sessiond has no
// modules).
func cmdCommandList(c *client, args [][]byte) {
	var keep func(*command) bool
	switch {
	case len(args) == 2:
		keep = func(*command) bool { return true }
	case len(args) == 5 && eq(args[2], "filterby"):
		val := string(args[4])
		switch {
		case eq(args[3], "aclcat"):
			cat := "@" + strings.ToLower(val)
			keep = func(cmd *command) bool { return slices.Contains(cmd.aclList(), cat) }
		case eq(args[3], "pattern"):
			keep = func(cmd *command) bool { return nameMatch(val, cmd.name) }
		case eq(args[3], "module"):
			keep = func(*command) bool { return false }
		}
	}
	if keep == nil {
		c.w.err(errSyntax)
		return
	}
	var names []string
	for _, cmd := range c.s.sortedCommands() {
		if keep(cmd) {
			names = append(names, cmd.name)
		}
		for _, sc := range withSubs(c.s, cmd).subs {
			if keep(sc) {
				names = append(names, sc.name)
			}
		}
	}
	c.w.array(len(names))
	for _, n := range names {
		c.w.bulk(n)
	}
}

// cmdCommandGetKeys answers the key arguments of a full command line,
// from its (first, last, step) key positions.
func cmdCommandGetKeys(c *client, args [][]byte) {
	line := args[2:]
	cmd := c.s.findCommand(string(line[0]))
	switch {
	case cmd == nil:
		c.w.errorText("ERR Invalid command specified")
		return
	case cmd.first == 0:
		c.w.errorText("ERR The command has no key arguments")
		return
	case !cmd.arityOK(len(line)):
		c.w.errorText("ERR Invalid number of arguments specified for command")
		return
	}
	var keys [][]byte
	forKeys(cmd, line, func(k []byte) { keys = append(keys, k) })
	if len(keys) == 0 {
		c.w.errorText("ERR Invalid arguments specified for command")
		return
	}
	c.w.array(len(keys))
	for _, k := range keys {
		c.w.bulkBytes(k)
	}
}

func cmdCommandHelp(c *client, _ [][]byte) {
	c.w.helpLines([]string{
		"COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"(no subcommand)",
		"    Return details about all commands.",
		"COUNT",
		"    Return the total number of commands in this server.",
		"LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
		"    Return a list of all commands in this server.",
		"INFO [<command-name> ...]",
		"    Return details about multiple commands.",
		"    If no command names are given, documentation details for all",
		"    commands are returned.",
		"DOCS [<command-name> ...]",
		"    Return documentation details about multiple commands.",
		"    If no command names are given, documentation details for all",
		"    commands are returned.",
		"GETKEYS <full-command>",
		"    Return the keys from a full command.",
		"HELP",
		"    Prints this help.",
	})
}

// commandDocEntry is what COMMAND DOCS says about one command.
type commandDocEntry struct{ group, since, summary string }

// commandDocs returns the documentation table, keyed by command name
// ("container|sub" for subcommands).
func commandDocs() map[string]commandDocEntry {
	lines := allDocLines()
	m := make(map[string]commandDocEntry, len(lines))
	for _, l := range lines {
		f := strings.Split(l, "|")
		if len(f) == 5 { // a subcommand
			f = []string{f[0] + "|" + f[1], f[2], f[3], f[4]}
		}
		m[f[0]] = commandDocEntry{group: f[1], since: f[2], summary: f[3]}
	}
	return m
}

// allDocLines returns every documentation line: commandDocLines and
// those of the files of issue 5's commands.
func allDocLines() []string {
	return slices.Concat(commandDocLines, listDocLines, setDocLines, zsetDocLines, zsetAlgebraDocLines,
		pubsubDocLines, scriptDocLines, keysExtDocLines)
}

// commandDocLines is "name|group|since|summary", or for a subcommand
// "container|sub|group|since|summary". Summaries never contain '|'.
var commandDocLines = []string{
	"ping|connection|1.0.0|Returns the server's liveliness response.",
	"echo|connection|1.0.0|Returns the given string.",
	"quit|connection|1.0.0|Closes the connection.",
	"reset|connection|6.2.0|Resets the connection.",
	"hello|connection|6.0.0|Handshakes with the server.",
	"auth|connection|1.0.0|Authenticates the connection.",
	"select|connection|1.0.0|Changes the selected database.",
	"multi|transactions|1.2.0|Starts a transaction.",
	"exec|transactions|1.2.0|Executes all commands in a transaction.",
	"discard|transactions|2.0.0|Discards a transaction.",
	"watch|transactions|2.2.0|Monitors changes to keys to determine the execution of a transaction.",
	"unwatch|transactions|2.2.0|Forgets about watched keys of a transaction.",
	"get|string|1.0.0|Returns the string value of a key.",
	"set|string|1.0.0|Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
	"setex|string|2.0.0|Sets the string value and expiration time of a key. Creates the key if it doesn't exist.",
	"psetex|string|2.6.0|Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.",
	"setnx|string|1.0.0|Set the string value of a key only when the key doesn't exist.",
	"getex|string|6.2.0|Returns the string value of a key after setting its expiration time.",
	"getdel|string|6.2.0|Returns the string value of a key after deleting the key.",
	"getset|string|1.0.0|Returns the previous string value of a key after setting it to a new value.",
	"mget|string|1.0.0|Atomically returns the string values of one or more keys.",
	"mset|string|1.0.1|Atomically creates or modifies the string values of one or more keys.",
	"msetnx|string|1.0.1|Atomically modifies the string values of one or more keys only when all keys don't exist.",
	"incr|string|1.0.0|Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
	"decr|string|1.0.0|Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
	"incrby|string|1.0.0|Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
	"decrby|string|1.0.0|Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.",
	"incrbyfloat|string|2.6.0|Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
	"append|string|2.0.0|Appends a string to the value of a key. Creates the key if it doesn't exist.",
	"strlen|string|2.2.0|Returns the length of a string value.",
	"getrange|string|2.4.0|Returns a substring of the string stored at a key.",
	"substr|string|1.0.0|Returns a substring from a string value.",
	"setrange|string|2.2.0|Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.",
	"del|generic|1.0.0|Deletes one or more keys.",
	"unlink|generic|4.0.0|Asynchronously deletes one or more keys.",
	"exists|generic|1.0.0|Determines whether one or more keys exist.",
	"type|generic|1.0.0|Determines the type of value stored at a key.",
	"touch|generic|3.2.1|Returns the number of existing keys out of those specified after updating the time they were last accessed.",
	"rename|generic|1.0.0|Renames a key and overwrites the destination.",
	"renamenx|generic|1.0.0|Renames a key only when the target key name doesn't exist.",
	"expire|generic|1.0.0|Sets the expiration time of a key in seconds.",
	"pexpire|generic|2.6.0|Sets the expiration time of a key in milliseconds.",
	"expireat|generic|1.2.0|Sets the expiration time of a key to a Unix timestamp.",
	"pexpireat|generic|2.6.0|Sets the expiration time of a key to a Unix milliseconds timestamp.",
	"ttl|generic|1.0.0|Returns the expiration time in seconds of a key.",
	"pttl|generic|2.6.0|Returns the expiration time in milliseconds of a key.",
	"expiretime|generic|7.0.0|Returns the expiration time of a key as a Unix timestamp.",
	"pexpiretime|generic|7.0.0|Returns the expiration time of a key as a Unix milliseconds timestamp.",
	"persist|generic|2.2.0|Removes the expiration time of a key.",
	"scan|generic|2.8.0|Iterates over the key names in the database.",
	"keys|generic|1.0.0|Returns all key names that match a pattern.",
	"randomkey|generic|1.0.0|Returns a random key name from the database.",
	"dbsize|server|1.0.0|Returns the number of keys in the database.",
	"flushdb|server|1.0.0|Remove all keys from the current database.",
	"flushall|server|1.0.0|Removes all keys from all databases.",
	"hset|hash|2.0.0|Creates or modifies the value of a field in a hash.",
	"hsetnx|hash|2.0.0|Sets the value of a field in a hash only when the field doesn't exist.",
	"hmset|hash|2.0.0|Sets the values of multiple fields.",
	"hget|hash|2.0.0|Returns the value of a field in a hash.",
	"hmget|hash|2.0.0|Returns the values of all fields in a hash.",
	"hgetall|hash|2.0.0|Returns all fields and values in a hash.",
	"hdel|hash|2.0.0|Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.",
	"hlen|hash|2.0.0|Returns the number of fields in a hash.",
	"hexists|hash|2.0.0|Determines whether a field exists in a hash.",
	"hkeys|hash|2.0.0|Returns all fields in a hash.",
	"hvals|hash|2.0.0|Returns all values in a hash.",
	"hincrby|hash|2.0.0|Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.",
	"hincrbyfloat|hash|2.6.0|Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.",
	"hstrlen|hash|3.2.0|Returns the length of the value of a field.",
	"hscan|hash|2.8.0|Iterates over fields and values of a hash.",
	"hrandfield|hash|6.2.0|Returns one or more random fields from a hash.",
	"hexpire|hash|7.4.0|Set expiry for hash field using relative time to expire (seconds).",
	"hpexpire|hash|7.4.0|Set expiry for hash field using relative time to expire (milliseconds).",
	"hexpireat|hash|7.4.0|Set expiry for hash field using an absolute Unix timestamp (seconds).",
	"hpexpireat|hash|7.4.0|Set expiry for hash field using an absolute Unix timestamp (milliseconds).",
	"httl|hash|7.4.0|Returns the TTL in seconds of a hash field.",
	"hpttl|hash|7.4.0|Returns the TTL in milliseconds of a hash field.",
	"hexpiretime|hash|7.4.0|Returns the expiration time of a hash field as a Unix timestamp, in seconds.",
	"hpexpiretime|hash|7.4.0|Returns the expiration time of a hash field as a Unix timestamp, in msec.",
	"hpersist|hash|7.4.0|Removes the expiration time for each specified field.",
	"hgetex|hash|8.0.0|Get the value of one or more fields of a given hash key, and optionally set their expiration.",
	"hsetex|hash|8.0.0|Set the value of one or more fields of a given hash key, and optionally set their expiration.",
	"hgetdel|hash|8.0.0|Returns the value of a field and deletes it from the hash.",
	"info|server|1.0.0|Returns information and statistics about the server.",
	"config|server|2.0.0|A container for server configuration commands.",
	"config|get|server|2.0.0|Returns the effective values of configuration parameters.",
	"config|set|server|2.0.0|Sets configuration parameters in-flight.",
	"config|resetstat|server|2.0.0|Resets the server's statistics.",
	"config|rewrite|server|2.8.0|Persists the effective configuration to file.",
	"config|help|server|5.0.0|Returns helpful text about the different subcommands.",
	"command|server|2.8.13|Returns detailed information about all commands.",
	"command|count|server|2.8.13|Returns a count of commands.",
	"command|info|server|2.8.13|Returns information about one, multiple or all commands.",
	"command|docs|server|7.0.0|Returns documentary information about one, multiple or all commands.",
	"command|list|server|7.0.0|Returns a list of command names.",
	"command|getkeys|server|2.8.13|Extracts the key names from an arbitrary command.",
	"command|help|server|5.0.0|Returns helpful text about the different subcommands.",
	"client|connection|2.4.0|A container for client connection commands.",
	"client|id|connection|5.0.0|Returns the unique client ID of the connection.",
	"client|getname|connection|2.6.9|Returns the name of the connection.",
	"client|setname|connection|2.6.9|Sets the connection name.",
	"client|setinfo|connection|7.2.0|Sets information specific to the client or connection.",
	"client|list|connection|2.4.0|Lists open connections.",
	"client|info|connection|6.2.0|Returns information about the connection.",
	"client|kill|connection|2.4.0|Terminates open connections.",
	"client|no-evict|connection|7.0.0|Sets the client eviction mode of the connection.",
	"client|no-touch|connection|7.2.0|Controls whether commands sent by the client affect the LRU/LFU of accessed keys.",
	"client|help|connection|5.0.0|Returns helpful text about the different subcommands.",
	"time|server|2.6.0|Returns the server time.",
	"lastsave|server|1.0.0|Returns the Unix timestamp of the last successful save to disk.",
	"save|server|1.0.0|Synchronously saves the database(s) to disk.",
	"bgsave|server|1.0.0|Asynchronously saves the database(s) to disk.",
	"bgrewriteaof|server|1.0.0|Asynchronously rewrites the append-only file to disk.",
	"shutdown|server|1.0.0|Synchronously saves the database(s) to disk and shuts down the Redis server.",
}
