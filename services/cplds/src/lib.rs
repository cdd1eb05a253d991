//! The `cplds` binary's library: which services an académie node runs, the in-process sandbox
//! that starts nodes (demo, benchmarks, federation tests), the demo and the benchmarks.
//!
//! Like Quickwit's `quickwit-serve`, this is the one crate that knows every service; services
//! never know how they are hosted.

pub mod bench;
pub mod bench_national;
pub mod bench_season;
pub mod bench_verify;
pub mod bench_writes;
pub mod demo;
pub mod memory;
/// The in-process nodes, where the binary's users have always found them.
pub mod sandbox {
    pub use cplds_runtime::sandbox::*;
}

use std::sync::Arc;

use cplds_runtime::host::ServiceModule;

/// The national node's modules.
pub fn national_modules() -> Vec<Arc<dyn ServiceModule>> {
    vec![Arc::new(cplds_national::NationalModule)]
}

/// Every service an académie node can run, in start order.
pub const SERVICES: &[&str] = &[
    "registration",
    "training",
    "examination",
    "certification",
    "reporting",
    cplds_national::api::academy::FIGURES,
];

/// The modules for the named services (all when `names` is empty).
pub fn academy_modules(names: &[String]) -> anyhow::Result<Vec<Arc<dyn ServiceModule>>> {
    let wanted: Vec<&str> = if names.is_empty() {
        SERVICES.to_vec()
    } else {
        names.iter().map(String::as_str).collect()
    };
    wanted
        .into_iter()
        .map(|name| -> anyhow::Result<Arc<dyn ServiceModule>> {
            match name {
                "registration" => Ok(Arc::new(cplds_registration::RegistrationModule)),
                "training" => Ok(Arc::new(cplds_training::TrainingModule)),
                "examination" => Ok(Arc::new(cplds_examination::ExaminationModule)),
                "certification" => Ok(Arc::new(cplds_certification::CertificationModule)),
                "reporting" => Ok(Arc::new(cplds_reporting::ReportingModule)),
                cplds_national::api::academy::FIGURES => {
                    Ok(Arc::new(cplds_national::AcademyFiguresModule))
                }
                other => anyhow::bail!(
                    "unknown service {other:?}; expected one of: {}",
                    SERVICES.join(", ")
                ),
            }
        })
        .collect()
}

/// The académie's services that `names` leaves to other processes (none when all run here):
/// their queues are declared and awaited by this node too.
pub fn peer_modules(names: &[String]) -> anyhow::Result<Vec<Arc<dyn ServiceModule>>> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let others: Vec<String> = SERVICES
        .iter()
        .filter(|s| !names.iter().any(|n| n == *s))
        .map(|s| (*s).to_owned())
        .collect();
    if others.is_empty() {
        return Ok(Vec::new());
    }
    academy_modules(&others)
}
