package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/splitup/splitup/p2p"
)

// Relaying. When the tasks form a chain (each reads exactly what the one
// before produces, the first reads the model inputs), the session routes
// every stage's node to the next (p2p.Route): the session sends a step to
// the first stage only, each node passes its outputs straight to the next
// node, and only the last answers; a token crosses the network once per
// stage plus once back instead of twice per stage. A reader goroutine per
// link takes what the nodes send, so that an Error or a broken stream from
// any stage interrupts the wait for the last one.
//
// When anything goes wrong mid-step (a stream breaks, a node cannot reach
// the next one, an Error arrives), the session un-routes every live node;
// each answers after finishing what it was running, with the number of
// steps it has run, so the session knows which stages finished the step.
// It then completes the step through this side as without relaying
// (fetching the outputs of stages that finished it where a later stage
// needs them, replacing dead nodes and rebuilding them as usual), and
// stays without relaying from then on.

// errRelayLost reports that relaying failed during a step and the step must
// be completed through this side.
var errRelayLost = errors.New("pipeline: relaying failed")

// errFetch marks a failure to fetch recorded rows from a node.
var errFetch = errors.New("pipeline: fetching recorded rows failed")

// received is one message (or the end) of a link's stream, from its reader.
type received struct {
	m   p2p.Message
	err error
}

// isChain reports whether the tasks form a chain the nodes can relay: one
// task per level, the first reading only model inputs, each other reading
// (besides Pos) exactly the outputs of the one before, and the last
// producing Logits.
func isChain(tasks []Task, levels [][]int) bool {
	if len(tasks) < 2 || len(levels) != len(tasks) {
		return false
	}
	for k, lv := range levels {
		if len(lv) != 1 || lv[0] != k {
			return false
		}
		in := slices.DeleteFunc(slices.Clone(tasks[k].Inputs), func(n string) bool { return n == Pos })
		var want []string
		if k == 0 {
			want = []string{Tokens}
		} else {
			want = slices.Clone(tasks[k-1].Outputs)
		}
		slices.Sort(in)
		slices.Sort(want)
		if !slices.Equal(in, want) {
			return false
		}
	}
	return slices.Contains(tasks[len(tasks)-1].Outputs, Logits)
}

// relayStep runs one step by relaying, the model inputs in values, and adds
// the last stage's outputs to values. It returns which tasks finished the
// step: all of them, or, with errRelayLost, those that did before relaying
// failed (the last stage's outputs are in values only if it is marked).
func (s *Session) relayStep(ctx context.Context, values map[string]p2p.NamedTensor, positions []int32, argmax []string) ([]bool, error) {
	if !s.routed {
		if err := s.route(ctx); err != nil {
			s.relay = false
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, errRelayLost
		}
	}
	first, last := s.links[0], s.links[len(s.links)-1]
	ins, err := s.inputsOf(first, values)
	if err != nil {
		return nil, err
	}
	if err := first.stream.Send(&p2p.Step{SessionID: s.cfg.SessionID, Index: first.steps, Positions: positions, Tensors: ins, Argmax: argmax}); err != nil {
		return s.unrouteAll(ctx, values)
	}
	m, err := last.recv(ctx, s.fault)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil {
		return s.unrouteAll(ctx, values)
	}
	switch m := m.(type) {
	case *p2p.StepResult:
		if m.Index != last.steps || len(m.Tensors) == 0 {
			return nil, fmt.Errorf("%w: task %d answered step %d with step %d (%d tensors)", ErrRemote, last.task.ID, last.steps, m.Index, len(m.Tensors))
		}
		done := make([]bool, len(s.links))
		for k, l := range s.links {
			l.steps++
			done[k] = true
		}
		for _, t := range m.Tensors {
			values[t.Name] = t
		}
		return done, nil
	case *p2p.Error:
		if m.Code == p2p.CodeRelay || m.Code == p2p.CodeShuttingDown || m.Code == p2p.CodeBusy {
			return s.unrouteAll(ctx, values)
		}
		return nil, fmt.Errorf("pipeline: task %d at %s: %w: %v", last.task.ID, last.addr, ErrRemote, m)
	}
	return nil, fmt.Errorf("pipeline: task %d: %w: unexpected %v", last.task.ID, ErrRemote, m.Type())
}

// route opens every stage's stream and routes the nodes, last stage first
// (a node accepts relayed steps only once routed), then starts the readers.
// On failure it un-routes what it routed.
func (s *Session) route(ctx context.Context) error {
	for _, l := range s.links {
		if l.stream == nil {
			if err := s.connect(ctx, l); err != nil {
				l.drop()
				return err
			}
		}
		if l.steps != s.links[0].steps {
			return errors.New("pipeline: the stages have run different numbers of steps on their streams")
		}
	}
	n := len(s.links)
	for k := n - 1; k >= 0; k-- {
		r := &p2p.Route{SessionID: s.cfg.SessionID, On: true}
		if k+1 < n {
			r.Next, r.NextTask = s.links[k+1].addr, uint32(s.links[k+1].task.ID)
		}
		if k > 0 {
			r.Prev = s.links[k-1].peer.String()
		}
		if err := s.setRoute(ctx, s.links[k], r); err != nil {
			if errors.Is(err, ErrRemote) { // an answer out of turn: its state is unknown
				s.links[k].drop()
			}
			for _, l := range s.links[k+1:] {
				if s.setRoute(ctx, l, &p2p.Route{SessionID: s.cfg.SessionID}) != nil {
					l.drop()
				}
			}
			return err
		}
	}
	for k, l := range s.links {
		if k < n-1 {
			// Only the last stage answers: the others' streams stay silent.
			l.stream.SetReadTimeout(0)
		}
		l.startReader(s.fault)
	}
	s.routed = true
	return nil
}

// setRoute sends r on l's stream (no reader yet) and checks the answer.
func (s *Session) setRoute(ctx context.Context, l *link, r *p2p.Route) error {
	st := l.stream
	stop := context.AfterFunc(ctx, func() { st.Reset() })
	defer stop()
	if err := l.stream.Send(r); err != nil {
		return err
	}
	m, err := l.stream.Recv()
	if err != nil {
		return err
	}
	switch m := m.(type) {
	case *p2p.StepResult:
		if len(m.Tensors) == 0 && m.Index == l.steps {
			return nil
		}
		return fmt.Errorf("%w: task %d answered a route with step %d, want %d", ErrRemote, l.task.ID, m.Index, l.steps)
	case *p2p.Error:
		return fmt.Errorf("task %d at %s: %w", l.task.ID, l.addr, m)
	}
	return fmt.Errorf("%w: task %d answered a route with %v", ErrRemote, l.task.ID, m.Type())
}

// unrouteAll ends relaying after a failure during a step: every live node
// is un-routed, and its answer (the steps it has run) says whether it
// finished the step; the last stage's StepResult, if it came, is taken
// into values. A link whose stream broke, or whose node answers out of
// turn or is going away, is dropped for the usual failover. A node that
// refused the step itself (an Error other than CodeRelay, CodeBusy and
// CodeShuttingDown) fails the step with ErrRemote, as without relaying.
func (s *Session) unrouteAll(ctx context.Context, values map[string]p2p.NamedTensor) ([]bool, error) {
	s.relay, s.routed = false, false
	done := make([]bool, len(s.links))
	last := len(s.links) - 1
	var refused error
	for k, l := range s.links {
		if l.stream == nil {
			continue
		}
		l.stream.ResetReadTimeout() // a node that does not answer is dropped
		if err := l.stream.Send(&p2p.Route{SessionID: s.cfg.SessionID}); err != nil {
			l.drop()
			continue
		}
	drain:
		for {
			m, err := l.recv(ctx, nil)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if err != nil {
				l.drop()
				break
			}
			switch m := m.(type) {
			case *p2p.StepResult:
				switch {
				case len(m.Tensors) == 0 && m.Index == l.steps+1: // the answer: it ran the step
					l.steps++
					done[k] = true
					break drain
				case len(m.Tensors) == 0 && m.Index == l.steps: // the answer: it did not, or it answered it below
					break drain
				case len(m.Tensors) > 0 && k == last && m.Index == l.steps && !done[k]: // the step's result, late
					l.steps++
					done[k] = true
					for _, t := range m.Tensors {
						values[t.Name] = t
					}
				default:
					l.drop()
					break drain
				}
			case *p2p.Error:
				switch m.Code {
				case p2p.CodeRelay:
				case p2p.CodeBusy, p2p.CodeShuttingDown:
					l.drop()
					break drain
				default: // its answer to the step; the Route's follows
					if refused == nil {
						refused = fmt.Errorf("pipeline: task %d at %s: %w: %v", l.task.ID, l.addr, ErrRemote, m)
					}
				}
			default:
				l.drop()
				break drain
			}
		}
	}
	if refused != nil {
		return nil, refused
	}
	return done, errRelayLost
}

// startReader makes a goroutine receive everything on l's stream into l.in
// and ping fault on an Error or the stream's end, once the message is in
// l.in. l.in is closed when the reader ends.
func (l *link) startReader(fault chan struct{}) {
	in, done, st := make(chan received, 4), make(chan struct{}), l.stream
	l.in, l.done = in, done
	go func() {
		defer close(in)
		for {
			m, err := st.Recv()
			select {
			case in <- received{m, err}:
			case <-done:
				return
			}
			if _, isErr := m.(*p2p.Error); err != nil || isErr {
				select {
				case fault <- struct{}{}:
				default:
				}
			}
			if err != nil {
				return
			}
		}
	}()
}

// stopReader lets l's reader exit; it is gone once the stream is closed or
// reset.
func (l *link) stopReader() {
	if l.done != nil {
		close(l.done)
		l.in, l.done = nil, nil
	}
}

// errReaderEnded is what recv returns once a link's reader has passed on
// the end of its stream.
var errReaderEnded = errors.New("pipeline: the stream has ended")

// recv returns the next message on l's stream: from its reader when one
// runs (then a ping on fault or the end of ctx interrupts the wait, but
// what l's own reader queued comes first), directly otherwise.
func (l *link) recv(ctx context.Context, fault <-chan struct{}) (p2p.Message, error) {
	if l.in == nil {
		return l.stream.Recv()
	}
	take := func(r received, ok bool) (p2p.Message, error) {
		if !ok {
			return nil, errReaderEnded
		}
		return r.m, r.err
	}
	select {
	case r, ok := <-l.in:
		return take(r, ok)
	case <-fault:
		select {
		case r, ok := <-l.in:
			return take(r, ok)
		default:
			return nil, errRelayLost
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Relaying reports whether the session's steps travel from node to node:
// its tasks form a chain, relaying is not switched off (Config.NoRelay),
// and it has not failed in this session.
func (s *Session) Relaying() bool { return s.relay }
