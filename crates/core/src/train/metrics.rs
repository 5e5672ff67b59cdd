//! What a training step reports beyond its loss, shared by the optimisation loop (`sft`) and the
//! DPO loss (`dpo`) without either depending on the other for it.

/// What a DPO step reports.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DpoMetrics {
    /// Mean DPO loss, -log sigmoid(margin).
    pub loss: f64,
    /// Mean `beta * (policy - reference)` log-probability of the chosen answers.
    pub chosen_reward: f64,
    /// Mean `beta * (policy - reference)` log-probability of the rejected answers.
    pub rejected_reward: f64,
    /// Mean of chosen reward minus rejected reward.
    pub margin: f64,
    /// Share of pairs whose margin is positive, 0..=1.
    pub accuracy: f64,
}

impl DpoMetrics {
    /// The mean of each number over `all` (`None` when empty).
    pub fn mean(all: &[DpoMetrics]) -> Option<DpoMetrics> {
        if all.is_empty() {
            return None;
        }
        let n = all.len() as f64;
        let avg = |f: fn(&DpoMetrics) -> f64| all.iter().map(f).sum::<f64>() / n;
        Some(DpoMetrics {
            loss: avg(|m| m.loss),
            chosen_reward: avg(|m| m.chosen_reward),
            rejected_reward: avg(|m| m.rejected_reward),
            margin: avg(|m| m.margin),
            accuracy: avg(|m| m.accuracy),
        })
    }
}
