package exec

// PackedWeights counts the weights a program's MatMuls read packed.
func PackedWeights(p *Program) int {
	n := 0
	for _, b := range p.packed {
		if b {
			n++
		}
	}
	return n
}
