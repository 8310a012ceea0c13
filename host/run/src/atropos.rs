//! A live Atropos environment (`--atropos-url`): plinth registers with
//! atroposlib's API server (`run-api`, atroposlib 0.4.0) as an environment
//! and posts each scored group while the run goes on.
//!
//! The scored file (`<output stem>.scored.jsonl`, [`crate::scored`]) is the
//! outbox: a group is on disk, synced, before it is posted, and a marker file
//! beside it (`.posted`) says how many of its lines the server has taken, so
//! a run resumed after a crash posts the rest. The poster
//!
//! - registers (`POST /register-env`), waiting while the server answers
//!   "wait for trainer to start" (no trainer has asked for a batch yet);
//! - honours back-pressure as atroposlib's own `BaseEnv` does: it does not
//!   post while `GET /status-env` reports `queue_size * group_size >=
//!   max_batches_offpolicy * batch_size` (`batch_size` from `GET /info`);
//!   the batch loop in turn starts no new rollouts while too many groups
//!   wait to be posted, so the run does not get ahead of the trainer;
//! - retries a server that is down or failing, with back-off, and registers
//!   again when it comes back (its state lives in memory: a restarted server
//!   no longer knows the environment);
//! - re-posts, after such a restart, the groups it posted since the server
//!   last reported none of this environment's groups waiting in its queue
//!   (`self_queue_size` 0): those may have died with the old server. A
//!   trainer may then see a group twice, never not at all (but see
//!   [`post_target`] on groups atroposlib buffers).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::watch;

/// atroposlib's default `max_batches_offpolicy`: how many trainer batches
/// may wait in the server's queue before environments stop sending.
pub const MAX_BATCHES_OFFPOLICY: u64 = 3;
/// Scored groups written but not yet taken by the server before the batch
/// loop stops starting rollouts.
pub const MAX_UNPOSTED_GROUPS: usize = 2;
/// At the end of a run, how long the poster keeps trying without progress
/// before it leaves the rest on disk for the next `--resume`.
pub const DRAIN_STALL: Duration = Duration::from_secs(120);
const BACKOFF_MIN: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// How often back-pressure and "wait for trainer" are polled.
const POLL: Duration = Duration::from_millis(500);

/// What the environment tells the API server about itself.
#[derive(Debug, Clone)]
pub struct AtroposConfig {
    /// The API server, e.g. `http://localhost:8000`.
    pub url: String,
    /// `desired_name` (the server appends `_<n>`).
    pub name: String,
    /// Rollouts per group (`--group-size`).
    pub group_size: u32,
}

/// How the poster ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PostReport {
    /// Groups the server took during this run.
    pub posted: usize,
    /// Groups still only on disk (posted by the next `--resume`).
    pub unposted: usize,
    /// Groups posted again after the server restarted.
    pub reposted: usize,
}

/// Why the poster could not start.
#[derive(Debug, thiserror::Error)]
pub enum AtroposError {
    #[error("{}: {source}", .path.display())]
    Marker {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot build the HTTP client: {0}")]
    Client(reqwest::Error),
}

/// The batch loop's side of the poster: it says when a group was written and
/// waits for room; dropping it tells the poster the run is over.
pub struct Outbox {
    written: watch::Sender<usize>,
    posted: watch::Receiver<usize>,
}

impl Outbox {
    /// One more group is on disk.
    pub fn wrote_group(&self) {
        self.written.send_modify(|n| *n += 1);
    }

    /// Waits until fewer than [`MAX_UNPOSTED_GROUPS`] groups wait to be
    /// posted.
    pub async fn room(&mut self) {
        loop {
            let written = *self.written.borrow();
            if written.saturating_sub(*self.posted.borrow()) < MAX_UNPOSTED_GROUPS {
                return;
            }
            if self.posted.changed().await.is_err() {
                return; // the poster ended: nothing to wait for
            }
        }
    }
}

/// The marker beside the scored file: how many of its lines the server took
/// for good.
fn marker_path(scored: &Path) -> PathBuf {
    let mut name = scored.as_os_str().to_owned();
    name.push(".posted");
    PathBuf::from(name)
}

fn read_marker(path: &Path) -> Result<usize, AtroposError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text.trim().parse().unwrap_or(0)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(source) => Err(AtroposError::Marker {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes the marker whole or not at all.
fn write_marker(path: &Path, n: usize) -> std::io::Result<()> {
    let tmp = path.with_extension("posted.tmp");
    std::fs::write(&tmp, n.to_string())?;
    std::fs::rename(&tmp, path)
}

/// Starts posting the groups of `scored` (those before its marker were
/// posted by an earlier run; `fresh` starts over at 0).
pub fn start(
    config: AtroposConfig,
    scored: &Path,
    fresh: bool,
) -> Result<(Outbox, tokio::task::JoinHandle<PostReport>), AtroposError> {
    let marker = marker_path(scored);
    if fresh {
        write_marker(&marker, 0).map_err(|source| AtroposError::Marker {
            path: marker.clone(),
            source,
        })?;
    }
    let acked = read_marker(&marker)?;
    let lines = count_lines(scored);
    let http = reqwest::Client::builder()
        .user_agent(concat!("plinth/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(AtroposError::Client)?;
    let (written_tx, written_rx) = watch::channel(lines);
    let (posted_tx, posted_rx) = watch::channel(acked.min(lines));
    let poster = Poster {
        api: Api {
            http,
            url: config.url.trim_end_matches('/').to_string(),
        },
        config,
        scored: scored.to_path_buf(),
        marker,
        acked,
        posted: acked,
        high_water: acked,
        env: None,
        report: PostReport::default(),
        progress: posted_tx,
        lines: LineCache::default(),
    };
    let handle = tokio::spawn(poster.run(written_rx));
    Ok((
        Outbox {
            written: written_tx,
            posted: posted_rx,
        },
        handle,
    ))
}

fn count_lines(path: &Path) -> usize {
    std::fs::read(path).map_or(0, |bytes| bytes.iter().filter(|b| **b == b'\n').count())
}

/// The API server's endpoints plinth uses.
struct Api {
    http: reqwest::Client,
    url: String,
}

/// Why one exchange with the server failed.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("{0}")]
    Http(#[from] reqwest::Error),
    #[error("HTTP {status}: {body}")]
    Status { status: u16, body: String },
}

#[derive(Deserialize)]
struct Registered {
    status: String,
    #[serde(default)]
    env_id: Option<u64>,
}

#[derive(Deserialize)]
struct Info {
    batch_size: i64,
    max_token_len: i64,
}

#[derive(Deserialize)]
struct EnvStatus {
    queue_size: u64,
    #[serde(default)]
    self_queue_size: Option<u64>,
}

impl Api {
    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, Failure> {
        let response = request.send().await?;
        let status = response.status();
        if !status.is_success() {
            let body: String = response
                .text()
                .await
                .unwrap_or_default()
                .chars()
                .take(300)
                .collect();
            return Err(Failure::Status {
                status: status.as_u16(),
                body,
            });
        }
        Ok(response.json().await?)
    }

    async fn info(&self) -> Result<Info, Failure> {
        self.json(self.http.get(format!("{}/info", self.url))).await
    }

    async fn register(
        &self,
        config: &AtroposConfig,
        max_token_length: i64,
    ) -> Result<Registered, Failure> {
        let body = json!({
            "max_token_length": max_token_length,
            "desired_name": config.name,
            "weight": 1.0,
            "group_size": config.group_size,
            "min_batch_allocation": null,
        });
        self.json(
            self.http
                .post(format!("{}/register-env", self.url))
                .json(&body),
        )
        .await
    }

    /// `GET /status-env` with its JSON body, as atroposlib's client sends it.
    async fn status(&self, env_id: u64) -> Result<EnvStatus, Failure> {
        self.json(
            self.http
                .get(format!("{}/status-env", self.url))
                .json(&json!({ "env_id": env_id })),
        )
        .await
    }

    async fn post(&self, group: &Value) -> Result<Value, Failure> {
        self.json(
            self.http
                .post(format!("{}/scored_data", self.url))
                .json(group),
        )
        .await
    }
}

/// The environment as the server registered it.
#[derive(Debug, Clone, Copy)]
struct Env {
    id: u64,
    batch_size: u64,
}

struct Poster {
    api: Api,
    config: AtroposConfig,
    scored: PathBuf,
    marker: PathBuf,
    /// Lines the server is known to have taken for good (see the module
    /// docs); saved in the marker.
    acked: usize,
    /// Lines posted (acked or not).
    posted: usize,
    /// The most lines ever posted: a post below it is a re-post.
    high_water: usize,
    env: Option<Env>,
    report: PostReport,
    progress: watch::Sender<usize>,
    lines: LineCache,
}

/// The scored file's lines not yet taken for good.
#[derive(Default)]
struct LineCache {
    /// The line number of `cached[0]`.
    base: usize,
    cached: std::collections::VecDeque<Vec<u8>>,
    /// Bytes of the file read so far.
    read_to: u64,
}

/// What the poster should do with its group next.
enum Step {
    Posted,
    /// Back-pressure or no trainer yet: wait and ask again.
    Wait,
    /// The server failed: back off, and register again.
    Failed(String),
}

impl Poster {
    async fn run(mut self, mut written: watch::Receiver<usize>) -> PostReport {
        let mut backoff = BACKOFF_MIN;
        // Set when the run is over: then the rest is drained, or left on
        // disk once the server makes no progress for DRAIN_STALL.
        let mut ended = false;
        let mut last_progress = Instant::now();
        loop {
            let lines = *written.borrow();
            if self.posted >= lines {
                if ended {
                    break;
                }
                if written.changed().await.is_err() {
                    ended = true;
                    last_progress = Instant::now();
                }
                continue;
            }
            let before = self.posted;
            match self.step().await {
                Step::Posted => backoff = BACKOFF_MIN,
                Step::Wait => tokio::time::sleep(POLL).await,
                Step::Failed(why) => {
                    tracing::warn!(
                        "atropos: {}: {why}; trying again in {backoff:?}",
                        self.api.url
                    );
                    self.env = None;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
            if self.posted > before {
                last_progress = Instant::now();
            }
            if !ended && written.has_changed().is_err() {
                ended = true;
                last_progress = Instant::now();
            }
            if ended && last_progress.elapsed() > DRAIN_STALL {
                tracing::error!(
                    "atropos: no progress for {DRAIN_STALL:?}; {} group(s) stay in {} for the next --resume",
                    lines.saturating_sub(self.posted),
                    self.scored.display()
                );
                break;
            }
        }
        self.report.unposted = (*written.borrow()).saturating_sub(self.posted);
        // Done: what the server took is its to keep (a restart of the server
        // after plinth ended is beyond plinth); the rest is posted by the
        // next --resume.
        self.acked = self.posted;
        self.save_marker();
        self.report
    }

    /// Registers if need be, then posts the next group unless the server
    /// wants none now.
    async fn step(&mut self) -> Step {
        let env = match self.env {
            Some(env) => env,
            None => match self.register().await {
                Ok(Some(env)) => env,
                Ok(None) => return Step::Wait,
                Err(e) => return Step::Failed(e.to_string()),
            },
        };
        let status = match self.api.status(env.id).await {
            Ok(status) => status,
            Err(e) => return Step::Failed(format!("status-env: {e}")),
        };
        if status.self_queue_size == Some(0) && self.acked < self.posted {
            self.acked = self.posted;
            self.save_marker();
        }
        let group_size = u64::from(self.config.group_size.max(1));
        if env.batch_size > 0
            && status.queue_size * group_size >= MAX_BATCHES_OFFPOLICY * env.batch_size
        {
            return Step::Wait;
        }
        let group = match self.line(self.posted) {
            Ok(group) => group,
            Err(e) => return Step::Failed(format!("reading {}: {e}", self.scored.display())),
        };
        match self
            .api
            .post(&post_target(group, env.id, self.config.group_size))
            .await
        {
            Ok(_) => {
                if self.posted < self.high_water {
                    self.report.reposted += 1;
                } else {
                    self.report.posted += 1;
                }
                self.posted += 1;
                self.high_water = self.high_water.max(self.posted);
                self.progress.send_replace(self.posted);
                Step::Posted
            }
            Err(e) => Step::Failed(format!("scored_data: {e}")),
        }
    }

    /// Registers the environment; `None` while the server waits for a
    /// trainer. After a restart of the server, the groups it may have lost
    /// are posted again.
    async fn register(&mut self) -> Result<Option<Env>, Failure> {
        let info = self.api.info().await?;
        let registered = self.api.register(&self.config, info.max_token_len).await?;
        let Some(id) = registered.env_id.filter(|_| registered.status == "success") else {
            tracing::info!("atropos: {}: {}", self.api.url, registered.status);
            return Ok(None);
        };
        if self.posted > self.acked {
            tracing::warn!(
                "atropos: registered again as env {id}; posting {} group(s) the server may have lost",
                self.posted - self.acked
            );
            self.posted = self.acked;
            self.progress.send_replace(self.posted);
        } else {
            tracing::info!("atropos: registered as env {id}");
        }
        let env = Env {
            id,
            batch_size: u64::try_from(info.batch_size).unwrap_or(0),
        };
        self.env = Some(env);
        Ok(Some(env))
    }

    /// Line `n` (0-based) of the scored file, read once: the file is read on
    /// from where the last read ended, and lines the server took for good
    /// are let go.
    fn line(&mut self, n: usize) -> std::io::Result<Value> {
        use std::io::{Read, Seek, SeekFrom};
        while self.lines.base < self.acked && !self.lines.cached.is_empty() {
            self.lines.cached.pop_front();
            self.lines.base += 1;
        }
        if n >= self.lines.base + self.lines.cached.len() {
            let mut file = std::fs::File::open(&self.scored)?;
            file.seek(SeekFrom::Start(self.lines.read_to))?;
            let mut fresh = Vec::new();
            file.read_to_end(&mut fresh)?;
            // Only whole lines: the writer syncs a line before it counts.
            let whole = fresh
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |at| at + 1);
            for line in fresh[..whole]
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
            {
                self.lines.cached.push_back(line.to_vec());
            }
            self.lines.read_to += whole as u64;
        }
        let line = n
            .checked_sub(self.lines.base)
            .and_then(|i| self.lines.cached.get(i))
            .ok_or_else(|| std::io::Error::other(format!("no line {}", n + 1)))?;
        serde_json::from_slice(line).map_err(std::io::Error::other)
    }

    fn save_marker(&self) {
        if let Err(e) = write_marker(&self.marker, self.acked) {
            tracing::error!("atropos: cannot save {}: {e}", self.marker.display());
        }
    }
}

/// The group as posted: with the environment's id, so the server counts it
/// for back-pressure and buffers a group with fewer rows than `group_size`
/// (rollouts left out after errors) until others fill a group. A group with
/// more rows (one row per call, when a rollout's prefix broke) is posted
/// without an id: atroposlib 0.4.0 would buffer it for good (no set of
/// buffered groups sums to a smaller size), while an unowned group goes to
/// the queue as it is.
fn post_target(mut group: Value, env_id: u64, group_size: u32) -> Value {
    let rows = group["tokens"].as_array().map_or(0, Vec::len);
    if let Some(object) = group.as_object_mut() {
        let id = if rows > group_size as usize {
            Value::Null
        } else {
            Value::from(env_id)
        };
        object.insert("env_id".into(), id);
    }
    group
}
