package replication

import (
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// stuckFuture is a raft.Future Raft never answers (hashicorp/raft#498:
// an entry committed as Raft shuts down).
type stuckFuture struct{ release chan struct{} }

func (f stuckFuture) Error() error {
	<-f.release
	return nil
}

// answered is a raft.Future answered at once with err.
type answered struct{ err error }

func (f answered) Error() error { return f.err }

// TestAwaitIsBounded: a future Raft never answers ends the wait with
// ErrUnknownOutcome after the bound, or with ErrClosed when the group
// shuts down; an answered one passes its error through.
func TestAwaitIsBounded(t *testing.T) {
	boom := errors.New("boom")
	g := &Group{stop: make(chan struct{}), futureWait: 50 * time.Millisecond}
	if err := g.await(answered{boom}); !errors.Is(err, boom) {
		t.Fatalf("answered future: %v, want %v", err, boom)
	}
	if err := g.await(answered{}); err != nil {
		t.Fatalf("answered future: %v, want nil", err)
	}
	f := stuckFuture{release: make(chan struct{})}
	defer close(f.release)
	err := g.await(f)
	if !errors.Is(err, ErrUnknownOutcome) {
		t.Fatalf("stuck future: %v, want ErrUnknownOutcome", err)
	}
	if c := classify(err); c != err {
		t.Fatalf("classify rewrapped %v as %v", err, c)
	}
	g.futureWait = time.Hour
	close(g.stop)
	if err := g.await(f); !errors.Is(err, ErrClosed) {
		t.Fatalf("stuck future, group closed: %v, want ErrClosed", err)
	}
}

// TestNoPipelinedReplication: the transport never pipelines
// AppendEntries (hashicorp/raft#612: a follower answering Success=false
// ends the pipeline's decoder and parks its sender for good, so that
// follower gets no entry again; Raft then replicates one RPC at a time).
func TestNoPipelinedReplication(t *testing.T) {
	g, _ := openSingle(t, t.TempDir(), nil)
	defer g.Close()
	p, err := g.trans.AppendEntriesPipeline("n2", raft.ServerAddress(g.RaftAddr()))
	if p != nil {
		p.Close()
	}
	if !errors.Is(err, raft.ErrPipelineReplicationNotSupported) {
		t.Fatalf("AppendEntriesPipeline: %v, want ErrPipelineReplicationNotSupported", err)
	}
}
