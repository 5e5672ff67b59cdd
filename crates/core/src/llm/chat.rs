//! Chat templates: the model's own Jinja template (GGUF `tokenizer.chat_template`), rendered with
//! minijinja; a per-family fallback when the model has none.

use serde::Serialize;

/// One chat message, as the template renders it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The message text.
    pub content: String,
}

impl Message {
    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Message {
            role: "system".into(),
            content: content.into(),
        }
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Message {
            role: "user".into(),
            content: content.into(),
        }
    }

    /// An assistant message (a previous answer, or a training target).
    pub fn assistant(content: impl Into<String>) -> Self {
        Message {
            role: "assistant".into(),
            content: content.into(),
        }
    }
}

/// Why the chat template could not produce the prompt.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    /// The template is not valid Jinja.
    #[error("the model's chat template does not parse: {0}")]
    Template(String),
    /// The template raised an error on these messages.
    #[error("the model's chat template failed on these messages: {0}")]
    Render(String),
}

/// ChatML, which SmolLM2 and Qwen2 use; the fallback when a model carries no template.
pub const CHATML: &str = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/// Llama-2 style instructions, the fallback for Llama models without a template.
pub const LLAMA2: &str = "{% for message in messages %}{% if message['role'] == 'system' %}{{ '<<SYS>>\\n' + message['content'] + '\\n<</SYS>>\\n\\n' }}{% elif message['role'] == 'user' %}{{ bos_token + '[INST] ' + message['content'] + ' [/INST]' }}{% else %}{{ ' ' + message['content'] + ' ' + eos_token }}{% endif %}{% endfor %}";

/// The template a loaded model uses.
pub fn template_of<'a>(
    info: &'a super::info::ModelInfo,
    tokenizer: &tokenizers::Tokenizer,
) -> &'a str {
    let has_chatml = tokenizer.token_to_id("<|im_start|>").is_some();
    template_for(
        info.chat_template.as_deref(),
        &info.architecture,
        has_chatml,
    )
}

/// The template to use: the model's own, else the family's.
pub fn template_for<'a>(
    own: Option<&'a str>,
    architecture: &str,
    vocab_has_chatml: bool,
) -> &'a str {
    match own {
        Some(t) if !t.trim().is_empty() => t,
        _ if vocab_has_chatml || architecture == "qwen2" => CHATML,
        _ => LLAMA2,
    }
}

/// Renders `messages` with `template`, ending with the assistant's turn when `add_generation_prompt`.
pub fn render(
    template: &str,
    messages: &[Message],
    bos: &str,
    eos: &str,
    add_generation_prompt: bool,
) -> Result<String, ChatError> {
    let mut env = minijinja::Environment::new();
    env.add_function(
        "raise_exception",
        |msg: String| -> Result<String, minijinja::Error> {
            Err(minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                msg,
            ))
        },
    );
    env.add_template("chat", template)
        .map_err(|e| ChatError::Template(e.to_string()))?;
    let tmpl = env
        .get_template("chat")
        .map_err(|e| ChatError::Template(e.to_string()))?;
    tmpl.render(minijinja::context! {
        messages => messages,
        add_generation_prompt => add_generation_prompt,
        bos_token => bos,
        eos_token => eos,
    })
    .map_err(|e| ChatError::Render(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chatml_renders_roles_and_the_generation_prompt() {
        let text = render(
            CHATML,
            &[Message::system("Be brief."), Message::user("Why?")],
            "",
            "",
            true,
        )
        .expect("render");
        assert_eq!(text, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhy?<|im_end|>\n<|im_start|>assistant\n");
    }

    #[test]
    fn llama2_fallback_and_template_choice() {
        let text = render(LLAMA2, &[Message::user("hi")], "<s>", "</s>", true).expect("render");
        assert_eq!(text, "<s>[INST] hi [/INST]");
        assert_eq!(template_for(None, "qwen2", false), CHATML);
        assert_eq!(template_for(None, "llama", false), LLAMA2);
        assert_eq!(template_for(Some("{{ x }}"), "llama", false), "{{ x }}");
    }

    #[test]
    fn a_template_that_raises_is_a_clear_error() {
        let t = "{% if messages[0]['role'] != 'user' %}{{ raise_exception('first message must be the user') }}{% endif %}";
        let err = render(t, &[Message::system("x")], "", "", true).expect_err("raises");
        assert!(
            err.to_string().contains("first message must be the user"),
            "{err}"
        );
        assert!(render("{% for %}", &[], "", "", true)
            .expect_err("bad")
            .to_string()
            .contains("does not parse"));
    }
}
