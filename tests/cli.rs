//! The command line as a user meets it: help with examples for every subcommand, shell
//! completions and man pages generated from the same definitions, usage errors exit 2.

mod common;

use std::time::Duration;

use common::*;

const T: Duration = Duration::from_secs(30);

fn stdout_of(args: &[&str]) -> String {
    let out = run_reqtrace(args, T);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_subcommand_has_help_with_examples() {
    for sub in ["attach", "run", "analyze", "completions", "man"] {
        let help = stdout_of(&[sub, "--help"]);
        assert!(
            help.contains("Example"),
            "{sub} --help has no example:\n{help}"
        );
    }
    // The postmortem's case is the first example of attach.
    let help = stdout_of(&["attach", "--help"]);
    assert!(help.contains("reqtrace attach --apache --probe"), "{help}");
}

#[test]
fn completions_know_the_subcommands_and_options() {
    let bash = stdout_of(&["completions", "bash"]);
    assert!(bash.contains("complete") && bash.contains("attach") && bash.contains("--probe"));
    let zsh = stdout_of(&["completions", "zsh"]);
    assert!(zsh.starts_with("#compdef reqtrace") && zsh.contains("--apache"));
    let fish = stdout_of(&["completions", "fish"]);
    assert!(fish.contains("complete -c reqtrace") && fish.contains("show-secrets"));
    assert!(bash.contains("analyze") && bash.contains("--fs-root"));
    let out = run_reqtrace(&["completions", "tcsh"], T);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn man_pages_render_for_the_tool_and_each_subcommand() {
    let main = stdout_of(&["man"]);
    assert!(main.contains(".TH reqtrace 1") && main.contains("attach"));
    let attach = stdout_of(&["man", "attach"]);
    assert!(attach.contains(".TH reqtrace-attach 1") && attach.contains("probe"));
    let run = stdout_of(&["man", "run"]);
    assert!(
        run.contains(".TH reqtrace-run 1") && run.contains(r"no\-seccomp"),
        "{run}"
    );
    let analyze = stdout_of(&["man", "analyze"]);
    assert!(
        analyze.contains(".TH reqtrace-analyze 1") && analyze.contains(r"fs\-root"),
        "{analyze}"
    );
    let out = run_reqtrace(&["man", "nope"], T);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no subcommand \"nope\""));
}

#[test]
fn a_closed_pipe_is_not_a_panic() {
    let out = wait_output(
        spawn_pipeline("completions bash", "head -n 1 >/dev/null"),
        T,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

/// Run a shell command on a pseudo-terminal; what the terminal showed (kept in `typescript`).
fn in_pty(cmd: &str, typescript: &str) -> String {
    let status = std::process::Command::new("script")
        .args(["-qec", cmd, typescript])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("script (bsdutils) runs a command on a pseudo-terminal");
    assert!(status.success());
    std::fs::read_to_string(typescript).unwrap()
}

/// A status line on stderr when stderr is a terminal and the output goes elsewhere; never
/// when the output itself is on the terminal, and never in the output.
#[test]
fn status_line_on_a_terminal_stderr_only() {
    let dir = TempDir::new("status");
    let fx = start_fixture("fx_fileops", &dir, &[]);
    let out_json = dir.join("out.json");
    let typescript = dir.join("typescript");
    let run_in_pty = |cmd: String| in_pty(&cmd, &typescript);
    let bin = reqtrace();
    let tty = run_in_pty(format!(
        "'{}' attach --json --duration 2.5 {} > '{out_json}'",
        bin.display(),
        fx.pid()
    ));
    assert!(tty.contains("processes traced"), "{tty}");
    let json = std::fs::read_to_string(&out_json).unwrap();
    assert!(!json.contains("processes traced"));
    let lines = json_lines(json.as_bytes());
    assert_eq!(lines[0]["type"], "start");
    // Output on the terminal: no status line to garble it.
    let tty = run_in_pty(format!(
        "'{}' attach --duration 1.2 {}",
        bin.display(),
        fx.pid()
    ));
    assert!(!tty.contains("processes traced"), "{tty}");
    assert!(tty.contains("missing.phpp"), "{tty}");
}

/// The status line also comes, while tracing, when the traced process makes no call at all
/// (a `sleep`): the tracer thread then blocks in waitpid, and the pipeline, which runs on
/// that thread, is still made to look at the clock (not only at the end).
#[test]
fn status_line_while_the_traced_process_makes_no_call() {
    let dir = TempDir::new("status-quiet");
    let mut sleeper = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let out_json = dir.join("out.json");
    let typescript = dir.join("typescript");
    // -f: the typescript is written as the terminal shows it, so it can be read meanwhile.
    let mut pty = std::process::Command::new("script")
        .args([
            "-qfec",
            &format!(
                "'{}' attach --json --duration 6 {} > '{out_json}'",
                reqtrace().display(),
                sleeper.id()
            ),
            &typescript,
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("script (bsdutils) runs a command on a pseudo-terminal");
    let began = std::time::Instant::now();
    let mut shown = String::new();
    while began.elapsed() < std::time::Duration::from_secs(4) {
        shown = std::fs::read_to_string(&typescript).unwrap_or_default();
        if shown.contains("1 processes traced") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let running = pty.try_wait().unwrap().is_none();
    let _ = pty.wait();
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    assert!(
        shown.contains("1 processes traced") && running,
        "no status line within 4 s of a 6 s trace of a quiet process:\n{shown}"
    );
    let lines = json_lines(std::fs::read_to_string(&out_json).unwrap().as_bytes());
    assert_eq!(lines.last().unwrap()["type"], "summary", "{lines:#?}");
}

/// The documented exit codes: an error reqtrace finds itself (not clap) exits 2 with its
/// message, an analyze input that cannot be read too, and `--help` lists every code.
#[test]
fn usage_and_input_errors_exit_2_and_help_lists_the_exit_codes() {
    use reqtrace::error::ExitCode;
    let stderr = |out: &std::process::Output| String::from_utf8_lossy(&out.stderr).into_owned();

    let out = run_reqtrace(&["run", "--trace", "nosuch", "--", "true"], T);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--trace: unknown class or syscall 'nosuch'"),
        "{}",
        stderr(&out)
    );

    let dir = TempDir::new("exitcodes");
    let missing = dir.join("missing.jsonl");
    let out = run_reqtrace(&["analyze", &missing], T);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no such file"), "{}", stderr(&out));
    // A socket exists but cannot be opened (ENXIO), even by root.
    let sock = dir.join("trace.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let out = run_reqtrace(&["analyze", &sock], T);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("cannot read {sock}: ")),
        "{}",
        stderr(&out)
    );

    let help = stdout_of(&["--help"]);
    for c in ExitCode::OWN {
        let line = format!("  {}  {}", c.code(), c.meaning());
        assert!(help.contains(&line), "{c:?} missing from --help:\n{help}");
    }
    assert!(
        help.contains("  3  tracing failed after attaching"),
        "{help}"
    );
    assert!(
        help.contains("  N  run: the command's own exit status"),
        "{help}"
    );
}
