//! A series of values summarised: exact count, min, max and total, and percentiles from a
//! bounded sample.

/// Exact count, min, max and total of a series; percentiles from a uniform sample of at most
/// `SAMPLE` values (reservoir sampling), so a live capture running for days stays bounded.
/// While fewer values than that have been seen, the percentiles are exact.
#[derive(Default)]
pub struct Samples {
    pub count: u64,
    pub min: u64,
    pub max: u64,
    pub total: u64,
    sample: Vec<u64>,
    sorted: bool,
    /// xorshift state: deterministic, so the same capture gives the same table.
    rng: u64,
}

const SAMPLE: usize = 100_000;

impl Samples {
    pub fn add(&mut self, v: u64) {
        self.min = if self.count == 0 { v } else { self.min.min(v) };
        self.max = self.max.max(v);
        self.total = self.total.saturating_add(v);
        self.count += 1;
        self.sorted = false;
        if self.sample.len() < SAMPLE {
            self.sample.push(v);
            return;
        }
        self.rng = if self.rng == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            self.rng
        };
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let slot = self.rng % self.count;
        if (slot as usize) < SAMPLE {
            self.sample[slot as usize] = v;
        }
    }

    pub fn percentile(&mut self, p: u64) -> u64 {
        if !self.sorted {
            self.sample.sort_unstable();
            self.sorted = true;
        }
        percentile(&self.sample, p)
    }
}

/// Nearest-rank percentile of a sorted, non-empty slice.
fn percentile(sorted: &[u64], p: u64) -> u64 {
    let n = sorted.len() as u64;
    let rank = (p * n).div_ceil(100).max(1);
    sorted[(rank - 1) as usize]
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50), 50);
        assert_eq!(percentile(&v, 90), 90);
        assert_eq!(percentile(&v, 99), 99);
        assert_eq!(percentile(&[7], 50), 7);
        assert_eq!(percentile(&[1, 2], 50), 1);
        assert_eq!(percentile(&[1, 2], 99), 2);
    }
}
