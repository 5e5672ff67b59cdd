//! The prompts of the data engine: a thought written by the model (SPEC's coarse format), a chart's
//! thought rewritten fluently, and the stepwise solution of a task instance. Evaluation asks with the
//! same solution prompt, so a model trained on the exported data is tested the way it was taught.

use crate::flowchart::thought::{render, ThoughtText};
use crate::llm::chat::Message;
use crate::store::Task;

/// The system message of every solution chat, in generation and in evaluation.
pub const SOLVER_SYSTEM: &str = "You are an expert site reliability engineer. You solve log-analysis \
tasks step by step, following the expert thought when one is given, and you quote line numbers as evidence.";

/// How the answer line must look, per task (`kind` distinguishes LogLM's solution rows).
pub fn answer_format(task: Task, kind: Option<&str>) -> &'static str {
    match (task, kind) {
        (Task::AnomalyDetection, _) => "Answer: normal   or   Answer: abnormal",
        (Task::FailurePrediction, _) => "Answer: yes   or   Answer: no",
        (Task::LogParsing, _) => {
            "Answer: <the template of the log line, each variable replaced by <*>>"
        }
        (Task::RootCause, Some("solution")) => "Answer: <how to fix it, in one or two sentences>",
        (Task::RootCause, _) => "Answer: <the root cause, in one or two sentences>",
        (Task::Interpretation, _) => "Answer: <what the log means, in one or two sentences>",
    }
}

/// The chat that asks for a stepwise solution: the thought (when there is one), the instruction,
/// the numbered lines (headers compacted), and the answer format.
pub fn solution(
    task: Task,
    kind: Option<&str>,
    instruction: &str,
    input: &[String],
    thought: Option<&str>,
) -> Vec<Message> {
    let mut user = String::new();
    if let Some(t) = thought {
        user.push_str("Expert thought:\n");
        user.push_str(t.trim_end());
        user.push_str("\n\n");
    }
    if !instruction.is_empty() {
        user.push_str("Task: ");
        user.push_str(instruction);
        user.push('\n');
    }
    user.push_str("Log lines (line number first):\n");
    // Headers compacted as a diagnosis shows them (fewer tokens, the same facts); a parsing
    // item's line stays whole, since its gold template is of that exact line.
    let format = (task != Task::LogParsing)
        .then(|| crate::logs::format::detect(input))
        .flatten();
    for (i, line) in input.iter().enumerate() {
        let line = crate::logs::format::compact(line, format);
        let cut: String = line.chars().take(600).collect();
        user.push_str(&format!("{} {cut}\n", i + 1));
    }
    user.push_str(&format!(
        "\nWrite numbered steps; in each, say what you check and what the log shows, quoting line \
         numbers. Then finish with exactly one line:\n{}\n",
        answer_format(task, kind)
    ));
    vec![Message::system(SOLVER_SYSTEM), Message::user(user)]
}

const THOUGHT_FORMAT: &str = "Problem overview: <one paragraph>\nKey challenges:\n- <challenge>\n- <challenge>\nReasoning steps:\n1. <abstract step>\n2. <abstract step>";

/// The chat that asks the model for a thought about the kind of problem an instance shows, when no
/// flowchart matches it. The thought is instance-free: it names what to check, not the answer.
pub fn thought(task: Task, system: &str, instruction: &str, input: &[String]) -> Vec<Message> {
    let sample: Vec<String> = input
        .iter()
        .take(10)
        .map(|l| l.chars().take(300).collect())
        .collect();
    let user =
        format!(
        "Here is a {task} task{}:\n{}\nLog lines:\n{}\n\nWrite the high-level expert thought an \
         engineer should follow for this kind of problem, without giving the answer, in exactly \
         this format:\n{THOUGHT_FORMAT}\n",
        if system.is_empty() { String::new() } else { format!(" on {system} logs") },
        instruction,
        sample.join("\n")
    );
    vec![
        Message::system("You are an expert site reliability engineer who teaches troubleshooting."),
        Message::user(user),
    ]
}

/// The chat that rewrites a chart's derived thought as fluent text in the same format.
pub fn rewrite(t: &ThoughtText) -> Vec<Message> {
    let user = format!(
        "Rewrite this troubleshooting thought so it reads fluently, keeping every fact, challenge \
         and step, in exactly the same format:\n\n{}",
        t.render()
    );
    vec![
        Message::system(
            "You are an expert site reliability engineer and a careful technical writer.",
        ),
        Message::user(user),
    ]
}

/// Reads SPEC's thought format. Sections may be missing; text before any heading is the overview.
/// `None` when nothing usable came back.
pub fn parse_thought(text: &str) -> Option<ThoughtText> {
    #[derive(PartialEq)]
    enum Part {
        Overview,
        Challenges,
        Steps,
    }
    let mut part = Part::Overview;
    let mut overview = Vec::new();
    let mut challenges = Vec::new();
    let mut steps = Vec::new();
    for line in text.lines() {
        let t = line.trim().trim_matches('*').trim();
        let lower = t.to_ascii_lowercase();
        if let Some(rest) = lower.strip_prefix("problem overview:") {
            part = Part::Overview;
            if !rest.trim().is_empty() {
                overview.push(t[t.len() - rest.len()..].trim().to_string());
            }
            continue;
        }
        if lower.starts_with("key challenges") {
            part = Part::Challenges;
            continue;
        }
        if lower.starts_with("reasoning steps") {
            part = Part::Steps;
            continue;
        }
        if t.is_empty() {
            continue;
        }
        let item = t
            .trim_start_matches(['-', '*', '•'])
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .trim_start_matches(['.', ')'])
            .trim()
            .to_string();
        match part {
            Part::Overview => overview.push(t.to_string()),
            Part::Challenges if !item.is_empty() => challenges.push(item),
            Part::Steps if !item.is_empty() => steps.push(item),
            _ => {}
        }
    }
    let overview = overview.join(" ");
    (!overview.is_empty() || !steps.is_empty()).then_some(ThoughtText {
        overview,
        challenges,
        steps,
    })
}

/// A thought as the solver sees it.
pub fn render_thought(overview: &str, challenges: &[String], steps: &[String]) -> String {
    render(overview, challenges, steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thought_format_round_trips() {
        let t = ThoughtText {
            overview: "Disks fill up.".into(),
            challenges: vec!["Logs rotate".into()],
            steps: vec!["Check free space".into(), "Find the writer".into()],
        };
        assert_eq!(parse_thought(&t.render()), Some(t));
        let loose = parse_thought("Some words first.\n**Reasoning steps:**\n1) look\n2) fix")
            .expect("parsed");
        assert_eq!(loose.overview, "Some words first.");
        assert_eq!(loose.steps, ["look", "fix"]);
        assert_eq!(parse_thought("  \n"), None);
    }

    #[test]
    fn the_solution_prompt_numbers_lines_and_names_the_answer() {
        let m = solution(
            Task::AnomalyDetection,
            None,
            "Classify.",
            &["a".into(), "b".into()],
            Some("Problem overview: x"),
        );
        let u = &m[1].content;
        assert!(u.starts_with("Expert thought:\nProblem overview: x"), "{u}");
        assert!(u.contains("\n1 a\n2 b\n"), "{u}");
        assert!(
            u.ends_with("Answer: normal   or   Answer: abnormal\n"),
            "{u}"
        );
    }
}
