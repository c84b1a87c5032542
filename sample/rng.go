package sample

// RNG is run.c's xorshift64* generator. The zero State is a fixed point
// (it yields only zeros); seed it with a non-zero value.
type RNG struct {
	// State is the generator's 64-bit state.
	State uint64
}

// Uint32 is run.c's random_u32.
func (r *RNG) Uint32() uint32 {
	r.State ^= r.State >> 12
	r.State ^= r.State << 25
	r.State ^= r.State >> 27
	return uint32((r.State * 0x2545F4914F6CDD1D) >> 32)
}

// Float32 is run.c's random_f32: a value in [0, 1) with 24 random bits.
func (r *RNG) Float32() float32 {
	return float32(r.Uint32()>>8) / 16777216.0
}
