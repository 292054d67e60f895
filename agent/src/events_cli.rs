//! `memberlist events --http IP:PORT [--json]`: follows a running agent's `GET /events`, as
//! `serf monitor` does (see `agent/README.md`).

use std::io::{BufRead as _, Write as _};
use std::net::SocketAddr;
use std::time::Duration;

use crate::view::{AgentMember, EventLine};

/// How long connecting may take (the stream itself has no deadline).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Options of `memberlist events`.
#[derive(Debug, clap::Args)]
pub(crate) struct EventsArgs {
    /// The agent's HTTP address (its `--http`).
    #[arg(long, value_name = "IP:PORT")]
    pub(crate) http: SocketAddr,
    /// Print the agent's JSON lines instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Runs `memberlist events`.
pub(crate) async fn run(args: EventsArgs) -> Result<(), String> {
    tokio::task::spawn_blocking(move || follow(&args))
        .await
        .map_err(|e| format!("the HTTP request task failed: {e}"))?
}

fn follow(args: &EventsArgs) -> Result<(), String> {
    let addr = args.http;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .build()
        .into();
    let mut response = agent
        .get(&format!("http://{addr}/events"))
        .call()
        .map_err(|e| format!("cannot follow the events of the agent at {addr}: {e}"))?;
    let reader = std::io::BufReader::new(response.body_mut().as_reader());
    let mut out = std::io::stdout().lock();
    for line in reader.lines() {
        let line = line.map_err(|e| format!("the event stream of {addr} broke: {e}"))?;
        let text = if args.json {
            line
        } else {
            let parsed: EventLine = serde_json::from_str(&line).map_err(|e| {
                format!("the agent at {addr} sent a line that is not an event: {e}")
            })?;
            render(&parsed).trim_end().to_owned()
        };
        // Written and flushed line by line, for a reader piped behind us; a closed output
        // (`| head`) ends the follow quietly.
        if writeln!(out, "{text}").and_then(|()| out.flush()).is_err() {
            break;
        }
    }
    Ok(())
}

/// A line for people: `#seq kind name address state incarnation`, a snapshot as a header
/// and one indented line per member.
fn render(line: &EventLine) -> String {
    let member = |m: &AgentMember| {
        let i = &m.member;
        format!(
            "{} {} {} incarnation {}",
            i.name, i.addr, i.state, i.incarnation
        )
    };
    let list = |members: &[AgentMember]| {
        members
            .iter()
            .map(|m| format!("  {}\n", member(m)))
            .collect::<String>()
    };
    match line {
        EventLine::Snapshot { seq, members } => {
            format!("#{seq} members ({}):\n{}", members.len(), list(members))
        }
        EventLine::Lagged {
            seq,
            missed,
            members,
        } => format!(
            "#{seq} fell behind by {missed} events; members ({}):\n{}",
            members.len(),
            list(members)
        ),
        EventLine::Event {
            seq,
            event,
            member: m,
            other,
        } => match other {
            Some(o) => format!(
                "#{seq} {event} {} (also claimed by {})",
                member(m),
                o.member.addr
            ),
            None => format!("#{seq} {event} {}", member(m)),
        },
    }
}
