//! `--sandbox docker-pool`: N trajectories share M containers, each hosting
//! S workspaces ("slots"); see the [`docker`](super) module documentation
//! for what a slot does and does not isolate.
//!
//! A trajectory acquires a free slot (the pool grows by a container when none
//! is free and it is below its maximum, else the trajectory waits), runs in
//! the slot's directory with the slot's environment, and on release the
//! slot's processes are killed and its directory wiped before another
//! trajectory gets it. Containers that stop are removed, and replaced at once
//! when the pool falls below its minimum (else it grows again on demand);
//! the slots they held fail their trajectories as infrastructure errors.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, RwLock};
use tokio::task::JoinHandle;

use super::container::{self, CONTROL_DIR, ContainerSpec, Images, RunIdentity, short};
use super::engines::{Engines, Placement};
use super::error::DockerError;
use super::{DockerConfig, archive, exec, reap, session};
use crate::{ExecOutput, ExecRequest, OutputPolicy, Sandbox, SandboxError, SandboxProvider};
use plinth_record::defaults;
use plinth_record::sync::Locked;
use plinth_record::task::Task;

/// How often every pool container is checked to be running.
const HEALTH_INTERVAL: Duration = Duration::from_secs(2);

/// `$1` workspace, `$2` control directory, `$3` slot count: the slots'
/// directories.
const SETUP: &str = r#"i=0
while [ $i -lt "$3" ]; do
  mkdir -p "$1/slot-$i/.tmp" "$2/slot-$i" || exit 1
  i=$((i+1))
done
echo ok
"#;

/// `$1` slot directory, `$2` slot control directory, `$3` slot number. Kills
/// every process group the slot's commands started, then every process that
/// still carries the slot's `PLINTH_SLOT` (it left its group), checks that
/// none is left, and wipes the directory.
const RESET: &str = r#"kill_all() {
  for f in "$2"/*.pid; do
    [ -e "$f" ] || continue
    g=$(cat "$f" 2>/dev/null)
    [ -n "$g" ] && { kill -9 -"$g" 2>/dev/null || kill -9 "$g" 2>/dev/null; }
  done
  for e in /proc/[0-9]*/environ; do
    grep -q "PLINTH_SLOT=$3" "$e" 2>/dev/null || continue
    tr '\0' '\n' 2>/dev/null < "$e" | grep -qx "PLINTH_SLOT=$3" || continue
    p=${e#/proc/}
    kill -9 "${p%/environ}" 2>/dev/null
  done
}
alive() {
  for f in "$2"/*.pid; do
    [ -e "$f" ] || continue
    g=$(cat "$f" 2>/dev/null)
    [ -n "$g" ] && kill -0 -"$g" 2>/dev/null && return 0
  done
  for e in /proc/[0-9]*/environ; do
    grep -q "PLINTH_SLOT=$3" "$e" 2>/dev/null || continue
    tr '\0' '\n' 2>/dev/null < "$e" | grep -qx "PLINTH_SLOT=$3" && return 0
  done
  return 1
}
i=0
while :; do
  kill_all "$@"
  alive "$@" || break
  i=$((i+1)); [ $i -ge 50 ] && { echo "processes survive"; exit 1; }
  sleep 0.1
done
rm -f "$2"/*.pid
rm -rf "$1" && mkdir -p "$1/.tmp" && echo ok
"#;

/// Shape of a pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolConfig {
    pub slots_per_container: usize,
    /// Started before the first task for the `--image` pool (a row's image
    /// gets its pool on first use, which grows on demand), and restored at
    /// once when a container is lost.
    pub min_containers: usize,
    pub max_containers: usize,
    /// How long a trajectory waits for a free slot before its sandbox
    /// fails (an infrastructure error, not a hang).
    pub slot_timeout: Duration,
    /// A container whose slots have all been free this long is removed,
    /// down to `min_containers` (`None`: the pool never shrinks).
    pub idle_timeout: Option<Duration>,
    /// A container this old takes no new trajectories and is replaced once
    /// its slots are free.
    pub max_age: Option<Duration>,
    /// A container that has served this many trajectories is replaced
    /// likewise.
    pub max_uses: Option<u64>,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            slots_per_container: 4,
            min_containers: 1,
            max_containers: 4,
            slot_timeout: defaults::SLOT_TIMEOUT,
            idle_timeout: Some(defaults::POOL_IDLE_TIMEOUT),
            max_age: None,
            max_uses: None,
        }
    }
}

/// What every pool of the run shares.
struct Shared {
    engines: Engines,
    config: DockerConfig,
    shape: PoolConfig,
    run: RunIdentity,
    images: Images,
    /// True once the run shuts down; container starts hold it for reading so
    /// the shutdown sweep sees every container (see `DockerProvider`).
    closed: RwLock<bool>,
    /// Set first thing at shutdown, read without waiting.
    closing: AtomicBool,
    made: AtomicU64,
}

/// Slots for a batch: one pool per image (the `--image` one warmed up
/// before the first task; a row's `image` gets its own pool on first use).
pub struct PoolProvider {
    shared: Arc<Shared>,
    pools: Mutex<HashMap<String, Arc<Pool>>>,
    /// Rows with a `cwd` were told it does not apply, once.
    cwd_warned: AtomicBool,
}

impl PoolProvider {
    /// Checks the shape and warms up the `--image` pool (if any) to its
    /// minimum, so the first trajectories find free slots.
    pub async fn start(
        engines: Engines,
        config: DockerConfig,
        shape: PoolConfig,
    ) -> Result<Self, DockerError> {
        let bad = |reason: String| {
            DockerError::Sandbox(SandboxError::Other(format!("docker-pool: {reason}")))
        };
        if shape.slots_per_container == 0 || shape.max_containers == 0 {
            return Err(bad(
                "--slots-per-container and --max-containers must be at least 1".into(),
            ));
        }
        if shape.min_containers > shape.max_containers {
            return Err(bad(format!(
                "--min-containers ({}) is above --max-containers ({})",
                shape.min_containers, shape.max_containers
            )));
        }
        if !config.workdir.starts_with('/') {
            return Err(bad(format!(
                "the workspace in the container must be absolute, not `{}`",
                config.workdir
            )));
        }
        let provider = Self {
            shared: Arc::new(Shared {
                engines,
                config,
                shape,
                run: RunIdentity::new(),
                images: Images::default(),
                closed: RwLock::new(false),
                closing: AtomicBool::new(false),
                made: AtomicU64::new(0),
            }),
            pools: Mutex::new(HashMap::new()),
            cwd_warned: AtomicBool::new(false),
        };
        if let Some(image) = provider.shared.config.image.clone() {
            let pool = provider.pool(&image);
            let warming = (0..shape.min_containers).map(|_| pool.start_container());
            let started = futures_util::future::join_all(warming).await;
            let mut error = None;
            for result in started {
                match result {
                    Ok(container) => pool.add(container),
                    Err(e) => error = Some(e),
                }
            }
            if let Some(e) = error {
                provider.shutdown().await;
                return Err(bad(format!("warming up the pool failed: {e}")));
            }
        }
        Ok(provider)
    }

    /// The `plinth.run` label of this run's containers.
    pub fn run_id(&self) -> &str {
        &self.shared.run.id
    }

    /// The pool for `image`, made (with its health checks) on first use.
    fn pool(&self, image: &str) -> Arc<Pool> {
        let mut pools = self.pools.locked();
        if let Some(pool) = pools.get(image) {
            return pool.clone();
        }
        let pool = Arc::new(Pool {
            shared: self.shared.clone(),
            image: image.to_string(),
            state: Mutex::new(State::default()),
            changed: Notify::new(),
            health: Mutex::new(None),
        });
        let checking = pool.clone();
        *pool.health.locked() = Some(tokio::spawn(async move {
            let mut ticks = tokio::time::interval(HEALTH_INTERVAL);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                checking.check_health().await;
            }
        }));
        pools.insert(image.to_string(), pool.clone());
        pool
    }
}

impl Drop for PoolProvider {
    fn drop(&mut self) {
        for pool in self.pools.locked().values() {
            if let Some(health) = pool.health.locked().take() {
                health.abort();
            }
        }
    }
}

#[async_trait::async_trait]
impl SandboxProvider for PoolProvider {
    fn kind(&self) -> &'static str {
        "docker-pool"
    }

    async fn create(&self, task: &Task) -> Result<Arc<dyn Sandbox>, SandboxError> {
        let image = task
            .image()
            .or(self.shared.config.image.as_deref())
            .ok_or_else(|| {
                SandboxError::Other(
                    "no image: give --image or an `image` (or `image_name`) field in the row"
                        .into(),
                )
            })?
            .to_string();
        if task.field("cwd").is_some() && !self.cwd_warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "docker-pool: rows' `cwd` is ignored: each slot runs in its own directory"
            );
        }
        let pool = self.pool(&image);
        let limit = self.shared.shape.slot_timeout;
        match tokio::time::timeout(limit, pool.acquire()).await {
            Ok(slot) => Ok(Arc::new(slot?)),
            Err(_) => Err(SandboxError::Other(format!(
                "no pool slot came free within {}s (--slot-timeout); the pool is at its \
                 --max-containers with every slot busy",
                limit.as_secs_f64()
            ))),
        }
    }

    async fn shutdown(&self) {
        self.shared.closing.store(true, Ordering::SeqCst);
        *self.shared.closed.write().await = true;
        let pools: Vec<Arc<Pool>> = self.pools.locked().values().cloned().collect();
        for pool in pools {
            if let Some(health) = pool.health.locked().take() {
                health.abort();
            }
            // Waiters give up instead of waiting for slots that never come.
            pool.changed.notify_waiters();
        }
        reap::remove_run(&self.shared.engines, &self.shared.run.id).await;
    }
}

/// The containers of one image.
struct Pool {
    shared: Arc<Shared>,
    image: String,
    state: Mutex<State>,
    /// Signalled whenever a slot may have become free or a start ended.
    changed: Notify,
    health: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Default)]
struct State {
    members: Vec<Member>,
    /// Containers being started.
    starting: usize,
    /// Trajectories waiting for a slot.
    waiting: usize,
    /// Failed starts so far, and the last failure (waiters fail with it
    /// rather than wait for a container that is not coming).
    failures: u64,
    last_failure: Option<SandboxError>,
}

struct Member {
    container: Arc<PoolContainer>,
    free: Vec<usize>,
    started: Instant,
    /// Trajectories it has served.
    uses: u64,
    /// Since when all its slots have been free (`None`: some are leased).
    idle_since: Option<Instant>,
    /// Past its age or use limit: no new leases; removed once all free.
    retiring: bool,
}

impl Member {
    fn new(container: Arc<PoolContainer>, slots: usize) -> Self {
        Self {
            container,
            free: (0..slots).rev().collect(),
            started: Instant::now(),
            uses: 0,
            idle_since: Some(Instant::now()),
            retiring: false,
        }
    }
}

struct PoolContainer {
    placement: Placement,
    id: String,
    dead: AtomicBool,
}

impl Pool {
    /// A free slot, waiting (and growing the pool) as needed.
    async fn acquire(self: &Arc<Self>) -> Result<SlotSandbox, SandboxError> {
        let mut waiting: Option<WaitGuard> = None;
        let mut failures_seen = None;
        loop {
            // Registered before looking, so a change in between is not missed.
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let mut state = self.state.locked();
                if self.shared.closing.load(Ordering::SeqCst) {
                    return Err(SandboxError::Other("the run is shutting down".into()));
                }
                let shape = &self.shared.shape;
                for member in &mut state.members {
                    member.retiring |= shape
                        .max_age
                        .is_some_and(|age| member.started.elapsed() >= age);
                }
                let best = state
                    .members
                    .iter_mut()
                    .filter(|m| !m.free.is_empty() && !m.container.is_dead() && !m.retiring)
                    .max_by_key(|m| m.free.len());
                if let Some(member) = best {
                    let slot = member.free.pop().expect("a free slot");
                    member.uses += 1;
                    member.idle_since = None;
                    member.retiring |= shape.max_uses.is_some_and(|most| member.uses >= most);
                    let container = member.container.clone();
                    drop(state);
                    return Ok(self.lease(container, slot));
                }
                let seen = *failures_seen.get_or_insert(state.failures);
                if state.failures > seen && state.starting == 0 {
                    return Err(state.last_failure.clone().unwrap_or_else(|| {
                        SandboxError::Other("no pool container could be started".into())
                    }));
                }
                if waiting.is_none() {
                    state.waiting += 1;
                    waiting = Some(WaitGuard(self.clone()));
                }
                // Grow when the containers already starting will not have a
                // slot for every waiter.
                let coming = state.starting * self.shared.shape.slots_per_container;
                if state.waiting > coming
                    && state.members.len() + state.starting < self.shared.shape.max_containers
                {
                    state.starting += 1;
                    self.spawn_grow();
                }
            }
            changed.await;
        }
    }

    fn lease(self: &Arc<Self>, container: Arc<PoolContainer>, slot: usize) -> SlotSandbox {
        let cwd = format!(
            "{}/slot-{slot}",
            self.shared.config.workdir.trim_end_matches('/')
        );
        let mut env = self.shared.config.env.clone();
        env.push(("HOME".into(), cwd.clone()));
        env.push(("TMPDIR".into(), format!("{cwd}/.tmp")));
        env.push(("PLINTH_SLOT".into(), slot.to_string()));
        SlotSandbox {
            pool: self.clone(),
            control: format!("{CONTROL_DIR}/slot-{slot}"),
            container,
            slot,
            cwd,
            env,
            shell: exec::Shell::default(),
            session: session::PersistentShell::default(),
        }
    }

    /// Starts one more container in the background (`starting` already
    /// counts it).
    fn spawn_grow(self: &Arc<Self>) {
        let pool = self.clone();
        tokio::spawn(async move {
            let started = pool.start_container().await;
            let mut state = pool.state.locked();
            state.starting -= 1;
            match started {
                Ok(container) => state.members.push(Member::new(
                    container,
                    pool.shared.shape.slots_per_container,
                )),
                Err(e) => {
                    if !pool.shared.closing.load(Ordering::SeqCst) {
                        tracing::warn!("docker-pool: cannot start a container: {e}");
                    }
                    state.failures += 1;
                    state.last_failure = Some(e);
                }
            }
            drop(state);
            pool.changed.notify_waiters();
        });
    }

    /// Adds a container started during warm-up.
    fn add(&self, container: Arc<PoolContainer>) {
        self.state.locked().members.push(Member::new(
            container,
            self.shared.shape.slots_per_container,
        ));
        self.changed.notify_waiters();
    }

    /// Creates, starts and prepares one container with all its slots.
    async fn start_container(&self) -> Result<Arc<PoolContainer>, SandboxError> {
        self.shared
            .engines
            .with_placement(|placement| self.start_container_on(placement))
            .await
    }

    async fn start_container_on(
        &self,
        placement: Placement,
    ) -> Result<Arc<PoolContainer>, SandboxError> {
        let shared = &self.shared;
        let engine = placement.engine().clone();
        shared.images.ensure(&engine, &self.image).await?;
        let gate = shared.closed.read().await;
        if *gate {
            return Err(SandboxError::Other("the run is shutting down".into()));
        }
        let n = shared.made.fetch_add(1, Ordering::Relaxed);
        let spec = ContainerSpec {
            name: format!("plinth-{}-pool-{n}", shared.run.id),
            image: &self.image,
            workdir: &shared.config.workdir,
            config: &shared.config,
            labels: shared.run.labels(),
        };
        let id = container::start(&engine, &spec).await?;
        drop(gate);
        let slots = shared.shape.slots_per_container.to_string();
        let prepared = exec::run_script(
            &engine,
            &id,
            SETUP,
            &[&shared.config.workdir, CONTROL_DIR, &slots],
        )
        .await;
        match prepared {
            Ok((0, _)) => {}
            Ok((_, output)) => {
                container::remove(&engine, &id).await;
                return Err(SandboxError::Other(format!(
                    "cannot prepare the slots of a `{}` container: {}",
                    self.image,
                    output.trim()
                )));
            }
            Err(e) => {
                container::remove(&engine, &id).await;
                return Err(e);
            }
        }
        tracing::info!(
            "docker-pool: container {} ({}, {} slots) started on {}",
            short(&id),
            self.image,
            shared.shape.slots_per_container,
            engine.url()
        );
        Ok(Arc::new(PoolContainer {
            placement,
            id,
            dead: AtomicBool::new(false),
        }))
    }

    /// Takes a container that stopped or misbehaved out of the pool, removes
    /// it, and starts a replacement if the pool is below its minimum. Its
    /// leased slots fail on their next use.
    fn lost(self: &Arc<Self>, container: &Arc<PoolContainer>, why: &str) {
        if container.dead.swap(true, Ordering::SeqCst) || self.shared.closing.load(Ordering::SeqCst)
        {
            return;
        }
        tracing::warn!(
            "docker-pool: container {} on {} is lost ({why}); replacing it",
            short(&container.id),
            container.placement.engine().url()
        );
        let mut state = self.state.locked();
        state
            .members
            .retain(|m| !Arc::ptr_eq(&m.container, container));
        if state.members.len() + state.starting < self.shared.shape.min_containers {
            state.starting += 1;
            self.spawn_grow();
        }
        drop(state);
        let gone = container.clone();
        tokio::spawn(async move {
            container::remove(gone.placement.engine(), &gone.id).await;
        });
        self.changed.notify_waiters();
    }

    async fn check_health(self: &Arc<Self>) {
        let containers: Vec<Arc<PoolContainer>> = self
            .state
            .locked()
            .members
            .iter()
            .map(|m| m.container.clone())
            .collect();
        for c in containers {
            if let Err(SandboxError::Dead(why)) =
                container::check_running(c.placement.engine(), &c.id).await
            {
                self.lost(&c, &why);
            }
        }
        self.sweep();
    }

    /// Removes the containers the pool no longer needs: every retiring one
    /// whose slots are all free, and, down to the minimum, those idle past
    /// the idle timeout (the longest idle first); then starts replacements
    /// if that leaves the pool below its minimum.
    fn sweep(self: &Arc<Self>) {
        if self.shared.closing.load(Ordering::SeqCst) {
            return;
        }
        let shape = &self.shared.shape;
        let mut state = self.state.locked();
        let all_free = |m: &Member| m.free.len() == shape.slots_per_container;
        let mut removed: Vec<(Arc<PoolContainer>, &'static str)> = Vec::new();
        state.members.retain(|m| {
            let done = m.retiring && all_free(m);
            if done {
                removed.push((m.container.clone(), "retired: past its age or use limit"));
            }
            !done
        });
        if let Some(limit) = shape.idle_timeout {
            let mut idle: Vec<(Instant, Arc<PoolContainer>)> = state
                .members
                .iter()
                .filter_map(|m| Some((m.idle_since?, m.container.clone())))
                .filter(|(since, _)| since.elapsed() >= limit)
                .collect();
            idle.sort_by_key(|(since, _)| *since);
            let spare = state.members.len().saturating_sub(shape.min_containers);
            for (_, container) in idle.into_iter().take(spare) {
                state
                    .members
                    .retain(|m| !Arc::ptr_eq(&m.container, &container));
                removed.push((container, "idle"));
            }
        }
        // Only what this sweep removed is replaced: at start-up the pool is
        // below its minimum while the warm-up fills it.
        while !removed.is_empty() && state.members.len() + state.starting < shape.min_containers {
            state.starting += 1;
            self.spawn_grow();
        }
        drop(state);
        for (container, why) in removed {
            container.dead.store(true, Ordering::SeqCst);
            tracing::info!(
                "docker-pool: container {} on {} removed ({why})",
                short(&container.id),
                container.placement.engine().url()
            );
            tokio::spawn(async move {
                container::remove(container.placement.engine(), &container.id).await;
            });
        }
    }

    /// Resets a slot and frees it; a slot that cannot be reset takes its
    /// container down with it (its state is unknown).
    async fn release(self: Arc<Self>, container: Arc<PoolContainer>, slot: usize) {
        if container.is_dead() || self.shared.closing.load(Ordering::SeqCst) {
            return;
        }
        let dir = format!(
            "{}/slot-{slot}",
            self.shared.config.workdir.trim_end_matches('/')
        );
        let control = format!("{CONTROL_DIR}/slot-{slot}");
        let slot_name = slot.to_string();
        let engine = container.placement.engine();
        let reset =
            exec::run_script(engine, &container.id, RESET, &[&dir, &control, &slot_name]).await;
        match reset {
            Ok((0, output)) if output.lines().last() == Some("ok") => {
                let mut state = self.state.locked();
                let slots = self.shared.shape.slots_per_container;
                let mut retired = false;
                if let Some(member) = state
                    .members
                    .iter_mut()
                    .find(|m| Arc::ptr_eq(&m.container, &container))
                {
                    member.free.push(slot);
                    if member.free.len() == slots {
                        member.idle_since = Some(Instant::now());
                        retired = member.retiring;
                    }
                }
                drop(state);
                if retired {
                    self.sweep();
                }
                self.changed.notify_waiters();
            }
            Ok((_, output)) => self.lost(
                &container,
                &format!("slot {slot} could not be reset: {}", output.trim()),
            ),
            Err(e) => self.lost(&container, &format!("slot {slot} could not be reset: {e}")),
        }
    }
}

impl PoolContainer {
    fn is_dead(&self) -> bool {
        self.dead.load(Ordering::SeqCst)
    }
}

/// Counts a trajectory among the waiters until it has a slot or gives up.
struct WaitGuard(Arc<Pool>);

impl Drop for WaitGuard {
    fn drop(&mut self) {
        self.0.state.locked().waiting -= 1;
    }
}

/// A leased slot; given back (reset) when dropped.
pub(crate) struct SlotSandbox {
    pool: Arc<Pool>,
    container: Arc<PoolContainer>,
    slot: usize,
    cwd: String,
    control: String,
    env: Vec<(String, String)>,
    shell: exec::Shell,
    session: session::PersistentShell,
}

impl SlotSandbox {
    fn context(&self) -> exec::ExecContext<'_> {
        let config = &self.pool.shared.config;
        exec::ExecContext {
            engine: self.container.placement.engine(),
            container: &self.container.id,
            cwd: &self.cwd,
            control: &self.control,
            env: &self.env,
            output: &config.output,
            default_timeout: config.default_timeout,
        }
    }

    fn check_alive(&self) -> Result<(), SandboxError> {
        if self.container.is_dead() {
            return Err(SandboxError::Dead(format!(
                "pool container {} is gone",
                short(&self.container.id)
            )));
        }
        Ok(())
    }

    /// Marks the container lost when an operation found it dead.
    fn noticed<T>(&self, result: Result<T, SandboxError>) -> Result<T, SandboxError> {
        if let Err(SandboxError::Dead(why)) = &result {
            self.pool.lost(&self.container, why);
        }
        result
    }
}

impl Drop for SlotSandbox {
    fn drop(&mut self) {
        let (pool, container, slot) = (self.pool.clone(), self.container.clone(), self.slot);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(pool.release(container, slot));
        }
    }
}

#[async_trait::async_trait]
impl Sandbox for SlotSandbox {
    fn kind(&self) -> &'static str {
        "docker-pool"
    }

    fn cwd(&self) -> &str {
        &self.cwd
    }

    fn output_policy(&self) -> &OutputPolicy {
        &self.pool.shared.config.output
    }

    async fn exec(&self, request: ExecRequest) -> Result<ExecOutput, SandboxError> {
        self.check_alive()?;
        let result = exec::exec(&self.context(), &self.shell, request).await;
        self.noticed(result)
    }

    async fn exec_in_session(
        &self,
        command: &str,
        timeout: Option<Duration>,
    ) -> Result<ExecOutput, SandboxError> {
        self.check_alive()?;
        let ctx = self.context();
        let result = self.session.exec(&ctx, &self.shell, command, timeout).await;
        self.noticed(result)
    }

    async fn read_file(&self, path: &str) -> Result<Vec<u8>, SandboxError> {
        self.check_alive()?;
        let path = archive::resolve(&self.cwd, path);
        let result =
            archive::read_file(self.container.placement.engine(), &self.container.id, &path).await;
        self.noticed(result)
    }

    async fn write_file(&self, path: &str, contents: &[u8]) -> Result<(), SandboxError> {
        self.check_alive()?;
        let path = archive::resolve(&self.cwd, path);
        let result = archive::write_file(
            self.container.placement.engine(),
            &self.container.id,
            &self.cwd,
            &path,
            contents,
        )
        .await;
        self.noticed(result)
    }

    async fn write_archive(&self, dir: &str, tar: &[u8]) -> Result<(), SandboxError> {
        self.check_alive()?;
        let dir = archive::resolve(&self.cwd, dir);
        let result = archive::write_archive(
            self.container.placement.engine(),
            &self.container.id,
            &dir,
            tar,
        )
        .await;
        self.noticed(result)
    }
}
