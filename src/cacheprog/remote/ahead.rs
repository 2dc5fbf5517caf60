//! Fetching ahead: the manifests (what a go command used, written at close), and the threads
//! that bring the outputs a manifest names into the local cache before the go command asks.
//! See [`super`] for the whole and [`super::object`] for the format.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Instant, SystemTime};

use futures_util::StreamExt as _;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt as _, PutPayload};

use super::object::{self, Action};
use super::{Failure, Remote, Shared, body_timeout, read_limited, timed};
use crate::cacheprog::protocol::ID_LEN;
use crate::cacheprog::store::{Hit, Store};
use crate::policy::remote::{self as policy, REQUEST_TIMEOUT};

/// Which manifest this program reads, and under which name it writes its own.
#[derive(Default)]
struct Choice {
    /// The first distinct actions asked for (at most [`policy::MANIFEST_AFTER_REQUESTS`]).
    first: Vec<[u8; ID_LEN]>,
    /// The manifests filed under the first action, by name, once read.
    candidates: Option<Vec<([u8; ID_LEN], Vec<Action>)>>,
    /// Whether a manifest was chosen (or none could be).
    chosen: bool,
    /// The name this program's manifest is written under.
    name: Option<[u8; ID_LEN]>,
}

impl Choice {
    /// Once both the first requests and the candidates are known: the candidate naming the
    /// most of those requests (the newest of equals), whose name this program then writes
    /// under when it names at least half of them; otherwise a name of its own.
    fn choose(&mut self) -> Option<Vec<Action>> {
        if self.chosen || self.first.len() < policy::MANIFEST_AFTER_REQUESTS {
            return None;
        }
        let candidates = self.candidates.take()?;
        self.chosen = true;
        let score = |actions: &[Action]| {
            let named: HashSet<&[u8; ID_LEN]> = actions.iter().map(|a| &a.action).collect();
            self.first.iter().filter(|id| named.contains(id)).count()
        };
        let best = candidates
            .into_iter()
            .map(|(name, actions)| (score(&actions), name, actions))
            .filter(|(score, ..)| *score >= policy::MANIFEST_FOLLOW_AT_LEAST)
            .reduce(|best, next| if next.0 > best.0 { next } else { best });
        match best {
            Some((score, name, actions)) => {
                self.name = Some(if 2 * score >= self.first.len() {
                    name
                } else {
                    object::manifest_key(&self.first)
                });
                Some(actions)
            }
            None => {
                self.name = Some(object::manifest_key(&self.first));
                None
            }
        }
    }
}

/// The manifests: what this program's go command asks for, and what a manifest said it would.
#[derive(Default)]
pub(super) struct Ahead {
    /// The first requests, the manifests found for them, and the one chosen.
    choice: Mutex<Choice>,
    /// The actions used, in the order first asked for, for the manifest written at close.
    used: Mutex<(Vec<Action>, HashSet<[u8; ID_LEN]>)>,
    /// What the manifest read said of each action.
    known: Mutex<HashMap<[u8; ID_LEN], Action>>,
    /// The manifest read, as it was.
    read: Mutex<Vec<Action>>,
    /// The actions whose outputs were fetched ahead.
    fetched: Mutex<HashSet<[u8; ID_LEN]>>,
    /// Outputs to fetch ahead, and whether fetching ahead has stopped.
    queue: Mutex<(VecDeque<Action>, bool)>,
    wake: Condvar,
    /// Bytes that may still be fetched ahead.
    allowance: AtomicU64,
    /// This program refreshed a remote action's last use: its manifest says so at close.
    pub(super) refreshed: AtomicBool,
}

impl Ahead {
    /// For a program that may fetch `allowance` bytes ahead.
    pub(super) fn new(allowance: u64) -> Ahead {
        Ahead {
            allowance: AtomicU64::new(allowance),
            ..Ahead::default()
        }
    }

    /// Records that the go command used `action` (the first use of each counts).
    pub(super) fn used(&self, action: Action) {
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        let (order, seen) = &mut *used;
        if order.len() < object::MANIFEST_MAX_ACTIONS && seen.insert(action.action) {
            order.push(action);
        }
    }

    /// What the manifest followed says of `action`.
    pub(super) fn known(&self, action: &[u8; ID_LEN]) -> Option<Action> {
        let known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        known.get(action).copied()
    }

    /// Takes in a manifest: what it says of each action, and its outputs to fetch ahead.
    fn expect(&self, actions: Vec<Action>) {
        {
            let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
            let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            for a in &actions {
                if known.insert(a.action, *a).is_none() {
                    queue.0.push_back(*a);
                }
            }
        }
        *self.read.lock().unwrap_or_else(|p| p.into_inner()) = actions;
        self.wake.notify_all();
    }

    /// The next output to fetch ahead; `None` once fetching ahead has stopped.
    fn next(&self) -> Option<Action> {
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if queue.1 {
                return None;
            }
            if let Some(a) = queue.0.pop_front() {
                return Some(a);
            }
            queue = self.wake.wait(queue).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Whether fetching ahead has stopped (the go command closed).
    pub(super) fn stopped(&self) -> bool {
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).1
    }

    pub(super) fn stop(&self) {
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).1 = true;
        self.wake.notify_all();
    }
}

impl Remote {
    /// Notes that the go command asked for `action`. The first request lists the manifests
    /// filed under it, in the background; once [`policy::MANIFEST_AFTER_REQUESTS`] distinct
    /// actions were asked for, the manifest that names the most of them is fetched ahead.
    /// (The first request is the same whenever a go command builds the same thing; the next
    /// few depend on which answers come first, and differ between a cold and a warm cache.)
    pub fn asked(&self, action: &[u8; ID_LEN]) {
        let (list, chosen) = {
            let mut choice = self.ahead.choice.lock().unwrap_or_else(|p| p.into_inner());
            if choice.first.len() >= policy::MANIFEST_AFTER_REQUESTS
                || choice.first.contains(action)
            {
                return;
            }
            choice.first.push(*action);
            (choice.first.len() == 1, choice.choose())
        };
        if let Some(actions) = chosen {
            self.ahead.expect(actions);
        }
        if list && self.shared.usable() {
            self.read_manifests(*action);
        } else if list {
            self.ahead
                .choice
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .candidates = Some(Vec::new());
        }
    }

    /// Notes a local hit: a use for the manifest, and, when the output came from the remote
    /// ahead of the request, a use of the remote action (whose last use is then refreshed
    /// when due).
    pub fn hit_locally(&self, action: &[u8; ID_LEN], hit: &Hit) {
        // Only what this program fetched ahead is a use of the remote: an entry the cache had
        // may never have reached the bucket, and refreshing its action would name a body the
        // bucket lacks.
        let fetched = self
            .ahead
            .fetched
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(action);
        let known = self
            .ahead
            .known(action)
            .filter(|k| fetched && k.output == hit.output_id && k.size == hit.size);
        let now = SystemTime::now();
        let used = match known {
            Some(mut k) => {
                if !self.read_only && self.shared.usable() && policy::refresh_due(k.used_at, now) {
                    k.used_at = now;
                    self.rewrite_action(k);
                }
                k
            }
            None => Action {
                action: *action,
                output: hit.output_id,
                size: hit.size,
                put_at: hit.put_at,
                used_at: hit.put_at,
            },
        };
        self.ahead.used(used);
    }

    /// Reads the manifests filed under the first request `first` (the newest
    /// [`policy::MANIFEST_CANDIDATES`]) in the background, then chooses one.
    fn read_manifests(&self, first: [u8; ID_LEN]) {
        let under = ObjectPath::from(object::manifests_under(&self.prefix, &first));
        let store = self.store.clone();
        let shared = self.shared.clone();
        let ahead = self.ahead.clone();
        let max_body = self.max_body;
        self.runtime.spawn(async move {
            let candidates = match read_candidates(&store, &under, max_body, &shared).await {
                Ok(c) => {
                    shared.succeeded();
                    c
                }
                Err(Failure::Error(e)) => {
                    shared.failed("reading manifests", &e);
                    Vec::new()
                }
                Err(_) => Vec::new(),
            };
            let chosen = {
                let mut choice = ahead.choice.lock().unwrap_or_else(|p| p.into_inner());
                choice.candidates = Some(candidates);
                choice.choose()
            };
            if let Some(actions) = chosen {
                ahead.expect(actions);
            }
        });
    }

    /// Fetches the outputs a manifest named, ahead of the go command, until
    /// [`Remote::stop_fetching_ahead`]; `account` is told of the bytes each added. Each
    /// answering thread of the program runs one.
    pub fn fetch_ahead(&self, store: &Store, account: &dyn Fn(i64)) {
        while let Some(found) = self.ahead.next() {
            if !self.shared.usable() {
                self.ahead.stop();
                return;
            }
            let asked = {
                let used = self.ahead.used.lock().unwrap_or_else(|p| p.into_inner());
                used.1.contains(&found.action)
            };
            // Never in place of an entry the cache has: the bucket only ever answers a miss.
            if asked || !matches!(store.has_action(&found.action), Ok(false)) {
                continue;
            }
            let afford = self
                .ahead
                .allowance
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                    left.checked_sub(found.size)
                })
                .is_ok();
            if !afford {
                continue;
            }
            match self.bring_output(store, &found) {
                Err(e) => {
                    // Not spent after all.
                    let _ = self.ahead.allowance.fetch_update(
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                        |left| Some(left.saturating_add(found.size)),
                    );
                    match e {
                        Failure::Verify => {
                            self.shared
                                .counters
                                .verify_failures
                                .fetch_add(1, Ordering::Relaxed);
                        }
                        Failure::Error(e) => self.shared.failed("fetching ahead", &e),
                        Failure::Miss => {}
                    }
                }
                Ok(stored) => {
                    self.ahead
                        .fetched
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(found.action);
                    self.shared
                        .counters
                        .prefetched
                        .fetch_add(1, Ordering::Relaxed);
                    account(stored.added_bytes);
                }
            }
        }
    }

    /// Ends [`Remote::fetch_ahead`]: what is being fetched is finished, the rest dropped.
    pub fn stop_fetching_ahead(&self) {
        self.ahead.stop();
    }

    /// Writes this program's manifest (not in read-only mode, nor for a go command that used
    /// few actions, nor when it names what the manifest followed named and no last use was
    /// refreshed), by `deadline`.
    pub(super) fn write_manifest(&self, deadline: Instant) {
        let (first, name) = {
            let choice = self.ahead.choice.lock().unwrap_or_else(|p| p.into_inner());
            (choice.first.first().copied(), choice.name)
        };
        let (Some(first), Some(name)) = (first, name) else {
            return;
        };
        if self.read_only || !self.shared.usable() {
            return;
        }
        let used = std::mem::take(&mut self.ahead.used.lock().unwrap_or_else(|p| p.into_inner()).0);
        // Rewritten only when it would name other actions or outputs than the manifest
        // followed, or this program refreshed a last use: not for a mere change of order.
        let pairs = |v: &[Action]| -> HashSet<([u8; ID_LEN], [u8; ID_LEN])> {
            v.iter().map(|a| (a.action, a.output)).collect()
        };
        let same =
            pairs(&used) == pairs(&self.ahead.read.lock().unwrap_or_else(|p| p.into_inner()));
        if used.len() < policy::MANIFEST_MIN_ACTIONS
            || (same && !self.ahead.refreshed.load(Ordering::Relaxed))
        {
            return;
        }
        let text = object::format_manifest(&used);
        let limit = body_timeout(text.len() as u64)
            .min(deadline.saturating_duration_since(Instant::now()))
            .max(REQUEST_TIMEOUT);
        let path = ObjectPath::from(object::manifest_path(&self.prefix, &first, &name));
        let put = self.store.put(&path, PutPayload::from(text.into_bytes()));
        match self.runtime.block_on(timed(limit, put)) {
            Ok(_) => self.shared.succeeded(),
            Err(Failure::Error(e)) => self.shared.failed("writing the manifest", &e),
            Err(_) => {}
        }
    }
}

/// The manifests under `under`, newest first (at most [`policy::MANIFEST_CANDIDATES`]), each
/// with its name; those that cannot be parsed are counted as verification failures, those
/// that cannot be fetched as errors, and both left out.
async fn read_candidates(
    store: &Arc<dyn ObjectStore>,
    under: &ObjectPath,
    max_body: u64,
    shared: &Shared,
) -> Result<Vec<([u8; ID_LEN], Vec<Action>)>, Failure> {
    let listed = timed(REQUEST_TIMEOUT, async {
        let mut stream = store.list(Some(under));
        let mut out = Vec::new();
        while let Some(meta) = stream.next().await {
            let meta = meta?;
            if let Some(name) = meta.location.filename().and_then(object::id_of_name) {
                out.push((meta.last_modified, name, meta.location));
            }
            if out.len() > policy::MANIFEST_LISTED_MAX {
                break;
            }
        }
        Ok(out)
    })
    .await?;
    let mut listed = listed;
    listed.sort_by_key(|l| std::cmp::Reverse(l.0));
    listed.truncate(policy::MANIFEST_CANDIDATES);
    let mut out = Vec::new();
    for (_, name, path) in listed {
        // One that cannot be read (gone since the listing, refused) leaves the others.
        let text = async {
            let got = timed(REQUEST_TIMEOUT, store.get(&path)).await?;
            read_limited(got.into_stream(), object::MANIFEST_MAX_LEN).await
        };
        let text = match text.await {
            Ok(text) => text,
            Err(Failure::Error(e)) => {
                shared.failed("reading a manifest", &e);
                continue;
            }
            Err(_) => continue,
        };
        match text.and_then(|t| object::parse_manifest(&t, max_body, SystemTime::now())) {
            Some(actions) => out.push((name, actions)),
            None => {
                shared
                    .counters
                    .verify_failures
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn action(id: u8) -> Action {
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        Action {
            action: [id; ID_LEN],
            output: [id; ID_LEN],
            size: 1,
            put_at: t,
            used_at: t,
        }
    }

    fn choice(first: &[u8], candidates: &[(u8, &[u8])]) -> Choice {
        Choice {
            first: first.iter().map(|&i| [i; ID_LEN]).collect(),
            candidates: Some(
                candidates
                    .iter()
                    .map(|(name, ids)| ([*name; ID_LEN], ids.iter().map(|&i| action(i)).collect()))
                    .collect(),
            ),
            ..Choice::default()
        }
    }

    #[test]
    fn the_manifest_naming_most_first_requests_is_followed() {
        let first = [1, 2, 3, 4, 5, 6, 7, 8];
        let mut c = choice(
            &first,
            &[(0xa0, &[1, 9]), (0xb0, &[1, 2, 3, 4, 5]), (0xc0, &[1, 2])],
        );
        let actions = c.choose().unwrap();
        assert_eq!(actions.len(), 5);
        // Five of eight: written back under the name followed.
        assert_eq!(c.name, Some([0xb0; ID_LEN]));
        assert!(c.choose().is_none(), "chosen once");

        // Followed, but naming fewer than half: this program's manifest gets a name of its own.
        let mut c = choice(&first, &[(0xa0, &[1, 2, 9])]);
        assert!(c.choose().is_some());
        assert_eq!(c.name, Some(object::manifest_key(&c.first)));

        // One request in common (the first, which every manifest filed there names): not
        // followed.
        let mut c = choice(&first, &[(0xa0, &[1, 9, 10])]);
        assert!(c.choose().is_none());
        assert_eq!(c.name, Some(object::manifest_key(&c.first)));

        // Not before the first requests are all known.
        let mut c = choice(&first[..7], &[(0xb0, &[1, 2, 3])]);
        assert!(c.choose().is_none());
        assert!(c.candidates.is_some());
    }
}
