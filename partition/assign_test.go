package partition

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
)

func checkAssignment(t *testing.T, p *Plan, nodes []Node, as *Assignment) {
	t.Helper()
	used := make([]int64, len(nodes))
	for task, n := range as.Node {
		if !nodes[n].accepts(task) {
			t.Fatalf("task %d on node %s, which does not specialise in it", task, nodes[n].ID)
		}
		used[n] += p.Tasks[task].VRAM
	}
	for n := range nodes {
		if used[n] != as.Used[n] || used[n] > nodes[n].VRAM {
			t.Fatalf("node %s: used %d, reported %d, VRAM %d", nodes[n].ID, used[n], as.Used[n], nodes[n].VRAM)
		}
	}
	if c := cross(p, as.Node); c != as.CrossBytes {
		t.Fatalf("cross bytes %d, reported %d", c, as.CrossBytes)
	}
}

func TestAssignPutsAdjacentTasksTogether(t *testing.T) {
	p, err := Partition(llama70B(t), Config{Cost: CostModel{Context: 4096}, Budget: 12 * gib})
	if err != nil {
		t.Fatal(err)
	}
	nodes := []Node{{ID: "big", VRAM: 48 * gib}}
	for i := 0; i < 12; i++ {
		nodes = append(nodes, Node{ID: string(rune('a' + i)), VRAM: 12 * gib})
	}
	as, err := Assign(p, nodes, 7)
	if err != nil {
		t.Fatal(err)
	}
	checkAssignment(t, p, nodes, as)
	var onBig []int
	for task, n := range as.Node {
		if n == 0 {
			onBig = append(onBig, task)
		}
	}
	if len(onBig) < 4 {
		t.Fatalf("big node holds tasks %v, want 4 adjacent ones", onBig)
	}
	for k := 1; k < len(onBig); k++ {
		if onBig[k] != onBig[k-1]+1 {
			t.Fatalf("big node holds tasks %v, not adjacent", onBig)
		}
	}
	if want := p.CutBytes - int64(len(onBig)-1)*8192*4; as.CrossBytes != want {
		t.Errorf("cross bytes %d, want %d", as.CrossBytes, want)
	}
	again, _ := Assign(p, nodes, 7)
	if !reflect.DeepEqual(as, again) {
		t.Error("same seed, different assignment")
	}
}

func TestAssignSpecialisationsAndErrors(t *testing.T) {
	p, err := Partition(towers(t, 64), Config{Cost: CostModel{Chunk: 1}, Budget: 4 * 64 * 64 * 4})
	if err != nil {
		t.Fatal(err)
	}
	n := len(p.Tasks)
	nodes := []Node{{ID: "only0", VRAM: 1 << 30, Tasks: []int{0}}, {ID: "any", VRAM: 1 << 30}}
	as, err := Assign(p, nodes, 1)
	if err != nil {
		t.Fatal(err)
	}
	checkAssignment(t, p, nodes, as)
	if as.Node[0] != 1 && as.Node[0] != 0 {
		t.Fatal("task 0 unplaced")
	}
	if _, err := Assign(p, []Node{{ID: "tiny", VRAM: 1}}, 1); !errors.Is(err, ErrNoNode) {
		t.Errorf("tiny node: %v, want ErrNoNode", err)
	}
	if _, err := Assign(p, []Node{{ID: "spec", VRAM: 1 << 30, Tasks: []int{n - 1}}}, 1); !errors.Is(err, ErrNoNode) {
		t.Errorf("specialised node: %v, want ErrNoNode", err)
	}
}

// TestAssignAgainstBruteForce compares crossing bytes with the best of all
// placements on small random plans and nodes.
func TestAssignAgainstBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	var cases, optimal int
	var worst float64
	for trial := 0; trial < 100; trial++ {
		g := randomGraph(r, 4+r.IntN(10))
		c := CostModel{Chunk: 1}
		p, err := Partition(g, Config{Cost: c, Budget: maxSingle(g, c) + int64(r.IntN(200))})
		if err != nil || len(p.Tasks) > 7 {
			continue
		}
		var nodes []Node
		for k := 0; k < 2+r.IntN(3); k++ {
			nodes = append(nodes, Node{ID: string(rune('a' + k)), VRAM: p.Budget * int64(1+r.IntN(3))})
		}
		best := bruteAssign(p, nodes)
		as, err := Assign(p, nodes, uint64(trial))
		if best < 0 {
			if err == nil {
				t.Fatalf("trial %d: assigned although brute force finds no placement", trial)
			}
			continue
		}
		if err != nil {
			t.Logf("trial %d: %v although a placement exists", trial, err)
			continue
		}
		checkAssignment(t, p, nodes, as)
		cases++
		if as.CrossBytes == best {
			optimal++
		} else if p.CutBytes > 0 {
			worst = max(worst, float64(as.CrossBytes-best)/float64(p.CutBytes))
		}
	}
	t.Logf("%d placements: %d optimal; worst excess %.0f%% of the plan's cut bytes", cases, optimal, 100*worst)
	if cases < 50 || optimal*10 < cases*8 {
		t.Fatalf("%d of %d placements optimal, want at least 80%%", optimal, cases)
	}
}

func bruteAssign(p *Plan, nodes []Node) int64 {
	where := make([]int, len(p.Tasks))
	used := make([]int64, len(nodes))
	best := int64(-1)
	var rec func(k int)
	rec = func(k int) {
		if k == len(where) {
			if c := cross(p, where); best < 0 || c < best {
				best = c
			}
			return
		}
		for n := range nodes {
			if used[n]+p.Tasks[k].VRAM <= nodes[n].VRAM {
				where[k] = n
				used[n] += p.Tasks[k].VRAM
				rec(k + 1)
				used[n] -= p.Tasks[k].VRAM
			}
		}
	}
	rec(0)
	return best
}
