package server

// More keyspace and server commands (COPY, OBJECT, MEMORY USAGE, SLOWLOG,
// ...): to be built (issue 5).

// keysExtCommands returns those commands for the command table.
func keysExtCommands() []*command { return nil }

// keysExtDocLines are COMMAND DOCS lines for these commands, in
// commandDocLines's format.
var keysExtDocLines []string
