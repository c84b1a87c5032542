package contract

import "crypto/ed25519"

// This file is the surface that the chain adapter, the CLIs, the nodes and
// the gateway use; Params are in params.go and the JSON answers of Query in
// query.go. Everything else in the package is implementation.

// Header is what the chain adapter passes to BeginBlock for each block.
type Header struct {
	// ChainID must equal the genesis chain id.
	ChainID string
	// Height is the block height; it must be the previous height + 1.
	Height int64
	// TimeUnixNano is the block time (BFT time) in nanoseconds since the
	// Unix epoch. All contract deadlines are measured in this clock.
	TimeUnixNano int64
	// Beacon is the VRF output of this block's proposer; the chain verifies
	// the proof before it reaches the contract. Assignments and verification
	// draws read the beacon of a block after the one that created the work.
	Beacon [32]byte
}

// Attr is one key/value attribute of an Event.
type Attr struct{ Key, Value string }

// Event is an effect of a block or tx that the caller may index or act on.
// Types are the Event* constants.
type Event struct {
	Type  string
	Attrs []Attr
}

// TxResult is the deterministic outcome of CheckTx or DeliverTx.
type TxResult struct {
	// Code is CodeOK (0) or one of the Code* constants.
	Code uint32
	// Log is deterministic text explaining a failure (empty on success).
	Log string
	// Events are emitted only by successful DeliverTx calls.
	Events []Event
}

// IsOK reports whether the result code is CodeOK.
func (r TxResult) IsOK() bool { return r.Code == CodeOK }

// Result codes. The numeric values are recorded in blocks and never change.
const (
	CodeOK              uint32 = 0  // success
	CodeDecode          uint32 = 1  // bytes are not a canonical tx encoding
	CodeBadSignature    uint32 = 2  // signature does not verify for the signer
	CodeWrongChainID    uint32 = 3  // tx signed for another chain
	CodeReplayedNonce   uint32 = 4  // nonce already used by the signer
	CodeFutureNonce     uint32 = 5  // nonce ahead of the signer's next nonce (DeliverTx)
	CodeInsufficientFee uint32 = 6  // fee below Params.MinTxFee
	CodeInsufficient    uint32 = 7  // balance or stake too small for the operation
	CodeOverflow        uint32 = 8  // an amount would overflow uint64
	CodeInvalidMsg      uint32 = 9  // message fields fail validation
	CodeNotFound        uint32 = 10 // referenced model, node, execution or task unknown
	CodeExists          uint32 = 11 // model or node already registered
	CodeUnauthorized    uint32 = 12 // signer may not perform this action
	CodeBadState        uint32 = 13 // object is not in a state that allows this action
	CodeInvalidDAG      uint32 = 14 // model task DAG is malformed
	CodeStakeTooLow     uint32 = 15 // stake below base + perGiB × VRAM
	CodeCustody         uint32 = 16 // no longer returned: a commitment that breaks the chain of custody is disputed (EventCustodyBroken)
	CodeBadParams       uint32 = 17 // parameters fail validation or the PoSP rule
	CodeBadSigner       uint32 = 18 // signer is a reserved address
)

// Event types.
const (
	EventTransfer              = "Transfer"
	EventModelRegistered       = "ModelRegistered"
	EventNodeRegistered        = "NodeRegistered"
	EventNodeOffline           = "NodeOffline"
	EventNodeOnline            = "NodeOnline"
	EventStakeReleased         = "StakeReleased"
	EventExecutionRequested    = "ExecutionRequested"
	EventTaskAssigned          = "TaskAssigned"
	EventTaskFailed            = "TaskFailed"
	EventTaskCommitted         = "TaskCommitted"
	EventCustodyBroken         = "CustodyBroken"
	EventExecutionCompleted    = "ExecutionCompleted"
	EventExecutionCancelled    = "ExecutionCancelled"
	EventExecutionFailed       = "ExecutionFailed"
	EventVerificationRequested = "VerificationRequested"
	EventVerificationResult    = "VerificationResult"
	EventSlashed               = "Slashed"
	EventTaskSettled           = "TaskSettled"
	EventSettled               = "Settled"
	EventParamsChanged         = "ParamsChanged"
)

// Address is an account: an ed25519 public key. Its text form is lower-case hex.
type Address [32]byte

// Hash is a SHA-256 digest (graph hashes, shard hashes, Merkle roots, model ids).
// Its text form is lower-case hex.
type Hash [32]byte

// Account is a genesis balance.
type Account struct {
	Address Address `json:"address"`
	Balance uint64  `json:"balance"` // base units
}

// Genesis is the initial state. It is JSON-serialisable.
type Genesis struct {
	ChainID string `json:"chain_id"`
	// GenesisTimeUnixNano is the time of height 0 (nanoseconds since the epoch).
	GenesisTimeUnixNano int64     `json:"genesis_time_unix_nano"`
	Params              Params    `json:"params"`
	Accounts            []Account `json:"accounts"`
	// Authorities may sign SetParams (governance).
	Authorities []Address `json:"authorities"`
}

// Validate checks the genesis document, including the PoSP rule on Params.
func (g *Genesis) Validate() error { return g.validate() }

// State is the replicated state machine. It is not safe for concurrent use:
// the caller serialises all calls (CheckTx included).
type State struct{ st }

// NewState builds height-0 state from a genesis document. It refuses
// genesis documents that fail Validate (params that fail the PoSP rule included).
func NewState(g Genesis) (*State, error) { return newState(g) }

// LoadState decodes the bytes produced by Snapshot. The decoder is bounded:
// it never allocates more than a small multiple of len(snapshot).
func LoadState(snapshot []byte) (*State, error) { return loadState(snapshot) }

// Snapshot returns the canonical, deterministic encoding of the whole state.
func (s *State) Snapshot() []byte { return s.snapshot() }

// AppHash is the SHA-256 of Snapshot; identical on every replica after the same blocks.
func (s *State) AppHash() [32]byte { return s.appHash() }

// Height is the height of the last block begun (0 at genesis).
func (s *State) Height() int64 { return s.height }

// CheckTx validates raw for the mempool without changing state: decoding,
// signature, chain id, nonce not replayed (nonces ahead are allowed so that a
// sender may queue several), fee and balance sanity.
func (s *State) CheckTx(raw []byte) TxResult { return s.checkTx(raw) }

// BeginBlock starts block h and releases matured unbonding stake.
// h.Height must be Height()+1 and h.ChainID the genesis chain id; anything
// else is a caller bug and panics. A time before the previous block's (or the
// genesis time) is taken as that time.
func (s *State) BeginBlock(h Header) []Event { return s.beginBlock(h) }

// DeliverTx validates raw fully against the current state, then applies it.
// A tx that fails the checks CheckTx also makes (encoding, chain id,
// signature, nonce, fee) changes nothing; one whose message then fails
// pays its fee and uses its nonce, and changes nothing else.
func (s *State) DeliverTx(raw []byte) TxResult { return s.deliverTx(raw) }

// EndBlock runs the block-time work: heartbeat expiry, task deadlines and
// reassignment, assignment of new requests, verification draws, validator
// timeouts and settlement after the challenge window. Work created in this
// block is only drawn/assigned in a later block.
func (s *State) EndBlock() []Event { return s.endBlock() }

// Query answers read-only JSON queries. Paths: "params", "supply", "nodes",
// "node/<addr>", "models", "model/<id>", "executions", "execution/<id>",
// "account/<addr>". data is unused. Errors wrap ErrNotFound or ErrBadQuery.
// The answers are the *Info types of query.go.
func (s *State) Query(path string, data []byte) ([]byte, error) { return s.query(path) }

// Supply is the total of all balances (the pool included), stakes, unbonding
// stake and escrows. It never changes after genesis.
func (s *State) Supply() uint64 {
	v, _ := s.supply()
	return v
}

// Tx is a signed transaction. Build one with NewTx, sign it with Sign,
// and encode it with EncodeTx.
type Tx struct {
	ChainID   string
	Nonce     uint64 // the signer's next nonce (0 for a new account)
	Fee       uint64 // base units, paid to the pool; at least Params.MinTxFee
	Signer    Address
	Msg       Msg
	Signature [64]byte
}

// NewTx returns an unsigned tx.
func NewTx(chainID string, nonce uint64, fee uint64, msg Msg) *Tx {
	return &Tx{ChainID: chainID, Nonce: nonce, Fee: fee, Msg: msg}
}

// Sign sets Signer to priv's public key and signs the tx's canonical sign bytes.
func (t *Tx) Sign(priv ed25519.PrivateKey) {
	copy(t.Signer[:], priv.Public().(ed25519.PublicKey))
	copy(t.Signature[:], ed25519.Sign(priv, t.signBytes()))
}

// Hash is the SHA-256 of the encoded tx.
func (t *Tx) Hash() Hash { return sha(EncodeTx(t)) }

// EncodeTx returns the canonical encoding: magic "SUTX", version, fields, signature.
func EncodeTx(t *Tx) []byte { return t.encode(true) }

// DecodeTx decodes a canonical encoding; it rejects trailing or non-canonical
// bytes and bounds every length before allocating. DecodeTx(b) re-encodes to b.
func DecodeTx(b []byte) (*Tx, error) { return decodeTx(b) }

// Msg is the closed set of messages: *Transfer, *RegisterModel, *RegisterNode,
// *Stake, *Unstake, *Specialize, *Heartbeat, *RequestExecution,
// *CancelExecution, *CommitResult, *ReportFailure, *SubmitVerification, *SetParams.
type Msg interface {
	msgType() byte
	encodeMsg(e *encoder)
}

// Transfer moves Amount base units from the signer to To.
type Transfer struct {
	To     Address
	Amount uint64
}

// TensorSpec is a tensor interface of a task or model.
type TensorSpec struct {
	Name  string  `json:"name"`
	Shape []int64 `json:"shape"` // dims ≥ 1, or -1 for a dynamic dim
	DType string  `json:"dtype"` // "f32", "f16", "bf16", "q8_0", "q4_0", "i32"
}

// TaskSpec is one task of a model: a subgraph that fits one node.
type TaskSpec struct {
	Name         string       `json:"name"`
	Inputs       []TensorSpec `json:"inputs"`
	Outputs      []TensorSpec `json:"outputs"`
	VRAMBytes    uint64       `json:"vram_bytes"`    // weights + KV cache + peak activations
	ComputeUnits uint64       `json:"compute_units"` // per decoding step; sets price and deadline
	Shards       []Hash       `json:"shards"`        // SHA-256 of the task's weight shards
}

// RegisterModel registers an immutable model. Its id is the SHA-256 of the
// message encoding (ModelID). Inputs are fed by the gateway; Outputs are
// returned to it; every task input is produced by exactly one task output or
// model input, and the task DAG is acyclic.
type RegisterModel struct {
	Name      string
	GraphHash Hash
	Inputs    []TensorSpec
	Outputs   []TensorSpec
	Tasks     []TaskSpec
}

// ModelID returns the id the chain gives the model.
func (m *RegisterModel) ModelID() Hash { return modelID(m) }

// RegisterNode registers the signer as a worker node and bonds Stake.
type RegisterNode struct {
	VRAMBytes uint64   // declared VRAM; stake ≥ base + perGiB × ceil(VRAM in GiB)
	Backends  []string // e.g. "cpu", "cuda"
	P2PAddr   string   // multiaddr
	Stake     uint64   // base units moved from balance to stake
}

// Stake bonds more of the signer's balance to its node.
type Stake struct{ Amount uint64 }

// Unstake starts unbonding Amount; it returns to the balance after
// Params.UnbondingNanos of block time, and not while a verification that
// may slash the node (of its commitment, or one it took part in as a
// validator) is unresolved. Unbonding stake can still be slashed.
type Unstake struct{ Amount uint64 }

// TaskRef names one task of one model.
type TaskRef struct {
	Model Hash   `json:"model"`
	Task  uint32 `json:"task"` // index into the model's Tasks
}

// Specialize replaces the signer node's task set. The summed VRAM of the tasks
// must fit the declared VRAM and the stake is re-checked.
type Specialize struct{ Tasks []TaskRef }

// Heartbeat marks the signer node live at the block time.
type Heartbeat struct{}

// RequestExecution asks for one session of a model. MaxFee is escrowed; it
// must cover Σ task price (PricePerCU × CU × MaxTokens) plus the verification
// surcharge. The unused part is refunded at settlement.
type RequestExecution struct {
	Model     Hash
	MaxFee    uint64
	MaxTokens uint32
}

// CancelExecution stops an execution (requester only). Committed tasks still
// settle; the rest of the escrow is refunded.
type CancelExecution struct{ Exec uint64 }

// TensorRoot is the Merkle root of one named tensor's recorded frames over all steps.
type TensorRoot struct {
	Name string `json:"name"`
	Root Hash   `json:"root"`
}

// CommitResult is the assigned node's commitment for a task: one root per
// task input and output, in the order of the TaskSpec.
type CommitResult struct {
	Exec    uint64
	Task    uint32
	Steps   uint32 // decoding steps performed (1..MaxTokens); sets the payment
	Inputs  []TensorRoot
	Outputs []TensorRoot
}

// ReportFailure reports that a task's node failed (signed by the
// execution's requester only). The task is reassigned, the node blacklisted.
type ReportFailure struct {
	Exec   uint64
	Task   uint32
	Reason string
}

// SubmitVerification is a drawn validator's recomputation of a task.
// It agrees with the asserter when Outputs equal the committed outputs or
// Match is set (equal within the dtype tolerance, judged off-chain).
type SubmitVerification struct {
	Exec    uint64
	Task    uint32
	Outputs []TensorRoot
	Match   bool
}

// SetParams replaces the parameters (signed by a genesis authority).
type SetParams struct{ Params Params }
