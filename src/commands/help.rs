//! `--help` in the process's language: clap's command tree from `cli.rs`, its about and
//! argument texts replaced by the catalogue's (`cli.<command path>.about`,
//! `cli.<command path>.<argument id>`), and in Chinese its headings too.

use clap::{Command, CommandFactory};

use crate::cli::Cli;
use crate::i18n::Lang;

/// The command line to parse with, worded in the current language.
pub fn command() -> Command {
    let mut cmd = Cli::command();
    // Built first: clap adds --help, --version and the `help` subcommand, and copies the global
    // --lang into every subcommand, so those are worded too.
    cmd.build();
    localize(cmd, "cli", crate::i18n::lang())
}

/// Arguments every command has (clap's own, and the global `--lang`): worded once.
const COMMON: &[&str] = &["help", "version", "lang"];

/// The catalogue path of clap's `help` subcommand.
const HELP_COMMAND: &str = "cli.common.help_command";

/// The catalogue key of argument `id` of the command at `path`.
fn arg_key(path: &str, id: &str) -> String {
    if COMMON.contains(&id) {
        format!("cli.common.{id}")
    } else {
        format!("{path}.{id}")
    }
}

/// The catalogue path of subcommand `name` under `path` (clap's `help` subcommand is one for all).
fn sub_path(path: &str, name: &str) -> String {
    if name == "help" {
        HELP_COMMAND.to_string()
    } else {
        format!("{path}.{}", name.replace('-', "_"))
    }
}

/// The catalogue's text for `key`, if it has one.
fn text(key: &str) -> Option<String> {
    let t = crate::tr!(key);
    (t != key).then_some(t)
}

fn localize(mut cmd: Command, path: &str, lang: Lang) -> Command {
    if let Some(about) = text(&format!("{path}.about")) {
        cmd = cmd.about(about).long_about(None);
    }
    if cmd.get_after_help().is_some() {
        if let Some(after) = text(&format!("{path}.after_help")) {
            cmd = cmd.after_help(after);
        }
    }
    let args: Vec<(String, bool)> = cmd.get_arguments().map(|a| (a.get_id().to_string(), a.is_positional())).collect();
    for (id, positional) in args {
        let help = text(&arg_key(path, &id));
        cmd = cmd.mut_arg(&id, |mut a| {
            if let Some(help) = help {
                a = a.help(help).long_help(None);
            }
            if lang == Lang::ZhCn {
                a = a.help_heading(if positional {
                    crate::tr!("cli.heading.arguments")
                } else {
                    crate::tr!("cli.heading.options")
                });
            }
            a
        });
    }
    if lang == Lang::ZhCn {
        cmd = cmd
            .subcommand_help_heading(crate::tr!("cli.heading.commands"))
            .help_template(crate::tr!("cli.heading.template"));
    }
    // `help`'s own subcommands are never shown (`wxsend help send` shows `send`'s help).
    let subcommands: Vec<String> = if path == HELP_COMMAND {
        Vec::new()
    } else {
        cmd.get_subcommands().map(|s| s.get_name().to_string()).collect()
    };
    for name in subcommands {
        let sub = sub_path(path, &name);
        cmd = cmd.mut_subcommand(&name, |s| localize(s, &sub, lang));
    }
    cmd
}

/// `wxsend completions SHELL`: the completion script on standard output.
pub fn completions(shell: clap_complete::Shell) -> Result<crate::app::Exit, crate::error::Error> {
    let mut cmd = command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "wxsend", &mut out);
    write_out(&out)
}

/// `wxsend man`: the manual page (roff) on standard output, in the current language.
pub fn man() -> Result<crate::app::Exit, crate::error::Error> {
    let mut out = Vec::new();
    clap_mangen::Man::new(command()).render(&mut out).map_err(crate::error::Error::Output)?;
    write_out(&out)
}

fn write_out(bytes: &[u8]) -> Result<crate::app::Exit, crate::error::Error> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(bytes).and_then(|()| stdout.flush()).map_err(crate::error::Error::Output)?;
    Ok(crate::app::Exit::Success)
}

/// A command line clap could not read, worded in Chinese (`None` in English, where clap's own
/// words are kept, and for `--help` / `--version`, which are not errors).
pub fn clap_error_text(e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if crate::i18n::lang() == Lang::En || matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        return None;
    }
    let context = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => s.clone(),
        Some(ContextValue::Strings(v)) => v.join(", "),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let arg = context(ContextKind::InvalidArg);
    let text = match e.kind() {
        ErrorKind::UnknownArgument => crate::tr!("cli.error.unknown_argument", arg = arg),
        ErrorKind::InvalidSubcommand => {
            crate::tr!("cli.error.unknown_command", arg = context(ContextKind::InvalidSubcommand))
        }
        ErrorKind::MissingRequiredArgument => crate::tr!("cli.error.missing", arg = arg),
        ErrorKind::MissingSubcommand | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            crate::tr!("cli.error.missing_command")
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => crate::tr!(
            "cli.error.invalid_value",
            arg = arg,
            value = context(ContextKind::InvalidValue),
            valid = context(ContextKind::ValidValue)
        ),
        ErrorKind::ArgumentConflict => {
            crate::tr!("cli.error.conflict", arg = arg, other = context(ContextKind::PriorArg))
        }
        _ => crate::tr!("cli.error.other", message = e.render().to_string().trim().to_string()),
    };
    Some(crate::tr!("cli.error.line", message = text))
}

/// Every (key, English text) the command tree needs, in tree order (for the catalogue test and
/// for a translator starting a language).
pub fn keys() -> Vec<(String, String)> {
    let mut cmd = Cli::command();
    cmd.build();
    let mut out = Vec::new();
    walk(&cmd, "cli", &mut out);
    out
}

fn walk(cmd: &Command, path: &str, out: &mut Vec<(String, String)>) {
    let mut push = |key: String, text: String| {
        if !out.iter().any(|(k, _)| *k == key) {
            out.push((key, text));
        }
    };
    push(format!("{path}.about"), cmd.get_about().map(|a| a.to_string()).unwrap_or_default());
    if let Some(after) = cmd.get_after_help() {
        push(format!("{path}.after_help"), after.to_string());
    }
    for a in cmd.get_arguments() {
        push(arg_key(path, a.get_id().as_str()), a.get_help().map(|h| h.to_string()).unwrap_or_default());
    }
    if path != HELP_COMMAND {
        for s in cmd.get_subcommands() {
            walk(s, &sub_path(path, s.get_name()), out);
        }
    }
}
