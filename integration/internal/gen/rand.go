package gen

// Randomness is counter-based: every number is a hash of the seed, a stream
// (what the number is for) and up to three indexes (which event, which
// field), so any event can be made again without replaying the others.

// Streams of numbers.
const (
	streamBurst uint64 = iota + 1
	streamTail
	streamPeriod
	streamVariant
	streamHostDur
	streamStep
	streamOpDur
	streamOpGap
	streamSkew
	streamShuffle
)

// Times in picoseconds.
const (
	nsec int64 = 1000
	usec       = 1000 * nsec
	msec       = 1000 * usec
)

// mix64 is splitmix64's finalizer.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// hash returns the number for (stream, a, b, k).
func (c *Capture) hash(stream, a, b, k uint64) uint64 {
	h := mix64(c.seed ^ stream*0x9e3779b97f4a7c15)
	h = mix64(h ^ a)
	h = mix64(h + b*0xbf58476d1ce4e5b9)
	return mix64(h ^ k*0x94d049bb133111eb)
}

// unit returns a number in [0, 1).
func (c *Capture) unit(stream, a, b, k uint64) float64 {
	return float64(c.hash(stream, a, b, k)>>11) / (1 << 53)
}

// ps returns a non-negative int64.
func (c *Capture) ps(stream, a, b, k uint64) int64 {
	return int64(c.hash(stream, a, b, k) >> 1)
}

// between returns a number in [lo, hi).
func (c *Capture) between(lo, hi int64, stream, a, b, k uint64) int64 {
	return lo + int64(c.hash(stream, a, b, k)%uint64(hi-lo))
}

// betweenNS returns a whole number of nanoseconds in [lo, hi) (both in ps).
func (c *Capture) betweenNS(lo, hi int64, stream, a, b, k uint64) int64 {
	return c.between(lo/nsec, hi/nsec, stream, a, b, k) * nsec
}
