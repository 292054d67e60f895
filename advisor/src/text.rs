//! The operator text: one line per figure, the formula indented under it.

use std::fmt::{self, Display, Formatter};

use crate::figure::{bytes, secs, small};
use crate::{Figure, Prediction, Span};

/// Width the formulas are wrapped to.
const WIDTH: usize = 96;

/// Writes `label  value` and the formula under it, wrapped at word boundaries.
fn line(f: &mut Formatter<'_>, label: &str, value: &str, formula: &str) -> fmt::Result {
    writeln!(f, "  {label:<34} {value}")?;
    let mut current = String::from("      =");
    for word in formula.split(' ') {
        if current.chars().count() + 1 + word.chars().count() > WIDTH && current.len() > 8 {
            writeln!(f, "{current}")?;
            current = String::from("       ");
        }
        current.push(' ');
        current.push_str(word);
    }
    writeln!(f, "{current}")
}

fn span(s: &Span) -> String {
    if s.low == s.high {
        secs(s.low)
    } else {
        format!("{} to {}", secs(s.low), secs(s.high))
    }
}

fn percent(x: f64) -> String {
    format!("{} %", small(x * 100.0))
}

fn rate(fig: &Figure<f64>) -> String {
    format!("{}/s", bytes(fig.value))
}

impl Display for Prediction {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let a = &self.assumptions;
        writeln!(
            f,
            "{} nodes, {}% datagram loss, Lifeguard {}, T = {}",
            self.nodes,
            small(self.loss * 100.0),
            if self.lifeguard { "on" } else { "off" },
            secs(self.probe_interval)
        )?;
        writeln!(
            f,
            "(assuming {}-byte names, {}-byte metadata, IPv4, {}, {})",
            a.name_len,
            a.meta_len,
            if a.label_len == 0 {
                "no label".to_owned()
            } else {
                format!("a {}-byte label", a.label_len)
            },
            if a.encrypted {
                "encrypted"
            } else {
                "not encrypted"
            }
        )?;

        writeln!(f, "\nFailure detection (after a crash)")?;
        let s = &self.first_suspicion;
        line(f, "first suspicion", &secs(s.value), &s.formula)?;
        let k = &self.confirmations;
        line(f, "confirmations (k)", &k.value.to_string(), &k.formula)?;
        let s = &self.suspicion_timeout;
        line(f, "suspicion timeout", &span(&s.value), &s.formula)?;
        let d = &self.time_to_dead;
        line(f, "dead at every member", &span(&d.value), &d.formula)?;

        writeln!(f, "\nDissemination")?;
        let r = &self.dissemination_rounds;
        line(
            f,
            "gossip rounds to reach everyone",
            &format!("{:.1}", r.value),
            &r.formula,
        )?;
        let t = &self.dissemination_time;
        line(f, "time to reach everyone", &secs(t.value), &t.formula)?;
        let l = &self.retransmit_limit;
        line(
            f,
            "retransmits per update",
            &l.value.to_string(),
            &l.formula,
        )?;
        let m = &self.gossip_miss;
        line(
            f,
            "updates gossip misses a node",
            &percent(m.value),
            &m.formula,
        )?;
        let p = &self.push_pull_interval;
        line(f, "push/pull every", &secs(p.value), &p.formula)?;

        let b = &self.bandwidth;
        writeln!(f, "\nBandwidth per node (each direction, payload bytes)")?;
        line(f, "probes", &rate(&b.probes), &b.probes.formula)?;
        line(f, "push/pull", &rate(&b.push_pull), &b.push_pull.formula)?;
        line(
            f,
            "gossip, quiet cluster",
            &rate(&b.gossip_quiet),
            &b.gossip_quiet.formula,
        )?;
        line(
            f,
            "total, quiet cluster",
            &rate(&b.quiet_total),
            &b.quiet_total.formula,
        )?;
        let u = &b.gossip_per_update;
        line(f, "gossip per update", &bytes(u.value), &u.formula)?;
        line(
            f,
            "gossip ceiling (churn)",
            &rate(&b.gossip_ceiling),
            &b.gossip_ceiling.formula,
        )?;

        writeln!(f, "\nMemory per node")?;
        line(
            f,
            "member table",
            &bytes(self.memory.value),
            &self.memory.formula,
        )?;

        let r = &self.risk;
        writeln!(f, "\nFalse suspicions from loss alone")?;
        for (label, fig) in [
            ("direct probe fails", &r.direct_failure),
            ("one indirect path fails", &r.indirect_path_failure),
            ("TCP fallback fails", &r.tcp_failure),
            ("suspicion per probe", &r.suspicion_per_probe),
            ("  without the TCP fallback", &r.udp_only_per_probe),
            ("per node-hour", &r.per_node_hour),
            ("per cluster-hour", &r.per_cluster_hour),
            (
                "false deaths per cluster-hour, ≤",
                &r.false_deaths_per_cluster_hour,
            ),
        ] {
            line(f, label, &small(fig.value), &fig.formula)?;
        }
        Ok(())
    }
}
