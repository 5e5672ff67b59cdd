//! Editing a chart one node field at a time, as the TUI's editor does: each field shown and typed
//! as one line of YAML flow text, parsed back with an error that says what is wrong with it; node
//! and chart ids checked; the template a new chart starts from.

use indexmap::IndexMap;

use super::{Check, Flowchart, Node, NodeKind, Retry};

/// A node field, edited as one line of text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `kind`: decision, check, action, conclusion or escalate.
    Kind,
    /// `text`: what the node asks, checks, does or concludes.
    Text,
    /// `check`: the evidence test over the window, as a YAML flow map.
    Check,
    /// `branches`: labelled edges of a decision, e.g. `{ yes: a, no: b }`.
    Branches,
    /// `next`: the node a check or action leads to.
    Next,
    /// `retry`: an action's bounded way back, `{ to: NODE, limit: N }`.
    Retry,
    /// `cause`: a conclusion's cause category.
    Cause,
    /// `remedy`: what the operator should do.
    Remedy,
}

/// Every node field, in the order the editor shows them.
pub const FIELDS: [Field; 8] = [
    Field::Kind,
    Field::Text,
    Field::Check,
    Field::Branches,
    Field::Next,
    Field::Retry,
    Field::Cause,
    Field::Remedy,
];

impl Field {
    /// The field's YAML key.
    pub fn name(self) -> &'static str {
        match self {
            Field::Kind => "kind",
            Field::Text => "text",
            Field::Check => "check",
            Field::Branches => "branches",
            Field::Next => "next",
            Field::Retry => "retry",
            Field::Cause => "cause",
            Field::Remedy => "remedy",
        }
    }
}

/// The new-chart template's title, which a person must replace.
const TITLE_PLACEHOLDER: &str = "Describe the problem in one line";
/// The template's node texts and remedy that say what to write instead of saying something.
const TEXT_PLACEHOLDERS: [&str; 3] = [
    "Does the log show the error?",
    "Name the cause this evidence points to.",
    "Say what the operator should do.",
];

/// The chart a new one starts from: valid, with placeholders a person replaces.
pub fn template(id: &str) -> Flowchart {
    let [question, cause, remedy] = TEXT_PLACEHOLDERS;
    let text = format!(
        "id: {id}\ntitle: {TITLE_PLACEHOLDER}\nsystem: Linux\nsymptoms:\n  - 'ERROR'\nstart: first-question\nnodes:\n  first-question:\n    kind: decision\n    text: {question}\n    check: {{ any: 'ERROR' }}\n    branches: {{ yes: likely-cause, no: ask-owner }}\n  likely-cause:\n    kind: conclusion\n    text: {cause}\n    cause: unknown\n    remedy: {remedy}\n  ask-owner:\n    kind: escalate\n    text: The log does not settle it; hand over to the service owner.\n"
    );
    // The template is a literal of this file and valid; a test checks it.
    serde_yaml::from_str(&text).unwrap_or_else(|_| Flowchart {
        id: id.to_string(),
        title: String::new(),
        system: String::new(),
        description: None,
        causes: Vec::new(),
        symptoms: Vec::new(),
        start: String::new(),
        nodes: IndexMap::new(),
    })
}

/// What still reads as the new-chart template (its title, question, conclusion and remedy
/// placeholders, a bare `ERROR` as the only symptom), each named for the message: such a chart
/// is valid but says nothing, so it is not saved.
pub fn placeholders(chart: &Flowchart) -> Vec<String> {
    let mut left = Vec::new();
    if chart.title == TITLE_PLACEHOLDER {
        left.push("the title (:title …)".to_string());
    }
    if chart.symptoms == ["ERROR"] {
        left.push("the symptom `ERROR` (:symptoms […])".to_string());
    }
    for (id, node) in &chart.nodes {
        if TEXT_PLACEHOLDERS.contains(&node.text.as_str()) {
            left.push(format!("node {id}'s text"));
        }
        if node
            .remedy
            .as_deref()
            .is_some_and(|r| TEXT_PLACEHOLDERS.contains(&r))
        {
            left.push(format!("node {id}'s remedy"));
        }
    }
    left
}

/// The chart-level fields a person edits besides the nodes, by the name of their `:` command.
pub const META_FIELDS: [&str; 5] = ["title", "system", "description", "symptoms", "causes"];

/// `chart` with one chart-level field set from the text typed after its `:` command: one line
/// for `title` and `system`, a paragraph for `description` (empty removes it), and a YAML flow
/// list for `symptoms` and `causes` (`['lost heartbeat', 'timed out']`). The message says what
/// is wrong with the text.
pub fn set_meta(chart: &Flowchart, field: &str, text: &str) -> Result<Flowchart, String> {
    let mut c = chart.clone();
    let text = text.trim();
    let list = |what: &str| -> Result<Vec<String>, String> {
        let items: Vec<String> = serde_yaml::from_str(text)
            .map_err(|e| format!("{what}: a list like ['one', 'two'] ({e})"))?;
        Ok(items.into_iter().map(|s| s.trim().to_string()).collect())
    };
    match field {
        "title" | "system" if text.is_empty() => {
            return Err(format!("the {field} cannot be empty"))
        }
        "title" if text.contains('\n') => return Err("the title is one line".into()),
        "title" => c.title = text.to_string(),
        "system" => c.system = text.to_string(),
        "description" => c.description = (!text.is_empty()).then(|| text.to_string()),
        "symptoms" => {
            let symptoms = list("symptoms")?;
            if symptoms.is_empty() {
                return Err("a chart needs at least one symptom".into());
            }
            c.symptoms = symptoms;
        }
        "causes" => c.causes = list("causes")?,
        other => {
            return Err(format!(
                "no chart field `{other}`; one of {}",
                META_FIELDS.join(", ")
            ))
        }
    }
    Ok(c)
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn plain_or_quoted(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        s.to_string()
    } else {
        quote(s)
    }
}

/// A field's value as the one-line text the editor shows and edits (YAML flow style).
pub fn field_text(node: &Node, field: Field) -> String {
    match field {
        Field::Kind => node.kind.as_str().to_string(),
        Field::Text => node.text.clone(),
        Field::Check => node.check.as_ref().map(check_text).unwrap_or_default(),
        Field::Branches if node.branches.is_empty() => String::new(),
        Field::Branches => {
            let parts: Vec<String> = node
                .branches
                .iter()
                .map(|(k, v)| format!("{}: {}", plain_or_quoted(k), plain_or_quoted(v)))
                .collect();
            format!("{{ {} }}", parts.join(", "))
        }
        Field::Next => node.next.clone().unwrap_or_default(),
        Field::Retry => node
            .retry
            .as_ref()
            .map(|r| format!("{{ to: {}, limit: {} }}", plain_or_quoted(&r.to), r.limit))
            .unwrap_or_default(),
        Field::Cause => node.cause.clone().unwrap_or_default(),
        Field::Remedy => node.remedy.clone().unwrap_or_default(),
    }
}

fn check_text(c: &Check) -> String {
    let mut parts = Vec::new();
    if let Some(p) = &c.any {
        parts.push(format!("any: {}", quote(p)));
    }
    if let Some(ps) = &c.all {
        let list: Vec<String> = ps.iter().map(|p| quote(p)).collect();
        parts.push(format!("all: [{}]", list.join(", ")));
    }
    if let Some(p) = &c.count {
        parts.push(format!("count: {}", quote(p)));
    }
    if let Some(n) = c.at_least {
        parts.push(format!("at_least: {n}"));
    }
    if let Some(p) = &c.absent {
        parts.push(format!("absent: {}", quote(p)));
    }
    if let Some(r) = &c.error_rate {
        parts.push(format!("error_rate: {{ above: {} }}", r.above));
    }
    if let Some(n) = &c.novel_templates {
        parts.push(format!("novel_templates: {{ at_least: {} }}", n.at_least));
    }
    if let Some(w) = &c.within {
        parts.push(format!("within: {w}"));
    }
    format!("{{ {} }}", parts.join(", "))
}

fn yaml_error(e: serde_yaml::Error) -> String {
    let text = e.to_string();
    text.split(" at line ").next().unwrap_or(&text).to_string()
}

/// Sets a field from its text; the error says what is wrong with the text.
pub fn apply_field(node: &mut Node, field: Field, text: &str) -> Result<(), String> {
    let t = text.trim();
    let opt = || (!t.is_empty()).then(|| t.to_string());
    match field {
        Field::Kind => {
            node.kind = NodeKind::ALL
                .into_iter()
                .find(|k| k.as_str() == t)
                .ok_or_else(|| {
                    format!(
                        "kind must be one of {}",
                        NodeKind::ALL.map(NodeKind::as_str).join(", ")
                    )
                })?
        }
        Field::Text => node.text = t.to_string(),
        Field::Check => {
            node.check = if t.is_empty() {
                None
            } else {
                Some(serde_yaml::from_str(t).map_err(yaml_error)?)
            }
        }
        Field::Branches => {
            node.branches = if t.is_empty() {
                IndexMap::new()
            } else {
                serde_yaml::from_str(t).map_err(yaml_error)?
            }
        }
        Field::Next => node.next = opt(),
        Field::Retry => {
            node.retry = if t.is_empty() {
                None
            } else {
                Some(serde_yaml::from_str::<Retry>(t).map_err(yaml_error)?)
            }
        }
        Field::Cause => node.cause = opt(),
        Field::Remedy => node.remedy = opt(),
    }
    Ok(())
}

/// Checks a node or chart id: not empty, ASCII letters, digits, `-` and `_` only.
pub fn valid_id(id: &str) -> Result<(), String> {
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err("use letters, digits, - and _ only".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_template_is_all_placeholders_until_edited() {
        let chart = template("t");
        let left = placeholders(&chart);
        assert_eq!(left.len(), 5, "{left:?}");
        let mut edited =
            set_meta(&chart, "title", "Disk fills up on the data volume").expect("title");
        edited = set_meta(&edited, "symptoms", "['No space left on device', 'ENOSPC']")
            .expect("symptoms");
        assert_eq!(edited.symptoms, ["No space left on device", "ENOSPC"]);
        for (id, node) in edited.nodes.iter_mut() {
            node.text = format!("The {id} step, in the expert's words.");
            if node.remedy.is_some() {
                node.remedy = Some("Free space, then find what grew.".into());
            }
        }
        assert!(
            placeholders(&edited).is_empty(),
            "{:?}",
            placeholders(&edited)
        );
        assert!(placeholders(&template("x")).contains(&"the title (:title …)".to_string()));
    }

    #[test]
    fn chart_fields_are_set_and_bad_text_is_named() {
        let chart = template("t");
        let c = set_meta(&chart, "description", "Why the disk fills.").expect("description");
        assert_eq!(c.description.as_deref(), Some("Why the disk fills."));
        assert_eq!(
            set_meta(&c, "description", "")
                .expect("cleared")
                .description,
            None
        );
        assert_eq!(
            set_meta(&chart, "system", "HDFS").expect("system").system,
            "HDFS"
        );
        assert_eq!(
            set_meta(&chart, "causes", "[quota]")
                .expect("causes")
                .causes,
            ["quota"]
        );
        for (field, text, says) in [
            ("title", "", "cannot be empty"),
            ("symptoms", "[]", "at least one symptom"),
            ("symptoms", "not: [a list", "a list like"),
            ("colour", "red", "no chart field `colour`"),
        ] {
            let err = set_meta(&chart, field, text).expect_err(field);
            assert!(err.contains(says), "{field}: {err}");
        }
    }

    use super::*;

    #[test]
    fn the_template_is_a_valid_chart() {
        let chart = template("fresh");
        let problems =
            super::super::validate(&chart, &chart.to_yaml(), std::path::Path::new("fresh.yaml"));
        assert!(problems.is_empty(), "{problems:#?}");
    }

    #[test]
    fn field_text_round_trips_through_apply_field() {
        let chart = template("t");
        for node in chart.nodes.values() {
            for field in FIELDS {
                let mut copy = node.clone();
                apply_field(&mut copy, field, &field_text(node, field)).expect("own text parses");
                assert_eq!(&copy, node, "{field:?}");
            }
        }
        let mut n = Node::new(NodeKind::Decision, "q");
        apply_field(&mut n, Field::Check, "{ all: ['a''b', 'c'], within: 5m }").expect("check");
        assert_eq!(
            n.check.as_ref().and_then(|c| c.all.clone()),
            Some(vec!["a'b".to_string(), "c".to_string()])
        );
        assert_eq!(
            field_text(&n, Field::Check),
            "{ all: ['a''b', 'c'], within: 5m }"
        );
        assert!(apply_field(&mut n, Field::Kind, "question")
            .expect_err("bad kind")
            .contains("decision, check"));
        assert!(apply_field(&mut n, Field::Check, "{ anything: 'x' }")
            .expect_err("bad field")
            .contains("unknown field"));
    }
}
