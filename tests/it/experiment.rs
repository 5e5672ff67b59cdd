//! `logreasoner experiment run --scale small` end to end on a tiny Llama the test makes itself:
//! every step runs, a stop after a step resumes where it left off without redoing finished work,
//! and the results table has every variant and task.

use crate::common;

use std::path::Path;
use std::process::Output;

fn run(home: &Path, model: &Path, out: &Path, extra: &[&str]) -> Output {
    common::command(home)
        .arg("--model")
        .arg(model)
        .args(["experiment", "run", "--scale", "small", "--out"])
        .arg(out)
        .args(extra)
        .output()
        .expect("run the binary")
}

/// A folder made from other items or charts is refused, never resumed over the wrong items.
fn refuses_a_folder_made_from_other_inputs(home: &Path, model: &Path, out: &Path) {
    let state_path = out.join("state.json");
    let kept = std::fs::read(&state_path).expect("state");
    let mut state: serde_json::Value = serde_json::from_slice(&kept).expect("json");
    assert!(
        state["inputs"].as_str().is_some_and(|f| f.len() == 64),
        "{state}"
    );
    state["inputs"] = serde_json::json!("made from something else");
    std::fs::write(&state_path, serde_json::to_vec(&state).expect("json")).expect("write");
    let moved = run(home, model, out, &[]);
    assert_eq!(moved.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&moved.stderr).contains("made from other items or charts"),
        "{}",
        String::from_utf8_lossy(&moved.stderr)
    );
    // A folder begun before fingerprints were kept is resumed unchecked and is not given one:
    // what it was made from is unknown.
    // (Its last step is left to do, so the run saves its state.)
    state.as_object_mut().expect("object").remove("inputs");
    state["done"]
        .as_object_mut()
        .expect("done")
        .remove("eval:verdict");
    state["results"]
        .as_array_mut()
        .expect("results")
        .retain(|r| {
            !r["variant"]
                .as_str()
                .is_some_and(|v| v.ends_with("diagnosis verdict"))
        });
    std::fs::write(&state_path, serde_json::to_vec(&state).expect("json")).expect("write");
    let legacy = run(home, model, out, &[]);
    let stderr = String::from_utf8_lossy(&legacy.stderr);
    assert!(legacy.status.success(), "{stderr}");
    assert!(stderr.contains("not checked"), "{stderr}");
    let after: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state_path).expect("state")).expect("json");
    assert!(after.get("inputs").is_none(), "{after}");
    assert!(after["done"].get("eval:verdict").is_some(), "{after}");
    std::fs::write(&state_path, &kept).expect("restore");
}

/// The binary rows whose answer is the gold label alone (no teacher reached it): the direct
/// data has them, the stepwise data none, so there the form of an answer never tells its label.
fn leaves_untraced_binary_items_out_of_the_stepwise_data(out: &Path) {
    let bare = |file: &str| {
        let text = std::fs::read_to_string(out.join(file)).expect(file);
        text.lines()
            .filter(|l| {
                let row: serde_json::Value = serde_json::from_str(l).expect("row");
                let answer = row["messages"]
                    .as_array()
                    .and_then(|m| m.last())
                    .and_then(|m| m["content"].as_str())
                    .unwrap_or_default()
                    .to_string();
                [
                    "Answer: normal",
                    "Answer: abnormal",
                    "Answer: yes",
                    "Answer: no",
                ]
                .contains(&answer.as_str())
                    || answer.starts_with("Anomalous:")
            })
            .count()
    };
    assert!(bare("direct.jsonl") > 0);
    assert_eq!(bare("stepwise_traces.jsonl"), 0);
    assert_eq!(bare("coarse_fine_traces.jsonl"), 0);
}

/// The coarse-to-fine data is the stepwise data row for row, some answers opened by their
/// chart's problem and the rest unchanged.
fn coarse_to_fine_rows_are_stepwise_rows_led_by_a_thought(out: &Path) {
    let answers = |file: &str| -> Vec<String> {
        std::fs::read_to_string(out.join(file))
            .expect(file)
            .lines()
            .map(|l| {
                let row: serde_json::Value = serde_json::from_str(l).expect("row");
                row["messages"][row["messages"].as_array().map_or(0, |m| m.len() - 1)]["content"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    };
    let (stepwise, coarse) = (answers("stepwise.jsonl"), answers("coarse_fine.jsonl"));
    assert_eq!(stepwise.len(), coarse.len());
    let mut led = 0;
    for (plain, opened) in stepwise.iter().zip(&coarse) {
        if opened != plain {
            let (thought, rest) = opened.split_once('\n').expect("a first line");
            assert!(thought.starts_with("Thought: "), "{opened}");
            assert_eq!(rest, plain);
            led += 1;
        }
    }
    assert!(led > 0, "no answer opens with a thought");
}

/// DPO learned from the thought + stepwise adapter's own answers (greedy, and sampled: every draw
/// of every prompt kept; each distinct wrong one a pair). Small
/// scale trains in 1,024 tokens: the diagnosis chats that carry a chart's thought are longer,
/// and the report says how many were cut rather than hiding it in a run's log.
fn says_which_prompts_were_cut_and_what_dpo_learned_from(out: &Path) {
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("state.json")).expect("state"))
            .expect("json");
    // DPO's pairs are the thought + stepwise adapter's own answers, kept per prompt and draw.
    let answered = state["data"]["policy_answered"].as_u64().unwrap_or(0);
    let draws = state["data"]["policy_draws"].as_u64().unwrap_or(0);
    assert!(answered > 0 && draws == 2, "{}", state["data"]);
    let policy = std::fs::read_to_string(out.join("policy.jsonl")).expect("policy.jsonl");
    let rows: Vec<serde_json::Value> = policy
        .lines()
        .map(|l| serde_json::from_str(l).expect("row"))
        .collect();
    assert_eq!(rows.len() as u64, answered * draws);
    for draw in 0..draws {
        let n = rows
            .iter()
            .filter(|r| r["draw"].as_u64() == Some(draw))
            .count() as u64;
        assert_eq!(n, answered, "draw {draw}");
    }
    let wrong: std::collections::HashSet<(String, String)> = rows
        .iter()
        .filter(|r| r["right"] == false)
        .map(|r| {
            (
                format!("{}{}", r["item"], r["diagnosis"]),
                r["text"].to_string(),
            )
        })
        .collect();
    assert!(state["data"]["dpo_pairs"].as_u64().unwrap_or(0) <= wrong.len() as u64);
    assert!(state["done"].get("policy").is_some(), "{}", state["done"]);
    let notes = state["notes"].to_string();
    assert!(
        notes.contains("thought-stepwise: ")
            && notes.contains("training prompts cut in the middle to fit 1024 tokens"),
        "{notes}"
    );
}

/// `experiment ship` from `from` to `to`, with `extra` arguments.
fn run_ship(home: &Path, from: &Path, to: &Path, extra: &[&str]) -> Output {
    common::command(home)
        .args(["experiment", "ship", "--from"])
        .arg(from)
        .arg("--to")
        .arg(to)
        .args(["--command", "logreasoner experiment run --scale small"])
        .args(extra)
        .output()
        .expect("run")
}

/// [`run_ship`], which must succeed.
fn ship_ok(home: &Path, from: &Path, to: &Path, extra: &[&str]) {
    let ship = run_ship(home, from, to, extra);
    assert!(
        ship.status.success(),
        "{}",
        String::from_utf8_lossy(&ship.stderr)
    );
}

/// Stepwise SFT alone ships too, measured on the diagnosis prompt like the full pipeline; an
/// adapter a folder cannot ship is refused with the ones it can.
fn ships_stepwise_sft_alone(home: &Path, out: &Path) {
    let md = std::fs::read_to_string(out.join("results.md")).expect("results.md");
    assert!(md.contains("| stepwise SFT, diagnosis prompt |"), "{md}");
    // What an engineer is shown with either shippable adapter, against the walk alone.
    for variant in ["full (+ DPO)", "stepwise SFT"] {
        let row = format!("| {variant}, diagnosis verdict − flowchart walk | anomaly_detection");
        assert!(md.contains(&row), "{row} in\n{md}");
    }
    let stepwise = home.join("adapters/stepwise");
    ship_ok(home, out, &stepwise, &["--variant", "stepwise"]);
    assert_eq!(
        std::fs::read(stepwise.join("adapter_model.safetensors")).expect("shipped"),
        std::fs::read(out.join("runs/stepwise/adapter/adapter_model.safetensors")).expect("run's")
    );
    let readme = std::fs::read_to_string(stepwise.join("README.md")).expect("readme");
    assert!(readme.contains("Stepwise SFT's LoRA adapter"), "{readme}");
    let unknown = run_ship(home, out, &home.join("nowhere"), &["--variant", "direct"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&unknown.stderr)
            .contains("the adapters a folder ships are full, stepwise"),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );
}

/// `state.json`'s result rows without the variants `drop` names.
fn drop_rows(state: &mut serde_json::Value, drop: &dyn Fn(&str) -> bool) {
    let rows = state["results"].as_array().expect("rows").clone();
    state["results"] = rows
        .into_iter()
        .filter(|r| !drop(r["variant"].as_str().unwrap_or_default()))
        .collect();
}

/// The progress line of `step` in a run's stderr.
fn says(stderr: &str, step: &str) -> String {
    let at = format!("] {step}");
    stderr
        .lines()
        .find(|l| l.ends_with(&at) || l.contains(&format!("{at}: ")))
        .unwrap_or_else(|| panic!("no line for {step} in {stderr}"))
        .to_string()
}

fn resumes_a_folder_whose_files_are_gone(home: &Path, model: &Path, out: &Path) {
    // A finished folder whose regenerable files and a run folder are gone (committed without
    // them) keeps every finished step: no step still to run reads them, so nothing is rebuilt or
    // trained again.
    std::fs::remove_file(out.join("direct.jsonl")).expect("remove");
    std::fs::remove_dir_all(out.join("runs/direct")).expect("remove");
    let third = run(home, model, out, &[]);
    let stderr = String::from_utf8_lossy(&third.stderr);
    assert!(third.status.success(), "{stderr}");
    assert!(!out.join("direct.jsonl").exists());
    assert!(!out.join("runs/direct").exists());
    for step in ["data", "train:direct"] {
        assert!(
            says(&stderr, step).contains("done earlier")
                && says(&stderr, step).contains("its files are gone"),
            "{stderr}"
        );
    }
    assert!(says(&stderr, "eval:direct").contains("done earlier"));

    // With direct SFT's evaluation to do again, its run and the file it reads are made again.
    let state_path = out.join("state.json");
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state_path).expect("state")).expect("json");
    state["done"]
        .as_object_mut()
        .expect("done")
        .remove("eval:direct");
    drop_rows(&mut state, &|v| v == "direct SFT");
    std::fs::write(&state_path, state.to_string()).expect("write");
    let fourth = run(home, model, out, &[]);
    let stderr = String::from_utf8_lossy(&fourth.stderr);
    assert!(fourth.status.success(), "{stderr}");
    assert!(out.join("direct.jsonl").exists());
    assert!(out.join("runs/direct/adapter").exists());
    for step in ["data", "train:direct", "eval:direct"] {
        assert!(!says(&stderr, step).contains("done earlier"), "{stderr}");
    }
    assert!(says(&stderr, "eval:thought-stepwise").contains("done earlier"));
}

#[test]
fn a_small_experiment_runs_every_step_and_resumes_after_a_stop() {
    let home = tempfile::tempdir().expect("home");
    let model = home.path().join("tiny");
    std::fs::create_dir_all(&model).expect("dir");
    common::tiny_hf_llama_with(
        &model,
        49152,
        serde_json::json!({ "max_position_embeddings": 4096 }),
    );
    let out = home.path().join("exp");

    let first = run(home.path(), &model, &out, &["--until", "train:thought"]);
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "{stderr}");
    assert!(stderr.contains("stopped after train:thought"), "{stderr}");
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("state.json")).expect("state"))
            .expect("json");
    let done = state["done"].as_object().expect("done");
    assert_eq!(
        done.keys().collect::<Vec<_>>(),
        [
            "data",
            "eval:coarse-fine",
            "eval:diagnosis-coarse-fine",
            "eval:verdict-coarse-fine",
            "eval:walk",
            "samples",
            "train:coarse-fine",
            "train:thought"
        ]
    );
    assert!(
        state["data"]["traces"]["chart"].as_u64().unwrap_or(0) > 0,
        "{state}"
    );
    leaves_untraced_binary_items_out_of_the_stepwise_data(&out);
    coarse_to_fine_rows_are_stepwise_rows_led_by_a_thought(&out);
    let thought_adapter = out.join("runs/thought/adapter/adapter_model.safetensors");
    let before = std::fs::metadata(&thought_adapter)
        .expect("adapter")
        .modified()
        .expect("time");

    let second = run(home.path(), &model, &out, &[]);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success(), "{stderr}");
    assert!(stderr.contains("train:thought: done earlier"), "{stderr}");
    let after = std::fs::metadata(&thought_adapter)
        .expect("adapter")
        .modified()
        .expect("time");
    assert_eq!(before, after, "a finished stage is not trained again");
    says_which_prompts_were_cut_and_what_dpo_learned_from(&out);
    let table = String::from_utf8_lossy(&second.stdout);
    for variant in [
        "| base |",
        "| flowchart walk |",
        "| direct SFT |",
        "| stepwise SFT |",
        "| thought + stepwise SFT |",
        "| coarse-to-fine SFT |",
    ] {
        assert!(table.contains(variant), "{variant} in\n{table}");
    }
    for task in [
        "anomaly_detection (f1)",
        "failure_prediction (f1)",
        "log_parsing (ga)",
        "root_cause (token_f1)",
        "interpretation (token_f1)",
    ] {
        assert!(table.contains(task), "{task} in\n{table}");
    }
    let md = std::fs::read_to_string(out.join("results.md")).expect("results.md");
    assert!(md.contains("Wall time per step"), "{md}");
    // The base model on the prompt diagnoses send, split by source like the rest.
    assert!(md.contains("| base, diagnosis prompt |"), "{md}");
    assert!(md.contains("## Anomaly detection by source"), "{md}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("results.json")).expect("json"))
            .expect("json");
    assert!(
        json["results"].as_array().is_some_and(|r| r.len() >= 20),
        "{json}"
    );

    resumes_a_folder_whose_files_are_gone(home.path(), &model, &out);

    // The verdict diagnoses give with the base model, scored from its recorded answers.
    let md = std::fs::read_to_string(out.join("results.md")).expect("results.md");
    assert!(md.contains("| base, diagnosis verdict |"), "{md}");

    refuses_a_folder_made_from_other_inputs(home.path(), &model, &out);

    // Another scale in the same folder is refused with what to do.
    let other = common::command(home.path())
        .arg("--model")
        .arg(&model)
        .args(["experiment", "run", "--scale", "full", "--out"])
        .arg(&out)
        .output()
        .expect("run");
    assert_eq!(other.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&other.stderr).contains("pass another --out"));

    // Shipping copies the full pipeline's adapter with its results; a diagnosis reads them.
    let shipped = home.path().join("adapters/lr");
    ship_ok(home.path(), &out, &shipped, &[]);
    for file in [
        "adapter_config.json",
        "adapter_model.safetensors",
        "results.json",
        "results.md",
        "README.md",
    ] {
        assert!(shipped.join(file).exists(), "{file}");
    }
    let readme = std::fs::read_to_string(shipped.join("README.md")).expect("readme");
    assert!(
        readme.contains("logreasoner experiment run --scale small"),
        "{readme}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(shipped.join("results.json")).expect("json"))
            .expect("json");
    assert_eq!(
        json,
        serde_json::from_slice::<serde_json::Value>(
            &std::fs::read(out.join("results.json")).expect("json")
        )
        .expect("json")
    );
    ships_stepwise_sft_alone(home.path(), &out);
    // An unfinished experiment is refused.
    let unfinished = home.path().join("unfinished");
    std::fs::create_dir_all(&unfinished).expect("dir");
    let mut state = json.clone();
    state["results"] = serde_json::json!([]);
    std::fs::write(unfinished.join("state.json"), state.to_string()).expect("write");
    let refused = run_ship(home.path(), &unfinished, &home.path().join("nope"), &[]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("is not finished"));
    ships_from_a_folder_that_stopped_after_its_variant(home.path(), &out);
}

/// A folder stopped after coarse-to-fine SFT's steps (the staged variants never ran) ships that
/// adapter: its table holds it beside the baselines. Without direct SFT's rows it is refused.
fn ships_from_a_folder_that_stopped_after_its_variant(home: &Path, out: &Path) {
    let partial = home.join("partial");
    let copied = std::process::Command::new("cp")
        .arg("-r")
        .arg(out)
        .arg(&partial)
        .status()
        .expect("cp");
    assert!(copied.success());
    let state_path = partial.join("state.json");
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state_path).expect("state")).expect("json");
    drop_rows(&mut state, &|v| {
        v.starts_with("thought + stepwise SFT") || v.starts_with("full (+ DPO)")
    });
    std::fs::write(&state_path, state.to_string()).expect("write");
    let to = home.join("adapters/coarse");
    ship_ok(home, &partial, &to, &["--variant", "coarse-fine"]);
    assert_eq!(
        std::fs::read(to.join("adapter_model.safetensors")).expect("shipped"),
        std::fs::read(partial.join("runs/coarse-fine/adapter/adapter_model.safetensors"))
            .expect("run's")
    );
    drop_rows(&mut state, &|v| v == "direct SFT");
    std::fs::write(&state_path, state.to_string()).expect("write");
    let refused = run_ship(
        home,
        &partial,
        &home.join("nope2"),
        &["--variant", "coarse-fine"],
    );
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("no results for direct SFT"), "{stderr}");
}
