//! What `status` and `receipts` share: the campaign they read and its state folder.

use crate::cli::StateArgs;
use crate::error::Error;

/// The campaign of a status or receipts command, with the run's recipients file.
pub(super) fn load(state: &StateArgs) -> Result<(crate::campaign::Campaign, Option<std::path::PathBuf>), Error> {
    let campaign = crate::campaign::Campaign::load(&state.campaign, state.csv.as_deref())?;
    let mut dir = state.state_dir.clone();
    if state.mock {
        dir = Some(dir.unwrap_or_else(|| campaign.config.state_dir.clone()).join("mock"));
    }
    Ok((campaign, dir))
}
