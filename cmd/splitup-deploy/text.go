package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/splitup/splitup/partition"
)

// writeText prints the human form of a plan: a summary, a table of tasks
// and a Mermaid diagram of the task DAG.
func writeText(w io.Writer, desc string, p *partition.Plan) error {
	fmt.Fprintln(w, desc)
	fmt.Fprintf(w, "target VRAM %s per task (%d bytes); per-task overhead %s; prefill chunk %d tokens\n",
		formatSize(p.Budget), p.Budget, formatSize(p.Cost.TaskOverhead), chunkOf(p))
	fmt.Fprintf(w, "%d tasks (lower bound %d); weights + KV %s; %s per token between tasks; largest task %.2fx the mean\n\n",
		len(p.Tasks), p.LowerBound, formatSize(p.TotalBytes), formatSize(p.CutBytes), p.Imbalance())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK\tSTAGE\tVRAM\tWEIGHTS\tKV\tACTIVATIONS\tFLOP/TOKEN\tOPS\tINPUTS\tOUTPUTS")
	for _, t := range p.Tasks {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", t.ID, t.Level, formatSize(t.VRAM),
			formatSize(t.WeightBytes), formatSize(t.KVBytes), formatSize(t.ActivationBytes),
			formatCount(t.ComputeUnits), len(t.Ops), portList(t.Inputs), portList(t.Outputs))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(p.Shards) > 0 {
		fmt.Fprintf(w, "\n%d weight shards (row slices of oversize MatMul weights):\n", len(p.Shards))
		for _, s := range p.Shards {
			fmt.Fprintf(w, "  %s = %s rows [%d, %d)\n", s.Name, s.Source, s.RowStart, s.RowEnd)
		}
	}
	fmt.Fprintln(w)
	_, err := io.WriteString(w, mermaid(p))
	return err
}

func chunkOf(p *partition.Plan) int {
	if p.Cost.Chunk == 0 {
		return partition.DefaultChunk
	}
	return p.Cost.Chunk
}

// portList formats ports as "name[shape]", at most four then a count.
func portList(ps []partition.Port) string {
	var s []string
	for i, p := range ps {
		if i == 4 {
			s = append(s, fmt.Sprintf("+%d more", len(ps)-4))
			break
		}
		s = append(s, p.Name+p.Shape.String())
	}
	return strings.Join(s, " ")
}

// mermaid draws the task DAG as a fenced Mermaid flowchart; tasks of one
// stage (which may run in parallel) share a subgraph.
func mermaid(p *partition.Plan) string {
	var b strings.Builder
	b.WriteString("```mermaid\nflowchart LR\n")
	for level, ids := range p.Stages() {
		if len(ids) > 1 {
			fmt.Fprintf(&b, "  subgraph stage%d [\"stage %d (parallel)\"]\n", level, level)
		}
		for _, id := range ids {
			t := p.Tasks[id]
			fmt.Fprintf(&b, "  t%d[\"task %d<br/>%s, %d ops\"]\n", id, id, formatSize(t.VRAM), len(t.Ops))
		}
		if len(ids) > 1 {
			b.WriteString("  end\n")
		}
	}
	for _, e := range p.Edges {
		label := e.Names[0]
		if len(e.Names) > 1 {
			label += fmt.Sprintf(" +%d", len(e.Names)-1)
		}
		label = strings.ReplaceAll(label, `"`, "#quot;") + ", " + formatSize(e.BytesPerToken) + "/token"
		fmt.Fprintf(&b, "  t%d -->|\"%s\"| t%d\n", e.From, label, e.To)
	}
	b.WriteString("```\n")
	return b.String()
}

// formatCount writes n with an SI prefix: "950", "12.5k", "11.51G".
func formatCount(n int64) string {
	v, units := float64(n), []string{"", "k", "M", "G", "T", "P"}
	u := 0
	for v >= 1000 && u < len(units)-1 {
		v, u = v/1000, u+1
	}
	if u == 0 {
		return fmt.Sprintf("%d", n)
	}
	return fmt.Sprintf("%.2f%s", v, units[u])
}
