//! Bans as the engine runs them (spec §5.8): their patterns compiled as VCL's regular
//! expressions are (a ban's `~` means what VCL's does), bans issued from the CLI and from VCL
//! into the cache's list, and the lurker, the background task that tests the bans that need no
//! request against the stored objects (`ban_lurker_age`, `ban_lurker_batch`,
//! `ban_lurker_sleep`) and completes them.

use std::sync::Arc;
use std::time::Duration;

use shellac_cache::ban::{Pattern, Spec, SpecError};
use shellac_cache::Cache;
use shellac_vcl::regex::VclRegex;

use crate::server::Server;

struct Regex(VclRegex);

impl Pattern for Regex {
    fn is_match(&self, subject: &[u8]) -> bool {
        self.0.is_match(subject).unwrap_or(false)
    }
}

/// Compiles a ban's pattern as VCL compiles a regular expression.
pub fn compile(pattern: &str) -> Result<Arc<dyn Pattern>, String> {
    Ok(Arc::new(Regex(VclRegex::new(pattern)?)))
}

/// Issues a ban from the CLI's `ban` arguments at `now`.
pub fn issue_args(cache: &Cache, args: &[String], now: f64) -> Result<(), SpecError> {
    issue(cache, Spec::from_args(args, &compile)?, now);
    Ok(())
}

/// Issues a ban from VCL's `ban()` / `std.ban()` string at `now`.
pub fn issue_vcl(cache: &Cache, text: &str, now: f64) -> Result<(), SpecError> {
    issue(cache, Spec::from_vcl(text, &compile)?, now);
    Ok(())
}

fn issue(cache: &Cache, spec: Spec, now: f64) {
    tracing::debug!(target: "ban", spec = spec.text(), "ban added");
    cache.bans().add(spec, now, false);
}

/// How long the lurker rests when it has nothing to do (a new ban wakes it sooner).
const IDLE: Duration = Duration::from_secs(1);

/// The lurker: forever, a pass over the whole index for every ban old enough, a batch of
/// objects at a time with a pause between batches; between passes, a rest until a ban comes or
/// [`IDLE`] passes (a ban becomes old enough by waiting).
pub async fn lurker(server: Arc<Server>) {
    loop {
        let params = server.params();
        let plan = server.cache.lurk_plan(crate::value::now(), params.ban_lurker_age);
        let Some(plan) = plan else {
            let _ = tokio::time::timeout(IDLE, server.cache.bans().added()).await;
            continue;
        };
        let batch = usize::try_from(params.ban_lurker_batch).unwrap_or(1000).max(1);
        let pause = Duration::from_secs_f64(params.ban_lurker_sleep.max(0.0));
        let (mut killed, mut tested) = (0, 0);
        for part in 0..shellac_cache::Cache::SHARDS {
            let objects = server.cache.lurk_candidates(part, &plan);
            for chunk in objects.chunks(batch - tested) {
                killed += server.cache.lurk_test(&plan, chunk);
                tested += chunk.len();
                if tested >= batch {
                    tokio::time::sleep(pause).await;
                    tested = 0;
                }
            }
        }
        server.cache.lurk_done(&plan);
        if killed > 0 {
            tracing::debug!(target: "ban", killed, "lurker pass");
        }
        // A pass that tested nothing new still rests before the next.
        tokio::time::sleep(pause.max(Duration::from_millis(10))).await;
    }
}
