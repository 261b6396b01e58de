//! `reqtrace completions` and `reqtrace man`: what clap generates from the definitions in
//! cli.rs, rendered into memory. clap_mangen's synopsis names options without their values
//! (`[--output]`), so the man pages get a synopsis of their own: `[-o|--output FILE]`.

use clap::{Arg, ArgAction, CommandFactory};

use crate::cli::{Cli, Shell};

/// A completion script for `shell`.
pub fn completions(shell: Shell) -> Vec<u8> {
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut out = Vec::new();
    // Into memory: clap_complete panics when a write fails, and a reader that closes early
    // (| head) must not make reqtrace panic.
    clap_complete::generate(shell, &mut Cli::command(), "reqtrace", &mut out);
    out
}

/// The subcommands that have a page, as `reqtrace man NAME` takes them.
pub fn pages() -> Vec<String> {
    let mut cmd = Cli::command();
    cmd.build();
    cmd.get_subcommands()
        .map(|s| s.get_name().to_string())
        .filter(|n| n != "help")
        .collect()
}

/// reqtrace(1), or `reqtrace-NAME(1)` for a subcommand; an error that lists the pages for a
/// name that is not one.
pub fn man(page: Option<&str>) -> Result<Vec<u8>, String> {
    let mut cmd = Cli::command();
    cmd.build();
    let (page, bin) = match page {
        None => (cmd, "reqtrace".to_string()),
        Some(name) => {
            let Some(sub) = cmd.find_subcommand(name).filter(|_| name != "help") else {
                let names = pages();
                let (last, first) = names.split_last().expect("subcommands");
                return Err(format!(
                    "no subcommand {name:?}: try {} or {last}",
                    first.join(", ")
                ));
            };
            // clap names are 'static; this process prints one page and exits.
            let full: &'static str = Box::leak(format!("reqtrace-{name}").into_boxed_str());
            // The version too: clap gives it to the top command only, and the page's title
            // line and VERSION section come from it.
            let sub = sub.clone().name(full).version(env!("CARGO_PKG_VERSION"));
            (sub, format!("reqtrace {name}"))
        }
    };
    let mut out = Vec::new();
    let man = clap_mangen::Man::new(page.clone());
    let _ = man.render(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    Ok(with_synopsis(&text, &synopsis(&page, &bin)).into_bytes())
}

/// `text` with its SYNOPSIS section's body replaced by `body`.
fn with_synopsis(text: &str, body: &str) -> String {
    const HEAD: &str = ".SH SYNOPSIS\n";
    let Some(start) = text.find(HEAD).map(|i| i + HEAD.len()) else {
        return text.to_string();
    };
    let end = text[start..]
        .find("\n.SH ")
        .map_or(text.len(), |i| start + i + 1);
    format!("{}{body}{}", &text[..start], &text[end..])
}

/// Text for roff: a backslash and a minus sign written as roff wants them.
fn roff_escape(s: &str) -> String {
    s.replace('\\', "\\e").replace('-', "\\-")
}

fn bold(s: &str) -> String {
    format!("\\fB{}\\fR", roff_escape(s))
}

fn italic(s: &str) -> String {
    format!("\\fI{}\\fR", roff_escape(s))
}

/// The value names of an argument that takes values (`FILE`), else none.
fn values(arg: &Arg) -> Option<String> {
    let takes = arg.get_num_args().is_some_and(|n| n.takes_values());
    if !takes {
        return None;
    }
    Some(match arg.get_value_names() {
        Some(v) => v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "),
        None => arg.get_id().as_str().to_uppercase(),
    })
}

fn repeats(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::Append | ArgAction::Count)
        || arg.get_num_args().is_some_and(|n| n.max_values() > 1)
}

/// One synopsis line: the command in bold, then every option with its value, then the
/// positional arguments, the way the usage line would be without `[OPTIONS]`.
fn synopsis(cmd: &clap::Command, bin: &str) -> String {
    let mut parts = vec![bold(bin)];
    for arg in cmd
        .get_arguments()
        .filter(|a| !a.is_positional() && !a.is_hide_set())
    {
        let mut names = Vec::new();
        if let Some(s) = arg.get_short() {
            names.push(bold(&format!("-{s}")));
        }
        if let Some(l) = arg.get_long() {
            names.push(bold(&format!("--{l}")));
        }
        let mut part = names.join("|");
        if let Some(v) = values(arg) {
            part = format!("{part} {}", italic(&v));
        }
        if !arg.is_required_set() {
            part = format!("[{part}]");
        }
        if repeats(arg) {
            part.push_str("...");
        }
        // \% : not hyphenated when the line is filled.
        parts.push(format!("\\%{part}"));
    }
    for arg in cmd.get_positionals().filter(|a| !a.is_hide_set()) {
        let mut part = italic(&values(arg).unwrap_or_else(|| arg.get_id().to_string()));
        if arg.is_last_set() {
            part = format!("{} {part}", bold("--"));
        }
        if !arg.is_required_set() {
            part = format!("[{part}]");
        }
        if repeats(arg) {
            part.push_str("...");
        }
        parts.push(format!("\\%{part}"));
    }
    if cmd.has_subcommands() {
        parts.push(italic("SUBCOMMAND"));
    }
    parts.join(" ") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_is_replaced_and_the_rest_kept() {
        let page = ".TH x 1\n.SH NAME\nx\n.SH SYNOPSIS\nold\nlines\n.SH DESCRIPTION\nd\n";
        assert_eq!(
            with_synopsis(page, "new\n"),
            ".TH x 1\n.SH NAME\nx\n.SH SYNOPSIS\nnew\n.SH DESCRIPTION\nd\n"
        );
    }

    #[test]
    fn roff_text_is_escaped() {
        assert_eq!(bold("--out-put"), "\\fB\\-\\-out\\-put\\fR");
        assert_eq!(italic("a\\b"), "\\fIa\\eb\\fR");
    }
}
