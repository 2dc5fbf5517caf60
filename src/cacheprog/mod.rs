//! `go-disk-guard cacheprog`: a GOCACHEPROG server that holds the build cache to a budget.
//!
//! The go command (1.24 and later) starts the program named by `GOCACHEPROG` and hands it
//! every cache lookup and store ([`protocol`]). This one keeps the entries in Go's own layout
//! ([`store`]), so `status`, `prune` and a plain `GOCACHE` pointed at the same directory keep
//! working, and evicts least recently used entries when the cache outgrows `--max-size` or
//! the volume's available space falls below `--min-free`.
//!
//! What makes eviction safe while builds run:
//! * every hit and put sets the entry's mtime to now, so mtime order is exact last-use order;
//! * each program holds a [`lease`] from its start to its end, and eviction never removes an
//!   entry whose mtime is at or after the start of the oldest live lease: nothing a running
//!   go command has looked up or stored is a candidate;
//! * the path handed to the go command is a hard link in the lease's directory, so even an
//!   entry removed at the instant it is looked up stays readable until `close`;
//! * entries are removed by the same engine as `prune` (whole entries, mtime re-read just
//!   before each removal, no links followed, no other volume entered).
//!
//! The bound, exactly: whenever no cache program is running on the directory, its entries
//! take at most `--max-size` bytes on disk (counted as `du` counts them: allocated blocks).
//! While programs run, the entries may exceed it by what the live programs stored or looked
//! up since the oldest of them started, and by entries still linked from a live lease. The
//! directory itself (256 shard directories, README, this program's state) is not counted.
//! Eviction runs in a background thread when a put crosses a bound, down to a low-water mark
//! (decided by [`crate::policy::Budget`]: [`crate::policy::LOW_WATER`] of `--max-size`;
//! `--min-free` plus [`crate::policy::FREE_MARGIN`] of the volume), and once
//! more at `close`, before the answer, so that a finished build leaves the cache within bounds.

pub mod lease;
pub mod ledger;
pub mod protocol;
#[cfg(feature = "remote")]
pub mod remote;
pub mod store;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context as _;

use self::lease::Lease;
use self::ledger::{Budget, Counts, Ledger};
use self::protocol::{Command, ProtocolError, Request, Response};
use self::store::{PendingPut, Store};
use crate::buildcache::BuildCache;
use crate::disk;
use crate::error::Error;
use crate::prune;
use crate::units::Size;

/// Between two background evictions that could not reach their goal (everything left is held
/// by live builds), at least this long passes.
const EVICT_BACKOFF: Duration = Duration::from_secs(1);

/// Available space is measured again after this many bytes were stored...
const FREE_CHECK_BYTES: u64 = 16 << 20;
/// ...or this long.
const FREE_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// How long the eviction at `close` waits for another pruner of the same cache.
const CLOSE_EVICT_WAIT: Duration = Duration::from_secs(120);

/// What to serve.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The cache directory (created, with Go's README, if missing).
    pub dir: PathBuf,
    pub max_size: Option<Size>,
    pub min_free: Option<Size>,
    /// Threads answering requests.
    pub workers: usize,
    /// A shared remote tier behind the local cache.
    pub remote: Option<RemoteOptions>,
}

/// The remote tier (`--remote`).
#[derive(Clone, Debug)]
pub struct RemoteOptions {
    /// `s3://BUCKET[/PREFIX]`.
    pub url: String,
    /// Never write to the remote.
    pub read_only: bool,
    /// How long `close` waits for pending uploads.
    pub flush_timeout: Duration,
}

/// What a remote get brought into the local cache.
pub struct Fetched {
    pub hit: store::Hit,
    pub added_bytes: i64,
}

#[cfg(feature = "remote")]
type RemoteTier = remote::Remote;

/// Without the `remote` feature there is never a remote tier: its methods cannot be called.
#[cfg(not(feature = "remote"))]
enum RemoteTier {}

#[cfg(not(feature = "remote"))]
impl RemoteTier {
    fn get(&self, _: &Store, _: &[u8; protocol::ID_LEN]) -> Option<Fetched> {
        match *self {}
    }
    fn put(&self, _: &[u8; protocol::ID_LEN], _: &[u8; protocol::ID_LEN], _: u64) {
        match *self {}
    }
    fn asked(&self, _: &[u8; protocol::ID_LEN]) {
        match *self {}
    }
    fn hit_locally(&self, _: &[u8; protocol::ID_LEN], _: &store::Hit) {
        match *self {}
    }
    fn fetch_ahead(&self, _: &Store, _: &dyn Fn(i64)) {
        match *self {}
    }
    fn stop_fetching_ahead(&self) {
        match *self {}
    }
    fn finish(self) -> Counts {
        match self {}
    }
}

/// What one program did, for its caller.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub counts: Counts,
    pub budget: Budget,
}

/// Serves the go command on `input`/`output` until `close` or the end of the input.
///
/// Errors: a protocol violation is an [`Error::Protocol`] (after the requests already read are
/// answered); a directory that cannot be used is a runtime error with its path. A failure to
/// store an entry is not an error of the program: it is that request's `Err`.
pub fn serve(
    options: &ServeOptions,
    input: impl Read,
    output: impl Write + Send,
) -> anyhow::Result<Summary> {
    let (mut server, mut lease) = open(options, output)?;
    server.respond(&Response::capabilities());
    if server.trusted_tally().is_none() {
        server.evict.raise();
    }
    let ended = serve_requests(&server, options.workers, input);
    let counts = close(&mut server, &mut lease);
    let budget = server.budget;
    match ended {
        Ended::Close(id) => {
            server.respond(&Response {
                id,
                ..Response::default()
            });
            Ok(Summary { counts, budget })
        }
        Ended::Eof => Ok(Summary { counts, budget }),
        Ended::Protocol(e) => Err(Error::Protocol(e.to_string()).into()),
    }
}

/// Opens the cache directory of `options` to serve the go command on `output`: takes a lease
/// in it, clears what dead programs left, opens the ledger and records the budget.
fn open<W: Write>(options: &ServeOptions, output: W) -> anyhow::Result<(Server<W>, Lease)> {
    let dir = std::path::absolute(&options.dir)
        .with_context(|| format!("cache directory {}", crate::escape::path(&options.dir)))?;
    let root = disk::real_path(&dir);
    let cache = store::prepare(&root)
        .with_context(|| format!("cache directory {}", crate::escape::path(&dir)))?;
    let leases_path = root.join(store::STATE_DIR).join(store::LEASES_DIR);
    let lease = Lease::take(&cache.leases, &leases_path)
        .with_context(|| format!("taking a lease in {}", crate::escape::path(&root)))?;
    // What dead programs left (their temporary files, links they handed out) goes now.
    if let Err(e) = lease::live(&cache.leases, true) {
        eprintln!(
            "go-disk-guard cacheprog: cleaning up old leases: {}",
            crate::escape::line(&e.to_string())
        );
    }
    let ledger = Ledger::open(&cache.state)
        .with_context(|| format!("cache directory {}", crate::escape::path(&root)))?;
    let space =
        disk::space(&root).with_context(|| format!("measuring {}", crate::escape::path(&root)))?;
    let budget = Budget {
        max_size: options.max_size.map(|s| s.resolve(space.total)),
        min_free: options.min_free.map(|s| s.resolve(space.total)),
    };
    ledger::update_state(&cache.state, |s| s.budget = budget)
        .with_context(|| format!("cache directory {}", crate::escape::path(&root)))?;

    let store = Store::new(
        cache.path,
        cache.shards,
        lease.dir().try_clone()?,
        lease.path().to_path_buf(),
    );
    let remote = open_remote(options, &store, space.total, budget.max_size)?;
    let server = Server {
        store,
        remote,
        root,
        cache_root: cache.root,
        leases: cache.leases,
        state: cache.state,
        ledger,
        budget,
        volume_total: space.total,
        output: Mutex::new(output),
        output_broken: AtomicBool::new(false),
        counters: Counters::default(),
        evict: Signal::default(),
        free_check: Mutex::new((Instant::now(), 0)),
    };
    Ok((server, lease))
}

/// Reads requests from `input` and answers them on `workers` threads, evicting in the
/// background meanwhile, until the go command closes or its input ends; how reading ended.
fn serve_requests<W: Write + Send>(server: &Server<W>, workers: usize, input: impl Read) -> Ended {
    let workers = workers.max(1);
    let (jobs, queue) = mpsc::channel::<Job>();
    let queue = Mutex::new(queue);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| s.spawn(|| server.work(&queue)))
            .collect();
        let evictor = s.spawn(|| server.evict_in_background());
        let ahead: Vec<_> = match &server.remote {
            Some(remote) => (0..crate::policy::remote::PREFETCH_AT_ONCE)
                .map(|_| {
                    s.spawn(|| remote.fetch_ahead(&server.store, &|added| server.account(added)))
                })
                .collect(),
            None => Vec::new(),
        };
        let ended = server.read_requests(BufReader::with_capacity(256 * 1024, input), jobs);
        for h in handles {
            let _ = h.join();
        }
        if let Some(remote) = &server.remote {
            remote.stop_fetching_ahead();
        }
        for h in ahead {
            let _ = h.join();
        }
        server.evict.stop();
        let _ = evictor.join();
        ended
    })
}

/// This program's entries are no longer in use: the uploads still pending to the remote tier
/// finish or are dropped (they read the links handed out in the lease directory), its lease
/// goes, and eviction may take them like any other before the go command is told the cache is
/// closed. The counts, the remote tier's included, recorded in the state.
fn close<W: Write>(server: &mut Server<W>, lease: &mut Lease) -> Counts {
    let remote_counts = server
        .remote
        .take()
        .map(RemoteTier::finish)
        .unwrap_or_default();
    if let Err(e) = lease.release() {
        eprintln!(
            "go-disk-guard cacheprog: releasing lease: {}",
            crate::escape::line(&e.to_string())
        );
    }
    if server.over_budget() {
        server.evict_now(CLOSE_EVICT_WAIT);
    }
    let mut counts = server.counters.snapshot();
    counts.add(&remote_counts);
    if let Err(e) = ledger::update_state(&server.state, |s| s.counts.add(&counts)) {
        eprintln!(
            "go-disk-guard cacheprog: recording counts: {}",
            crate::escape::line(&e.to_string())
        );
    }
    counts
}

#[cfg(feature = "remote")]
fn open_remote(
    options: &ServeOptions,
    store: &Store,
    volume_total: u64,
    max_size: Option<u64>,
) -> anyhow::Result<Option<RemoteTier>> {
    let Some(remote) = &options.remote else {
        return Ok(None);
    };
    let largest = crate::policy::remote::largest_believed_output(volume_total);
    let allowance = crate::policy::remote::prefetch_allowance(max_size, volume_total);
    Ok(Some(remote::Remote::open(
        remote, store, largest, allowance,
    )?))
}

#[cfg(not(feature = "remote"))]
fn open_remote(
    options: &ServeOptions,
    _store: &Store,
    _volume_total: u64,
    _max_size: Option<u64>,
) -> anyhow::Result<Option<RemoteTier>> {
    match options.remote {
        None => Ok(None),
        Some(_) => Err(Error::Usage(
            "--remote: this go-disk-guard was built without the `remote` feature".into(),
        )
        .into()),
    }
}

/// How reading requests ended.
enum Ended {
    Close(i64),
    Eof,
    Protocol(ProtocolError),
}

/// Work for the answering threads.
enum Job {
    Get(Request),
    Put {
        request: Request,
        pending: PendingPut,
    },
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    puts: AtomicU64,
    put_bytes: AtomicU64,
    evicted_entries: AtomicU64,
    evicted_bytes: AtomicU64,
    errors: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> Counts {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Counts {
            hits: get(&self.hits),
            misses: get(&self.misses),
            puts: get(&self.puts),
            put_bytes: get(&self.put_bytes),
            evicted_entries: get(&self.evicted_entries),
            evicted_bytes: get(&self.evicted_bytes),
            errors: get(&self.errors),
            ..Counts::default()
        }
    }
}

/// Wakes the eviction thread.
#[derive(Default)]
struct Signal {
    state: Mutex<(bool, bool)>, // (raised, stopped)
    cv: Condvar,
}

impl Signal {
    fn raise(&self) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).0 = true;
        self.cv.notify_one();
    }

    fn stop(&self) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).1 = true;
        self.cv.notify_one();
    }

    /// Waits until raised (true) or stopped (false); with `at_least`, not before that long.
    fn wait(&self, at_least: Duration) -> bool {
        let deadline = Instant::now() + at_least;
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if state.1 {
                return false;
            }
            let now = Instant::now();
            if now < deadline {
                state = self
                    .cv
                    .wait_timeout(state, deadline - now)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
                continue;
            }
            if state.0 {
                state.0 = false;
                return true;
            }
            state = self.cv.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }
}

struct Server<W> {
    root: PathBuf,
    /// Handles on the cache's root, leases and state directories, checked once at start.
    cache_root: crate::safefs::Dir,
    leases: crate::safefs::Dir,
    state: crate::safefs::Dir,
    store: Store,
    remote: Option<RemoteTier>,
    ledger: Ledger,
    budget: Budget,
    volume_total: u64,
    output: Mutex<W>,
    output_broken: AtomicBool,
    counters: Counters,
    evict: Signal,
    /// When available space was last measured, and bytes stored since.
    free_check: Mutex<(Instant, u64)>,
}

impl<W: Write> Server<W> {
    fn respond(&self, response: &Response) {
        let line = response.to_line();
        let mut out = self.output.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = out.write_all(&line).and_then(|()| out.flush())
            && !self.output_broken.swap(true, Ordering::Relaxed)
        {
            eprintln!(
                "go-disk-guard cacheprog: writing responses: {}",
                crate::escape::line(&e.to_string())
            );
        }
    }

    fn fail(&self, id: i64, message: String) {
        eprintln!(
            "go-disk-guard cacheprog: request {id}: {}",
            crate::escape::line(&message)
        );
        self.counters.errors.fetch_add(1, Ordering::Relaxed);
        self.respond(&Response::error(id, message));
    }

    /// Reads requests until `close`, the end of the input or a protocol error. Gets go to the
    /// answering threads at once; a put's body is streamed to a temporary file here (it is in
    /// the way of the next request) and the rest of the put is handed on.
    fn read_requests(&self, mut input: impl BufRead, jobs: mpsc::Sender<Job>) -> Ended {
        loop {
            let request = match protocol::read_request(&mut input) {
                Ok(Some(r)) => r,
                Ok(None) => return Ended::Eof,
                Err(e) => return self.protocol_error(e),
            };
            match request.command {
                Command::Close => return Ended::Close(request.id),
                Command::Get => {
                    let _ = jobs.send(Job::Get(request));
                }
                Command::Put => match self.store.begin_put() {
                    Ok(pending) => {
                        let mut sink = SoftSink {
                            inner: pending,
                            error: None,
                        };
                        if request.body_size > 0
                            && let Err(e) = protocol::read_body(
                                &mut input,
                                request.id,
                                request.body_size,
                                &mut sink,
                            )
                        {
                            let protocol::BodyError::Protocol(e) = e else {
                                unreachable!("SoftSink never fails a write")
                            };
                            return self.protocol_error(e);
                        }
                        match sink.error {
                            None => {
                                let _ = jobs.send(Job::Put {
                                    request,
                                    pending: sink.inner,
                                });
                            }
                            Some(e) => {
                                self.store.discard(sink.inner);
                                self.store_failed(request.id, &e);
                            }
                        }
                    }
                    Err(e) => {
                        if let Err(e) =
                            protocol::skip_body(&mut input, request.id, request.body_size)
                        {
                            return self.protocol_error(e);
                        }
                        self.store_failed(request.id, &e);
                    }
                },
            }
        }
    }

    fn protocol_error(&self, e: ProtocolError) -> Ended {
        if let Some(id) = e.request_id() {
            self.counters.errors.fetch_add(1, Ordering::Relaxed);
            self.respond(&Response::error(id, e.to_string()));
        }
        Ended::Protocol(e)
    }

    fn store_failed(&self, id: i64, e: &io::Error) {
        if is_full(e) {
            self.evict.raise();
        }
        self.fail(
            id,
            format!("storing in {}: {e}", crate::escape::path(&self.root)),
        );
    }

    /// An answering thread: takes jobs until the reader is done.
    fn work(&self, queue: &Mutex<mpsc::Receiver<Job>>) {
        loop {
            let job = {
                let q = queue.lock().unwrap_or_else(|p| p.into_inner());
                q.recv()
            };
            match job {
                Ok(Job::Get(request)) => self.get(&request),
                Ok(Job::Put { request, pending }) => self.put(&request, pending),
                Err(_) => return,
            }
        }
    }

    fn get(&self, request: &Request) {
        let action = request.action_id.expect("checked when read");
        if let Some(remote) = &self.remote {
            remote.asked(&action);
        }
        match self.store.get(&action) {
            Ok(Some(hit)) => {
                self.counters.hits.fetch_add(1, Ordering::Relaxed);
                if let Some(remote) = &self.remote {
                    remote.hit_locally(&action, &hit);
                }
                self.respond(&Response {
                    id: request.id,
                    output_id: Some(hit.output_id),
                    size: hit.size,
                    time: Some(hit.put_at),
                    disk_path: hit.disk_path.to_string_lossy().into_owned(),
                    ..Response::default()
                });
            }
            Ok(None) => {
                let fetched = self
                    .remote
                    .as_ref()
                    .and_then(|r| r.get(&self.store, &action));
                if let Some(fetched) = fetched {
                    self.respond(&Response {
                        id: request.id,
                        output_id: Some(fetched.hit.output_id),
                        size: fetched.hit.size,
                        time: Some(fetched.hit.put_at),
                        disk_path: fetched.hit.disk_path.to_string_lossy().into_owned(),
                        ..Response::default()
                    });
                    self.account(fetched.added_bytes);
                    return;
                }
                self.counters.misses.fetch_add(1, Ordering::Relaxed);
                self.respond(&Response {
                    id: request.id,
                    miss: true,
                    ..Response::default()
                });
            }
            Err(e) => self.fail(
                request.id,
                format!("looking up {}: {e}", store::hex(&action)),
            ),
        }
    }

    fn put(&self, request: &Request, pending: PendingPut) {
        let action = request.action_id.expect("checked when read");
        let output = request.output_id.expect("checked when read");
        match self
            .store
            .finish_put(pending, &action, &output, request.body_size)
        {
            Ok(stored) => {
                self.counters.puts.fetch_add(1, Ordering::Relaxed);
                self.counters
                    .put_bytes
                    .fetch_add(request.body_size, Ordering::Relaxed);
                self.respond(&Response {
                    id: request.id,
                    disk_path: stored.disk_path.to_string_lossy().into_owned(),
                    ..Response::default()
                });
                if let Some(remote) = &self.remote {
                    remote.put(&action, &output, request.body_size);
                }
                self.account(stored.added_bytes);
            }
            Err(e) => self.store_failed(request.id, &e),
        }
    }

    /// Counts stored bytes and wakes eviction when a bound is crossed.
    fn account(&self, added: i64) {
        match self.ledger.add(added) {
            Ok(Some(total)) if self.budget.crossed_by(total) => {
                self.evict.raise();
            }
            Ok(Some(_)) => {}
            Ok(None) => self.evict.raise(),
            Err(e) => eprintln!(
                "go-disk-guard cacheprog: updating the size ledger: {}",
                crate::escape::line(&e.to_string())
            ),
        }
        if let Some(min_free) = self.budget.min_free {
            let due = {
                let mut check = self.free_check.lock().unwrap_or_else(|p| p.into_inner());
                check.1 += added.max(0) as u64;
                let due = check.1 >= FREE_CHECK_BYTES || check.0.elapsed() >= FREE_CHECK_INTERVAL;
                if due {
                    *check = (Instant::now(), 0);
                }
                due
            };
            if due && disk::space(&self.root).is_ok_and(|s| s.available < min_free) {
                self.evict.raise();
            }
        }
    }

    /// The ledger's figure, if it can be believed (see [`ledger::Tally::is_plausible`]).
    fn trusted_tally(&self) -> Option<ledger::Tally> {
        let now = SystemTime::now();
        self.ledger
            .read()
            .ok()
            .flatten()
            .filter(|t| t.is_plausible(self.volume_total, now))
    }

    fn over_budget(&self) -> bool {
        let stored = self.trusted_tally().map(|t| t.bytes);
        // Measured only when it matters.
        let available = self
            .budget
            .min_free
            .and_then(|_| disk::space(&self.root).ok().map(|s| s.available));
        self.budget.exceeded(stored, available)
    }

    fn evict_in_background(&self) {
        let mut pause = Duration::ZERO;
        while self.evict.wait(pause) {
            let met = self.evict_now(Duration::ZERO);
            pause = if met { Duration::ZERO } else { EVICT_BACKOFF };
        }
    }

    /// Evicts toward the low-water marks, waiting up to `wait` for another pruner. Returns
    /// whether the goals were met (or there was nothing to do).
    fn evict_now(&self, wait: Duration) -> bool {
        match self.try_evict(wait) {
            Ok(met) => met,
            Err(e) => {
                eprintln!(
                    "go-disk-guard cacheprog: evicting in {}: {}",
                    crate::escape::path(&self.root),
                    crate::escape::line(&format!("{e:#}"))
                );
                false
            }
        }
    }

    fn try_evict(&self, wait: Duration) -> anyhow::Result<bool> {
        let now = SystemTime::now();
        let oldest_lease = lease::live(&self.leases, true)
            .context("reading the leases")?
            .first()
            .map(|l| l.start);
        let keep_recent = crate::policy::spared_window(oldest_lease, now);
        let cache = BuildCache::from_handle(self.root.clone(), self.cache_root.try_clone()?)?;
        let seen = self.trusted_tally().map(|t| t.bytes);
        let (max_size, free_at_least) = self.budget.eviction_goal(self.volume_total);
        let request = prune::PruneRequest {
            keep_recent,
            max_size,
            free_at_least,
            lock_timeout: wait,
            ..prune::PruneRequest::default()
        };
        let outcome = prune::prune(&cache, &request).context("removing entries")?;
        if !outcome.locked {
            // Another pruner is at it.
            return Ok(true);
        }
        self.ledger
            .walked(outcome.after.bytes, seen, now)
            .context("updating the size ledger")?;
        self.counters
            .evicted_entries
            .fetch_add(outcome.removed_entries, Ordering::Relaxed);
        self.counters
            .evicted_bytes
            .fetch_add(outcome.removed_bytes, Ordering::Relaxed);
        Ok(outcome.goal_met)
    }
}

/// Writes into a pending put until a write fails, then swallows the rest: the body must be
/// read to its end either way, and the failure is answered once it is.
struct SoftSink {
    inner: PendingPut,
    error: Option<io::Error>,
}

impl Write for SoftSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.error.is_none()
            && let Err(e) = self.inner.write_all(buf)
        {
            self.error = Some(e);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn is_full(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    )
}

/// The remote tier a handed-on GOCACHEPROG names.
#[derive(Clone, Copy, Debug)]
pub struct HandedRemote<'a> {
    /// `--remote URL`.
    pub url: &'a str,
    /// `--remote-read-only`.
    pub read_only: bool,
}

/// The GOCACHEPROG value that runs `exe cacheprog` on `dir` within `max_size` (and with the
/// `remote` tier), quoted as the go command splits it (`cmd/internal/quoted`: fields separated
/// by spaces, a field in single or double quotes taken as is). A path or URL holding both
/// kinds of quote cannot be written.
pub fn command_line(
    exe: &Path,
    dir: &Path,
    max_size: Size,
    remote: Option<HandedRemote<'_>>,
) -> Result<String, Error> {
    let max_size = max_size.to_arg();
    let mut args = vec![
        exe.to_str(),
        Some("cacheprog"),
        Some("--dir"),
        dir.to_str(),
        Some("--max-size"),
        Some(max_size.as_str()),
    ];
    if let Some(remote) = remote {
        args.extend([Some("--remote"), Some(remote.url)]);
        if remote.read_only {
            args.push(Some("--remote-read-only"));
        }
    }
    let mut line = String::new();
    for arg in args {
        let arg = arg.ok_or_else(|| {
            Error::Usage("GOCACHEPROG cannot hold a path that is not UTF-8".into())
        })?;
        if !line.is_empty() {
            line.push(' ');
        }
        let space = arg
            .bytes()
            .any(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
        let single = arg.contains('\'');
        let double = arg.contains('"');
        match (space || single || double, single, double) {
            (false, ..) => line.push_str(arg),
            (true, false, _) => line.push_str(&format!("'{arg}'")),
            (true, true, false) => line.push_str(&format!("\"{arg}\"")),
            (true, true, true) => {
                return Err(Error::Usage(format!(
                    "GOCACHEPROG cannot hold {arg:?}: it has both single and double quotes"
                )));
            }
        }
    }
    Ok(line)
}

/// The cache directory of a cache program's state, if `root` is managed by one: its budget,
/// live leases and counters.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Managed {
    pub budget: Budget,
    pub leases: Vec<lease::LiveLease>,
    pub counts: Counts,
    #[serde(serialize_with = "crate::units::serialize_time")]
    pub counts_since: Option<SystemTime>,
    /// The size ledger's figure, if it has one.
    pub ledger_bytes: Option<u64>,
}

/// Reads a cache program's state in the cache whose root is open as `root` (the handle its
/// check went through, never its path again) for `status`; with `reset`, restarts its
/// counters after reading them (otherwise nothing is written). `None` when no cache program
/// has run there, or when its state directory is not a real directory of the cache (a link,
/// a mount point: not read).
pub fn report_state(root: &crate::safefs::Dir, reset: bool) -> Option<Managed> {
    let state = root.open_dir(std::ffi::OsStr::new(store::STATE_DIR)).ok()?;
    let read = ledger::read_state(&state)?;
    let leases = state
        .open_dir(std::ffi::OsStr::new(store::LEASES_DIR))
        .and_then(|l| lease::live(&l, false))
        .unwrap_or_default();
    let taken = if reset {
        let mut taken = None;
        ledger::update_state(&state, |s| {
            taken = Some(s.clone());
            s.counts = Counts::default();
            s.since = ledger::now_secs();
        })
        .ok()?;
        taken?
    } else {
        read
    };
    Some(Managed {
        budget: taken.budget,
        leases,
        counts: taken.counts,
        counts_since: taken.since_time(),
        ledger_bytes: ledger::read_tally_at(&state).map(|t| t.bytes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `cmd/internal/quoted.Split` makes of a line.
    fn go_split(mut s: &str) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            s = s.trim_start_matches([' ', '\t', '\n', '\r']);
            let Some(first) = s.chars().next() else {
                return out;
            };
            if first == '\'' || first == '"' {
                let end = s[1..].find(first).expect("terminated") + 1;
                out.push(s[1..end].to_string());
                s = &s[end + 1..];
            } else {
                let end = s.find([' ', '\t', '\n', '\r']).unwrap_or(s.len());
                out.push(s[..end].to_string());
                s = &s[end..];
            }
        }
    }

    #[test]
    fn the_command_line_splits_back_as_go_splits_it() {
        let size: Size = "5GiB".parse().unwrap();
        for (exe, dir) in [
            (
                "/usr/local/bin/go-disk-guard",
                "/home/runner/.cache/go-build",
            ),
            ("C:\\Program Files\\go-disk-guard.exe", "D:\\go cache"),
            ("/opt/it's here/go-disk-guard", "/tmp/\"quoted\" dir"),
            ("/opt/tab\there/g", "/x"),
        ] {
            let line = command_line(Path::new(exe), Path::new(dir), size, None).unwrap();
            assert_eq!(
                go_split(&line),
                [exe, "cacheprog", "--dir", dir, "--max-size", "5368709120"],
                "{line}"
            );
        }
        let err = command_line(Path::new("/a'b\"c"), Path::new("/x"), size, None).unwrap_err();
        assert!(err.to_string().contains("both single and double quotes"));
        let pct = command_line(
            Path::new("/g"),
            Path::new("/c"),
            "15%".parse().unwrap(),
            None,
        );
        assert_eq!(pct.unwrap(), "/g cacheprog --dir /c --max-size 15%");
    }

    #[test]
    fn the_remote_tier_splits_back_as_go_splits_it() {
        let size: Size = "1GiB".parse().unwrap();
        let line = |url: &str, read_only: bool| {
            let remote = HandedRemote { url, read_only };
            command_line(Path::new("/g"), Path::new("/c"), size, Some(remote))
        };
        assert_eq!(
            line("s3://b/p", true).unwrap(),
            "/g cacheprog --dir /c --max-size 1073741824 --remote s3://b/p --remote-read-only"
        );
        for url in [
            "s3://bucket/prefix",
            "s3://bucket/a b",
            "s3://bucket/it's",
            "s3://bucket/\"quoted\" x",
            "s3://bucket/tab\there",
        ] {
            for read_only in [false, true] {
                let got = line(url, read_only).unwrap();
                let mut want = vec!["/g", "cacheprog", "--dir", "/c", "--max-size"];
                want.extend(["1073741824", "--remote", url]);
                if read_only {
                    want.push("--remote-read-only");
                }
                assert_eq!(go_split(&got), want, "{got}");
            }
        }
        let err = line("s3://bucket/a'b\"c", false).unwrap_err();
        assert!(
            err.to_string().contains("both single and double quotes"),
            "{err}"
        );
    }
}
