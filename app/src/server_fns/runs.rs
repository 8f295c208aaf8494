//! The runs page: the batches of the sprint runner, and the cycles and commands of the current one.

use leptos::prelude::*;

use super::Page;
use crate::domain::run::Runs;

/// Batches the history shows.
pub const HISTORY: u32 = 20;

#[server(output = super::JsonAnswer)]
pub async fn get_runs() -> Result<Page<Runs>, ServerFnError> {
    use crate::domain::{
        entity::{decode_rows, Query},
        run::{batch_key, Batch, Command, Cycle, Story},
    };
    let fail = ServerFnError::new;
    // Which batch is current decides what else to read: two reads, the second at a seq at least as
    // new, so the page may show a little more than the first read's seq — never less.
    let first = super::ssr::read_page(vec![Query::all::<Batch>().newest(HISTORY)]).await?;
    let batches: Vec<Batch> = decode_rows(&first.snapshot.rows[0]).map_err(fail)?;
    let current = batches.iter().find(|b| b.ended_at.is_none()).or(batches.first()).map(|b| batch_key(b.batch_id));
    let Some(current) = current else {
        let seq = first.snapshot.seq;
        return Ok(first.page(Runs { seq, ..Runs::default() }));
    };
    let queries = vec![
        Query::all::<Batch>().newest(HISTORY),
        Query::children::<Cycle>(&current),
        Query::children::<Command>(&current),
        Query::all::<Story>(),
    ];
    let read = super::ssr::read_page(queries).await?;
    let rows = &read.snapshot.rows;
    let runs = Runs {
        seq: read.snapshot.seq,
        batches: decode_rows(&rows[0]).map_err(fail)?,
        cycles: decode_rows(&rows[1]).map_err(fail)?,
        commands: decode_rows(&rows[2]).map_err(fail)?,
        stories: decode_rows(&rows[3]).map_err(fail)?,
    };
    Ok(read.page(runs))
}
