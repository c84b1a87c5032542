package sample

import "sort"

// topp is run.c's sample_topp: keep the tokens whose probability is at least
// (1-topp)/(n-1) (they cannot all be dropped by the nucleus), sort them by
// probability, highest first (ties keep index order, which run.c's qsort
// leaves unspecified), cut the list after the first prefix whose mass exceeds
// topp, and sample inside that prefix with coin scaled by its mass.
func (s *Sampler) topp(probs []float32, topp, coin float32) int {
	n := len(probs)
	if n == 1 {
		return 0
	}
	cutoff := (1 - topp) / float32(n-1)
	cands := s.cands[:0]
	for i, p := range probs {
		if p >= cutoff {
			cands = append(cands, candidate{prob: p, index: i})
		}
	}
	if len(cands) == 0 {
		// Only possible when topp < 1/n; run.c would read out of bounds.
		// Every token is then a candidate.
		for i, p := range probs {
			cands = append(cands, candidate{prob: p, index: i})
		}
	}
	s.cands = cands
	sortCandidates(cands)

	var cum float32
	last := len(cands) - 1
	for i, c := range cands {
		cum += c.prob
		if cum > topp {
			last = i
			break
		}
	}
	r := coin * cum
	var cdf float32
	for i := 0; i <= last; i++ {
		cdf += cands[i].prob
		if r < cdf {
			return cands[i].index
		}
	}
	return cands[last].index
}

// sortCandidates orders by probability descending, then index ascending.
func sortCandidates(c []candidate) {
	sort.SliceStable(c, func(i, j int) bool { return c[i].prob > c[j].prob })
}
