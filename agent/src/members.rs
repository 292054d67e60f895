//! `memberlist members --http IP:PORT [--json]`: prints a running agent's `GET /members` as
//! a table, or its JSON as is (see `agent/README.md`).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use crate::view::AgentMember;

/// How long the whole request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Options of `memberlist members`.
#[derive(Debug, clap::Args)]
pub(crate) struct MembersArgs {
    /// The agent's HTTP address (its `--http`).
    #[arg(long, value_name = "IP:PORT")]
    pub(crate) http: SocketAddr,
    /// Print the agent's JSON instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Runs `memberlist members`.
pub(crate) async fn run(args: MembersArgs) -> Result<(), String> {
    let addr = args.http;
    let body = request(addr, "/members", None).await?;
    if args.json {
        print_out(body.trim_end());
        return Ok(());
    }
    let members: Vec<AgentMember> = serde_json::from_str(&body).map_err(|e| {
        format!("the agent at {addr} answered something that is not a member list: {e}")
    })?;
    print_out(render_table(&members).trim_end());
    Ok(())
}

/// `GET` (no body) or `POST` (JSON body) `path` on the agent at `addr`, off the async
/// runtime; the body of a 2xx answer, or the agent's error message.
pub(crate) async fn request(
    addr: SocketAddr,
    path: &'static str,
    body: Option<String>,
) -> Result<String, String> {
    tokio::task::spawn_blocking(move || request_blocking(addr, path, body))
        .await
        .map_err(|e| format!("the HTTP request task failed: {e}"))?
}

fn request_blocking(addr: SocketAddr, path: &str, body: Option<String>) -> Result<String, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(REQUEST_TIMEOUT))
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("http://{addr}{path}");
    let response = match body {
        None => agent.get(&url).call(),
        Some(json) => agent
            .post(&url)
            .header("content-type", "application/json")
            .send(json.as_bytes()),
    };
    let mut response = response.map_err(|e| format!("cannot reach the agent at {addr}: {e}"))?;
    let status = response.status();
    let text = response
        .body_mut()
        .read_to_string()
        .map_err(|e| format!("cannot read the answer of the agent at {addr}: {e}"))?;
    if status.is_success() {
        return Ok(text);
    }
    let reason = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
        .unwrap_or(text);
    Err(format!("the agent at {addr} answered {status}: {reason}"))
}

/// The members as an aligned table with a header row.
fn render_table(members: &[AgentMember]) -> String {
    let header = ["NAME", "ADDRESS", "STATE", "INCARNATION", "META"];
    let rows: Vec<[String; 5]> = members
        .iter()
        .map(|a| {
            let m = &a.member;
            [
                m.name.to_string(),
                m.addr.to_string(),
                m.state.to_string(),
                m.incarnation.to_string(),
                a.meta_text(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        let mut text = String::new();
        for (cell, w) in cells.iter().zip(widths) {
            let _ = write!(text, "{cell:<w$}  ");
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&header);
    for row in &rows {
        line(&row.each_ref().map(String::as_str));
    }
    out
}

/// Writes the command's output (a closed stdout, as in `| head`, is not an error).
pub(crate) fn print_out(text: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeMap;

    use memberlist::MemberInfo;
    use memberlist::machine::State;

    use super::*;

    #[test]
    fn table_is_aligned() {
        let mut alpha = MemberInfo::new("alpha", "127.0.0.1:7946".parse().unwrap());
        alpha.incarnation = 3;
        let mut b = MemberInfo::new("b", "[::1]:1".parse().unwrap());
        b.state = State::Left;
        b.incarnation = 12;
        b.meta = bytes::Bytes::from_static(&[1, 2]);
        let members = vec![
            AgentMember {
                member: alpha,
                tags: Some(BTreeMap::from([("role".into(), "web".into())])),
            },
            AgentMember::of(b),
        ];
        let table = render_table(&members);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("NAME   ADDRESS         STATE  INCARNATION  META"));
        assert_eq!(
            lines[1],
            "alpha  127.0.0.1:7946  alive  3            role=web"
        );
        assert_eq!(
            lines[2],
            "b      [::1]:1         left   12           base64:AQI="
        );
    }
}
