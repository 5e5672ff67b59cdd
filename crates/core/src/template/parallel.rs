//! Template mining on several threads with exactly the result of one. Preprocessing is independent per
//! line, so chunks of lines are preprocessed in parallel; clustering only ever compares lines of the
//! same bucket (token count and leading token), so buckets are split across threads by a hash of their
//! key, and each thread clusters its buckets' lines in input order.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use super::miner::{Miner, MinerConfig};

/// The template of every line, as [`Miner::mine`] would give with one thread.
pub fn mine<S: AsRef<str> + Sync>(config: MinerConfig, lines: &[S], threads: usize) -> Vec<String> {
    mine_ids(config, lines, threads).per_line()
}

/// Each line's template as an index into one table (what a caller that counts or groups needs,
/// without a string per line).
pub struct Mined {
    /// Each input line's index into `templates`, in input order.
    pub ids: Vec<u32>,
    /// The template of each cluster, in canonical form (two clusters may share one).
    pub templates: Vec<String>,
}

impl Mined {
    /// The template of every line, one string per line.
    pub fn per_line(&self) -> Vec<String> {
        self.ids
            .iter()
            .map(|&id| self.templates[id as usize].clone())
            .collect()
    }
}

/// Like [`mine`], as ids into a template table.
pub fn mine_ids<S: AsRef<str> + Sync>(config: MinerConfig, lines: &[S], threads: usize) -> Mined {
    let threads = threads.max(1);
    if threads == 1 || lines.len() < 2 * threads {
        let (ids, templates) = Miner::mine_ids(config, lines);
        return Mined { ids, templates };
    }
    // Phase 1: preprocess in contiguous chunks.
    let chunk = lines.len().div_ceil(threads);
    let pre: Vec<(usize, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = lines
            .chunks(chunk)
            .map(|part| {
                let miner = Miner::new(config.clone());
                s.spawn(move || {
                    part.iter()
                        .map(|l| {
                            let p = miner.preprocess(l.as_ref());
                            let tokens: Vec<&str> = p.split(' ').collect();
                            let mut h = DefaultHasher::new();
                            miner.bucket_key(&tokens).hash(&mut h);
                            ((h.finish() % threads as u64) as usize, p)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    // Phase 2: each shard clusters its lines in input order.
    let shards: Vec<(Vec<usize>, Vec<u32>, Miner)> = std::thread::scope(|s| {
        let pre = &pre;
        let handles: Vec<_> = (0..threads)
            .map(|shard| {
                let mut miner = Miner::new(config.clone());
                s.spawn(move || {
                    let mut rows = Vec::new();
                    let mut ids = Vec::new();
                    for (i, (sh, p)) in pre.iter().enumerate() {
                        if *sh == shard {
                            rows.push(i);
                            ids.push(miner.add_preprocessed(p));
                        }
                    }
                    (rows, ids, miner)
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    // Phase 3: one table (each shard's templates after the previous shards'), ids in line order.
    let mut out = Mined {
        ids: vec![0; lines.len()],
        templates: Vec::new(),
    };
    for (rows, ids, miner) in shards {
        let offset = out.templates.len() as u32;
        out.templates
            .extend((0..miner.len() as u32).map(|id| miner.template(id)));
        for (row, id) in rows.into_iter().zip(ids) {
            out.ids[row] = offset + id;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_threads_give_exactly_the_single_thread_result() {
        let mut lines = Vec::new();
        for i in 0..3000 {
            lines.push(format!(
                "Received block blk_{i} of size {} from /10.0.{}.{}",
                i * 7,
                i % 250,
                i % 7
            ));
            lines.push(format!("user{} logged in after {} tries", i % 13, i % 5));
            lines.push(format!(
                "VM {} (Lifecycle Event)",
                ["Resumed", "Started", "Stopped"][i % 3]
            ));
            lines.push(format!("took {i} ms"));
        }
        let one = Miner::mine(MinerConfig::generic(), &lines);
        for threads in [2, 3, 8] {
            assert_eq!(
                mine(MinerConfig::generic(), &lines, threads),
                one,
                "{threads} threads"
            );
        }
    }
}
