package contract

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Query errors; callers branch on them with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrBadQuery = errors.New("bad query path")
)

// AccountInfo answers "account/<addr>".
type AccountInfo struct {
	Address Address `json:"address"`
	Balance uint64  `json:"balance"`
	Nonce   uint64  `json:"nonce"` // the next nonce to sign with
}

// SupplyInfo answers "supply".
type SupplyInfo struct {
	Total uint64 `json:"total"`
	Pool  uint64 `json:"pool"`
}

// NodeInfo answers "node/<addr>"; "nodes" is a list of them.
type NodeInfo struct {
	Address   Address   `json:"address"`
	VRAMBytes uint64    `json:"vram_bytes"`
	Backends  []string  `json:"backends"`
	P2PAddr   string    `json:"p2p_addr"`
	Stake     uint64    `json:"stake"`
	Unbonding uint64    `json:"unbonding"`
	Tasks     []TaskRef `json:"tasks"`
	LastBeat  int64     `json:"last_heartbeat_unix_nano"`
	Online    bool      `json:"online"`
	Eligible  bool      `json:"eligible"` // online and staked enough to take work
}

// ModelInfo answers "model/<id>"; "models" lists them without Tasks.
type ModelInfo struct {
	ID        Hash         `json:"id"`
	Owner     Address      `json:"owner"`
	Name      string       `json:"name"`
	GraphHash Hash         `json:"graph_hash"`
	Inputs    []TensorSpec `json:"inputs,omitempty"`
	Outputs   []TensorSpec `json:"outputs,omitempty"`
	Tasks     []TaskSpec   `json:"tasks,omitempty"`
	NumTasks  int          `json:"num_tasks"`
}

// ExecutionInfo answers "execution/<id>"; "executions" is a list of them.
type ExecutionInfo struct {
	ID        uint64     `json:"id"`
	Requester Address    `json:"requester"`
	Model     Hash       `json:"model"`
	MaxTokens uint32     `json:"max_tokens"`
	Escrow    uint64     `json:"escrow"`
	State     string     `json:"state"` // running, completed, cancelled, failed, settled
	Tasks     []TaskInfo `json:"tasks"`
}

// TaskInfo is one task of an ExecutionInfo.
type TaskInfo struct {
	State        string       `json:"state"` // pending, running, committed, cancelled, settled
	Node         Address      `json:"node"`
	P2PAddr      string       `json:"p2p_addr,omitempty"`
	Attempt      uint32       `json:"attempt"`
	Deadline     int64        `json:"deadline_unix_nano"`
	Steps        uint32       `json:"steps,omitempty"`
	Payment      uint64       `json:"payment,omitempty"`
	Inputs       []TensorRoot `json:"inputs,omitempty"`
	Outputs      []TensorRoot `json:"outputs,omitempty"`
	Verification string       `json:"verification"`
	Validator    Address      `json:"validator"`
	Forfeit      bool         `json:"forfeit,omitempty"`  // not paid: caught cheating, or an unexplained dispute
	Disputed     bool         `json:"disputed,omitempty"` // its commitment and another task's contradict each other
}

// VerificationInfo is one open verification request of a validator;
// "verifications/<addr>" lists those of addr, by execution and task.
type VerificationInfo struct {
	Exec     uint64  `json:"exec"`
	Task     uint32  `json:"task"`
	Asserter Address `json:"asserter"`
	Stage    uint32  `json:"stage"` // 1: first validator, 2: tie-breaker
	Deadline int64   `json:"deadline_unix_nano"`
}

func (s *st) query(path string) ([]byte, error) {
	kind, arg, _ := strings.Cut(path, "/")
	var v any
	var err error
	switch kind {
	case "params":
		v = s.params
	case "supply":
		total, _ := s.supply()
		v = SupplyInfo{Total: total, Pool: s.balance(PoolAddress)}
	case "account":
		v, err = s.accountInfo(arg)
	case "nodes":
		v = s.nodeInfos()
	case "node":
		v, err = s.nodeInfo(arg)
	case "models":
		v = s.modelInfos()
	case "model":
		v, err = s.modelInfo(arg)
	case "executions":
		v = s.execInfos()
	case "execution":
		v, err = s.execInfo(arg)
	case "verifications":
		v, err = s.verificationInfos(arg)
	default:
		return nil, fmt.Errorf("%w: %q", ErrBadQuery, path)
	}
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

func (s *st) accountInfo(arg string) (any, error) {
	a, err := ParseAddress(arg)
	if err != nil {
		return nil, fmt.Errorf("%w: account address: %w", ErrBadQuery, err)
	}
	info := AccountInfo{Address: a}
	if ac := s.accounts[a]; ac != nil {
		info.Balance, info.Nonce = ac.Balance, ac.Nonce
	}
	return info, nil
}

func (s *st) nodeInfos() []NodeInfo {
	out := []NodeInfo{}
	for _, a := range s.nodeKeys() {
		out = append(out, s.toNodeInfo(s.nodes[a]))
	}
	return out
}

// verificationInfos lists the verification requests that wait for the
// validator at arg, so that a node that missed their events can still
// answer them.
func (s *st) verificationInfos(arg string) (any, error) {
	a, err := ParseAddress(arg)
	if err != nil {
		return nil, fmt.Errorf("%w: validator address: %w", ErrBadQuery, err)
	}
	out := []VerificationInfo{}
	for _, id := range s.active {
		e := s.execs[id]
		for i := range e.Tasks {
			t := &e.Tasks[i]
			v := &t.Verify
			if t.State != taskCommitted || (v.State != vFirst && v.State != vTie) || v.Validator != a {
				continue
			}
			stage := uint32(1)
			if v.State == vTie {
				stage = 2
			}
			out = append(out, VerificationInfo{Exec: e.ID, Task: uint32(i), Asserter: t.Node, Stage: stage, Deadline: v.Deadline})
		}
	}
	return out, nil
}

func (s *st) nodeInfo(arg string) (any, error) {
	a, err := ParseAddress(arg)
	if err != nil {
		return nil, fmt.Errorf("%w: node address: %w", ErrBadQuery, err)
	}
	n := s.nodes[a]
	if n == nil {
		return nil, fmt.Errorf("node %s: %w", a, ErrNotFound)
	}
	return s.toNodeInfo(n), nil
}

func (s *st) toNodeInfo(n *node) NodeInfo {
	var unb uint64
	for _, u := range n.Unbonding {
		unb += u.Amount
	}
	return NodeInfo{Address: n.Addr, VRAMBytes: n.VRAMBytes, Backends: n.Backends, P2PAddr: n.P2PAddr,
		Stake: n.Stake, Unbonding: unb, Tasks: n.Tasks, LastBeat: n.LastBeat, Online: n.Online, Eligible: s.eligible(n)}
}

func (s *st) modelInfos() []ModelInfo {
	out := []ModelInfo{}
	for _, id := range sortedKeys(s.models, cmpHash) {
		m := s.models[id]
		out = append(out, ModelInfo{ID: id, Owner: m.Owner, Name: m.Spec.Name, GraphHash: m.Spec.GraphHash, NumTasks: len(m.Spec.Tasks)})
	}
	return out
}

func (s *st) modelInfo(arg string) (any, error) {
	id, err := ParseHash(arg)
	if err != nil {
		return nil, fmt.Errorf("%w: model id: %w", ErrBadQuery, err)
	}
	m := s.models[id]
	if m == nil {
		return nil, fmt.Errorf("model %s: %w", id, ErrNotFound)
	}
	return ModelInfo{ID: id, Owner: m.Owner, Name: m.Spec.Name, GraphHash: m.Spec.GraphHash,
		Inputs: m.Spec.Inputs, Outputs: m.Spec.Outputs, Tasks: m.Spec.Tasks, NumTasks: len(m.Spec.Tasks)}, nil
}

func (s *st) execInfos() []ExecutionInfo {
	out := []ExecutionInfo{}
	for _, id := range sortedKeys(s.execs, cmpU64) {
		out = append(out, s.toExecInfo(s.execs[id]))
	}
	return out
}

func (s *st) execInfo(arg string) (any, error) {
	id, err := strconv.ParseUint(arg, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: execution id %q", ErrBadQuery, arg)
	}
	e := s.execs[id]
	if e == nil && id > 0 && id < s.nextExec {
		return nil, fmt.Errorf("execution %d: %w: it settled and was dropped from the state (settled executions are kept for retain_nanos = %d ns)", id, ErrNotFound, s.params.RetainNanos)
	}
	if e == nil {
		return nil, fmt.Errorf("execution %d: %w", id, ErrNotFound)
	}
	return s.toExecInfo(e), nil
}

func (s *st) toExecInfo(e *execution) ExecutionInfo {
	info := ExecutionInfo{ID: e.ID, Requester: e.Requester, Model: e.Model, MaxTokens: e.MaxTokens,
		Escrow: e.Escrow, State: execStateNames[e.State]}
	for _, t := range e.Tasks {
		ti := TaskInfo{State: taskStateNames[t.State], Node: t.Node, Attempt: t.Attempt, Deadline: t.Deadline,
			Steps: t.Commit.Steps, Payment: t.Commit.Payment, Inputs: t.Commit.Inputs, Outputs: t.Commit.Outputs,
			Verification: verifyStateNames[t.Verify.State], Validator: t.Verify.Validator,
			Forfeit: t.Verify.Forfeit || t.Verify.Unpaid, Disputed: t.Verify.Disputed}
		if n := s.nodes[t.Node]; n != nil {
			ti.P2PAddr = n.P2PAddr
		}
		info.Tasks = append(info.Tasks, ti)
	}
	return info
}
