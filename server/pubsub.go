package server

// Pub/sub and keyspace notifications: to be built (issue 5).

// initPubSub sets up pub/sub and keyspace notifications for a new server
// (New calls it once the units exist).
func (s *Server) initPubSub() {}

// pubsubCommands returns the pub/sub commands for the command table.
func pubsubCommands() []*command { return nil }

// pubsubDocLines are COMMAND DOCS lines for these commands, in
// commandDocLines's format.
var pubsubDocLines []string
