//! The binary's edge: parse the arguments, run the command, print its error once, exit.

use clap::FromArgMatches;
use wxsend::app::Exit;

fn main() {
    quiet_on_closed_pipe();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    wxsend::i18n::set(wxsend::commands::early_language(&args));
    // --help, --version and a malformed line end here, worded by clap in the chosen language.
    let cli = match wxsend::commands::help::command()
        .try_get_matches_from(&args)
        .and_then(|m| wxsend::cli::Cli::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(e) => match wxsend::commands::help::clap_error_text(&e) {
            Some(text) => {
                eprintln!("{text}");
                std::process::exit(Exit::Input.code());
            }
            None => e.exit(),
        },
    };
    let exit = match wxsend::commands::run(cli) {
        Ok(exit) => exit,
        Err(e) if e.is_closed_pipe() => Exit::Success,
        Err(e) => {
            eprintln!("{}", e.report());
            e.exit()
        }
    };
    std::process::exit(exit.code());
}

/// `wxsend … | head -1`: once the reader has gone, the rest of the output has nowhere to go, and
/// that is no failure. `println!` panics on a closed standard output; that panic (and only that
/// one) ends the process quietly with 0. Every other panic is reported as before.
fn quiet_on_closed_pipe() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        report(info);
    }));
}
