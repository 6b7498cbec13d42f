/// xorshift64: a seeded generator, so that random test input (garbage messages, a soak's
/// churn) is the same on every run and a failure replays.
pub struct Rng(pub u64);

impl Rng {
    /// A generator for `seed` (any value; xorshift's one bad seed, zero, is avoided).
    pub fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform enough in `0..n` (`n` of 0 counts as 1).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}
