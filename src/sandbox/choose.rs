//! Which sandbox a run gets: the user's choice, or what `auto` finds (bubblewrap, else Landlock,
//! else none with a warning).

use std::path::PathBuf;

use super::{bwrap, landlock_support, Choice, Kind, SandboxError, SandboxRequest, NONE_REQUESTED};

/// The kind `--sandbox auto` picks here, and why when it is not bwrap.
pub fn auto_kind() -> (Kind, Option<String>) {
    match bwrap::usable() {
        Ok(_) => (Kind::Bwrap, None),
        Err(bwrap) => match landlock_support() {
            Ok(_) => (Kind::Landlock, Some(format!("bubblewrap is not usable here ({bwrap})"))),
            Err(landlock) => (
                Kind::None,
                Some(format!("bubblewrap is not usable here ({bwrap}) and neither is Landlock ({landlock})")),
            ),
        },
    }
}

/// The sandbox a run gets.
pub(super) enum Chosen {
    Bwrap(PathBuf),
    /// The ABI, and the note when `auto` fell back to it.
    Landlock(u32, Option<String>),
    /// The warning.
    None(String),
}

impl Chosen {
    pub(super) fn kind(&self) -> (Kind, Option<u32>) {
        match self {
            Chosen::Bwrap(_) => (Kind::Bwrap, None),
            Chosen::Landlock(abi, _) => (Kind::Landlock, Some(*abi)),
            Chosen::None(_) => (Kind::None, None),
        }
    }
}

/// The sandbox of [`plan`]: the user's choice, or what `auto` finds.
pub(super) fn choose(req: &SandboxRequest) -> Result<Chosen, SandboxError> {
    match req.choice {
        Choice::None => Ok(Chosen::None(NONE_REQUESTED.to_string())),
        Choice::Landlock => {
            landlock_support().map(|abi| Chosen::Landlock(abi, None)).map_err(SandboxError::LandlockUnavailable)
        }
        Choice::Bwrap => bwrap::usable().map(Chosen::Bwrap).map_err(SandboxError::BwrapUnusable),
        Choice::Auto => Ok(match bwrap::usable() {
            Ok(program) => Chosen::Bwrap(program),
            Err(bwrap) => match landlock_support() {
                Ok(abi) => Chosen::Landlock(
                    abi,
                    Some(format!(
                        "NOTE: bubblewrap is not usable here ({bwrap}); the agent ran under Landlock (ABI {abi}), \
                         which confines its writes and its process tree but has no namespaces (see SECURITY.md)."
                    )),
                ),
                Err(landlock) => Chosen::None(format!(
                    "WARNING: the agent ran without a sandbox: bubblewrap is not usable here ({bwrap}) and neither \
                     is Landlock ({landlock}); it could write anywhere this user can. Install bubblewrap to confine it."
                )),
            },
        }),
    }
}
