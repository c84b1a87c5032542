package node

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/splitup/splitup/chain"
	"github.com/splitup/splitup/contract"
	"github.com/splitup/splitup/models"
	"github.com/splitup/splitup/p2p"
)

// SessionPrefix starts the pipeline session id of a chain execution:
// "exec/<id>".
const SessionPrefix = "exec/"

// SessionID returns the pipeline session id of execution id.
func SessionID(exec uint64) string { return SessionPrefix + strconv.FormatUint(exec, 10) }

// ParseSessionID returns the execution id of a session id.
func ParseSessionID(s string) (uint64, error) {
	rest, ok := strings.CutPrefix(s, SessionPrefix)
	if !ok {
		return 0, fmt.Errorf("session id %q does not name an execution (want %s<id>)", s, SessionPrefix)
	}
	return strconv.ParseUint(rest, 10, 64)
}

// Config configures a Daemon.
type Config struct {
	// Key is the node's ed25519 key: chain account and p2p identity.
	Key ed25519.PrivateKey
	// Chain reads state and sends txs.
	Chain chain.Client
	// Host is the node's p2p host (its peer id must derive from Key).
	Host *p2p.Host
	// Store holds shards and session records.
	Store *p2p.BlobStore
	// Threads per task run (default 1).
	Threads int
	// Heartbeat is the heartbeat interval (default 1 s).
	Heartbeat time.Duration
	// Peers are extra p2p addresses to fetch shards from (e.g. the deployer).
	Peers []string
	// Fault injects misbehaviour (tests only); nil for an honest node.
	Fault *Fault
	// RecordTimeout bounds a validator's wait for an asserter's record
	// (default 10 s); an asserter that does not answer in time is judged a cheat.
	RecordTimeout time.Duration
	// Progress receives shard download progress lines (may be nil).
	Progress io.Writer
	// Log receives diagnostics (default: discard).
	Log *slog.Logger
}

// Validate checks required fields and fills defaults.
func (c *Config) Validate() error {
	switch {
	case len(c.Key) != ed25519.PrivateKeySize:
		return errors.New("node: Key must be an ed25519 private key")
	case c.Chain == nil || c.Host == nil || c.Store == nil:
		return errors.New("node: Chain, Host and Store are required")
	}
	if c.Threads <= 0 {
		c.Threads = 1
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = time.Second
	}
	if c.RecordTimeout <= 0 {
		c.RecordTimeout = 10 * time.Second
	}
	if c.Log == nil {
		c.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	return nil
}

// Daemon is a running worker node: it fetches and preloads the shards of the
// tasks it specialises in, heartbeats, serves pipeline sessions the chain
// assigned to it, and commits each session's roots.
type Daemon struct {
	cfg    Config
	addr   contract.Address
	signer *chain.Signer
	worker *Worker

	mu      sync.Mutex // guards records and stats
	records map[execTask]heldRecord
	stats   Stats
}

// Stats counts a node's work, for measuring verification overhead.
type Stats struct {
	// Sessions served and committed.
	Sessions int
	// Steps run for sessions (rows), and the compute time they took.
	Rows         int
	StepsCompute time.Duration
	// Verifications run, their rows and compute time, and mismatches found.
	Verifications int
	VerifyRows    int
	VerifyCompute time.Duration
	Mismatches    int
	// Records held now (until their tasks settle), and records let go.
	Records, Pruned int
}

// execTask names task Task of execution Exec.
type execTask struct {
	Exec uint64
	Task uint32
}

// heldRecord is a session's record, kept from its commit until its task
// settles on chain.
type heldRecord struct {
	rec *Record
	at  time.Time // when the session ended
}

// NewDaemon checks the node's registration and prepares its worker.
func NewDaemon(ctx context.Context, cfg Config) (*Daemon, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s, err := chain.NewSigner(ctx, cfg.Chain, cfg.Key)
	if err != nil {
		return nil, fmt.Errorf("node: connect to the chain: %w", err)
	}
	d := &Daemon{cfg: cfg, addr: chain.AddressOf(cfg.Key), signer: s, records: map[execTask]heldRecord{}}
	d.worker = NewWorker(WorkerConfig{Threads: cfg.Threads, Authorize: d.authorize, OnSessionEnd: d.commit, Records: d.Record, Fault: cfg.Fault, Log: cfg.Log})
	return d, nil
}

// Address is the node's account.
func (d *Daemon) Address() contract.Address { return d.addr }

// Worker returns the daemon's pipeline worker.
func (d *Daemon) Worker() *Worker { return d.worker }

// Info reads the node's registry entry.
func (d *Daemon) Info(ctx context.Context) (*contract.NodeInfo, error) {
	raw, err := d.cfg.Chain.Query(ctx, "node/"+d.addr.String(), nil)
	if err != nil {
		if chain.IsNotFound(err) {
			return nil, fmt.Errorf("node %s is not registered: run splitup-node register first", d.addr)
		}
		return nil, err
	}
	var n contract.NodeInfo
	if err := json.Unmarshal(raw, &n); err != nil {
		return nil, fmt.Errorf("read node entry: %w", err)
	}
	return &n, nil
}

// Run loads the node's tasks, serves sessions and heartbeats until ctx ends.
func (d *Daemon) Run(ctx context.Context) error {
	info, err := d.Info(ctx)
	if err != nil {
		return err
	}
	if len(info.Tasks) == 0 {
		return errors.New("node specialises in no task: run splitup-node specialize first")
	}
	d.cfg.Host.ServeBlobs(d.cfg.Store)
	if err := d.heartbeat(ctx); err != nil { // be online before announcing readiness
		return err
	}
	for _, t := range info.Tasks {
		if err := d.loadTask(ctx, t); err != nil {
			return err
		}
	}
	d.cfg.Host.SetPipelineHandler(d.worker.Serve)
	go d.watchVerifications(ctx)
	go d.pruneRecords(ctx, d.challengeWindow(ctx))
	d.cfg.Log.Info("node ready", "address", d.addr.String(), "tasks", len(info.Tasks), "p2p", d.cfg.Host.Addrs())
	tick := time.NewTicker(d.cfg.Heartbeat)
	defer tick.Stop()
	var beat []byte // the last periodic heartbeat, not yet seen in a block
	for {
		select {
		case <-ctx.Done():
			d.cfg.Host.SetPipelineHandler(nil)
			d.worker.Close()
			st := d.Stats()
			d.cfg.Log.Info("node stats", "sessions", st.Sessions, "rows", st.Rows, "steps_compute_us", st.StepsCompute.Microseconds(),
				"verifications", st.Verifications, "verify_rows", st.VerifyRows, "verify_compute_us", st.VerifyCompute.Microseconds(), "mismatches", st.Mismatches,
				"records", st.Records, "records_pruned", st.Pruned)
			return nil
		case <-tick.C:
			var err error
			if beat, err = d.beat(ctx, beat); err != nil && ctx.Err() == nil {
				d.cfg.Log.Warn("heartbeat failed", "err", err)
			}
		}
	}
}

func (d *Daemon) heartbeat(ctx context.Context) error {
	_, err := d.signer.Send(ctx, &contract.Heartbeat{})
	return err
}

// beat sends a periodic heartbeat without waiting for its block, which
// spares the chain's RPC the polling of a wait. It first reads the outcome
// of the previous one (prev, committed blocks ago when the interval is
// longer than the block time, so one query finds it), giving up on it after
// one interval. A failed heartbeat makes the signer re-read its nonce (in
// Wait); one not yet in a block does not, as it may still be pending: the
// committed nonce would then sign a clash with it and with every tx sent
// after it. (One lost for good shows as the next one's failure, for a gap
// in the nonces, an interval later.) It returns the new heartbeat's hash.
func (d *Daemon) beat(ctx context.Context, prev []byte) ([]byte, error) {
	if prev != nil {
		wctx, cancel := context.WithTimeout(ctx, d.cfg.Heartbeat)
		_, err := d.signer.Wait(wctx, prev)
		cancel()
		if err != nil && ctx.Err() == nil {
			d.cfg.Log.Warn("heartbeat failed", "err", err)
		}
	}
	return d.signer.Submit(ctx, &contract.Heartbeat{})
}

func (d *Daemon) model(ctx context.Context, id contract.Hash) (*contract.ModelInfo, error) {
	raw, err := d.cfg.Chain.Query(ctx, "model/"+id.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("read model %s: %w", id, err)
	}
	var m contract.ModelInfo
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("read model %s: %w", id, err)
	}
	return &m, nil
}

// loadTask fetches the task's shard if needed and preloads it.
func (d *Daemon) loadTask(ctx context.Context, ref contract.TaskRef) error {
	m, err := d.model(ctx, ref.Model)
	if err != nil {
		return err
	}
	if int(ref.Task) >= len(m.Tasks) || len(m.Tasks[ref.Task].Shards) != 1 {
		return fmt.Errorf("model %s task %d: want exactly one shard", ref.Model, ref.Task)
	}
	h := p2p.Hash(m.Tasks[ref.Task].Shards[0])
	if !d.cfg.Store.Has(h) {
		// A shard holds the task's weights and graph, which its VRAM need
		// covers: a peer offering far more is not sending this shard.
		limit := int64(min(m.Tasks[ref.Task].VRAMBytes, 1<<60))*2 + 64<<20
		if err := d.fetch(ctx, h, limit); err != nil {
			return fmt.Errorf("fetch shard of task %d: %w", ref.Task, err)
		}
	}
	if err := d.cfg.Store.Pin(h); err != nil {
		return fmt.Errorf("keep the shard of task %d: %w", ref.Task, err)
	}
	path := d.cfg.Store.Path(h)
	// Mapped, not read: the worker copies the weights into the kernels'
	// memory, and the file's pages stay in the page cache meanwhile rather
	// than in a second, anonymous copy.
	b, release, err := models.MapFile(path)
	if err != nil {
		return fmt.Errorf("read the shard of task %d: %w", ref.Task, err)
	}
	err = d.worker.Load(TaskKey{Model: ref.Model, Task: ref.Task}, b)
	size := len(b)
	release()
	if err != nil {
		return fmt.Errorf("load task %d of model %s from shard %s: %w\nif that file is damaged, delete it and start the node again: it fetches the shard anew", ref.Task, ref.Model.String()[:12], path, err)
	}
	fmt.Fprintf(d.cfg.Progress, "task %d of model %s loaded (%d bytes)\n", ref.Task, ref.Model.String()[:12], size)
	// The fetch buffers are garbage now, but the heap grew to hold them and
	// the runtime would keep that memory mapped until the next collections:
	// hand it back, so a node's resident size is its weights.
	debug.FreeOSMemory()
	return nil
}

// fetch downloads blob h, of at most limit bytes, from the configured
// peers or any registered node.
func (d *Daemon) fetch(ctx context.Context, h p2p.Hash, limit int64) error {
	peers := append([]string(nil), d.cfg.Peers...)
	if raw, err := d.cfg.Chain.Query(ctx, "nodes", nil); err == nil {
		var ns []contract.NodeInfo
		if json.Unmarshal(raw, &ns) == nil {
			for _, n := range ns {
				if n.Address != d.addr && n.P2PAddr != "" {
					peers = append(peers, n.P2PAddr)
				}
			}
		}
	}
	var errs []error
	for _, a := range peers {
		pid, err := d.cfg.Host.Connect(ctx, a)
		if err == nil {
			last := time.Time{}
			_, err = d.cfg.Host.FetchUpTo(ctx, pid, h, d.cfg.Store, limit, func(done, total int64) {
				if time.Since(last) > 500*time.Millisecond || done == total {
					last = time.Now()
					fmt.Fprintf(d.cfg.Progress, "shard %s: %d/%d bytes\n", h.String()[:12], done, total)
				}
			})
		}
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return errors.New("no peer to fetch from: pass --peer with the deployer's address")
	}
	return errors.Join(errs...)
}

// execution reads execution id.
func (d *Daemon) execution(ctx context.Context, id uint64) (*contract.ExecutionInfo, error) {
	raw, err := d.cfg.Chain.Query(ctx, "execution/"+strconv.FormatUint(id, 10), nil)
	if err != nil {
		return nil, err
	}
	var e contract.ExecutionInfo
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// authorize lets a session run only a task the chain assigned to this
// node, for the execution's requester, and until shortly before the
// task's deadline, so that its commitment still lands in time.
func (d *Daemon) authorize(ctx context.Context, client p2p.PeerID, sessionID string, key TaskKey) (time.Time, error) {
	id, err := ParseSessionID(sessionID)
	if err != nil {
		return time.Time{}, err
	}
	e, err := d.execution(ctx, id)
	if err != nil {
		return time.Time{}, err
	}
	if e.Model != contract.Hash(key.Model) || int(key.Task) >= len(e.Tasks) {
		return time.Time{}, fmt.Errorf("execution %d is not for this model or has no task %d", id, key.Task)
	}
	t := e.Tasks[key.Task]
	if t.Node != d.addr || t.State != "running" {
		return time.Time{}, fmt.Errorf("task %d of execution %d is %s on node %s", key.Task, id, t.State, t.Node)
	}
	// Only who pays for the execution runs it: its requester's key is the
	// client's peer key.
	pub, err := p2p.PublicKeyOf(client)
	if err != nil || contract.Address(pub) != e.Requester {
		return time.Time{}, fmt.Errorf("execution %d was requested by %s, not by peer %s", id, e.Requester, client)
	}
	return sessionUntil(time.Now(), time.Unix(0, t.Deadline), max(minCommitMargin, d.cfg.Heartbeat)), nil
}

// minCommitMargin is the least time before its task's deadline a session
// ends, for its commitment to reach a block; a node allows one heartbeat
// interval if that is longer (its txs are expected within one).
const minCommitMargin = 5 * time.Second

// sessionUntil is when a session opened at now for a task due at deadline
// ends: margin before the deadline, or halfway there when the deadline is
// closer than twice the margin.
func sessionUntil(now, deadline time.Time, margin time.Duration) time.Time {
	left := deadline.Sub(now)
	if left < 2*margin {
		return now.Add(max(left/2, 0))
	}
	return deadline.Add(-margin)
}

// commit sends the session's roots on chain and keeps its record.
func (d *Daemon) commit(e SessionEnd) {
	id, err := ParseSessionID(e.SessionID)
	if err != nil {
		return
	}
	d.mu.Lock()
	d.records[execTask{id, e.Key.Task}] = heldRecord{rec: e.Record, at: time.Now()}
	d.stats.Sessions++
	d.stats.Rows += len(e.Record.Rows(e.Inputs[0].Name))
	d.stats.StepsCompute += e.Compute
	d.mu.Unlock()
	d.cfg.Log.Info("session done", "exec", id, "task", e.Key.Task, "steps", e.Steps, "compute_us", e.Compute.Microseconds(), "relayed", e.Relayed)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := d.model(ctx, contract.Hash(e.Key.Model))
	if err != nil || int(e.Key.Task) >= len(m.Tasks) {
		d.cfg.Log.Warn("commit result: model unreadable", "exec", id, "err", err)
		return
	}
	spec := &m.Tasks[e.Key.Task]
	msg := &contract.CommitResult{Exec: id, Task: e.Key.Task, Steps: uint32(len(e.Record.Rows(e.Inputs[0].Name)))}
	msg.Inputs = ordered(spec.Inputs, e.Inputs)
	msg.Outputs = ordered(spec.Outputs, e.Outputs)
	if err := d.send(ctx, msg); err != nil {
		d.cfg.Log.Warn("commit result failed", "exec", id, "task", e.Key.Task, "err", err)
		return
	}
	d.cfg.Log.Info("committed", "exec", id, "task", e.Key.Task, "steps", msg.Steps)
}

// Record returns the record of a task of an execution, if this node ran it.
func (d *Daemon) Record(exec uint64, task uint32) *Record {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.records[execTask{exec, task}].rec
}

// challengeWindow reads the chain's challenge window; a node that cannot
// read it checks its records from the start.
func (d *Daemon) challengeWindow(ctx context.Context) time.Duration {
	raw, err := d.cfg.Chain.Query(ctx, "params", nil)
	var p contract.Params
	if err != nil || json.Unmarshal(raw, &p) != nil {
		return 0
	}
	return time.Duration(p.ChallengeNanos)
}

// recordSweepBeats is how many heartbeat intervals apart a node looks for
// records it may let go.
const recordSweepBeats = 2

// pruneRecords lets go of the records of tasks the chain has settled
// (paid out or forfeited, after the challenge window and any
// verification), cancelled, or given to another node, and of executions
// that are over or gone: nobody will ask for them again. Only records older
// than the challenge window are looked up, as no task settles sooner.
func (d *Daemon) pruneRecords(ctx context.Context, window time.Duration) {
	tick := time.NewTicker(recordSweepBeats * d.cfg.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		d.mu.Lock()
		due := map[uint64][]uint32{} // tasks by execution
		for k, r := range d.records {
			if time.Since(r.at) >= window {
				due[k.Exec] = append(due[k.Exec], k.Task)
			}
		}
		d.mu.Unlock()
		pruned := 0
		for exec, tasks := range due {
			e, err := d.execution(ctx, exec)
			if err != nil && !chain.IsNotFound(err) {
				continue // ask again next time
			}
			d.mu.Lock()
			for _, task := range tasks {
				k := execTask{exec, task}
				if _, ok := d.records[k]; ok && (e == nil || recordDone(e, task, d.addr)) {
					delete(d.records, k)
					d.stats.Pruned++
					pruned++
				}
			}
			d.mu.Unlock()
		}
		if pruned > 0 {
			d.mu.Lock()
			held := len(d.records)
			d.mu.Unlock()
			d.cfg.Log.Info("records let go", "count", pruned, "held", held)
		}
	}
}

// recordDone reports whether node self's record of task of e is no longer
// needed: the task settled or was cancelled, or it is another node's now.
// Only the task's state counts: a task committed before its execution was
// cancelled or failed is still settled later, after the challenge window
// and any verification, which fetches this record.
func recordDone(e *contract.ExecutionInfo, task uint32, self contract.Address) bool {
	if int(task) >= len(e.Tasks) {
		return true
	}
	t := e.Tasks[task]
	return t.State == "settled" || t.State == "cancelled" || t.Node != self
}

// ordered lists roots in the order of the task's registered interface.
func ordered(spec []contract.TensorSpec, roots []NamedRoot) []contract.TensorRoot {
	out := make([]contract.TensorRoot, 0, len(spec))
	for _, t := range spec {
		for _, r := range roots {
			if r.Name == t.Name {
				out = append(out, contract.TensorRoot{Name: r.Name, Root: r.Root})
			}
		}
	}
	return out
}

// nodeInfo reads a node's registry entry.
func (d *Daemon) nodeInfo(ctx context.Context, a contract.Address) (*contract.NodeInfo, error) {
	raw, err := d.cfg.Chain.Query(ctx, "node/"+a.String(), nil)
	if err != nil {
		return nil, err
	}
	var n contract.NodeInfo
	if err := json.Unmarshal(raw, &n); err != nil {
		return nil, err
	}
	return &n, nil
}

// Stats returns the node's counters.
func (d *Daemon) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.stats
	st.Records = len(d.records)
	return st
}

func (d *Daemon) noteVerification(v *Verdict) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stats.Verifications++
	d.stats.VerifyRows += v.Rows
	d.stats.VerifyCompute += v.Compute
	if !v.Match {
		d.stats.Mismatches++
	}
}

// verifyPollBeats is how many heartbeat intervals apart a node asks the
// chain for the verification requests waiting for it.
const verifyPollBeats = 2

// verifyReq is a verification request for this node: a task of an
// execution, run by Asserter.
type verifyReq struct {
	execTask
	Asserter string
}

// verifyDone is the end of a verification's run: ok if its verdict was
// sent.
type verifyDone struct {
	k  execTask
	ok bool
}

// watchVerifications runs each verification the chain draws this node for.
// It learns of them from the chain's events and, since an event can be
// missed (the watch failed or was reconnecting, or the node was still
// loading its tasks when it was drawn), also by asking the chain for the
// requests waiting for it every verifyPollBeats heartbeats. Each request
// runs once; one whose run failed is tried again while it is open.
func (d *Daemon) watchVerifications(ctx context.Context) {
	me := d.addr.String()
	events := make(chan verifyReq, 16)
	if d.cfg.Fault == nil || !d.cfg.Fault.Deaf {
		go d.watchVerifyEvents(ctx, me, events)
	}
	handled := map[execTask]bool{} // started; true while running
	finished := make(chan verifyDone, 16)
	start := func(r verifyReq) {
		k := r.execTask
		if _, seen := handled[k]; seen {
			return
		}
		handled[k] = true
		go func() {
			err := d.verify(ctx, r.Exec, r.Task, r.Asserter)
			if err != nil && ctx.Err() == nil {
				d.cfg.Log.Warn("verification failed", "exec", r.Exec, "task", r.Task, "err", err)
			}
			select {
			case finished <- verifyDone{k, err == nil}:
			case <-ctx.Done():
			}
		}()
	}
	poll := func() {
		open, err := d.openVerifications(ctx)
		if err != nil {
			if ctx.Err() == nil {
				d.cfg.Log.Warn("cannot list verification requests", "err", err)
			}
			return
		}
		listed := map[execTask]bool{}
		for _, r := range open {
			listed[r.execTask] = true
			start(r)
		}
		for k, running := range handled {
			if !running && !listed[k] {
				delete(handled, k) // answered, or gone to another validator
			}
		}
	}
	tick := time.NewTicker(verifyPollBeats * d.cfg.Heartbeat)
	defer tick.Stop()
	poll()
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-events:
			start(r)
		case f := <-finished:
			if f.ok {
				handled[f.k] = false
			} else {
				delete(handled, f.k) // to be tried again while the chain lists it
			}
		case <-tick.C:
			poll()
		}
	}
}

// watchVerifyEvents passes on the chain's events of verification requests
// for validator me, watching again (with a growing pause) whenever the
// watch cannot start or ends before ctx.
func (d *Daemon) watchVerifyEvents(ctx context.Context, me string, out chan<- verifyReq) {
	pause := time.Second
	for ctx.Err() == nil {
		evs, err := d.cfg.Chain.Watch(ctx, contract.EventVerificationRequested, "validator", me)
		if err != nil {
			d.cfg.Log.Warn("cannot watch verification requests", "err", err, "retry_in", pause)
			select {
			case <-ctx.Done():
				return
			case <-time.After(pause):
			}
			pause = min(2*pause, 30*time.Second)
			continue
		}
		pause = time.Second
		for ev := range evs {
			if ev.Attr("validator") != me {
				continue
			}
			execID, err1 := strconv.ParseUint(ev.Attr("exec"), 10, 64)
			task, err2 := strconv.ParseUint(ev.Attr("task"), 10, 32)
			if err1 != nil || err2 != nil {
				continue
			}
			select {
			case out <- verifyReq{execTask: execTask{execID, uint32(task)}, Asserter: ev.Attr("asserter")}:
			case <-ctx.Done():
				return
			}
		}
	}
}

// openVerifications asks the chain for the verification requests waiting
// for this node.
func (d *Daemon) openVerifications(ctx context.Context) ([]verifyReq, error) {
	raw, err := d.cfg.Chain.Query(ctx, "verifications/"+d.addr.String(), nil)
	if err != nil {
		return nil, err
	}
	var vs []contract.VerificationInfo
	if err := json.Unmarshal(raw, &vs); err != nil {
		return nil, fmt.Errorf("read verification requests: %w", err)
	}
	out := make([]verifyReq, len(vs))
	for i, v := range vs {
		out[i] = verifyReq{execTask: execTask{v.Exec, v.Task}, Asserter: v.Asserter.String()}
	}
	return out, nil
}

// send sends a tx that must not be lost (a commitment, a verdict): a tx
// refused for a nonce clash (another tx of this account got there first) is
// re-signed with a fresh nonce and sent again.
func (d *Daemon) send(ctx context.Context, msg contract.Msg) error {
	var err error
	for try := 0; try < 5; try++ {
		if _, err = d.signer.Send(ctx, msg); err == nil {
			return nil
		}
		var te *chain.TxError
		if !errors.As(err, &te) || (te.Code != contract.CodeReplayedNonce && te.Code != contract.CodeFutureNonce) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(try+1) * 100 * time.Millisecond):
		}
	}
	return err
}
