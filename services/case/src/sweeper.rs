//! The case service's sweeper, every `case.routing_sweep_interval_ms`:
//! what time does to routing (an agent's out-of-office period begins and
//! their cases move; one ends, or a limit rises, and a capacity queue hands
//! out), and what the consumer kept for the period reports since (see
//! `Store::settle_reports`). Changes made through the API settle at
//! once; this catches the clock and anything a crash left undone.

use std::time::Duration;

use tokio::sync::watch;

use crate::store::Store;

/// Sweeps every `interval` until `shutdown` turns true.
pub async fn run(store: Store, interval: Duration, mut shutdown: watch::Receiver<bool>) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        match store.sweep_routing().await {
            Ok(sweep) if sweep.rerouted + sweep.handed_out > 0 => {
                tracing::info!(rerouted = sweep.rerouted, handed_out = sweep.handed_out, "routing sweep");
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "routing sweep failed; retrying at the next tick"),
        }
        if let Err(err) = store.settle_reports().await {
            tracing::warn!(error = %err, "settling the period reports failed; retrying at the next tick");
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            changed = shutdown.changed() => if changed.is_err() { return },
        }
    }
}
