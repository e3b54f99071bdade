//! `wxsend send` (and the engine of `demo`): prepare a session, then run it in the terminal UI
//! on a terminal, headless otherwise.

use crate::app::{Consent, Exit, SendOptions, Session};
use crate::cli::SendArgs;
use crate::error::{runtime, Error};

/// Send the campaign (its options from the command line).
pub fn run(args: SendArgs) -> Result<Exit, Error> {
    let opts = SendOptions {
        campaign: args.campaign,
        csv: args.csv,
        mock: args.mock.then(crate::mock::MockConfig::default),
        resend_unknown: args.resend_unknown,
        new_run: args.new_run,
        include_suppressed: args.include_suppressed,
        export: args.export,
        state_dir: args.state_dir,
        ignore_quota: args.ignore_quota,
        skip_template_check: args.skip_template_check,
        refresh_templates: args.refresh_templates,
        at: args.at,
        drop_permanent: args.drop_permanent,
    };
    // Someone can answer when standard input is a terminal: the terminal UI's popup, or a
    // headless y/N prompt.
    let consent = Consent { yes: args.yes, may_ask: std::io::IsTerminal::is_terminal(&std::io::stdin()) };
    drive(opts, args.headless, consent)
}

/// Run a prepared session in the TUI on a terminal, else headless.
pub(super) fn drive(opts: SendOptions, headless: bool, consent: Consent) -> Result<Exit, Error> {
    let rt = runtime()?;
    let tui = !headless && std::io::IsTerminal::is_terminal(&std::io::stdout());
    let exit = rt.block_on(async {
        if crate::app::fleet::is_fleet(&opts.campaign)? {
            let fleet = crate::app::fleet::Fleet::prepare(&opts).await?;
            if tui {
                return Ok(crate::tui::fleet::run(fleet, consent).await?);
            }
            return Ok(crate::headless_fleet::run(fleet, consent).await?);
        }
        if opts.csv.is_none() {
            super::audience::make_list(&opts.campaign, opts.state_dir.as_deref(), opts.new_run, opts.mock.is_some())
                .await?;
        }
        let session = Session::prepare(&opts).await?;
        if tui {
            Ok(crate::tui::run(session, consent).await?)
        } else {
            Ok(crate::headless::run(session, consent).await?)
        }
    });
    // A quit during sending leaves requests in flight: they are abandoned (their rows stay
    // unknown in the journal), not waited for.
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    exit
}
