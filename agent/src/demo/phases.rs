//! The demo's three acts — join, crash, leave — each watched by polling every node's member
//! table until the expected change has reached everyone, or a generous bound has passed.

use std::io::Write;
use std::time::{Duration, Instant};

use memberlist::machine::State;

use super::cluster::Cluster;
use super::model::Model;
use super::report::{self, Departure, Detection, Summary, count, output_error, secs};
use super::screen::Screen;
use super::table;

/// How often the tables are polled.
const TICK: Duration = Duration::from_millis(50);
/// How long `leave` may wait for its message to be gossiped.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(5);

/// A running demo: the cluster, the output and the clock.
pub(crate) struct Demo<W: Write> {
    cluster: Cluster,
    screen: Screen<W>,
    model: Model,
    start: Instant,
}

impl<W: Write> Demo<W> {
    /// A demo of `cluster` (started, not joined yet) writing to `screen`.
    pub(crate) fn new(cluster: Cluster, screen: Screen<W>, model: Model) -> Self {
        Self {
            cluster,
            screen,
            model,
            start: Instant::now(),
        }
    }

    /// Plays the three acts and returns what was measured.
    pub(crate) async fn play(&mut self) -> Result<Summary, String> {
        let n = self.cluster.len();
        let converged = self.join().await?;
        let detection = self.crash(n - 1).await?;
        let departure = if n >= 3 {
            Some(self.leave(n - 2).await?)
        } else {
            self.say("leave: skipped (with 2 nodes nobody would remain to see it)")?;
            None
        };
        Ok(Summary {
            nodes: n,
            transport: self.cluster.transport(),
            converged,
            detection,
            departure,
            events: self.cluster.count_events(),
            total: self.start.elapsed(),
        })
    }

    /// Shuts every node down.
    pub(crate) async fn shutdown(&mut self) {
        self.cluster.shutdown().await;
    }

    /// Leaves the last table on screen and prints the summary below it.
    pub(crate) fn print_summary(&mut self, summary: &Summary) -> Result<(), String> {
        self.screen.finish().map_err(output_error)?;
        for line in report::summary(summary, &self.model) {
            report::write(&mut self.screen, &line)?;
        }
        Ok(())
    }

    /// Act 1: every node joins through the first; waits until all see all alive.
    async fn join(&mut self) -> Result<Duration, String> {
        let n = self.cluster.len();
        self.say(&format!(
            "started {n} nodes; joining them through {}",
            self.name(0)
        ))?;
        let began = Instant::now();
        self.cluster.join_all().await?;
        let mut last = String::new();
        loop {
            self.cluster.count_events();
            self.refresh(&mut last)?;
            if self
                .cluster
                .running()
                .all(|i| self.cluster.view(i).alive == n)
            {
                break;
            }
            let patience = self.model.spread_deadline();
            if began.elapsed() > patience {
                let done = (0..n).filter(|&i| self.cluster.view(i).alive == n).count();
                return Err(format!(
                    "the cluster did not converge: after {}, only {done} of {n} nodes see all \
                     {n} alive",
                    secs(patience)
                ));
            }
            tokio::time::sleep(TICK).await;
        }
        let took = began.elapsed();
        self.say(&format!(
            "joined: all {n} nodes see {n} alive, {} after the first join",
            secs(took)
        ))?;
        self.snapshot()?;
        Ok(took)
    }

    /// Act 2: crashes node `victim` and waits until every survivor sees it dead.
    async fn crash(&mut self, victim: usize) -> Result<Detection, String> {
        let name = self.name(victim);
        self.say(&format!(
            "crash: shutting {name} down without leaving (no message is sent; the others \
             must notice by probing)"
        ))?;
        self.cluster.crash(victim).await;
        let crashed = Instant::now();
        let survivors: Vec<usize> = self.cluster.running().collect();
        let mut first_suspect: Option<(usize, Instant)> = None;
        let mut dead: Vec<Option<Instant>> = vec![None; survivors.len()];
        let mut first_dead_told = false;
        let mut first_suspect_told = false;
        let mut last = String::new();
        loop {
            self.cluster.count_events();
            let (mut alive, mut suspect) = (0, 0);
            for (slot, &s) in survivors.iter().enumerate() {
                match self.cluster.state_of(s, victim) {
                    Some((State::Alive, _)) | None => alive += 1,
                    Some((State::Suspect, at)) => {
                        suspect += 1;
                        if first_suspect.is_none_or(|(_, t)| at < t) {
                            first_suspect = Some((s, at));
                        }
                    }
                    Some((State::Dead, at)) => {
                        dead[slot].get_or_insert(at);
                    }
                    Some((State::Left, _)) => {
                        return Err(format!(
                            "{} sees the crashed {name} as left: a crash must not announce a \
                             leave",
                            self.name(s)
                        ));
                    }
                }
            }
            let n_dead = dead.iter().flatten().count();
            let line = format!(
                "{name} as seen by the {}: {alive} alive, {suspect} suspect, {n_dead} dead",
                count(survivors.len(), "survivor")
            );
            self.say_changed(line, &mut last)?;
            if let Some((who, at)) = first_suspect.filter(|_| !first_suspect_told) {
                first_suspect_told = true;
                self.say(&format!(
                    "first suspicion: {} suspected {name} {} after the crash",
                    self.name(who),
                    secs(at.saturating_duration_since(crashed))
                ))?;
            }
            if !first_dead_told && n_dead > 0 {
                first_dead_told = true;
                if let Some((who, at)) = earliest(&survivors, &dead) {
                    self.say(&format!(
                        "first dead: {} declared {name} dead {} after the crash",
                        self.name(who),
                        secs(at.saturating_duration_since(crashed))
                    ))?;
                }
            }
            self.screen
                .table(table::render(&self.cluster))
                .map_err(output_error)?;
            if n_dead == survivors.len() {
                break;
            }
            let now = Instant::now();
            let suspect_by = crashed + self.model.suspect_deadline();
            if first_suspect.is_none() && n_dead == 0 && now > suspect_by {
                return Err(format!(
                    "the crash of {name} was not detected: no node suspected it within {}",
                    secs(self.model.suspect_deadline())
                ));
            }
            let dead_from = first_suspect.map_or(suspect_by, |(_, at)| at);
            if now > dead_from + self.model.dead_deadline() {
                return Err(format!(
                    "only {n_dead} of {} survivors saw the crashed {name} dead within {} of \
                     the first suspicion",
                    survivors.len(),
                    secs(self.model.dead_deadline())
                ));
            }
            tokio::time::sleep(TICK).await;
        }
        let since = |at: Instant| at.saturating_duration_since(crashed);
        let (dead_who, dead_at) = earliest(&survivors, &dead).ok_or("no dead time recorded")?;
        // A survivor may have gone from alive to dead between two polls only if it learnt
        // the death by gossip; the first suspicion itself always precedes the first death.
        let (suspect_who, suspect_at) = first_suspect.unwrap_or((dead_who, dead_at));
        let all_dead = dead.iter().flatten().max().copied().unwrap_or(dead_at);
        self.say(&format!(
            "detected: {} saw {name} dead, {} after the crash",
            report::every(survivors.len(), "survivor"),
            secs(since(all_dead))
        ))?;
        self.snapshot()?;
        Ok(Detection {
            victim: name,
            survivors: survivors.len(),
            first_suspect: (self.name(suspect_who), since(suspect_at)),
            first_dead: (self.name(dead_who), since(dead_at)),
            all_dead: since(all_dead),
        })
    }

    /// Act 3: node `leaver` leaves gracefully; waits until every other running node sees it
    /// `left`, then shuts it down.
    async fn leave(&mut self, leaver: usize) -> Result<Departure, String> {
        let name = self.name(leaver);
        self.say(&format!(
            "leave: {name} calls leave() (it broadcasts that it is leaving, then keeps \
             answering probes until shut down)"
        ))?;
        let observers: Vec<usize> = self.cluster.running().filter(|&i| i != leaver).collect();
        let began = Instant::now();
        if let Err(e) = self.cluster.node(leaver).leave(LEAVE_TIMEOUT).await {
            self.say(&format!("leave() of {name} did not complete: {e}"))?;
        }
        let call = began.elapsed();
        let mut left: Vec<Option<Instant>> = vec![None; observers.len()];
        let mut last = String::new();
        loop {
            self.cluster.count_events();
            for (slot, &o) in observers.iter().enumerate() {
                match self.cluster.state_of(o, leaver) {
                    Some((State::Left, at)) => {
                        left[slot].get_or_insert(at);
                    }
                    Some((State::Dead, _)) => {
                        return Err(format!(
                            "{} sees {name} dead although it left gracefully",
                            self.name(o)
                        ));
                    }
                    _ => {}
                }
            }
            let n_left = left.iter().flatten().count();
            let line = format!(
                "{name} as seen by the {}: {n_left} left",
                count(observers.len(), "other node")
            );
            self.say_changed(line, &mut last)?;
            self.screen
                .table(table::render(&self.cluster))
                .map_err(output_error)?;
            if n_left == observers.len() {
                break;
            }
            let patience = self.model.spread_deadline();
            if began.elapsed() > patience {
                return Err(format!(
                    "only {n_left} of {} nodes saw {name} leave within {}",
                    observers.len(),
                    secs(patience)
                ));
            }
            tokio::time::sleep(TICK).await;
        }
        let all_left = left
            .iter()
            .flatten()
            .max()
            .map_or(Duration::ZERO, |at| at.saturating_duration_since(began));
        self.cluster.retire(leaver).await;
        self.say(&format!(
            "left: {} saw {name} left, {} after leave() began; {name} is shut down",
            report::every(observers.len(), "other node"),
            secs(all_left)
        ))?;
        self.snapshot()?;
        Ok(Departure {
            leaver: name,
            observers: observers.len(),
            call,
            all_left,
        })
    }

    /// Writes a line stamped with the time since the demo started.
    fn say(&mut self, text: &str) -> Result<(), String> {
        let stamp = format!("[{:>6.2}s] {text}", self.start.elapsed().as_secs_f64());
        report::write(&mut self.screen, &stamp)
    }

    /// Updates the live table; in plain mode writes the join's progress instead, when it
    /// changed.
    fn refresh(&mut self, last: &mut String) -> Result<(), String> {
        self.screen
            .table(table::render(&self.cluster))
            .map_err(output_error)?;
        if self.screen.is_live() {
            return Ok(());
        }
        let line = table::join_line(&self.cluster, self.cluster.len());
        self.say_changed(line, last)
    }

    /// Writes `line` unless it is the `last` one written, which it then becomes.
    fn say_changed(&mut self, line: String, last: &mut String) -> Result<(), String> {
        if line != *last {
            self.say(&line)?;
            *last = line;
        }
        Ok(())
    }

    /// Shows the whole table at a milestone.
    fn snapshot(&mut self) -> Result<(), String> {
        self.screen
            .snapshot(table::render(&self.cluster))
            .map_err(output_error)
    }

    fn name(&self, i: usize) -> String {
        self.cluster.node(i).name().to_owned()
    }
}

/// The observer that recorded the earliest time, and that time.
fn earliest(observers: &[usize], times: &[Option<Instant>]) -> Option<(usize, Instant)> {
    observers
        .iter()
        .zip(times)
        .filter_map(|(&o, t)| t.map(|t| (o, t)))
        .min_by_key(|&(_, t)| t)
}
