package server

// Memory limits and eviction. (Stub: implemented by the maxmemory work.)

// startMemoryLoop starts whatever background work maxmemory needs.
func (s *Server) startMemoryLoop() {}

// checkOOM returns ErrOOM-like error when a command that may grow memory
// must be refused under the maxmemory policy.
func (s *Server) checkOOM(cmd *command) error { return nil }
