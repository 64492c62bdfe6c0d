package server

// Memory limits and eviction. (Stub: implemented by the maxmemory work.)

// memoryStats is what INFO memory reports.
type memoryStats struct {
	Used        int64 // used_memory: bytes the dataset and server hold
	Dataset     int64 // used_memory_dataset: accounted dataset bytes
	RSS         int64 // used_memory_rss
	Peak        int64 // used_memory_peak
	MaxMemory   int64 // maxmemory
	Policy      string
	EvictedKeys int64
}

// memoryInfo returns the current memory figures.
func (s *Server) memoryInfo() memoryStats {
	return memoryStats{Dataset: s.store.UsedBytes(), Used: s.store.UsedBytes(), Policy: s.config().MaxMemoryPolicy}
}

// startMemoryLoop starts whatever background work maxmemory needs.
func (s *Server) startMemoryLoop() {}

// checkOOM returns an error when a command that may grow memory must be
// refused under the maxmemory policy.
func (s *Server) checkOOM(cmd *command) error { return nil }
