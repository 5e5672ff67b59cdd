//! Direct preference optimisation: the policy is the base with its adapter, the reference the same
//! base with the adapter switched off (no second copy of the weights). Sigmoid loss with `beta`;
//! every step reports the loss, the chosen and rejected rewards, their margin and the accuracy.

use candle_core::{Result, Tensor};

pub use super::metrics::DpoMetrics;
use super::model::Decoder;
use super::sft::Example;

/// A prompt with a preferred and a dispreferred answer, as token ids with their learned masks (the
/// answer tokens).
#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    /// The prompt with the preferred answer.
    pub chosen: Example,
    /// The same prompt with the dispreferred answer.
    pub rejected: Example,
}

/// Summed log-probability of each example's learned tokens, `[batch]`.
pub fn sequence_logp(
    model: &Decoder,
    batch: &[Example],
    use_adapter: bool,
    train: bool,
) -> Result<Tensor> {
    let (logp, owners) = super::sft::learned_logp(model, batch, use_adapter, train && use_adapter)?;
    // Sum each example's tokens: a [batch, learned] 0/1 matrix times the column of log-probs.
    let mut owner = vec![0f32; batch.len() * owners.len()];
    for (j, b) in owners.iter().enumerate() {
        owner[b * owners.len() + j] = 1.0;
    }
    let owner = Tensor::from_vec(owner, (batch.len(), owners.len()), logp.device())?;
    owner.matmul(&logp.unsqueeze(1)?)?.squeeze(1)
}

/// The DPO loss of `pairs` (a tensor to differentiate) and its metrics.
/// `train` applies the adapters' dropout (the reference never has any).
pub fn loss(
    model: &Decoder,
    pairs: &[Pair],
    beta: f64,
    train: bool,
) -> Result<(Tensor, DpoMetrics)> {
    let chosen: Vec<Example> = pairs.iter().map(|p| p.chosen.clone()).collect();
    let rejected: Vec<Example> = pairs.iter().map(|p| p.rejected.clone()).collect();
    let pc = sequence_logp(model, &chosen, true, train)?;
    let pr = sequence_logp(model, &rejected, true, train)?;
    // The reference takes no gradient.
    let rc = sequence_logp(model, &chosen, false, false)?.detach();
    let rr = sequence_logp(model, &rejected, false, false)?.detach();
    let chosen_reward = ((pc - rc)? * beta)?;
    let rejected_reward = ((pr - rr)? * beta)?;
    let margin = (&chosen_reward - &rejected_reward)?;
    // -log σ(m) = softplus(-m) = log(1 + exp(-m)), written stably as relu(-m) + log(1 + exp(-|m|)).
    let neg = margin.neg()?;
    let softplus = (neg.relu()? + ((margin.abs()?.neg()?.exp()? + 1.0)?.log()?))?;
    let loss = softplus.mean_all()?;
    let mean = |t: &Tensor| -> Result<f64> { Ok(f64::from(t.mean_all()?.to_scalar::<f32>()?)) };
    let m: Vec<f32> = margin.to_vec1()?;
    let accuracy = m.iter().filter(|x| **x > 0.0).count() as f64 / m.len().max(1) as f64;
    let metrics = DpoMetrics {
        loss: f64::from(loss.to_scalar::<f32>()?),
        chosen_reward: mean(&chosen_reward)?,
        rejected_reward: mean(&rejected_reward)?,
        margin: mean(&margin)?,
        accuracy,
    };
    Ok((loss, metrics))
}
