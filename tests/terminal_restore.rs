//! The terminal is restored on a panic and on SIGTERM: the binary runs in a real pseudo-terminal
//! (util-linux `script`), and the terminal settings are read back with `stty` afterwards.

mod common;

use std::process::Command;

const ENTER_ALT: &str = "\u{1b}[?1049h";
const LEAVE_ALT: &str = "\u{1b}[?1049l";

fn in_pty(home: &std::path::Path, shell: &str) -> String {
    let out = Command::new("script")
        .args(["-qec", shell, "/dev/null"])
        .env("HOME", home)
        .env("TERM", "xterm-256color")
        .env_remove("LOGREASONER_DB")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .output()
        .expect("`script` from util-linux runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn assert_sane_after(text: &str, after: &str) {
    let start = text.find(ENTER_ALT).expect("entered the alternate screen");
    let leave = text[start..]
        .find(LEAVE_ALT)
        .map(|i| i + start)
        .expect("left the alternate screen");
    let after_at = text
        .find(after)
        .unwrap_or_else(|| panic!("`{after}` missing in {text:?}"));
    assert!(
        leave < after_at,
        "`{after}` was printed before the terminal was restored"
    );
    let stty = &text[text.find("speed").expect("stty output")..];
    assert!(
        stty.contains(" icanon") && !stty.contains("-icanon"),
        "{stty}"
    );
    assert!(
        stty.contains(" echo ") && !stty.contains("-echo "),
        "{stty}"
    );
}

#[test]
fn a_panic_restores_the_terminal_before_the_message_prints() {
    let home = tempfile::tempdir().expect("tempdir");
    let shell = format!(
        "{} --logs /dev/null --debug-panic-after-first-frame; echo EXIT=$?; stty -a",
        common::bin().display()
    );
    let text = in_pty(home.path(), &shell);
    assert_sane_after(&text, "panicked");
    assert!(text.contains("EXIT=101"), "{text}");
}

#[test]
fn sigterm_restores_the_terminal() {
    let home = tempfile::tempdir().expect("tempdir");
    let shell = format!(
        "sh -c '(sleep 2; kill -TERM $$) & exec {} --logs /dev/null'; echo EXIT=$?; stty -a",
        common::bin().display()
    );
    let text = in_pty(home.path(), &shell);
    assert_sane_after(&text, "EXIT=0");
}
