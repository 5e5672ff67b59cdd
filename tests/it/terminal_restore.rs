//! The terminal is restored on a panic and on SIGTERM: the binary runs in a real pseudo-terminal
//! (util-linux `script`), and the terminal settings are read back with `stty` afterwards.

use crate::common;

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

/// Whether process `pid` has ended (gone, or a zombie nobody reaped yet).
fn ended(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

/// Closing the terminal under a running TUI (`tmux kill-session`, a dropped SSH connection) ends
/// it: crossterm's poll spins forever on a hung-up tty, and the process once stayed at 80% CPU,
/// ignoring SIGTERM and holding the database lock until SIGKILL.
#[test]
fn the_tui_ends_when_its_terminal_goes_away() {
    let home = tempfile::tempdir().expect("tempdir");
    let pid_file = home.path().join("tui.pid");
    let shell = format!(
        "echo $$ > {}; exec {} --logs /dev/null",
        pid_file.display(),
        common::bin().display()
    );
    let mut script = Command::new("script")
        .args(["-qec", &shell, "/dev/null"])
        .env("HOME", home.path())
        .env("TERM", "xterm-256color")
        .env_remove("LOGREASONER_DB")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("`script` from util-linux runs");
    let started = std::time::Instant::now();
    let pid = loop {
        if let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
        {
            break pid;
        }
        assert!(started.elapsed().as_secs() < 30, "the TUI never started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    // Let it draw and settle into its event loop, then take the terminal away.
    std::thread::sleep(std::time::Duration::from_secs(2));
    script.kill().expect("kill script (closes the terminal)");
    let _ = script.wait();
    let hung_up = std::time::Instant::now();
    while !ended(&pid) && hung_up.elapsed().as_secs() < 15 {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let gone = ended(&pid);
    if !gone {
        let _ = Command::new("kill").args(["-9", &pid]).status();
    }
    assert!(gone, "the TUI outlived its terminal by 15 s");
}

/// `cat X | logreasoner --logs -`: a pipe that has finished before the screen's first tick shows
/// every line, the last one (without a final newline) included; it once showed none.
#[test]
fn a_finished_pipe_on_stdin_shows_all_its_lines() {
    let home = tempfile::tempdir().expect("tempdir");
    let log = home.path().join("piped.log");
    std::fs::write(&log, "alpha first line\nbravo second line\nZULULASTLINE").expect("write");
    let shell = format!(
        "stty rows 30 cols 100; sh -c '(sleep 3; kill -TERM $$) & exec {} --logs - < {}'; echo EXIT=$?",
        common::bin().display(),
        log.display()
    );
    let text = in_pty(home.path(), &shell);
    assert!(text.contains("EXIT=0"), "{text}");
    for line in ["alpha first line", "ZULULASTLINE"] {
        assert!(text.contains(line), "`{line}` never shown: {text:?}");
    }
}
