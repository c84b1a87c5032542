package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/splitup/splitup/p2p"
)

// Relaying. A client that runs a chain of tasks may route each stage's
// session (p2p.Route) so that the node sends every step's outputs straight
// to the next stage's node over a relay stream (opened with p2p.Attach)
// instead of back to the client: a token then crosses the network once per
// stage plus once back, not twice per stage. Only the last stage answers
// the client (its StepResult is the step's result); a stage that cannot
// pass its outputs on answers with an Error (CodeRelay). The client
// rebuilds a stage on a replacement node from the inputs recorded by the
// stage before (p2p.Fetch). A Route without On, or a relay send that
// fails, puts the session back to taking steps from its client and
// answering each; the Route's answer carries the number of steps the
// session has run, so a client that lost a node mid-step knows which
// stages finished it.

// attachTimeout bounds opening a relay stream to the next stage.
const attachTimeout = 10 * time.Second

// errRefused ends a relay stream whose step the session does not accept.
var errRefused = errors.New("relayed step refused")

// run runs a step that came from the client (from == "") or was relayed by
// peer from, sends its outputs on to the next stage when the session is
// routed, and answers the client. It returns an error when the client's
// stream fails, and errRefused for a relayed step the session does not
// accept (not routed, or not from the peer the route names).
func (s *session) run(m *p2p.Step, from string) error {
	s.mu.Lock()
	locked := true
	defer func() {
		if locked {
			s.mu.Unlock()
		}
	}()
	if from != "" && (s.closed || s.route == nil || s.route.Prev != from) {
		return errRefused
	}
	res, full, perr := s.step(m, s.route != nil)
	if perr != nil {
		return s.client.Send(perr)
	}
	if from != "" {
		s.relayed++
	}
	if s.next == nil && s.local == nil {
		return s.client.Send(res)
	}
	fwd := &p2p.Step{SessionID: s.id, Index: m.Index, Positions: m.Positions, Tensors: full, Argmax: m.Argmax}
	route := s.route
	var ferr error
	if local := s.local; local != nil {
		// The next stage's session runs the step without this one's lock,
		// so no route between sessions of this worker can deadlock (one
		// that loops back is refused by the index of the step).
		s.mu.Unlock()
		locked = false
		ferr = local.run(fwd, s.client.Host().ID().String())
		s.fault.afterRelay(s.key.Task, m.Index)
		s.mu.Lock()
		locked = true
		if s.route != route { // the client re-routed the session meanwhile
			return nil
		}
	} else {
		ferr = s.next.Send(fwd)
		s.fault.afterRelay(s.key.Task, m.Index)
	}
	if ferr == nil {
		return nil
	}
	s.unroute()
	return s.client.Send(errorf(p2p.CodeRelay, "step %d ran, but task %d's node did not take its outputs: %v", m.Index, route.NextTask, ferr))
}

// fetch answers a Fetch with rows of a recorded tensor.
func (s *session) fetch(m *p2p.Fetch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m.SessionID != s.id {
		return s.client.Send(errorf(p2p.CodeUnknownSession, "session %q is not open on this stream", m.SessionID))
	}
	rows := s.rec.Rows(m.Name)
	if rows == nil {
		return s.client.Send(errorf(p2p.CodeBadInput, "task %d records no tensor %q", s.key.Task, m.Name))
	}
	from, n := int(m.From), int(m.Count)
	if from+n > len(rows) || n == 0 {
		return s.client.Send(errorf(p2p.CodeBadInput, "rows %d..%d of %q asked; %d recorded", from, from+n, m.Name, len(rows)))
	}
	f := joinRows(rows[from : from+n])
	return s.client.Send(&p2p.StepResult{SessionID: s.id, Index: uint64(s.steps), Tensors: []p2p.NamedTensor{{Name: m.Name, Frame: *f}}})
}

// setRoute applies a Route from the client and answers with the number of
// steps run.
func (s *session) setRoute(ctx context.Context, m *p2p.Route) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m.SessionID != s.id {
		return s.client.Send(errorf(p2p.CodeUnknownSession, "session %q is not open on this stream", m.SessionID))
	}
	s.unroute()
	if m.On {
		pid, err := p2p.AddrPeer(m.Next)
		if m.Next != "" && err == nil && pid == s.client.Host().ID() {
			// The next stage runs on this worker: hand the step over in process.
			if m.NextTask == s.key.Task {
				return s.client.Send(errorf(p2p.CodeBadInput, "route session %s of task %d to itself", s.id, m.NextTask))
			}
			s.local = s.w.session(s.client.Peer().String(), s.id, TaskKey{Model: s.key.Model, Task: m.NextTask})
			if s.local == nil {
				return s.client.Send(errorf(p2p.CodeRelay, "route session %s to task %d on this node: that session is not open here", s.id, m.NextTask))
			}
		} else if m.Next != "" {
			ctx, cancel := context.WithTimeout(ctx, attachTimeout)
			st, err := attach(ctx, s.client.Host(), m.Next, &p2p.Attach{SessionID: s.id, ModelID: s.key.Model, TaskID: m.NextTask, Client: s.client.Peer().String()})
			cancel()
			if err != nil {
				return s.client.Send(errorf(p2p.CodeRelay, "route session %s to task %d at %s: %v", s.id, m.NextTask, m.Next, err))
			}
			s.next = st
		}
		if m.Prev != "" {
			// Steps now come from the stage before: the client's stream may
			// stay silent for the rest of the session.
			s.client.SetReadTimeout(0)
		}
		s.route = m
	}
	return s.client.Send(&p2p.StepResult{SessionID: s.id, Index: uint64(s.steps)})
}

// accepts reports whether the session takes steps relayed by peer from.
func (s *session) accepts(from string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.closed && s.route != nil && s.route.Prev == from
}

// unroute closes the relay stream to the next stage, stops accepting
// relayed steps and puts the client's stream back under the host's read
// timeout. s.mu is held.
func (s *session) unroute() {
	if s.next != nil {
		s.next.Close()
		s.next = nil
	}
	if s.route != nil && s.route.Prev != "" {
		s.client.ResetReadTimeout()
	}
	s.local, s.route = nil, nil
}

// close ends relaying for good, as the session ends.
func (s *session) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.unroute()
}

// attach opens a relay stream to the node at addr for a.
func attach(ctx context.Context, h *p2p.Host, addr string, a *p2p.Attach) (*p2p.Stream, error) {
	st, err := openPipeline(ctx, h, addr)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, st.Reset)
	defer stop()
	if err := st.Send(a); err != nil {
		st.Reset()
		return nil, err
	}
	m, err := st.Recv()
	if err != nil {
		st.Reset()
		return nil, err
	}
	if _, ok := m.(*p2p.StepResult); !ok {
		st.Reset()
		return nil, fmt.Errorf("attach refused: %v", m)
	}
	return st, nil
}

// session returns client's open session id of task key, or nil.
func (w *Worker) session(client, id string, key TaskKey) *session {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.sessions[sessionKey{client, id, key}]
}

// regKey is the session's key in its worker's registry.
func (s *session) regKey() sessionKey {
	return sessionKey{s.client.Peer().String(), s.id, s.key}
}

// serveRelay runs the steps that the stage before relays into one of this
// worker's open sessions.
func (w *Worker) serveRelay(st *p2p.Stream, a *p2p.Attach) {
	sess := w.session(a.Client, a.SessionID, TaskKey{Model: a.ModelID, Task: a.TaskID})
	if sess == nil {
		st.Send(errorf(p2p.CodeUnknownSession, "no session %q of task %d is open here for client %s", a.SessionID, a.TaskID, a.Client))
		return
	}
	from := st.Peer().String()
	if !sess.accepts(from) {
		st.Send(errorf(p2p.CodeProtocol, "session %q of task %d is not routed to take steps from %s", a.SessionID, a.TaskID, from))
		return
	}
	if st.Send(&p2p.StepResult{SessionID: a.SessionID}) != nil {
		return
	}
	// Steps come when the stage before has one, which may be after the
	// other stages are routed or after a pause of the client: no read
	// timeout (a dead peer ends the stream with its connection).
	st.SetReadTimeout(0)
	for {
		m, err := st.Recv()
		if err != nil {
			return
		}
		step, ok := m.(*p2p.Step)
		if !ok {
			st.Send(errorf(p2p.CodeProtocol, "expected a relayed Step, got %v", m.Type()))
			return
		}
		if err := sess.run(step, from); err != nil {
			w.log.Info("relay stream ended", "session", a.SessionID, "task", a.TaskID, "err", err)
			return
		}
	}
}
