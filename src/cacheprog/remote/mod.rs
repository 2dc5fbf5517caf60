//! The remote tier of `cacheprog`: a bucket on S3-compatible object storage shared by every
//! cache program that names it, behind the local cache.
//!
//! * **get**: a local miss asks the bucket for the action ([`object`]), then for its output
//!   by OutputID. The body is streamed into a temporary file in the lease directory (on the
//!   cache's volume, removed with the lease if the program dies), SHA-256-verified against
//!   the OutputID, and only then renamed into its shard, as a put would be. Anything missing,
//!   short, unparsable or unverifiable is a miss, never an error. Concurrent misses for one
//!   output fetch it once.
//! * **put**: stored locally and answered at once, as without a remote; uploaded afterwards
//!   by background tasks (a bounded queue, a bounded number at a time), the body first and
//!   then the action, each skipped when it already exists. At `close` the uploads still
//!   pending get [`RemoteOptions::flush_timeout`]; what remains is dropped and counted.
//! * **fetching ahead**: a go command's requests come a few at a time, each waiting for the
//!   last, so a cold local cache that asked the remote for one action at a time would wait on
//!   thousands of round trips. At `close` a read-write program writes a *manifest*: the
//!   actions its go command used, in order ([`object`]), named after the first few it asked
//!   for. A later program whose go command starts with the same actions reads that manifest
//!   and fetches the outputs it names [`policy::PREFETCH_AT_ONCE`] at a time (verified, as
//!   always), up to [`policy::prefetch_allowance`]; a request for one of its actions then needs
//!   no action lookup, and usually finds its output already there.
//! * **read-only**: nothing is ever written to the bucket.
//! * **The remote can never fail a build**: every request has a tight timeout, failures are
//!   counted and the first one printed on stderr, and after [`policy::BREAKER_AFTER`]
//!   consecutive failures the remote is left alone for the rest of the program. The limits
//!   are [`crate::policy::remote`]'s.
//!
//! Trust: whoever can write the bucket chooses what an action maps to, and so what a build
//! links. Bodies are verified; the mapping cannot be. Untrusted builds use read-only mode.

mod ahead;
pub mod object;
pub mod prune;

use std::collections::HashMap;
use std::fmt::Display;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use futures_util::StreamExt as _;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt as _, PutPayload};

use self::ahead::Ahead;
use self::object::Action;
use super::ledger::Counts;
use super::protocol::ID_LEN;
use super::store::{BodyOpener, Hit, Store, Stored};
use super::{Fetched, RemoteOptions};
use crate::policy::remote::{self as policy, REQUEST_TIMEOUT, body_timeout};

/// Uploads waiting or running at most; more are dropped (and counted).
const QUEUE_MAX: usize = 4096;
/// Uploads running at once.
const UPLOADS_AT_ONCE: usize = 8;
/// A body is read and sent in pieces of this size.
const CHUNK: usize = 1 << 20;
/// Bodies up to this size go in one request; larger ones in parts.
const SINGLE_PUT_MAX: u64 = 8 << 20;

/// The bucket and where in it, from `s3://BUCKET[/PREFIX]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub bucket: String,
    /// Without leading or trailing `/`; empty for the bucket's root.
    pub prefix: String,
}

/// Reads a remote URL. Only `s3://` is built in.
pub fn parse_url(url: &str) -> Result<Location, String> {
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| format!("{url:?}: only s3://BUCKET[/PREFIX] is supported"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let bucket_ok = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    if !bucket_ok {
        return Err(format!("{url:?}: {bucket:?} is not a bucket name"));
    }
    let prefix = prefix.trim_matches('/');
    if prefix.split('/').any(|p| p == "." || p == "..")
        || prefix.contains("//")
        || prefix.bytes().any(|b| b.is_ascii_control())
    {
        return Err(format!("{url:?}: the prefix must be plain path components"));
    }
    Ok(Location {
        bucket: bucket.to_string(),
        prefix: prefix.to_string(),
    })
}

/// Opens the bucket named by `url` with the standard AWS variables (credentials, region,
/// `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`, web identity), tight timeouts and at most one
/// retry.
pub fn open_store(url: &str) -> Result<(Arc<dyn ObjectStore>, Location), String> {
    open_store_with(url, std::env::vars_os())
}

/// [`open_store`] with the AWS variables taken from `vars` instead of the environment.
pub fn open_store_with(
    url: &str,
    vars: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> Result<(Arc<dyn ObjectStore>, Location), String> {
    let location = parse_url(url)?;
    // reqwest is built without a default provider: ring's, which cross-builds without a
    // C toolchain beyond the usual one. Installing twice is refused, harmlessly.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let retry = object_store::RetryConfig {
        max_retries: policy::RETRIES,
        retry_timeout: policy::RETRY_TIMEOUT,
        backoff: object_store::BackoffConfig {
            init_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(500),
            base: 2.0,
        },
    };
    // The client's settings are changed one by one: `with_client_options` would drop those
    // read from the environment (AWS_ALLOW_HTTP among them).
    let client = |key| object_store::aws::AmazonS3ConfigKey::Client(key);
    // What `AmazonS3Builder::from_env` does, from `vars`.
    let mut builder = object_store::aws::AmazonS3Builder::new();
    for (key, value) in vars {
        if let (Some(key), Some(value)) = (key.to_str(), value.to_str())
            && key.starts_with("AWS_")
            && let Ok(key) = key.to_ascii_lowercase().parse()
        {
            builder = builder.with_config(key, value);
        }
    }
    let store = builder
        .with_bucket_name(&location.bucket)
        .with_config(
            client(object_store::ClientConfigKey::ConnectTimeout),
            format!("{}ms", policy::CONNECT_TIMEOUT.as_millis()),
        )
        // Each request has its own, tighter, limit; this one only bounds what those miss.
        .with_config(client(object_store::ClientConfigKey::Timeout), "600s")
        .with_retry(retry)
        .build()
        .map_err(|e| format!("{url:?}: {e}"))?;
    Ok((Arc::new(store), location))
}

/// What the remote tier did, for the program's counters.
#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    uploads: AtomicU64,
    verify_failures: AtomicU64,
    errors: AtomicU64,
    dropped: AtomicU64,
    prefetched: AtomicU64,
}

/// The failure count, the breaker, and whether a failure was printed yet.
#[derive(Default)]
struct Health {
    consecutive: AtomicU32,
    open: AtomicBool,
    reported: AtomicBool,
}

/// One fetch of an output, which other misses for the same output wait for.
#[derive(Default)]
struct Flight {
    done: Mutex<bool>,
    cv: Condvar,
}

/// The remote tier of one cache program.
pub struct Remote {
    runtime: tokio::runtime::Runtime,
    store: Arc<dyn ObjectStore>,
    prefix: String,
    url: String,
    read_only: bool,
    flush_timeout: Duration,
    /// Larger outputs are not believed (and not fetched).
    max_body: u64,
    shared: Arc<Shared>,
    flights: Mutex<HashMap<[u8; ID_LEN], Arc<Flight>>>,
    /// The manifest this program reads and the one it writes.
    ahead: Arc<Ahead>,
}

/// What the background uploads share with the program.
struct Shared {
    counters: Counters,
    health: Health,
    pending: AtomicUsize,
    slots: tokio::sync::Semaphore,
    opener: BodyOpener,
    url: String,
}

/// Why a remote step gave up: a plain miss, or a failure worth counting.
enum Failure {
    Miss,
    Verify,
    Error(String),
}

impl From<object_store::Error> for Failure {
    fn from(e: object_store::Error) -> Failure {
        match e {
            object_store::Error::NotFound { .. } => Failure::Miss,
            e => Failure::Error(chain(&e)),
        }
    }
}

/// An error with its causes, which is where reqwest and hyper say what went wrong.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

impl Shared {
    fn failed(&self, what: &str, message: &dyn Display) {
        self.counters.errors.fetch_add(1, Ordering::Relaxed);
        if !self.health.reported.swap(true, Ordering::Relaxed) {
            eprintln!(
                "go-disk-guard cacheprog: remote {}: {what}: {} (builds go on from the local \
                 cache; further remote errors are counted, not printed)",
                crate::escape::line(&self.url),
                crate::escape::line(&message.to_string())
            );
        }
        let n = self.health.consecutive.fetch_add(1, Ordering::Relaxed) + 1;
        if n >= policy::BREAKER_AFTER && !self.health.open.swap(true, Ordering::Relaxed) {
            eprintln!(
                "go-disk-guard cacheprog: remote {}: {n} consecutive failures; not used again \
                 by this program",
                crate::escape::line(&self.url)
            );
        }
    }

    fn succeeded(&self) {
        self.health.consecutive.store(0, Ordering::Relaxed);
    }

    fn usable(&self) -> bool {
        !self.health.open.load(Ordering::Relaxed)
    }
}

/// `now + limit`, or far enough ahead when that cannot be represented.
fn deadline_after(limit: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(limit)
        .or_else(|| now.checked_add(Duration::from_secs(86400)))
        .unwrap_or(now)
}

async fn timed<T>(
    limit: Duration,
    f: impl Future<Output = Result<T, object_store::Error>>,
) -> Result<T, Failure> {
    match tokio::time::timeout(limit, f).await {
        Ok(r) => r.map_err(Failure::from),
        Err(_) => Err(Failure::Error(format!(
            "no answer within {}",
            humantime::format_duration(limit)
        ))),
    }
}

/// Whether `path` exists in `store` (`Err` when the store could not say).
async fn exists(store: &dyn ObjectStore, path: &ObjectPath) -> Result<bool, Failure> {
    match timed(REQUEST_TIMEOUT, store.head(path)).await {
        Ok(_) => Ok(true),
        Err(Failure::Miss) => Ok(false),
        Err(e) => Err(e),
    }
}

impl Remote {
    /// Opens the remote tier for a program whose local budget is `max_body` bytes at most.
    /// Fetches ahead at most `allowance` bytes.
    pub fn open(
        options: &RemoteOptions,
        store: &Store,
        max_body: u64,
        allowance: u64,
    ) -> anyhow::Result<Remote> {
        let (object_store, location) =
            open_store(&options.url).map_err(|e| anyhow::anyhow!("--remote {e}"))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("cacheprog-remote")
            .enable_all()
            .build()?;
        Ok(Remote {
            runtime,
            store: object_store,
            prefix: location.prefix,
            url: options.url.clone(),
            read_only: options.read_only,
            flush_timeout: options.flush_timeout,
            max_body,
            shared: Arc::new(Shared {
                counters: Counters::default(),
                health: Health::default(),
                pending: AtomicUsize::new(0),
                slots: tokio::sync::Semaphore::new(UPLOADS_AT_ONCE),
                opener: store.body_opener()?,
                url: options.url.clone(),
            }),
            flights: Mutex::new(HashMap::new()),
            ahead: Arc::new(Ahead::new(allowance)),
        })
    }

    /// What the remote tier did, as counters to add to the program's.
    pub fn counts(&self) -> Counts {
        let c = &self.shared.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Counts {
            remote_hits: get(&c.hits),
            remote_misses: get(&c.misses),
            remote_uploads: get(&c.uploads),
            remote_verify_failures: get(&c.verify_failures),
            remote_errors: get(&c.errors),
            remote_dropped: get(&c.dropped),
            remote_prefetched: get(&c.prefetched),
            ..Counts::default()
        }
    }

    fn action_path(&self, id: &[u8; ID_LEN]) -> ObjectPath {
        ObjectPath::from(object::action_key(&self.prefix, id))
    }

    fn output_path(&self, id: &[u8; ID_LEN]) -> ObjectPath {
        ObjectPath::from(object::output_key(&self.prefix, id))
    }

    /// Looks `action` up in the remote after a local miss, bringing its output into `store`.
    /// `None` is a miss, whatever the reason.
    pub fn get(&self, store: &Store, action: &[u8; ID_LEN]) -> Option<Fetched> {
        if !self.shared.usable() {
            return None;
        }
        let result = self.try_get(store, action);
        let c = &self.shared.counters;
        match result {
            Ok(fetched) => {
                self.shared.succeeded();
                c.hits.fetch_add(1, Ordering::Relaxed);
                Some(fetched)
            }
            Err(Failure::Miss) => {
                c.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
            Err(Failure::Verify) => {
                c.verify_failures.fetch_add(1, Ordering::Relaxed);
                c.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
            Err(Failure::Error(e)) => {
                c.misses.fetch_add(1, Ordering::Relaxed);
                self.shared.failed("get", &e);
                None
            }
        }
    }

    fn try_get(&self, store: &Store, action: &[u8; ID_LEN]) -> Result<Fetched, Failure> {
        if let Some(found) = self.ahead.known(action) {
            match self.serve(store, found, SystemTime::now()) {
                Err(Failure::Miss | Failure::Verify) => {} // the action object may know better
                done => return done,
            }
        }
        let text = self.runtime.block_on(async {
            let path = self.action_path(action);
            let got = timed(REQUEST_TIMEOUT, self.store.get(&path)).await?;
            read_limited(got.into_stream(), object::ACTION_MAX_LEN).await
        })?;
        self.shared.succeeded();
        let now = SystemTime::now();
        let Some(text) = text else {
            return Err(Failure::Verify);
        };
        let Some(found) = object::parse_action(&text, action, self.max_body, now) else {
            return Err(Failure::Verify);
        };
        self.serve(store, found, now)
    }

    /// Brings `found`'s output into `store` for the go command, recording its use.
    fn serve(&self, store: &Store, found: Action, now: SystemTime) -> Result<Fetched, Failure> {
        let stored = self.bring_output(store, &found)?;
        let mut used = found;
        if !self.read_only && policy::refresh_due(found.used_at, now) {
            used.used_at = now;
            self.rewrite_action(used);
        }
        self.ahead.used(used);
        let disk_path = stored.disk_path;
        Ok(Fetched {
            hit: Hit {
                output_id: found.output,
                size: found.size,
                put_at: found.put_at,
                disk_path,
            },
            added_bytes: stored.added_bytes,
        })
    }

    /// Makes `found`'s output an entry of `store` for its action: fetched once however many
    /// ask for it at the same time, and verified.
    fn bring_output(&self, store: &Store, found: &Action) -> Result<Stored, Failure> {
        let local = |store: &Store| {
            store
                .adopt(&found.action, &found.output, found.size, found.put_at)
                .map_err(|e| Failure::Error(format!("storing locally: {e}")))
        };
        if let Some(stored) = local(store)? {
            return Ok(stored);
        }
        let (flight, leader) = {
            let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
            match flights.get(&found.output) {
                Some(f) => (f.clone(), false),
                None => {
                    let f = Arc::new(Flight::default());
                    flights.insert(found.output, f.clone());
                    (f, true)
                }
            }
        };
        if !leader {
            let mut done = flight.done.lock().unwrap_or_else(|p| p.into_inner());
            while !*done {
                done = flight.cv.wait(done).unwrap_or_else(|p| p.into_inner());
            }
            drop(done);
            return local(store)?.ok_or(Failure::Miss);
        }
        let result = self.fetch_output(store, found);
        self.flights
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&found.output);
        *flight.done.lock().unwrap_or_else(|p| p.into_inner()) = true;
        flight.cv.notify_all();
        result
    }

    fn fetch_output(&self, store: &Store, found: &Action) -> Result<Stored, Failure> {
        let path = self.output_path(&found.output);
        let limit = body_timeout(found.size);
        let deadline = deadline_after(limit);
        let got = self
            .runtime
            .block_on(timed(REQUEST_TIMEOUT, self.store.get(&path)))?;
        let mut stream = got.into_stream();
        let mut pending = store
            .begin_put()
            .map_err(|e| Failure::Error(format!("storing locally: {e}")))?;
        let mut hash = ring::digest::Context::new(&ring::digest::SHA256);
        let mut received: u64 = 0;
        let outcome = loop {
            // The go command has closed: what was being fetched ahead is not waited for.
            if self.ahead.stopped() {
                break Err(Failure::Miss);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let next = self
                .runtime
                .block_on(async { tokio::time::timeout(left, stream.next()).await });
            match next {
                Err(_) => {
                    break Err(Failure::Error(format!(
                        "no whole body within {}",
                        humantime::format_duration(limit)
                    )));
                }
                Ok(None) => break Ok(()),
                Ok(Some(Err(e))) => break Err(Failure::from(e)),
                Ok(Some(Ok(chunk))) => {
                    received = received.saturating_add(chunk.len() as u64);
                    if received > found.size {
                        break Err(Failure::Verify);
                    }
                    hash.update(&chunk);
                    if let Err(e) = pending.write_all(&chunk) {
                        break Err(Failure::Error(format!("storing locally: {e}")));
                    }
                }
            }
        };
        let verified = outcome.and_then(|()| {
            let digest = hash.finish();
            if received == found.size && digest.as_ref() == found.output.as_slice() {
                Ok(())
            } else {
                Err(Failure::Verify)
            }
        });
        match verified {
            Ok(()) => store
                .finish_put_at(
                    pending,
                    &found.action,
                    &found.output,
                    found.size,
                    Some(found.put_at),
                )
                .map_err(|e| Failure::Error(format!("storing locally: {e}"))),
            Err(e) => {
                store.discard(pending);
                Err(e)
            }
        }
    }

    /// Queues the upload of a put (unless read-only): the body, then the action.
    pub fn put(&self, action: &[u8; ID_LEN], output: &[u8; ID_LEN], size: u64) {
        let now = SystemTime::now();
        self.ahead.used(Action {
            action: *action,
            output: *output,
            size,
            put_at: now,
            used_at: now,
        });
        if self.read_only || !self.shared.usable() {
            return;
        }
        let shared = &self.shared;
        if shared.pending.fetch_add(1, Ordering::Relaxed) >= QUEUE_MAX {
            shared.pending.fetch_sub(1, Ordering::Relaxed);
            shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let job = Upload {
            action: Action {
                action: *action,
                output: *output,
                size,
                put_at: now,
                used_at: now,
            },
            action_path: self.action_path(action),
            output_path: self.output_path(output),
            store: self.store.clone(),
            shared: self.shared.clone(),
        };
        self.runtime.spawn(job.run());
    }

    /// Rewrites an action's object with a new last-use time, in the background.
    fn rewrite_action(&self, action: Action) {
        self.ahead.refreshed.store(true, Ordering::Relaxed);
        let shared = self.shared.clone();
        if shared.pending.fetch_add(1, Ordering::Relaxed) >= QUEUE_MAX {
            shared.pending.fetch_sub(1, Ordering::Relaxed);
            shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let store = self.store.clone();
        let path = self.action_path(&action.action);
        self.runtime.spawn(async move {
            // In turn with the uploads: a day's refreshes come all at once.
            let permit = shared.slots.acquire().await;
            let text = object::format_action(&action);
            let r = timed(
                REQUEST_TIMEOUT,
                store.put(&path, PutPayload::from(text.into_bytes())),
            )
            .await;
            match r {
                Ok(_) => shared.succeeded(),
                Err(Failure::Error(e)) => shared.failed("refreshing an action", &e),
                Err(_) => {}
            }
            drop(permit);
            shared.pending.fetch_sub(1, Ordering::Relaxed);
        });
    }

    /// Waits up to the flush timeout for the uploads still pending (not at all once the
    /// remote is switched off), then drops the rest (counted) and stops.
    pub fn finish(self) -> Counts {
        self.ahead.stop();
        let deadline = deadline_after(self.flush_timeout);
        // With the breaker open, what is pending is dropped anyway: no wait.
        while self.shared.pending.load(Ordering::Relaxed) > 0
            && Instant::now() < deadline
            && self.shared.usable()
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        let left = self.shared.pending.load(Ordering::Relaxed);
        if left > 0 {
            self.shared
                .counters
                .dropped
                .fetch_add(left as u64, Ordering::Relaxed);
            eprintln!(
                "go-disk-guard cacheprog: remote {}: {left} uploads still pending after {}; \
                 dropped",
                crate::escape::line(&self.url),
                humantime::format_duration(self.flush_timeout)
            );
        }
        self.write_manifest(deadline);
        let counts = self.counts();
        self.runtime.shutdown_background();
        counts
    }
}

/// Collects a stream of at most `limit` bytes; `None` when it is longer.
async fn read_limited(
    mut stream: futures_util::stream::BoxStream<'static, object_store::Result<bytes::Bytes>>,
    limit: usize,
) -> Result<Option<Vec<u8>>, Failure> {
    let mut out = Vec::new();
    while let Some(chunk) =
        timed(REQUEST_TIMEOUT, async { stream.next().await.transpose() }).await?
    {
        if out.len().saturating_add(chunk.len()) > limit {
            return Ok(None);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(Some(out))
}

/// The next piece of the body (empty at its end), read off the runtime's threads.
async fn next_chunk(reader: &mut Option<std::fs::File>) -> Result<Vec<u8>, Failure> {
    let Some(mut file) = reader.take() else {
        return Err(Failure::Miss);
    };
    let (file, chunk) = tokio::task::spawn_blocking(move || {
        let mut buf = Vec::with_capacity(CHUNK);
        let r = (&mut file).take(CHUNK as u64).read_to_end(&mut buf);
        (file, r.map(|_| buf))
    })
    .await
    .map_err(|e| Failure::Error(e.to_string()))?;
    *reader = Some(file);
    chunk.map_err(|_| Failure::Miss)
}

/// One put on its way to the remote.
struct Upload {
    action: Action,
    action_path: ObjectPath,
    output_path: ObjectPath,
    store: Arc<dyn ObjectStore>,
    shared: Arc<Shared>,
}

impl Upload {
    async fn run(self) {
        let shared = self.shared.clone();
        let permit = shared.slots.acquire().await;
        if shared.usable() {
            match self.send().await {
                Ok(uploaded) => {
                    shared.succeeded();
                    if uploaded {
                        shared.counters.uploads.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Err(Failure::Error(e)) => shared.failed("put", &e),
                Err(Failure::Verify) => {
                    // The local body is not what its OutputID says: not shared.
                    shared
                        .counters
                        .verify_failures
                        .fetch_add(1, Ordering::Relaxed);
                }
                Err(Failure::Miss) => {
                    shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        } else {
            shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
        drop(permit);
        shared.pending.fetch_sub(1, Ordering::Relaxed);
    }

    /// Whether an action was written (`false`: it was there already).
    async fn send(&self) -> Result<bool, Failure> {
        let store = self.store.as_ref();
        if exists(store, &self.action_path).await? {
            return Ok(false);
        }
        if !exists(store, &self.output_path).await? {
            self.send_body().await?;
        }
        let text = object::format_action(&self.action);
        timed(
            REQUEST_TIMEOUT,
            store.put(&self.action_path, PutPayload::from(text.into_bytes())),
        )
        .await?;
        Ok(true)
    }

    /// Reads the body back from the local cache (the link handed out for it, which outlives
    /// an eviction), checking it against its OutputID, and sends it.
    async fn send_body(&self) -> Result<(), Failure> {
        let size = self.action.size;
        let output = self.action.output;
        let shared = self.shared.clone();
        let file = tokio::task::spawn_blocking(move || shared.opener.open(&output))
            .await
            .map_err(|e| Failure::Error(e.to_string()))?
            .map_err(|_| Failure::Miss)?;
        let limit = body_timeout(size);
        let mut reader = Some(file);
        let mut hash = ring::digest::Context::new(&ring::digest::SHA256);
        let mut sent: u64 = 0;
        if size <= SINGLE_PUT_MAX {
            let mut body = Vec::new();
            loop {
                let chunk = next_chunk(&mut reader).await?;
                if chunk.is_empty() {
                    break;
                }
                body.extend_from_slice(&chunk);
                if body.len() as u64 > size {
                    return Err(Failure::Verify);
                }
            }
            hash.update(&body);
            if body.len() as u64 != size || hash.finish().as_ref() != output.as_slice() {
                return Err(Failure::Verify);
            }
            timed(
                limit,
                self.store.put(&self.output_path, PutPayload::from(body)),
            )
            .await?;
            return Ok(());
        }
        let mut writer = object_store::buffered::BufWriter::with_capacity(
            self.store.clone(),
            self.output_path.clone(),
            SINGLE_PUT_MAX as usize,
        );
        let deadline = deadline_after(limit);
        let result: Result<(), Failure> = async {
            loop {
                let chunk = next_chunk(&mut reader).await?;
                if chunk.is_empty() {
                    break;
                }
                sent = sent.saturating_add(chunk.len() as u64);
                if sent > size {
                    return Err(Failure::Verify);
                }
                hash.update(&chunk);
                let left = deadline.saturating_duration_since(Instant::now());
                timed(left, writer.put(bytes::Bytes::from(chunk))).await?;
            }
            if sent != size || hash.finish().as_ref() != output.as_slice() {
                return Err(Failure::Verify);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, tokio::io::AsyncWriteExt::shutdown(&mut writer)).await
            {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(Failure::Error(e.to_string())),
                Err(_) => Err(Failure::Error("no answer in time".into())),
            }
        }
        .await;
        if result.is_err() {
            let _ = tokio::time::timeout(REQUEST_TIMEOUT, writer.abort()).await;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_bucket_and_a_prefix() {
        assert_eq!(
            parse_url("s3://go-cache/ci/linux/"),
            Ok(Location {
                bucket: "go-cache".into(),
                prefix: "ci/linux".into()
            })
        );
        assert_eq!(
            parse_url("s3://go-cache"),
            Ok(Location {
                bucket: "go-cache".into(),
                prefix: String::new()
            })
        );
        for bad in [
            "gs://b/x",
            "s3://",
            "s3://Upper",
            "s3://b",
            "s3://bucket/../x",
            "s3://bucket/a//b",
            "s3://bucket/a\nb",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn deadlines_never_overflow() {
        // A flush timeout of any length, a body of any size.
        assert!(deadline_after(Duration::MAX) > Instant::now());
        let _ = deadline_after(body_timeout(u64::MAX));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(crate::testing::budget(1000))]

            /// A URL comes from the user's settings: any text is judged, never a panic, and
            /// a prefix accepted has no empty, `.` or `..` component.
            #[test]
            fn any_url_is_judged(url in "(s3://)?[a-z0-9./\\-\\n]{0,40}") {
                if let Ok(loc) = parse_url(&url) {
                    prop_assert!(!loc.bucket.is_empty());
                    if !loc.prefix.is_empty() {
                        for part in loc.prefix.split('/') {
                            prop_assert!(!part.is_empty() && part != "." && part != "..");
                        }
                    }
                }
            }
        }
    }
}
