package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/splitup/splitup/exec"
	"github.com/splitup/splitup/ir"
	"github.com/splitup/splitup/models/shard"
	"github.com/splitup/splitup/p2p"
)

// TaskKey names a task of a registered model.
type TaskKey struct {
	// Model is the chain's model id.
	Model [32]byte
	// Task is the task's index in the model's plan.
	Task uint32
}

// SessionEnd is what a worker reports when a session closes: the per-tensor
// Merkle roots of everything the task received and produced.
type SessionEnd struct {
	// SessionID names the session.
	SessionID string
	// Key is the task that ran.
	Key TaskKey
	// Steps is the number of steps run.
	Steps int
	// Inputs and Outputs are per-tensor roots, in the task's port order.
	Inputs, Outputs []NamedRoot
	// Record is the recorded session: every step's input and output frames.
	Record *Record
	// Compute is the time spent running the task's program.
	Compute time.Duration
	// Relayed is the number of steps that came from the stage before
	// rather than from the client.
	Relayed int
}

// NamedRoot is a Merkle root over one tensor's frames in step order.
type NamedRoot struct {
	// Name is the tensor's name.
	Name string
	// Root is the Merkle root of its frame hashes.
	Root [32]byte
}

// Authorizer decides whether client may open a session of a task (e.g.
// the chain assigned this node that task for the session's execution, and
// client is the one who requested it). It also returns when the session
// must end (zero: never): the worker then ends it, answering the client
// with Error{CodeDeadline}, and reports it like any other end, so that the
// steps it ran are committed in time. A node commits when a session ends,
// and a commitment after the task's deadline is refused: without this, a
// client holding a session open would have the node's work for nothing.
type Authorizer func(ctx context.Context, client p2p.PeerID, sessionID string, key TaskKey) (until time.Time, err error)

// Worker runs loaded tasks for pipeline sessions. It is safe for
// concurrent use: each stream is served by its own goroutine.
type Worker struct {
	threads   int
	authorize Authorizer
	onEnd     func(SessionEnd)
	fault     *Fault
	records   RecordSource
	log       *slog.Logger

	mu       sync.Mutex // guards tasks and sessions
	tasks    map[TaskKey]*loadedTask
	sessions map[sessionKey]*session // open sessions, for relay streams
}

// sessionKey names an open session of one task: the id its client gave
// it, within that client's (the peer that opened it) sessions.
type sessionKey struct {
	client string
	id     string
	key    TaskKey
}

// loadedTask is a task's program; mu serialises its runs.
type loadedTask struct {
	mu   sync.Mutex
	prog *exec.Program
	in   []string // graph input names, in graph order
	out  []string // graph output names
}

// WorkerConfig configures a Worker.
type WorkerConfig struct {
	// Threads per task run (default 1).
	Threads int
	// Authorize checks each OpenSession; nil allows every session.
	Authorize Authorizer
	// OnSessionEnd receives each closed session's commitments (may be nil).
	OnSessionEnd func(SessionEnd)
	// Fault injects misbehaviour for tests; nil for an honest node.
	Fault *Fault
	// Records serves recorded sessions to validators (nil: none).
	Records RecordSource
	// Log receives diagnostics (default: discard).
	Log *slog.Logger
}

// NewWorker returns a worker with no tasks loaded.
func NewWorker(c WorkerConfig) *Worker {
	if c.Log == nil {
		c.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Worker{threads: max(c.Threads, 1), authorize: c.Authorize, onEnd: c.OnSessionEnd, fault: c.Fault, records: c.Records, log: c.Log, tasks: map[TaskKey]*loadedTask{}, sessions: map[sessionKey]*session{}}
}

// Load decodes a shard and prepares its program (preloads the weights).
// It keeps no reference to shardBytes: the weights are copied into the
// kernels' own memory, so the caller may release a mapped file after it.
func (w *Worker) Load(key TaskKey, shardBytes []byte) error {
	s, err := shard.Decode(shardBytes)
	if err != nil {
		return err
	}
	prog, err := exec.New(s.Graph, s, exec.Options{Threads: w.threads})
	if err != nil {
		return fmt.Errorf("load task %d: %w", key.Task, err)
	}
	lt := &loadedTask{prog: prog}
	for _, i := range s.Graph.OfKind(ir.KindInput) {
		lt.in = append(lt.in, s.Graph.Tensors[i].Name)
	}
	for _, o := range s.Graph.Outputs {
		lt.out = append(lt.out, o.Name)
	}
	w.mu.Lock()
	old := w.tasks[key]
	w.tasks[key] = lt
	w.mu.Unlock()
	if old != nil {
		old.prog.Close()
	}
	return nil
}

// Loaded reports whether the task is loaded.
func (w *Worker) Loaded(key TaskKey) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.tasks[key] != nil
}

// Close releases every loaded task.
func (w *Worker) Close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for k, t := range w.tasks {
		t.prog.Close()
		delete(w.tasks, k)
	}
}

func (w *Worker) task(key TaskKey) *loadedTask {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.tasks[key]
}

// errorf is a pipeline Error message.
func errorf(code uint32, format string, a ...any) *p2p.Error {
	return &p2p.Error{Code: code, Text: fmt.Sprintf(format, a...)}
}

// Serve handles one pipeline stream: an OpenSession, Steps, Routes and
// Fetches, then
// Close (or the end of the stream); or an Attach and the Steps relayed into
// that session by the stage before (see relay.go). It is the host's
// pipeline handler.
func (w *Worker) Serve(ctx context.Context, s *p2p.Stream) {
	m, err := s.Recv()
	if err != nil {
		return
	}
	if a, ok := m.(*p2p.Attach); ok {
		w.serveRelay(s, a)
		return
	}
	open, ok := m.(*p2p.OpenSession)
	if !ok {
		s.Send(errorf(p2p.CodeProtocol, "expected OpenSession or Attach, got %v", m.Type()))
		return
	}
	if strings.HasPrefix(open.SessionID, RecordPrefix) {
		w.serveRecord(s, open)
		return
	}
	sess, until, perr := w.open(ctx, open, s)
	if perr != nil {
		s.Send(perr)
		return
	}
	defer w.end(sess)
	if !until.IsZero() {
		timer := time.AfterFunc(time.Until(until), func() {
			w.log.Info("session ended at its deadline", "session", open.SessionID, "task", open.TaskID)
			s.Send(errorf(p2p.CodeDeadline, "session %s reached the deadline of task %d; the steps it ran are committed", open.SessionID, open.TaskID))
			s.Close()
		})
		defer timer.Stop()
	}
	if err := s.Send(&p2p.StepResult{SessionID: open.SessionID}); err != nil { // session ready
		return
	}
	for {
		m, err := s.Recv()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				w.log.Info("pipeline stream ended", "session", open.SessionID, "err", err)
			}
			return
		}
		switch m := m.(type) {
		case *p2p.Step:
			if sess.run(m, "") != nil {
				return
			}
		case *p2p.Route:
			if sess.setRoute(ctx, m) != nil {
				return
			}
		case *p2p.Fetch:
			if sess.fetch(m) != nil {
				return
			}
		case *p2p.Close:
			return
		default:
			s.Send(errorf(p2p.CodeProtocol, "unexpected %v in a session", m.Type()))
			return
		}
	}
}

func (w *Worker) open(ctx context.Context, m *p2p.OpenSession, client *p2p.Stream) (*session, time.Time, *p2p.Error) {
	key := TaskKey{Model: m.ModelID, Task: m.TaskID}
	lt := w.task(key)
	if lt == nil {
		return nil, time.Time{}, errorf(p2p.CodeUnknownTask, "task %d of model %x is not loaded here", m.TaskID, m.ModelID[:4])
	}
	var until time.Time
	if w.authorize != nil {
		var err error
		if until, err = w.authorize(ctx, client.Peer(), m.SessionID, key); err != nil {
			return nil, time.Time{}, errorf(p2p.CodeUnknownTask, "session %s may not run task %d here: %v", m.SessionID, m.TaskID, err)
		}
	}
	s := &session{id: m.SessionID, key: key, t: lt, es: lt.prog.NewSession(), rec: newRecord(lt.in, lt.out), fault: w.fault, client: client, w: w}
	w.mu.Lock()
	w.sessions[s.regKey()] = s // a reopened session (the client's new stream) takes the relay streams
	w.mu.Unlock()
	return s, until, nil
}

func (w *Worker) end(s *session) {
	w.mu.Lock()
	if sk := s.regKey(); w.sessions[sk] == s {
		delete(w.sessions, sk)
	}
	w.mu.Unlock()
	s.close()
	if w.onEnd == nil || s.steps == 0 {
		return
	}
	w.onEnd(SessionEnd{SessionID: s.id, Key: s.key, Steps: s.steps, Inputs: s.rec.roots(s.t.in), Outputs: s.rec.roots(s.t.out), Record: s.rec, Compute: s.busy, Relayed: s.relayed})
}
