//! `go-disk-guard prune --remote`: keeps a remote tier's bucket to an age and a size.
//!
//! Every action under `PREFIX/actions/` is listed and read, every output under
//! `PREFIX/outputs/` listed; the actions are listed again, and those written meanwhile read,
//! so that what they reference is kept too. What goes is
//! [`crate::policy::remote::plan_remote_prune`]'s decision. Manifests (under
//! `PREFIX/manifests/`) are listed too: one goes when it was not written for as long as
//! `--older-than` (every read-write cache program whose go command used it rewrites it when
//! it changed), and `--max-size` removes the oldest manifests before any action. Manifests go
//! first, then actions, then outputs (an action never names an output already gone because
//! of this prune). Only objects this program names (64 hex digits) are touched.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::SystemTime;

use futures_util::StreamExt as _;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt as _};

use super::object;
use crate::cacheprog::protocol::ID_LEN;
use crate::policy::remote::{
    ActionUse, Listed, ListedAction, RemotePruneGoals, RemotePrunePlan, plan_remote_prune,
};

/// Requests at once.
const AT_ONCE: usize = 16;

/// What to remove, and whether to.
#[derive(Clone, Debug)]
pub struct RemotePruneRequest {
    pub goals: RemotePruneGoals,
    pub dry_run: bool,
}

/// What was there, what went (or would go), what is left.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RemotePruneOutcome {
    pub url: String,
    pub dry_run: bool,
    pub actions: u64,
    pub unreadable_actions: u64,
    pub outputs: u64,
    pub bytes: u64,
    pub manifests: u64,
    pub removed_actions: u64,
    pub removed_outputs: u64,
    pub removed_manifests: u64,
    pub removed_bytes: u64,
    /// Objects that could not be removed.
    pub failed: u64,
}

/// An object listed, with the ID its name gives.
struct Found {
    meta: ObjectMeta,
    id: [u8; ID_LEN],
}

impl Found {
    fn listed(&self) -> Listed {
        Listed {
            id: self.id,
            size: self.meta.size,
            modified: self.meta.last_modified.into(),
        }
    }
}

async fn list(store: &dyn ObjectStore, under: &str) -> anyhow::Result<Vec<Found>> {
    let prefix = ObjectPath::from(under);
    let mut stream = store.list(Some(&prefix));
    let mut out = Vec::new();
    while let Some(meta) = stream.next().await {
        let meta = meta?;
        // Only what this program names; anything else under the prefix is not touched.
        if let Some(id) = meta.location.filename().and_then(object::id_of_name) {
            out.push(Found { meta, id });
        }
    }
    Ok(out)
}

/// Reads the actions `found` (at most [`AT_ONCE`] at a time); `None` for one that cannot be
/// read as an action.
async fn read_actions(
    store: &Arc<dyn ObjectStore>,
    found: &[Found],
    now: SystemTime,
) -> Vec<Option<ActionUse>> {
    futures_util::stream::iter(found.iter().map(|f| {
        let store = store.clone();
        let path = f.meta.location.clone();
        let id = f.id;
        async move {
            let got = store.get(&path).await.ok()?;
            if got.meta.size > object::ACTION_MAX_LEN as u64 {
                return None;
            }
            let bytes = got.bytes().await.ok()?;
            let action = object::parse_action(&bytes, &id, u64::MAX, now)?;
            Some(ActionUse {
                output: action.output,
                used_at: action.used_at,
            })
        }
    }))
    .buffered(AT_ONCE)
    .collect()
    .await
}

fn section(prefix: &str, kind: &str) -> String {
    if prefix.is_empty() {
        kind.to_string()
    } else {
        format!("{prefix}/{kind}")
    }
}

/// Prunes the bucket `url` (read with the standard AWS variables) as `request` says.
pub fn prune(url: &str, request: &RemotePruneRequest) -> anyhow::Result<RemotePruneOutcome> {
    let (store, location) = super::open_store(url).map_err(|e| anyhow::anyhow!("--remote {e}"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(prune_store(store, &location.prefix, url, request))
}

/// What the bucket holds under `prefix`: the actions and what they say, the outputs, and the
/// outputs that actions written since the first listing name.
struct Contents {
    actions: Vec<Found>,
    read: Vec<ListedAction>,
    outputs: Vec<Found>,
    written_since: Vec<[u8; ID_LEN]>,
    manifests: Vec<Found>,
}

async fn contents(
    store: &Arc<dyn ObjectStore>,
    prefix: &str,
    now: SystemTime,
) -> anyhow::Result<Contents> {
    let actions_under = section(prefix, "actions");
    let actions = list(store.as_ref(), &actions_under).await?;
    let read = read_actions(store, &actions, now)
        .await
        .into_iter()
        .zip(&actions)
        .map(|(read, f)| ListedAction {
            object: f.listed(),
            read,
        })
        .collect();
    let outputs = list(store.as_ref(), &section(prefix, "outputs")).await?;
    // Listed again just before the decision: an action written since keeps its output.
    let known: HashSet<[u8; ID_LEN]> = actions.iter().map(|f| f.id).collect();
    let fresh: Vec<Found> = list(store.as_ref(), &actions_under)
        .await?
        .into_iter()
        .filter(|f| !known.contains(&f.id))
        .collect();
    let written_since = read_actions(store, &fresh, now)
        .await
        .into_iter()
        .flatten()
        .map(|a| a.output)
        .collect();
    let manifests = list(store.as_ref(), &section(prefix, "manifests")).await?;
    Ok(Contents {
        actions,
        read,
        outputs,
        written_since,
        manifests,
    })
}

/// [`prune`] on an opened store, its objects under `prefix`.
pub async fn prune_store(
    store: Arc<dyn ObjectStore>,
    prefix: &str,
    url: &str,
    request: &RemotePruneRequest,
) -> anyhow::Result<RemotePruneOutcome> {
    let now = SystemTime::now();
    let c = contents(&store, prefix, now).await?;
    let outputs: Vec<Listed> = c.outputs.iter().map(Found::listed).collect();
    let manifests: Vec<Listed> = c.manifests.iter().map(Found::listed).collect();
    let plan = plan_remote_prune(
        &c.read,
        &outputs,
        &manifests,
        &c.written_since,
        &request.goals,
        now,
    );
    let doomed_actions: Vec<&Found> = plan.actions.iter().map(|&i| &c.actions[i]).collect();
    let doomed_outputs: Vec<&Found> = plan.outputs.iter().map(|&i| &c.outputs[i]).collect();
    let doomed_manifests: Vec<&Found> = plan.manifests.iter().map(|&i| &c.manifests[i]).collect();
    let mut outcome = tally(url, request, &c, &plan);
    outcome.removed_bytes = doomed_actions
        .iter()
        .chain(&doomed_outputs)
        .chain(&doomed_manifests)
        .map(|f| f.meta.size)
        .fold(0, u64::saturating_add);
    if request.dry_run {
        return Ok(outcome);
    }
    // Manifests first, then actions, then outputs: an action never names an output already
    // gone because of this prune.
    for batch in [doomed_manifests, doomed_actions, doomed_outputs] {
        outcome.failed += delete(&store, batch).await;
    }
    Ok(outcome)
}

/// What there is, and how much of it the plan removes.
fn tally(
    url: &str,
    request: &RemotePruneRequest,
    c: &Contents,
    plan: &RemotePrunePlan,
) -> RemotePruneOutcome {
    RemotePruneOutcome {
        url: url.to_string(),
        dry_run: request.dry_run,
        actions: c.actions.len() as u64,
        unreadable_actions: plan.unreadable,
        outputs: c.outputs.len() as u64,
        manifests: c.manifests.len() as u64,
        bytes: c
            .actions
            .iter()
            .chain(&c.outputs)
            .chain(&c.manifests)
            .map(|f| f.meta.size)
            .fold(0u64, u64::saturating_add),
        removed_actions: plan.actions.len() as u64,
        removed_outputs: plan.outputs.len() as u64,
        removed_manifests: plan.manifests.len() as u64,
        ..RemotePruneOutcome::default()
    }
}

/// Deletes `batch` (at most [`AT_ONCE`] at a time); how many could not be deleted (one gone
/// already is deleted).
async fn delete(store: &Arc<dyn ObjectStore>, batch: Vec<&Found>) -> u64 {
    futures_util::stream::iter(batch.into_iter().map(|f| {
        let store = store.clone();
        let path = f.meta.location.clone();
        async move {
            match store.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => 0u64,
                Err(_) => 1,
            }
        }
    }))
    .buffer_unordered(AT_ONCE)
    .fold(0u64, |n, f| async move { n + f })
    .await
}
