package contract

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"sort"
	"strings"
	"testing"
)

// Test actors. Keys derive from their names so runs are reproducible.
var actorNames = []string{"auth", "dev", "user", "user2", "n1", "n2", "n3", "n4", "n5", "n6"}

func testKey(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("splitup-test-key/" + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

func testAddr(name string) Address {
	var a Address
	copy(a[:], testKey(name).Public().(ed25519.PublicKey))
	return a
}

const testChain = "splitup-test"

// testParams are DefaultParams with short block-time durations.
func testParams() Params {
	p := DefaultParams()
	p.HeartbeatNanos = 1 * Second
	p.UnbondingNanos = 20 * Second
	p.DeadlineBase = 5 * Second
	p.DeadlinePerCU = 0
	p.ChallengeNanos = 4 * Second
	return p
}

func testGenesis(p Params) Genesis {
	g := Genesis{ChainID: testChain, GenesisTimeUnixNano: 1_700_000_000 * Second, Params: p,
		Authorities: []Address{testAddr("auth")}}
	for _, n := range actorNames {
		g.Accounts = append(g.Accounts, Account{Address: testAddr(n), Balance: 100_000 * Token})
	}
	return g
}

// harness drives a State block by block. A block is always open: txs go
// into it, and next() ends it and begins the following one.
type harness struct {
	t      testing.TB
	s      *State
	nonces map[Address]uint64
	models map[string]*RegisterModel
	names  map[Address]string
	supply uint64
}

func newHarness(t testing.TB, p Params) *harness {
	s, err := NewState(testGenesis(p))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, s: s, nonces: map[Address]uint64{}, models: map[string]*RegisterModel{}, names: map[Address]string{}}
	for _, n := range actorNames {
		h.names[testAddr(n)] = n
	}
	h.names[PoolAddress] = "pool"
	h.supply = s.Supply()
	h.begin(Second)
	return h
}

func beaconAt(height int64) [32]byte { return sha256.Sum256([]byte(fmt.Sprintf("beacon/%d", height))) }

func (h *harness) begin(dt int64) []Event {
	hd := Header{ChainID: testChain, Height: h.s.Height() + 1, TimeUnixNano: h.s.header.TimeUnixNano + dt, Beacon: beaconAt(h.s.Height() + 1)}
	return h.s.BeginBlock(hd)
}

// next ends the open block and begins one dt later; it returns the events
// of EndBlock and of the new BeginBlock.
func (h *harness) next(dt int64) (end, begin []Event) {
	end = h.s.EndBlock()
	begin = h.begin(dt)
	h.checkInvariants()
	return end, begin
}

// checkInvariants fails unless the supply is unchanged and fits in uint64,
// and no single balance, stake or escrow exceeds it (a wrapped subtraction
// would).
func (h *harness) checkInvariants() {
	h.t.Helper()
	total, fits := h.s.supply()
	if !fits || total != h.supply {
		h.t.Fatalf("supply %d (fits %v), genesis %d, at height %d", total, fits, h.supply, h.s.Height())
	}
	for _, a := range sortedKeys(h.s.accounts, cmpAddr) {
		if h.s.accounts[a].Balance > total {
			h.t.Fatalf("balance of %s wrapped: %d", h.name(a), h.s.accounts[a].Balance)
		}
	}
	for _, a := range sortedKeys(h.s.nodes, cmpAddr) {
		if h.s.nodes[a].Stake > total {
			h.t.Fatalf("stake of %s wrapped", h.name(a))
		}
	}
	for _, id := range sortedKeys(h.s.execs, cmpU64) {
		if e := h.s.execs[id]; e.Escrow > total || (e.State == execSettled && e.Escrow != 0) {
			h.t.Fatalf("escrow of execution %d is %d in state %s", id, e.Escrow, execStateNames[e.State])
		}
	}
}

// signed builds and signs a tx from name with its next nonce.
func (h *harness) signed(name string, msg Msg) []byte {
	a := testAddr(name)
	tx := NewTx(testChain, h.nonces[a], 10, msg)
	tx.Sign(testKey(name))
	return EncodeTx(tx)
}

// deliver signs and delivers msg; it takes the local nonce from the state
// after (a message that failed used its nonce too).
func (h *harness) deliver(name string, msg Msg) TxResult {
	res := h.s.DeliverTx(h.signed(name, msg))
	if ac := h.s.accounts[testAddr(name)]; ac != nil {
		h.nonces[testAddr(name)] = ac.Nonce
	}
	return res
}

// must delivers msg and fails the test unless it succeeds.
func (h *harness) must(name string, msg Msg) TxResult {
	h.t.Helper()
	res := h.deliver(name, msg)
	if res.Code != CodeOK {
		h.t.Fatalf("%s %T: code %d: %s", name, msg, res.Code, res.Log)
	}
	return res
}

// chainModel builds a linear pipeline of n tasks: tokens → h0 → … → logits.
func chainModel(name string, n int, cu, vram uint64) *RegisterModel {
	m := &RegisterModel{Name: name, GraphHash: sha256.Sum256([]byte(name)),
		Inputs:  []TensorSpec{{Name: "tokens", Shape: []int64{-1}, DType: "i32"}},
		Outputs: []TensorSpec{{Name: "logits", Shape: []int64{-1, 64}, DType: "f32"}}}
	in := m.Inputs[0]
	for i := 0; i < n; i++ {
		out := TensorSpec{Name: fmt.Sprintf("h%d", i), Shape: []int64{-1, 64}, DType: "f32"}
		if i == n-1 {
			out = m.Outputs[0]
		}
		m.Tasks = append(m.Tasks, TaskSpec{Name: fmt.Sprintf("%s/%d", name, i), Inputs: []TensorSpec{in},
			Outputs: []TensorSpec{out}, VRAMBytes: vram, ComputeUnits: cu, Shards: []Hash{sha256.Sum256([]byte(out.Name))}})
		in = out
	}
	return m
}

// diamondModel: t0: tokens→a; t1: a→b; t2: a→c; t3: b,c→logits.
func diamondModel(name string, cu, vram uint64) *RegisterModel {
	f := func(n string) TensorSpec { return TensorSpec{Name: n, Shape: []int64{-1, 64}, DType: "f32"} }
	tok := TensorSpec{Name: "tokens", Shape: []int64{-1}, DType: "i32"}
	task := func(n string, ins []TensorSpec, out TensorSpec) TaskSpec {
		return TaskSpec{Name: n, Inputs: ins, Outputs: []TensorSpec{out}, VRAMBytes: vram, ComputeUnits: cu}
	}
	return &RegisterModel{Name: name, GraphHash: sha256.Sum256([]byte(name)),
		Inputs: []TensorSpec{tok}, Outputs: []TensorSpec{f("logits")},
		Tasks: []TaskSpec{task("t0", []TensorSpec{tok}, f("a")), task("t1", []TensorSpec{f("a")}, f("b")),
			task("t2", []TensorSpec{f("a")}, f("c")), task("t3", []TensorSpec{f("b"), f("c")}, f("logits"))}}
}

// roots gives deterministic Merkle roots for the named tensors of an
// execution; variant "honest" is what every honest party records.
func roots(specs []TensorSpec, exec uint64, variant string) []TensorRoot {
	out := make([]TensorRoot, len(specs))
	for i, s := range specs {
		out[i] = TensorRoot{Name: s.Name, Root: sha256.Sum256([]byte(fmt.Sprintf("%s/%d/%s", variant, exec, s.Name)))}
	}
	return out
}

// name renders an address as an actor name when known.
func (h *harness) name(a Address) string {
	if n, known := h.names[a]; known {
		return n
	}
	if a == (Address{}) {
		return "-"
	}
	return a.String()[:8]
}

// fmtEvent renders an event with addresses replaced by names.
func (h *harness) fmtEvent(e Event) string {
	var b strings.Builder
	b.WriteString(e.Type)
	for _, a := range e.Attrs {
		v := a.Value
		if len(v) == 64 {
			if addr, err := ParseAddress(v); err == nil {
				v = h.name(addr)
			}
			if len(v) == 64 {
				v = v[:8]
			}
		}
		if a.Key == "deadline" {
			v = h.relTime(v)
		}
		fmt.Fprintf(&b, " %s=%s", a.Key, v)
	}
	return b.String()
}

// relTime renders an absolute block time as seconds after genesis.
func (h *harness) relTime(v string) string {
	var ns int64
	fmt.Sscan(v, &ns)
	if ns == 0 {
		return "-"
	}
	rel := ns - testGenesis(testParams()).GenesisTimeUnixNano
	return fmt.Sprintf("%d.%03ds", rel/Second, rel%Second/1_000_000)
}

func sortedNames(m map[Address]string) []string {
	var out []string
	for _, n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
