package sim

import "math/rand/v2"

// role is what a node does besides asserting its own tasks.
type role uint8

const (
	honest   role = iota
	cheater       // a rational cheater (as an asserter)
	colluder      // a validator that approves cheaters' wrong outputs
)

// node is one agent: its role, its ledger and, for a cheater, its belief.
type node struct {
	role role
	// earned is what asserting earned: payments − compute − slashes.
	earned float64
	tasks  int64
	cheats int64
	caught int64
}

// decide draws the cheater's estimate of the catch rate from its posterior
// Beta(½ + caught, ½ + escaped) and reports whether cheating then pays,
// i.e. whether the estimate is below qStar = C/(R+S).
func (n *node) decide(rng *rand.Rand, qStar float64) bool {
	escaped := n.cheats - n.caught
	q := betaVariate(rng, 0.5+float64(n.caught), 0.5+float64(escaped))
	return q < qStar
}

// trial is the outcome of one marketplace.
type trial struct {
	// gain is the cheaters' total profit minus an honest node's profit per
	// task times the number of tasks they were assigned.
	gain                                float64
	tasks, cheaterTasks, cheats, caught int64
}

// runTrial simulates trial number i of cfg (see the package documentation).
func runTrial(cfg Config, i int) trial {
	rng := rand.New(rand.NewPCG(cfg.Seed, uint64(i)))
	nodes := make([]node, cfg.Nodes)
	perm := rng.Perm(cfg.Nodes)
	for j, k := range perm[:cfg.Cheaters+cfg.Colluders()] {
		if j < cfg.Cheaters {
			nodes[k].role = cheater
		} else {
			nodes[k].role = colluder
		}
	}
	m := market{cfg: cfg, rng: rng, nodes: nodes, qStar: C / (cfg.Reward + cfg.Slash)}
	for range cfg.Executions {
		for range cfg.TasksPerExecution {
			m.task(rng.IntN(cfg.Nodes))
		}
	}
	return m.totals()
}

// market is the state of one trial.
type market struct {
	cfg   Config
	rng   *rand.Rand
	nodes []node
	qStar float64
}

// task settles one task asserted by node a.
func (m *market) task(a int) {
	n := &m.nodes[a]
	n.tasks++
	if n.role != cheater || !n.decide(m.rng, m.qStar) {
		// Honest work: computed (cost C), and a correct output always passes
		// a check. The check draw still happens so that the protocol's
		// randomness does not depend on the asserter's choice.
		m.checkedBy(a)
		n.earned += m.cfg.Reward - C
		return
	}
	n.cheats++
	if v := m.checkedBy(a); v >= 0 && m.nodes[v].role != colluder {
		n.caught++
		n.earned -= m.cfg.Slash // payment R forfeited, stake slashed
		return
	}
	n.earned += m.cfg.Reward // paid for work it did not do
}

// checkedBy draws whether the task of asserter a is checked and by whom: it
// returns the validator, drawn uniformly from the other nodes, or −1.
func (m *market) checkedBy(a int) int {
	if m.rng.Float64() >= m.cfg.P {
		return -1
	}
	v := m.rng.IntN(len(m.nodes) - 1)
	if v >= a {
		v++
	}
	return v
}

// totals sums the ledgers of one trial.
func (m *market) totals() trial {
	var t trial
	var honestEarned float64
	var honestTasks int64
	var cheaterEarned float64
	for i := range m.nodes {
		n := &m.nodes[i]
		t.tasks += n.tasks
		if n.role != cheater {
			honestEarned += n.earned
			honestTasks += n.tasks
			continue
		}
		cheaterEarned += n.earned
		t.cheaterTasks += n.tasks
		t.cheats += n.cheats
		t.caught += n.caught
	}
	perTask := m.cfg.Reward - C // an honest node's profit per task
	if honestTasks > 0 {
		perTask = honestEarned / float64(honestTasks)
	}
	t.gain = cheaterEarned - perTask*float64(t.cheaterTasks)
	return t
}
