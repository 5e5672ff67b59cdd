//! An online, Drain-family template miner: mask obvious variables, split into tokens, look up clusters
//! by token count and leading token, join the most similar cluster above a threshold (generalising
//! the positions that differ to `<*>`), or start a new one.

use std::collections::HashMap;
use std::sync::OnceLock;

use regex::Regex;

pub const WILDCARD: &str = "<*>";

#[derive(Debug, Clone)]
pub struct MinerConfig {
    /// Share of equal token positions needed to join a cluster.
    pub similarity: f64,
}

impl Default for MinerConfig {
    fn default() -> Self {
        MinerConfig { similarity: 0.5 }
    }
}

#[derive(Debug, Clone)]
struct Cluster {
    tokens: Vec<String>,
    count: u64,
}

#[derive(Debug, Clone)]
pub struct Miner {
    config: MinerConfig,
    clusters: Vec<Cluster>,
    /// (token count, leading token or "" when it is variable) → clusters.
    buckets: HashMap<(usize, String), Vec<u32>>,
}

fn masks() -> &'static [(Regex, &'static str)] {
    static MASKS: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
    MASKS.get_or_init(|| {
        [
            r"\bblk_-?\d+\b",
            r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b",
            r"(/?\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(:\d+)?",
            r"\b0x[0-9a-fA-F]+\b",
            r"\b-?\d+(\.\d+)?\b",
        ]
        .iter()
        .filter_map(|p| Regex::new(p).ok().map(|re| (re, WILDCARD)))
        .collect()
    })
}

fn mask(content: &str) -> String {
    let mut text = content.to_string();
    for (re, with) in masks() {
        if re.is_match(&text) {
            text = re.replace_all(&text, *with).into_owned();
        }
    }
    text
}

fn has_digit(token: &str) -> bool {
    token.bytes().any(|b| b.is_ascii_digit())
}

impl Miner {
    pub fn new(config: MinerConfig) -> Miner {
        Miner {
            config,
            clusters: Vec::new(),
            buckets: HashMap::new(),
        }
    }

    /// Settings for a known system (Loghub names), else the defaults.
    pub fn for_system(_system: Option<&str>) -> Miner {
        Miner::new(MinerConfig::default())
    }

    /// Adds one message and returns its cluster id.
    pub fn add(&mut self, content: &str) -> u32 {
        let masked = mask(content);
        let tokens: Vec<&str> = masked.split_whitespace().collect();
        let lead = tokens
            .first()
            .filter(|t| **t != WILDCARD && !has_digit(t))
            .map_or(String::new(), |t| t.to_string());
        let key = (tokens.len(), lead);
        let candidates = self.buckets.entry(key).or_default();
        let mut best: Option<(u32, f64)> = None;
        for &id in candidates.iter() {
            let c = &self.clusters[id as usize];
            let same = c
                .tokens
                .iter()
                .zip(&tokens)
                .filter(|(a, b)| a.as_str() == **b || a.as_str() == WILDCARD)
                .count();
            let sim = if tokens.is_empty() {
                1.0
            } else {
                same as f64 / tokens.len() as f64
            };
            if sim >= self.config.similarity && best.is_none_or(|(_, s)| sim > s) {
                best = Some((id, sim));
            }
        }
        match best {
            Some((id, _)) => {
                let c = &mut self.clusters[id as usize];
                for (t, new) in c.tokens.iter_mut().zip(&tokens) {
                    if t != new {
                        *t = WILDCARD.to_string();
                    }
                }
                c.count += 1;
                id
            }
            None => {
                let id = self.clusters.len() as u32;
                self.clusters.push(Cluster {
                    tokens: tokens.iter().map(|t| t.to_string()).collect(),
                    count: 1,
                });
                candidates.push(id);
                id
            }
        }
    }

    pub fn template(&self, id: u32) -> String {
        self.clusters
            .get(id as usize)
            .map(|c| c.tokens.join(" "))
            .unwrap_or_default()
    }

    pub fn count(&self, id: u32) -> u64 {
        self.clusters.get(id as usize).map_or(0, |c| c.count)
    }

    pub fn len(&self) -> usize {
        self.clusters.len()
    }

    pub fn is_empty(&self) -> bool {
        self.clusters.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_become_wildcards_and_similar_lines_share_a_cluster() {
        let mut m = Miner::new(MinerConfig::default());
        let a = m.add("Received block blk_123 of size 67108864 from /10.251.214.112");
        let b = m.add("Received block blk_-99 of size 3 from /10.0.0.1");
        let c = m.add("Deleting block blk_5 file /data/x");
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(m.template(a), "Received block <*> of size <*> from <*>");
        assert_eq!(m.count(a), 2);
    }
}
