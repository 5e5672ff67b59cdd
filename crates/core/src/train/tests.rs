use candle_core::{Device, Tensor, Var};

use super::adamw::AdamW;
use super::model::{random_weights, Decoder, LoraConfig, Pass, Rng, Shape};
use super::sft::{self, Example, Settings};

fn tiny() -> Shape {
    Shape {
        vocab: 32,
        hidden: 16,
        intermediate: 32,
        layers: 2,
        heads: 4,
        kv_heads: 2,
        rope_theta: 10_000.0,
        eps: 1e-5,
        max_positions: 64,
        qkv_bias: false,
        rope_scaling: None,
    }
}

fn all_targets() -> LoraConfig {
    LoraConfig {
        rank: 4,
        alpha: 8.0,
        dropout: 0.0,
        targets: crate::llm::adapter::PROJECTIONS.map(String::from).to_vec(),
        seed: 1,
    }
}

fn build(lora: &LoraConfig) -> (Decoder, Vec<(String, Var)>) {
    let dev = Device::Cpu;
    let weights = random_weights(&tiny(), 7, &dev).expect("weights");
    let mut vars = Vec::new();
    let model = Decoder::new(tiny(), &weights, lora, &mut vars, &dev).expect("model");
    (model, vars)
}

/// Prompt `[1, x, 2]`, answer `[x+3, x+4, 5]`: learnable, and only the answer is marked.
fn examples() -> Vec<Example> {
    (0..16u32)
        .map(|x| Example {
            ids: vec![1, 10 + x % 8, 2, 3 + x % 20, 4 + x % 20, 5],
            learn: vec![false, false, false, true, true, true],
        })
        .collect()
}

fn scalar(t: &Tensor) -> f64 {
    f64::from(t.to_scalar::<f32>().expect("scalar"))
}

#[test]
fn a_fresh_adapter_changes_nothing_and_switching_it_off_gives_the_base() {
    let (model, vars) = build(&LoraConfig::default());
    let ids = Tensor::new(&[[1u32, 5, 9, 2]], &Device::Cpu).expect("ids");
    let base = model.forward(&ids, false, false).expect("base");
    let with = model.forward(&ids, true, false).expect("adapter");
    let diff = scalar(
        &(base.clone() - with)
            .expect("sub")
            .abs()
            .expect("abs")
            .max_all()
            .expect("max"),
    );
    assert!(diff < 1e-6, "B starts at zero: {diff}");
    // Give B values: the adapter now changes the output, and switching it off restores the base.
    give_b_values(&[&vars], 9, 0.5);
    let with = model.forward(&ids, true, false).expect("adapter");
    let off = model.forward(&ids, false, false).expect("off");
    assert!(
        scalar(
            &(base.clone() - with)
                .expect("sub")
                .abs()
                .expect("abs")
                .max_all()
                .expect("max")
        ) > 1e-3
    );
    assert!(
        scalar(
            &(base - off)
                .expect("sub")
                .abs()
                .expect("abs")
                .max_all()
                .expect("max")
        ) < 1e-6
    );
}

/// Every adapter of layer 1 and layer 0's q_proj: the gradient in `grads` at three entries of each
/// (first, middle, last) matches the central difference of `loss` (step 1e-2), 20 checks at least.
fn finite_differences_agree(
    vars: &[(String, Var)],
    grads: &candle_core::backprop::GradStore,
    loss: impl Fn() -> f64,
) {
    let eps = 1e-2f32;
    let mut checked = 0;
    for (name, v) in vars
        .iter()
        .filter(|(n, _)| n.contains("layers.1.") || n.contains("layers.0.self_attn.q_proj"))
    {
        let g: Vec<f32> = grads
            .get(v)
            .expect("a gradient for every adapter")
            .flatten_all()
            .and_then(|t| t.to_vec1())
            .expect("gradient");
        let values: Vec<f32> = v.flatten_all().and_then(|t| t.to_vec1()).expect("values");
        for &i in &[0usize, values.len() / 2, values.len() - 1] {
            let at = |delta: f32| {
                let mut moved = values.clone();
                moved[i] += delta;
                v.set(&Tensor::from_vec(moved, v.shape(), &Device::Cpu).expect("t"))
                    .expect("set");
                loss()
            };
            let numeric = (at(eps) - at(-eps)) / (2.0 * f64::from(eps));
            v.set(&Tensor::from_vec(values.clone(), v.shape(), &Device::Cpu).expect("t"))
                .expect("restore");
            let analytic = f64::from(g[i]);
            let tol = 2e-3 + 3e-2 * analytic.abs().max(numeric.abs());
            assert!(
                (numeric - analytic).abs() < tol,
                "{name}[{i}]: numeric {numeric}, analytic {analytic}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "{checked}");
}

/// Gives every adapter's B (zero when fresh) seeded normal values of deviation `std`, the same
/// in each list of `lists` (decoders compared with each other get equal adapters).
fn give_b_values(lists: &[&[(String, Var)]], seed: u64, std: f32) {
    let mut rng = Rng::new(seed);
    for (i, (name, v)) in lists[0].iter().enumerate() {
        if name.ends_with("lora_B.weight") {
            let (r, c) = v.dims2().expect("2d");
            let values = rng.normal((r, c), std, &Device::Cpu).expect("randn");
            for list in lists {
                let var = &list[i].1;
                let values = values.to_device(var.device()).expect("to the var's device");
                var.set(&values).expect("set");
            }
        }
    }
}

#[test]
fn lora_gradients_agree_with_finite_differences() {
    let (model, vars) = build(&all_targets());
    give_b_values(&[&vars], 11, 0.3);
    let batch = &examples()[..3];
    let l = sft::loss(&model, batch, true, true).expect("loss");
    let grads = model.backward(&l).expect("backward");
    finite_differences_agree(&vars, &grads, || {
        scalar(&sft::loss(&model, batch, true, false).expect("loss"))
    });
}

/// Our training pass against candle's autograd on the same tiny model: the learned tokens'
/// log-probabilities and every adapter's gradient agree, for Llama (grouped-query heads) and
/// Qwen2 (q/k/v biases), all seven projections adapted, examples of different lengths (padding),
/// B non-zero so every gradient path is live, with Llama 3's rotary scaling, and with dropout
/// (both draw the same masks).
#[test]
fn our_training_pass_matches_candles_autograd() {
    if !logreasoner_cpu::sgemm::available() {
        return; // Without AVX-512 both sides are candle's.
    }
    let dev = Device::Cpu;
    for (bias, dropout) in [(false, 0.0), (true, 0.0), (false, 0.3), (true, 0.3)] {
        let config = Shape {
            qkv_bias: bias,
            // Llama 3's frequency scaling, with the Qwen2-style biases (either way the two
            // passes share the frequencies, so one variant suffices).
            rope_scaling: bias.then_some(super::model::RopeScaling {
                factor: 8.0,
                low_freq_factor: 1.0,
                high_freq_factor: 4.0,
                original_max_positions: 16,
            }),
            ..tiny()
        };
        let mut weights = random_weights(&config, 7, &dev).expect("weights");
        let mut rng = Rng::new(5);
        if bias {
            let kv = config.kv_heads * config.head_dim();
            for i in 0..config.layers {
                for (name, n) in [("q", config.hidden), ("k", kv), ("v", kv)] {
                    let b = rng.normal((n, 1), 0.5, &dev).expect("bias");
                    weights.insert(
                        format!("model.layers.{i}.self_attn.{name}_proj.bias"),
                        b.reshape(n).expect("1d"),
                    );
                }
            }
        }
        let lora = LoraConfig {
            dropout,
            ..all_targets()
        };
        let build = |pass: Pass| {
            let mut vars = Vec::new();
            let mut model =
                Decoder::new(config.clone(), &weights, &lora, &mut vars, &dev).expect("model");
            model.set_pass(pass);
            model.begin_micro_batch(3, 1);
            (model, vars)
        };
        let (ours, our_vars) = build(Pass::Ours);
        let (theirs, their_vars) = build(Pass::Candle);
        give_b_values(&[&our_vars, &their_vars], 6, 0.3);
        let mut batch = examples()[..3].to_vec();
        batch[1].ids.push(7);
        batch[1].learn.push(true);
        batch[2].ids.truncate(5);
        batch[2].learn.truncate(5);
        let (our_loss, their_loss) = (
            sft::loss(&ours, &batch, true, true).expect("loss"),
            sft::loss(&theirs, &batch, true, true).expect("loss"),
        );
        let (l1, l2) = (scalar(&our_loss), scalar(&their_loss));
        assert!(
            (l1 - l2).abs() < 1e-4 * l2.abs(),
            "bias {bias}, dropout {dropout}: loss {l1} vs {l2}"
        );
        let our_grads = ours.backward(&our_loss).expect("ours");
        let their_grads = theirs.backward(&their_loss).expect("theirs");
        for ((name, a), (_, b)) in our_vars.iter().zip(&their_vars) {
            let values = |g: Option<&Tensor>| -> Vec<f32> {
                g.expect("a gradient for every adapter")
                    .flatten_all()
                    .and_then(|t| t.to_vec1())
                    .expect("values")
            };
            let (g1, g2) = (values(our_grads.get(a)), values(their_grads.get(b)));
            let scale = g2.iter().fold(0f32, |m, x| m.max(x.abs()));
            assert!(scale > 0.0, "{name}: no gradient");
            for (x, y) in g1.iter().zip(&g2) {
                assert!(
                    (x - y).abs() < 1e-3 * scale,
                    "bias {bias}, dropout {dropout}, {name}: {x} vs {y} (largest {scale})"
                );
            }
        }
    }
}

#[test]
fn prompt_tokens_carry_no_loss() {
    let (model, _) = build(&LoraConfig::default());
    let e = &examples()[0];
    let l = scalar(&sft::loss(&model, std::slice::from_ref(e), true, false).expect("loss"));
    // The same by hand: the mean negative log-probability of the three answer tokens only.
    let ids = Tensor::new(e.ids.as_slice(), &Device::Cpu)
        .expect("ids")
        .unsqueeze(0)
        .expect("batch");
    let logits = model.forward(&ids, true, false).expect("logits");
    let logp = candle_nn::ops::log_softmax(&logits, candle_core::D::Minus1).expect("logp");
    let logp: Vec<Vec<f32>> = logp.squeeze(0).expect("squeeze").to_vec2().expect("vec");
    let by_hand: f64 = (3..6)
        .map(|i| -f64::from(logp[i - 1][e.ids[i] as usize]))
        .sum::<f64>()
        / 3.0;
    assert!((l - by_hand).abs() < 1e-5, "{l} vs {by_hand}");
    // Changing what a prompt token's target would be (marking it) changes the loss; unmarked, it does not count.
    let mut all = e.clone();
    all.learn = vec![true; 6];
    let l_all = scalar(&sft::loss(&model, &[all], true, false).expect("loss"));
    assert!((l_all - l).abs() > 1e-4);
}

#[test]
fn sft_loss_on_16_examples_falls_by_more_than_half_in_50_steps() {
    let (model, vars) = build(&all_targets());
    let vars: Vec<Var> = vars.into_iter().map(|(_, v)| v).collect();
    let data = examples();
    let before = scalar(&sft::loss(&model, &data, true, false).expect("loss"));
    let settings = Settings {
        lr: 3e-2,
        warmup: 5,
        steps: 50,
        batch: 8,
        accumulation: 2,
        clip: 1.0,
        weight_decay: 0.0,
        seed: 3,
    };
    let mut curve = Vec::new();
    let mut opt = AdamW::new(vars.clone(), settings.lr, 0.0).expect("optimiser");
    sft::train(&model, &mut opt, &vars, &data, &settings, &mut |m, _| {
        curve.push(m.loss);
        Ok(())
    })
    .expect("train");
    let after = scalar(&sft::loss(&model, &data, true, false).expect("loss"));
    assert_eq!(curve.len(), 50);
    assert!(
        after < before / 2.0,
        "loss {before:.3} → {after:.3}; curve {curve:?}"
    );
    // Seeded: a second run from the same start gives the same curve.
    let (again, vars2) = build(&all_targets());
    let vars2: Vec<Var> = vars2.into_iter().map(|(_, v)| v).collect();
    let mut curve2 = Vec::new();
    let mut opt2 = AdamW::new(vars2.clone(), settings.lr, 0.0).expect("optimiser");
    sft::train(&again, &mut opt2, &vars2, &data, &settings, &mut |m, _| {
        curve2.push(m.loss);
        Ok(())
    })
    .expect("train");
    assert_eq!(curve, curve2);
}

#[test]
fn the_schedule_warms_up_then_decays() {
    let s = Settings {
        lr: 1.0,
        warmup: 4,
        steps: 20,
        ..Default::default()
    };
    assert_eq!(sft::lr_at(&s, 0), 0.25);
    assert_eq!(sft::lr_at(&s, 3), 1.0);
    assert!((sft::lr_at(&s, 4) - 1.0).abs() < 1e-12);
    assert!((sft::lr_at(&s, 20) - 0.1).abs() < 1e-12);
    assert!(sft::lr_at(&s, 12) < 1.0 && sft::lr_at(&s, 12) > 0.1);
    let p = sft::shuffled(10, 5);
    let mut sorted = p.clone();
    sorted.sort();
    assert_eq!(sorted, (0..10).collect::<Vec<_>>());
    assert_eq!(p, sft::shuffled(10, 5));
}

#[test]
fn bucketed_batches_hold_similar_lengths_and_every_example_once() {
    // 200 examples whose lengths alternate short and long: plain shuffled batches mix them.
    let length = |i: usize| {
        if i.is_multiple_of(2) {
            20 + i % 7
        } else {
            900 + i % 11
        }
    };
    let order = sft::bucketed(&sft::shuffled(202, 3), length, 4, 3);
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(sorted, (0..202).collect::<Vec<_>>(), "a permutation");
    assert_eq!(
        order,
        sft::bucketed(&sft::shuffled(202, 3), length, 4, 3),
        "seeded"
    );
    let padded = |o: &[usize]| -> usize {
        o.chunks(4)
            .map(|b| b.iter().map(|&i| length(i)).max().unwrap_or(0) * b.len())
            .sum()
    };
    let plain = sft::shuffled(202, 3);
    assert!(
        padded(&order) * 10 < padded(&plain) * 6,
        "bucketing pads {} tokens, plain shuffling {}",
        padded(&order),
        padded(&plain)
    );
    // The short remainder (202 = 50 * 4 + 2) is the last batch, so the others stay whole.
    assert_eq!(order.len() % 4, 2);
}

#[test]
fn dpo_margin_and_accuracy_rise_on_a_toy_preference_set() {
    use super::dpo::{self, Pair};
    let (model, vars) = build(&all_targets());
    let vars: Vec<Var> = vars.into_iter().map(|(_, v)| v).collect();
    // Prompt [1, x, 2]; the chosen answer repeats x, the rejected one says 9.
    let pairs: Vec<Pair> = (0..8u32)
        .map(|x| {
            let answer = |a: u32| Example {
                ids: vec![1, 10 + x, 2, a, 5],
                learn: vec![false, false, false, true, true],
            };
            Pair {
                chosen: answer(10 + x),
                rejected: answer(9),
            }
        })
        .collect();
    let (_, before) = dpo::loss(&model, &pairs, 0.5, true).expect("loss");
    assert!(
        before.margin.abs() < 1e-6,
        "a fresh adapter is the reference: {before:?}"
    );
    let mut opt = <candle_nn::AdamW as candle_nn::Optimizer>::new(
        vars.clone(),
        candle_nn::ParamsAdamW {
            lr: 2e-2,
            ..Default::default()
        },
    )
    .expect("optimiser");
    let mut history = Vec::new();
    for _ in 0..30 {
        let (l, m) = dpo::loss(&model, &pairs, 0.5, true).expect("loss");
        let grads = model.backward(&l).expect("backward");
        candle_nn::Optimizer::step(&mut opt, &grads).expect("step");
        history.push(m);
    }
    let (_, after) = dpo::loss(&model, &pairs, 0.5, true).expect("loss");
    assert!(after.margin > 0.5, "{after:?}");
    assert_eq!(after.accuracy, 1.0, "{after:?}");
    assert!(after.loss < history[0].loss);
    assert!(after.chosen_reward > after.rejected_reward);
}

#[test]
fn a_run_resumed_from_its_checkpoint_gives_the_same_curve() {
    let plain = resumed_curves(0.0, 1, Pass::Ours);
    // With dropout (both passes seed their masks by step and micro-batch) and two micro-batches,
    // on our pass (where the CPU has it) and on candle's (other devices' path).
    let dropped = resumed_curves(0.2, 2, Pass::Candle);
    assert_ne!(plain, dropped, "dropout changed nothing");
    if logreasoner_cpu::sgemm::available() {
        let ours = resumed_curves(0.2, 2, Pass::Ours);
        for (x, y) in ours.iter().zip(&dropped) {
            assert!((x - y).abs() < 1e-4 * y.abs(), "our pass {x}, candle's {y}");
        }
    }
}

/// The curve of an uninterrupted run against that of one killed after step 7 and resumed from
/// its checkpoint: they must be equal.
fn resumed_curves(dropout: f32, accumulation: usize, pass: Pass) -> Vec<f64> {
    let data = examples();
    let lora = LoraConfig {
        dropout,
        ..all_targets()
    };
    let settings = Settings {
        lr: 2e-2,
        warmup: 3,
        steps: 16,
        batch: 4,
        accumulation,
        clip: 1.0,
        weight_decay: 0.01,
        seed: 5,
    };
    // `stop_after`: the run is killed right after that step's checkpoint is written.
    let run = |stop_after: Option<usize>,
               from: Option<&std::path::Path>,
               save: Option<&std::path::Path>| {
        let (mut model, named) = build(&lora);
        model.set_pass(pass);
        let vars: Vec<Var> = named.iter().map(|(_, v)| v.clone()).collect();
        let mut opt = AdamW::new(vars.clone(), settings.lr, settings.weight_decay).expect("opt");
        if let Some(dir) = from {
            super::peft::load(dir, &named).expect("adapter");
            opt.load(dir).expect("optimiser state");
        }
        let mut curve = Vec::new();
        let result = sft::train(&model, &mut opt, &vars, &data, &settings, &mut |m, opt| {
            curve.push(m.loss);
            if Some(m.step) == stop_after {
                if let Some(dir) = save {
                    super::peft::save(dir, &named, &all_targets(), "tiny")?;
                    opt.save(dir)?;
                }
                candle_core::bail!("killed");
            }
            Ok(())
        });
        if stop_after.is_some() {
            assert!(result.is_err());
        } else {
            result.expect("train");
        }
        curve
    };
    let whole = run(None, None, None);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut halves = run(Some(7), None, Some(dir.path()));
    halves.extend(run(None, Some(dir.path()), None));
    assert_eq!(halves.len(), 16);
    assert_eq!(whole, halves, "dropout {dropout}");
    whole
}

/// With dropout, a pass draws its masks from the adapters' seed, the step and the micro-batch
/// (candle's path the same masks as ours): a micro-batch repeats exactly (so finite differences
/// of it match the gradient), another step draws other masks, and the masks change the loss.
#[test]
fn dropout_masks_repeat_per_micro_batch_and_their_gradients_are_exact() {
    let lora = LoraConfig {
        dropout: 0.3,
        ..all_targets()
    };
    for pass in [Pass::Ours, Pass::Candle] {
        if pass == Pass::Ours && !logreasoner_cpu::sgemm::available() {
            continue;
        }
        let (mut model, vars) = build(&lora);
        model.set_pass(pass);
        give_b_values(&[&vars], 11, 0.3);
        let batch = &examples()[..3];
        let loss_at = |step: usize| -> f64 {
            model.begin_micro_batch(step, 0);
            let l = sft::loss(&model, batch, true, true).expect("loss");
            model.backward(&l).expect("backward"); // consumes the pass's tape
            scalar(&l)
        };
        assert_eq!(loss_at(0), loss_at(0), "{pass:?}");
        assert_ne!(loss_at(0), loss_at(1), "{pass:?}");
        let without = scalar(&sft::loss(&model, batch, true, false).expect("loss"));
        assert_ne!(loss_at(0), without, "{pass:?}");
        model.begin_micro_batch(0, 0);
        let l = sft::loss(&model, batch, true, true).expect("loss");
        let grads = model.backward(&l).expect("backward");
        finite_differences_agree(&vars, &grads, || loss_at(0));
    }
}

#[test]
fn a_saved_adapter_has_peft_names_and_loads_into_a_fresh_model() {
    let (model, named) = build(&all_targets());
    let vars: Vec<Var> = named.iter().map(|(_, v)| v.clone()).collect();
    let mut opt = AdamW::new(vars.clone(), 3e-2, 0.0).expect("opt");
    let s = Settings {
        lr: 3e-2,
        warmup: 1,
        steps: 10,
        batch: 8,
        ..Default::default()
    };
    sft::train(&model, &mut opt, &vars, &examples(), &s, &mut |_, _| Ok(())).expect("train");
    let dir = tempfile::tempdir().expect("tempdir");
    super::peft::save(dir.path(), &named, &all_targets(), "tiny-base").expect("save");
    let config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("adapter_config.json")).expect("config"),
    )
    .expect("json");
    assert_eq!(config["peft_type"], "LORA");
    assert_eq!(config["r"], 4);
    let tensors =
        candle_core::safetensors::load(dir.path().join("adapter_model.safetensors"), &Device::Cpu)
            .expect("load");
    assert!(tensors.contains_key("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"));
    assert!(tensors.contains_key("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight"));
    assert_eq!(
        super::peft::read_config(dir.path()).expect("read").targets,
        all_targets().targets
    );

    let ids = Tensor::new(&[[1u32, 12, 2]], &Device::Cpu).expect("ids");
    let trained = model.forward(&ids, true, false).expect("trained");
    let (fresh, fresh_vars) = build(&all_targets());
    let before = fresh.forward(&ids, true, false).expect("fresh");
    super::peft::load(dir.path(), &fresh_vars).expect("load adapter");
    let after = fresh.forward(&ids, true, false).expect("loaded");
    let gap = |a: &Tensor, b: &Tensor| {
        scalar(
            &(a - b)
                .expect("sub")
                .abs()
                .expect("abs")
                .max_all()
                .expect("max"),
        )
    };
    assert!(
        gap(&before, &after) > 1e-3,
        "the adapter changes the output"
    );
    assert!(
        gap(&trained, &after) < 1e-6,
        "and reproduces the trained model"
    );
}

/// The bf16 decoder (what a CUDA run trains) follows the f32 one: the same loss to bf16's
/// precision, gradients pointing the same way, and SFT steps that lower the loss. Run on the CPU,
/// where candle computes bf16 too; only the device differs on a GPU.
#[test]
fn a_bf16_decoder_follows_the_f32_one() {
    bf16_follows_f32_on_the_cpu(&Device::Cpu);
}

/// The same on a GPU (the dtype `train` holds the base in there). It needs one:
/// `cargo test --features cuda cuda` on a machine with CUDA.
#[cfg(feature = "cuda")]
#[test]
fn a_bf16_decoder_on_cuda_follows_the_f32_one_on_the_cpu() {
    let dev = Device::new_cuda(0).expect("this test needs a CUDA device");
    bf16_follows_f32_on_the_cpu(&dev);
}

/// A bf16 decoder on `device` against an f32 one on the CPU with the same weights and adapters:
/// loss, every adapter's gradient, and 20 steps of training.
fn bf16_follows_f32_on_the_cpu(device: &Device) {
    use candle_core::DType;
    let build = |dev: &Device, dtype: DType| {
        let weights = random_weights(&tiny(), 7, dev).expect("weights");
        let mut vars = Vec::new();
        let model = Decoder::with_dtype(tiny(), &weights, &all_targets(), &mut vars, dev, dtype)
            .expect("model");
        (model, vars)
    };
    let (full, full_vars) = build(&Device::Cpu, DType::F32);
    let (half, half_vars) = build(device, DType::BF16);
    give_b_values(&[&full_vars, &half_vars], 3, 0.3);
    let batch = &examples()[..4];
    let (l_full, l_half) = (
        sft::loss(&full, batch, true, true).expect("loss"),
        sft::loss(&half, batch, true, true).expect("loss"),
    );
    assert_eq!(l_half.dtype(), DType::F32, "the loss is f32");
    let (x, y) = (scalar(&l_full), scalar(&l_half));
    assert!((x - y).abs() < 3e-2 * x.abs(), "loss f32 {x}, bf16 {y}");
    let (g_full, g_half) = (
        full.backward(&l_full).expect("grads"),
        half.backward(&l_half).expect("grads"),
    );
    for ((name, a), (_, b)) in full_vars.iter().zip(&half_vars) {
        let values = |g: Option<&Tensor>| -> Vec<f64> {
            let g = g.expect("a gradient for every adapter");
            assert_eq!(g.dtype(), DType::F32, "{name}: adapters' gradients are f32");
            g.flatten_all()
                .and_then(|t| t.to_vec1::<f32>())
                .expect("values")
                .into_iter()
                .map(f64::from)
                .collect()
        };
        let (p, q) = (values(g_full.get(a)), values(g_half.get(b)));
        let dot: f64 = p.iter().zip(&q).map(|(x, y)| x * y).sum();
        let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
        let cosine = dot / (norm(&p) * norm(&q)).max(1e-30);
        assert!(cosine > 0.98, "{name}: cosine {cosine}");
    }
    let vars: Vec<Var> = half_vars.iter().map(|(_, v)| v.clone()).collect();
    let settings = Settings {
        lr: 2e-2,
        warmup: 2,
        steps: 20,
        batch: 8,
        ..Default::default()
    };
    let mut opt = AdamW::new(vars.clone(), settings.lr, 0.0).expect("optimiser");
    let before = scalar(&sft::loss(&half, &examples(), true, false).expect("loss"));
    sft::train(
        &half,
        &mut opt,
        &vars,
        &examples(),
        &settings,
        &mut |_, _| Ok(()),
    )
    .expect("train");
    let after = scalar(&sft::loss(&half, &examples(), true, false).expect("loss"));
    assert!(after < 0.8 * before, "bf16 training: {before} → {after}");
}

/// Once our pass holds the projections packed, candle's copies can go: the loss and every
/// gradient stay exactly the same, and candle's path then says why it cannot run.
#[test]
fn releasing_the_unpacked_weights_changes_no_result() {
    if !logreasoner_cpu::sgemm::available() {
        return; // Nothing is packed; nothing can be released.
    }
    let (mut model, vars) = build(&all_targets());
    give_b_values(&[&vars], 3, 0.3);
    let batch = &examples()[..4];
    let run = |model: &Decoder| -> (f64, Vec<Vec<f32>>) {
        let l = sft::loss(model, batch, true, true).expect("loss");
        let grads = model.backward(&l).expect("backward");
        let values = vars
            .iter()
            .map(|(_, v)| {
                grads
                    .get(v)
                    .expect("a gradient")
                    .flatten_all()
                    .and_then(|t| t.to_vec1())
                    .expect("values")
            })
            .collect();
        (scalar(&l), values)
    };
    let before = run(&model);
    assert!(model.release_unpacked());
    assert_eq!(run(&model), before);
    model.set_pass(Pass::Candle);
    let err = sft::loss(&model, batch, true, true).expect_err("nothing left to run on");
    assert!(err.to_string().contains("released"), "{err}");
}
