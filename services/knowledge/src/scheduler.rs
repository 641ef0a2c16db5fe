//! Puts scheduled articles live at their time. Several replicas may run it:
//! each move checks the article is still scheduled in its own transaction,
//! so an article goes live once. Before its first round it rewrites the
//! search rows a newer release indexes differently (`Store::reindex_stale`;
//! rows are upserted, so replicas doing it at once agree).

use std::time::Duration;

use docket_kit::audit::Actor;
use tokio::sync::watch;

use crate::{domain::articles::Step, store::Store};

/// How often the scheduler looks for articles whose time has come.
pub const INTERVAL: Duration = Duration::from_secs(1);

const ACTOR: &str = "system:knowledge";

/// Runs until `stop` turns true.
pub async fn run(store: Store, mut stop: watch::Receiver<bool>) {
    let mut reindexed = false;
    loop {
        if !reindexed {
            match store.reindex_stale().await {
                Ok(0) => reindexed = true,
                Ok(rewritten) => {
                    tracing::info!(rewritten, "search rows of an older format rewritten");
                    reindexed = true;
                }
                Err(err) => tracing::warn!(error = %err, "rewriting search rows: the next round tries again"),
            }
        }
        if let Err(err) = publish_due(&store).await {
            tracing::warn!(error = %err, "scheduled articles: the next round tries again");
        }
        tokio::select! {
            () = tokio::time::sleep(INTERVAL) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Publishes every article whose time has come; how many went live.
pub async fn publish_due(store: &Store) -> Result<usize, docket_kit::Error> {
    let now = docket_kit::time::now();
    let mut live = 0;
    for id in store.due_articles(now, 100).await? {
        let by = Actor { actor: ACTOR, reason: "its publish time came", at: docket_kit::time::now() };
        match store.move_article(id, None, Step::GoLive, None, &by, true).await {
            Ok(_) => live += 1,
            // Another replica, or an edit, got there first.
            Err(docket_kit::Error::IllegalMove { .. } | docket_kit::Error::Stale(_)) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(live)
}
