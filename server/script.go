package server

// Scripting (EVAL, EVALSHA, SCRIPT): to be built (issue 5).

// initScripts sets up scripting for a new server (New calls it once the
// units exist), e.g. installs the engine in every unit's store.
func (s *Server) initScripts() {}

// scriptCommands returns the scripting commands for the command table.
func scriptCommands() []*command { return nil }

// scriptDocLines are COMMAND DOCS lines for these commands, in
// commandDocLines's format.
var scriptDocLines []string
