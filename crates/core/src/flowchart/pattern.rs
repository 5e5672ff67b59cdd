//! Chart regexes compiled once per process. Retrieval and the walk test the same few hundred
//! symptom and check patterns against every window; compiling them on each call was most of a
//! diagnosis's CPU time outside the model (the experiment's data step spent about 60% of it there).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use regex::Regex;

/// Patterns kept at most; past it the cache starts again (charts edited many times in one
/// session would otherwise keep every version's patterns).
const MAX_CACHED: usize = 4096;

/// `pattern` compiled, shared with every earlier caller of the same text. A pattern that does not
/// compile is not cached (validation reports it with its position; callers skip it or say so).
pub fn compiled(pattern: &str) -> Result<Arc<Regex>, regex::Error> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    // A panic elsewhere while the lock was held leaves the map whole (inserts are single calls).
    let lookup = |pattern: &str| {
        cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(pattern)
            .cloned()
    };
    if let Some(re) = lookup(pattern) {
        return Ok(re);
    }
    // Compiled outside the lock: other threads keep matching meanwhile.
    let re = Arc::new(Regex::new(pattern)?);
    let mut map = cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if map.len() >= MAX_CACHED {
        map.clear();
    }
    Ok(map.entry(pattern.to_string()).or_insert(re).clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_pattern_is_compiled_once_and_shared() {
        let a = compiled(r"machine check interrupt \d+").expect("compiles");
        let b = compiled(r"machine check interrupt \d+").expect("compiles");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(a.is_match("machine check interrupt 3"));
        let other = compiled(r"data TLB error").expect("compiles");
        assert!(!Arc::ptr_eq(&a, &other));
    }

    #[test]
    fn a_pattern_that_does_not_compile_is_an_error_every_time() {
        assert!(compiled("(unclosed").is_err());
        assert!(compiled("(unclosed").is_err());
    }
}
