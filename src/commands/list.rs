//! `tokdash list [--json]`.

use super::Context;
use crate::clock;
use crate::failure::{CmdResult, Failure};
use crate::summary::{Column, Summary};

pub fn list(ctx: &Context, json: bool) -> CmdResult {
    let engine = ctx.engine()?;
    let now = clock::now();
    let mut summaries = Vec::new();
    // A bad record is one profile's problem: it is listed with its problem, and never hides the
    // other profiles.
    let mut unusable = Vec::new();
    for (profile, record) in super::every_record(ctx, &engine)? {
        match record {
            Ok(facts) => summaries.push(Summary::new(&profile, facts.as_ref(), now)),
            Err(problem) => {
                unusable.push(format!("{}: {problem}", profile.name));
                summaries.push(Summary::unusable(&profile, problem));
            }
        }
    }
    if json {
        let text =
            serde_json::to_string_pretty(&summaries).map_err(|e| Failure::usage(e.to_string()))?;
        println!("{text}");
    } else {
        print!("{}", table(&summaries, now));
    }
    if unusable.is_empty() {
        return Ok(());
    }
    // Exit 1, not 2: the store itself opened and every profile is listed; what is wrong is that
    // these profiles have nothing to act with until a person fixes their record (SPEC: 1 is "the
    // profile has nothing to act with"), as `health` exits 1 when something needs a person. 2
    // stays for a store or config that cannot be used at all. `tokdash token` of such a profile
    // exits 2: there, the store error is the command's own failure.
    for line in &unusable {
        eprintln!("tokdash: {line}");
    }
    Err(Failure::silent(1))
}

/// A plain text table for people; scripts use `--json`.
pub fn table(summaries: &[Summary], now: i64) -> String {
    let rows: Vec<[String; 6]> = summaries
        .iter()
        .map(|s| {
            let expires_at = s.expires_in.map(|secs| now + secs);
            [
                s.name.clone(),
                s.provider.to_string(),
                if s.unsynced {
                    format!("{} unsynced", s.status.as_str())
                } else {
                    s.status.as_str().to_string()
                },
                if s.expires_in.is_some() {
                    clock::expires_in(expires_at, now)
                } else {
                    "-".into()
                },
                s.last_refresh
                    .as_deref()
                    .and_then(|t| humantime::parse_rfc3339(t).ok())
                    .map(|t| {
                        clock::ago(
                            Some(
                                t.duration_since(std::time::UNIX_EPOCH)
                                    .map(|d| d.as_secs() as i64)
                                    .unwrap_or(0),
                            ),
                            now,
                        )
                    })
                    .unwrap_or_else(|| "never".into()),
                s.last_error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let header = Column::ALL.map(Column::title);
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        let mut l = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                l.push_str(cell);
            } else {
                l.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&header);
    for row in &rows {
        line(&row.iter().map(String::as_str).collect::<Vec<_>>());
    }
    out
}
