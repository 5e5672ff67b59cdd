//! AdamW whose state (step count, first and second moments) can be saved and restored, so a run
//! resumed from a checkpoint continues exactly as if it had never stopped. (candle-nn's AdamW keeps
//! its moments private.)

use std::collections::HashMap;
use std::path::Path;

use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor, Var};

/// AdamW with decoupled weight decay over a fixed list of trainable variables.
pub struct AdamW {
    vars: Vec<Var>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    /// Optimiser steps taken so far; drives the bias correction and is saved with the state.
    pub step: usize,
    /// Learning rate of the next step; the trainer sets it from its schedule before each step.
    pub lr: f64,
    /// Decay rate of the first moment (0.9).
    pub beta1: f64,
    /// Decay rate of the second moment (0.999).
    pub beta2: f64,
    /// Added to the root of the second moment to avoid dividing by zero (1e-8).
    pub eps: f64,
    /// Decoupled weight decay: each step shrinks the weights by `lr * weight_decay`.
    pub weight_decay: f64,
}

impl AdamW {
    /// An optimiser over `vars` with zero moments at step 0.
    pub fn new(vars: Vec<Var>, lr: f64, weight_decay: f64) -> Result<AdamW> {
        let zeros = |v: &Var| v.zeros_like();
        let m = vars.iter().map(zeros).collect::<Result<Vec<_>>>()?;
        let v = vars.iter().map(zeros).collect::<Result<Vec<_>>>()?;
        Ok(AdamW {
            vars,
            m,
            v,
            step: 0,
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay,
        })
    }

    /// One update of every variable that has a gradient in `grads`.
    pub fn step(&mut self, grads: &GradStore) -> Result<()> {
        self.step += 1;
        let t = self.step as i32;
        let (b1, b2) = (self.beta1, self.beta2);
        let c1 = 1.0 - b1.powi(t);
        let c2 = 1.0 - b2.powi(t);
        for (i, var) in self.vars.iter().enumerate() {
            let Some(g) = grads.get(var) else { continue };
            let m = ((&self.m[i] * b1)? + (g * (1.0 - b1))?)?;
            let v = ((&self.v[i] * b2)? + (g.sqr()? * (1.0 - b2))?)?;
            let update = ((&m / c1)? / ((&v / c2)?.sqrt()? + self.eps)?)?;
            let decayed = (var.as_tensor() * (1.0 - self.lr * self.weight_decay))?;
            var.set(&(decayed - (update * self.lr)?)?)?;
            self.m[i] = m;
            self.v[i] = v;
        }
        Ok(())
    }

    /// Saves the moments (safetensors) next to a small JSON with the step.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let mut tensors = HashMap::new();
        for i in 0..self.vars.len() {
            tensors.insert(format!("m.{i}"), self.m[i].clone());
            tensors.insert(format!("v.{i}"), self.v[i].clone());
        }
        candle_core::safetensors::save(&tensors, dir.join("optimizer.safetensors"))?;
        std::fs::write(
            dir.join("optimizer.json"),
            format!("{{\"step\": {}}}\n", self.step),
        )?;
        Ok(())
    }

    /// Restores the moments and step that [`AdamW::save`] wrote in `dir`.
    pub fn load(&mut self, dir: &Path) -> Result<()> {
        let Some(first) = self.vars.first() else {
            return Ok(());
        };
        let tensors =
            candle_core::safetensors::load(dir.join("optimizer.safetensors"), first.device())?;
        for i in 0..self.vars.len() {
            let get = |k: String| {
                tensors.get(&k).cloned().ok_or_else(|| {
                    candle_core::Error::Msg(format!("the optimizer state has no `{k}`"))
                })
            };
            self.m[i] = get(format!("m.{i}"))?;
            self.v[i] = get(format!("v.{i}"))?;
        }
        let text = std::fs::read_to_string(dir.join("optimizer.json"))?;
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        self.step = json["step"].as_u64().unwrap_or(0) as usize;
        Ok(())
    }
}
