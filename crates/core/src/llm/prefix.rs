//! The prompt-prefix cache: prompts that start alike (every diagnosis of one chart shares the
//! system message and the chart's thought; K solutions of one instance share their whole prompt;
//! eval items share their instructions) skip the prefill of the start they share.
//!
//! The model's live key-value cache is one entry: the tokens it holds. When a new prompt departs
//! from the live tokens after a long shared start, that start is copied out as a snapshot before
//! the rest is overwritten, so a third prompt can come back to it. Snapshots are bounded in bytes
//! and dropped least recently used first; they belong to one loaded model, so loading another
//! model or adapter starts with none.

use logreasoner_cpu::{CpuModel, KvSnapshot};

/// A start shorter than this is not worth a snapshot (the chat template's header alone is tens
/// of tokens).
const MIN_SHARED: usize = 64;

/// Bytes the snapshots may take together (the default model keeps 46 KB per position, so about
/// 5,700 positions).
pub const DEFAULT_BUDGET: usize = 256 << 20;

struct Entry {
    ids: Vec<u32>,
    kv: KvSnapshot,
    last_used: u64,
}

/// The tokens whose keys and values a model holds, and snapshots of earlier shared starts.
pub struct PrefixCache {
    /// Tokens at positions `..live.len()` of the model's cache, all valid.
    live: Vec<u32>,
    entries: Vec<Entry>,
    budget: usize,
    clock: u64,
}

impl Default for PrefixCache {
    fn default() -> Self {
        PrefixCache::with_budget(DEFAULT_BUDGET)
    }
}

fn shared(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

impl PrefixCache {
    /// An empty cache whose snapshots may take `budget` bytes.
    pub fn with_budget(budget: usize) -> Self {
        PrefixCache {
            live: Vec::new(),
            entries: Vec::new(),
            budget,
            clock: 0,
        }
    }

    /// Readies `model` for `prompt` and returns how many of its tokens are already in the
    /// model's cache (at most all but the last, whose logits the caller needs). The live
    /// sequence is then those tokens; the caller reports what it feeds with [`Self::fed`].
    pub fn prepare(&mut self, model: &mut CpuModel, prompt: &[u32]) -> usize {
        self.clock += 1;
        let usable = prompt.len().saturating_sub(1);
        let live = shared(&self.live, prompt).min(usable);
        // The live sequence is about to be overwritten after `live` tokens: keep its shared start.
        if live >= MIN_SHARED && live < self.live.len() && !self.covers(&prompt[..live]) {
            if let Some(kv) = model.snapshot(live) {
                self.insert(prompt[..live].to_vec(), kv);
            }
        }
        let best = self
            .entries
            .iter_mut()
            .map(|e| (shared(&e.ids, prompt).min(usable), e))
            .max_by_key(|(n, _)| *n);
        let reused = match best {
            Some((n, entry)) if n > live => {
                entry.last_used = self.clock;
                model.restore(&entry.kv);
                n
            }
            _ => live,
        };
        self.live = prompt[..reused].to_vec();
        reused
    }

    /// Records tokens just run at the end of the live sequence.
    pub fn fed(&mut self, ids: &[u32]) {
        self.live.extend_from_slice(ids);
    }

    /// Forgets the live sequence (the model's cache was used without this cache knowing what went
    /// in, or a run failed part way).
    pub fn forget_live(&mut self) {
        self.live.clear();
    }

    /// Forgets the live sequence and every snapshot; the budget stays.
    pub fn clear(&mut self) {
        self.live.clear();
        self.entries.clear();
    }

    /// Snapshots held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no snapshot is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes the snapshots take.
    pub fn bytes(&self) -> usize {
        self.entries.iter().map(|e| e.kv.bytes()).sum()
    }

    /// Whether a snapshot already holds all of `ids`.
    fn covers(&self, ids: &[u32]) -> bool {
        self.entries.iter().any(|e| e.ids.starts_with(ids))
    }

    fn insert(&mut self, ids: Vec<u32>, kv: KvSnapshot) {
        if kv.bytes() > self.budget {
            return;
        }
        // A snapshot this one extends is now redundant.
        self.entries.retain(|e| !ids.starts_with(&e.ids));
        while self.bytes() + kv.bytes() > self.budget {
            let Some(oldest) = self
                .entries
                .iter()
                .enumerate()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(i, _)| i)
            else {
                break;
            };
            self.entries.swap_remove(oldest);
        }
        self.entries.push(Entry {
            ids,
            kv,
            last_used: self.clock,
        });
    }
}
