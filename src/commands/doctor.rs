//! `wxsend doctor`: every step from this machine to WeChat, each ✓ or ✗ with the fix.

use crate::app::Exit;
use crate::cli::DoctorArgs;
use crate::error::{runtime, Error};

/// `wxsend doctor`.
pub fn run(args: DoctorArgs) -> Result<Exit, Error> {
    use crate::app::doctor::StepStatus;
    let rt = runtime()?;
    let report = rt.block_on(crate::app::doctor::doctor(&args.campaign, args.csv.as_deref()));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for step in &report.steps {
            let mark = match step.status {
                StepStatus::Pass => "✓",
                StepStatus::Fail => "✗",
                StepStatus::Skip => "–",
            };
            println!("{mark} {:<13} {}", step.name, crate::app::text::printable(&step.detail));
        }
        match report.exit() {
            Exit::Success => println!("\n{}", crate::tr!("doctor.ready")),
            _ => println!("\n{}", crate::tr!("doctor.fix")),
        }
    }
    Ok(report.exit())
}
