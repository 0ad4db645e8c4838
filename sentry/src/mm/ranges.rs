//! A set of address ranges: where a stub may have something mapped.

use std::collections::BTreeMap;

/// Disjoint, non-adjacent `[start, end)` ranges, by start.
#[derive(Debug, Default, Clone)]
pub struct RangeSet(BTreeMap<u64, u64>);

impl RangeSet {
    /// Whether any range meets `[start, end)`.
    pub fn intersects(&self, start: u64, end: u64) -> bool {
        start < end
            && self
                .0
                .range(..end)
                .next_back()
                .is_some_and(|(_, &e)| e > start)
    }

    /// Adds `[start, end)`, merging with what it touches.
    pub fn insert(&mut self, mut start: u64, mut end: u64) {
        if start >= end {
            return;
        }
        // Every range that overlaps or touches [start, end) joins it.
        let joined: Vec<(u64, u64)> = self
            .0
            .range(..=end)
            .rev()
            .take_while(|(_, &e)| e >= start)
            .map(|(&s, &e)| (s, e))
            .collect();
        for (s, e) in joined {
            self.0.remove(&s);
            start = start.min(s);
            end = end.max(e);
        }
        self.0.insert(start, end);
    }

    /// Removes `[start, end)`, splitting ranges it cuts.
    pub fn remove(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        let cut: Vec<(u64, u64)> = self
            .0
            .range(..end)
            .rev()
            .take_while(|(_, &e)| e > start)
            .map(|(&s, &e)| (s, e))
            .collect();
        for (s, e) in cut {
            self.0.remove(&s);
            if s < start {
                self.0.insert(s, start);
            }
            if e > end {
                self.0.insert(end, e);
            }
        }
    }

    #[cfg(test)]
    fn ranges(&self) -> Vec<(u64, u64)> {
        self.0.iter().map(|(&s, &e)| (s, e)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::RangeSet;

    #[test]
    fn insert_merges_overlapping_and_touching_ranges() {
        let mut r = RangeSet::default();
        r.insert(10, 20);
        r.insert(30, 40);
        r.insert(50, 60);
        assert_eq!(r.ranges(), [(10, 20), (30, 40), (50, 60)]);
        r.insert(20, 30);
        assert_eq!(r.ranges(), [(10, 40), (50, 60)]);
        r.insert(5, 55);
        assert_eq!(r.ranges(), [(5, 60)]);
        r.insert(70, 70);
        assert_eq!(r.ranges(), [(5, 60)]);
    }

    #[test]
    fn remove_splits_and_drops() {
        let mut r = RangeSet::default();
        r.insert(0, 100);
        r.remove(10, 20);
        assert_eq!(r.ranges(), [(0, 10), (20, 100)]);
        r.remove(5, 30);
        assert_eq!(r.ranges(), [(0, 5), (30, 100)]);
        r.remove(0, 200);
        assert_eq!(r.ranges(), []);
    }

    #[test]
    fn intersects_is_half_open() {
        let mut r = RangeSet::default();
        r.insert(10, 20);
        assert!(r.intersects(19, 21));
        assert!(r.intersects(0, 11));
        assert!(r.intersects(12, 13));
        assert!(!r.intersects(20, 30));
        assert!(!r.intersects(0, 10));
        assert!(!r.intersects(15, 15));
    }
}
