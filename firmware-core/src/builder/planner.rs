//! Arena planning: greedy first fit, like TFLite's greedy memory planner.
//!
//! Tensors are placed one by one, each at the lowest 4-byte-aligned offset
//! where it overlaps no already placed tensor whose lifetime intersects its
//! own; tensors that are never live together share bytes. The placement
//! order matters: the planner tries largest first (TFLite's), largest
//! size × lifetime first, and earliest first, and keeps the smallest arena.
use alloc::vec::Vec;

/// When a tensor is live: written at `first`, last read at `last` (inclusive;
/// the input is written at 0, op `i` runs at `i + 1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifetime {
    /// Time of the write.
    pub first: u32,
    /// Time of the last read.
    pub last: u32,
}

impl Lifetime {
    fn intersects(&self, other: &Lifetime) -> bool {
        self.first <= other.last && other.first <= self.last
    }
}

/// Result of [`plan_arena`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArenaPlan {
    /// Offset of each tensor.
    pub offsets: Vec<usize>,
    /// Arena bytes needed.
    pub total: usize,
    /// Bytes if every tensor had its own place (no reuse).
    pub naive: usize,
    /// Lower bound: the most bytes live at any one time.
    pub peak_live: usize,
}

const ALIGN: usize = 4;

#[derive(Clone, Copy)]
struct Item {
    index: usize,
    size: usize,
    life: Lifetime,
    offset: usize,
}

/// First fit of `items`, in the given order, at the lowest aligned offset
/// free of every already placed item whose lifetime intersects.
fn place(items: &[Item]) -> Vec<Item> {
    let mut placed: Vec<Item> = Vec::with_capacity(items.len());
    for &item in items {
        let mut item = item;
        let mut conflicts: Vec<(usize, usize)> = placed
            .iter()
            .filter(|p| p.life.intersects(&item.life))
            .map(|p| (p.offset, p.offset + p.size))
            .collect();
        conflicts.sort_unstable();
        let mut candidate = 0usize;
        for (start, end) in conflicts {
            if candidate + item.size <= start {
                break;
            }
            candidate = candidate.max(end.div_ceil(ALIGN) * ALIGN);
        }
        item.offset = candidate;
        placed.push(item);
    }
    placed
}

/// Places tensors of `sizes` with `lifetimes` (pairs beyond the shorter list are ignored).
pub fn plan_arena(sizes: &[usize], lifetimes: &[Lifetime]) -> ArenaPlan {
    let mut items: Vec<Item> = sizes
        .iter()
        .zip(lifetimes)
        .enumerate()
        .map(|(index, (&size, &life))| Item {
            index,
            size,
            life,
            offset: 0,
        })
        .collect();
    // Several placement orders, keep the tightest (ties: the first listed,
    // TFLite's greedy by size). Each is first fit at the lowest free offset.
    let orders: [fn(&Item, &Item) -> core::cmp::Ordering; 3] = [
        |a, b| b.size.cmp(&a.size).then(a.index.cmp(&b.index)),
        |a, b| {
            (b.size as u64 * u64::from(b.life.last - b.life.first + 1))
                .cmp(&(a.size as u64 * u64::from(a.life.last - a.life.first + 1)))
                .then(a.index.cmp(&b.index))
        },
        |a, b| {
            a.life
                .first
                .cmp(&b.life.first)
                .then(b.size.cmp(&a.size))
                .then(a.index.cmp(&b.index))
        },
    ];
    let mut best: Option<Vec<Item>> = None;
    for order in orders {
        items.sort_by(order);
        let placed = place(&items);
        let total = |p: &[Item]| p.iter().map(|i| i.offset + i.size).max().unwrap_or(0);
        if best.as_deref().is_none_or(|b| total(&placed) < total(b)) {
            best = Some(placed);
        }
    }
    let mut placed = best.unwrap_or_default();
    placed.sort_by_key(|p| p.index);
    let total = placed.iter().map(|p| p.offset + p.size).max().unwrap_or(0);
    let naive = placed.iter().map(|p| p.size).sum();
    let horizon = placed.iter().map(|p| p.life.last).max().unwrap_or(0);
    let peak_live = (0..=horizon)
        .map(|time| {
            placed
                .iter()
                .filter(|p| p.life.first <= time && time <= p.life.last)
                .map(|p| p.size)
                .sum::<usize>()
        })
        .max()
        .unwrap_or(0);
    ArenaPlan {
        offsets: placed.iter().map(|p| p.offset).collect(),
        total,
        naive,
        peak_live,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn random_plans_never_overlap_live_tensors() {
        let mut rng = Rng::new(5);
        for _ in 0..300 {
            let n = rng.range(1, 30) as usize;
            let sizes: Vec<usize> = (0..n).map(|_| rng.range(1, 5000) as usize).collect();
            let lifetimes: Vec<Lifetime> = (0..n)
                .map(|_| {
                    let first = rng.range(0, 20) as u32;
                    Lifetime {
                        first,
                        last: first + rng.range(0, 6) as u32,
                    }
                })
                .collect();
            let plan = plan_arena(&sizes, &lifetimes);
            for i in 0..n {
                assert!(plan.offsets[i] + sizes[i] <= plan.total);
                assert_eq!(plan.offsets[i] % ALIGN, 0);
                for j in i + 1..n {
                    if lifetimes[i].intersects(&lifetimes[j]) {
                        let (a0, a1) = (plan.offsets[i], plan.offsets[i] + sizes[i]);
                        let (b0, b1) = (plan.offsets[j], plan.offsets[j] + sizes[j]);
                        assert!(a1 <= b0 || b1 <= a0, "{i} {j}");
                    }
                }
            }
            assert!(plan.peak_live <= plan.total && plan.total <= plan.naive + ALIGN * n);
        }
    }

    #[test]
    fn a_chain_reuses_memory() {
        // a → b → c → d: only neighbours are live together.
        let sizes = [100, 100, 100, 100];
        let life = [0, 1, 2, 3].map(|t| Lifetime { first: t, last: t + 1 });
        let plan = plan_arena(&sizes, &life);
        assert_eq!(plan.total, 200);
        assert_eq!(plan.naive, 400);
        assert_eq!(plan.peak_live, 200);
    }
}
