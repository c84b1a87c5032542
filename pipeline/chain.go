package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/splitup/splitup/chain"
	"github.com/splitup/splitup/contract"
)

// ChainResolver locates a chain execution's task nodes: the contract assigns
// each task to a node, and reassigns it when ReportFailure says it failed.
type ChainResolver struct {
	// Client reads the execution.
	Client chain.Client
	// Signer sends ReportFailure as the execution's requester.
	Signer *chain.Signer
	// Exec is the execution id.
	Exec uint64
	// Poll is how often the execution is re-read while waiting (default 100 ms).
	Poll time.Duration
}

// Execution reads the execution from committed state.
func (r *ChainResolver) Execution(ctx context.Context) (*contract.ExecutionInfo, error) {
	raw, err := r.Client.Query(ctx, "execution/"+strconv.FormatUint(r.Exec, 10), nil)
	if err != nil {
		return nil, err
	}
	var e contract.ExecutionInfo
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("read execution %d: %w", r.Exec, err)
	}
	return &e, nil
}

// wait polls the execution until ok says the task is ready.
func (r *ChainResolver) wait(ctx context.Context, task int, ok func(*contract.TaskInfo) bool) (*contract.TaskInfo, error) {
	poll := r.Poll
	if poll == 0 {
		poll = 100 * time.Millisecond
	}
	for {
		e, err := r.Execution(ctx)
		if err != nil {
			return nil, err
		}
		if task < 0 || task >= len(e.Tasks) {
			return nil, fmt.Errorf("execution %d has no task %d", r.Exec, task)
		}
		if e.State != "running" {
			return nil, fmt.Errorf("execution %d is %s", r.Exec, e.State)
		}
		if t := &e.Tasks[task]; ok(t) {
			return t, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for task %d of execution %d to be assigned: %w", task, r.Exec, ctx.Err())
		case <-time.After(poll):
		}
	}
}

// Peer implements Resolver.
func (r *ChainResolver) Peer(ctx context.Context, task int) (string, error) {
	t, err := r.wait(ctx, task, func(t *contract.TaskInfo) bool { return t.State == "running" && t.P2PAddr != "" })
	if err != nil {
		return "", err
	}
	return t.P2PAddr, nil
}

// Failed implements Resolver: it reports the node and waits for the next attempt.
func (r *ChainResolver) Failed(ctx context.Context, task int, addr string, cause error) error {
	e, err := r.Execution(ctx)
	if err != nil {
		return err
	}
	if task < 0 || task >= len(e.Tasks) {
		return fmt.Errorf("execution %d has no task %d", r.Exec, task)
	}
	attempt := e.Tasks[task].Attempt
	if e.Tasks[task].P2PAddr == addr {
		reason := cause.Error()
		if len(reason) > 200 {
			reason = reason[:200]
		}
		if _, err := r.Signer.Send(ctx, &contract.ReportFailure{Exec: r.Exec, Task: uint32(task), Reason: reason}); err != nil {
			return fmt.Errorf("report failure of task %d: %w", task, err)
		}
	}
	_, err = r.wait(ctx, task, func(t *contract.TaskInfo) bool {
		return t.State == "running" && t.P2PAddr != "" && (t.Attempt != attempt || t.P2PAddr != addr)
	})
	return err
}

// RequestExecution asks the chain for a session of model and returns the
// execution id.
func RequestExecution(ctx context.Context, s *chain.Signer, model contract.Hash, maxFee uint64, maxTokens uint32) (uint64, error) {
	res, err := s.Send(ctx, &contract.RequestExecution{Model: model, MaxFee: maxFee, MaxTokens: maxTokens})
	if err != nil {
		return 0, fmt.Errorf("request execution: %w", err)
	}
	for _, ev := range res.Events {
		if ev.Type != contract.EventExecutionRequested {
			continue
		}
		for _, a := range ev.Attrs {
			if a.Key == "exec" {
				return strconv.ParseUint(a.Value, 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("request execution: no %s event in the tx result", contract.EventExecutionRequested)
}

// TasksOf converts a registered model's task specs into pipeline tasks.
func TasksOf(m *contract.ModelInfo) []Task {
	out := make([]Task, len(m.Tasks))
	for i, t := range m.Tasks {
		out[i] = Task{ID: i}
		for _, in := range t.Inputs {
			out[i].Inputs = append(out[i].Inputs, in.Name)
		}
		for _, o := range t.Outputs {
			out[i].Outputs = append(out[i].Outputs, o.Name)
		}
	}
	return out
}
