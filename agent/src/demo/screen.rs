//! The demo's output: narrative lines that scroll, and a membership table.
//!
//! On a terminal the table stays live under the narrative: it is redrawn in place (cursor
//! up, clear to the end of the screen) whenever it changes, and new lines are written above
//! it. Anywhere else (a pipe, a log file) only plain lines are written — no control codes,
//! no carriage returns — and the table is printed whole at the milestones the caller picks.

use std::io::{self, Write};

/// ANSI: move the cursor to the start of the line `n` lines up.
fn cursor_up(n: usize) -> String {
    format!("\x1b[{n}F")
}

/// ANSI: clear from the cursor to the end of the screen.
const CLEAR_BELOW: &str = "\x1b[J";

/// Where the demo writes.
pub(crate) struct Screen<W: Write> {
    out: W,
    live: bool,
    table: Vec<String>,
    drawn: usize,
}

impl<W: Write> Screen<W> {
    /// A screen writing to `out`; `live` redraws the table in place (for a terminal).
    pub(crate) fn new(out: W, live: bool) -> Self {
        Self {
            out,
            live,
            table: Vec::new(),
            drawn: 0,
        }
    }

    /// Whether the table is redrawn in place (a terminal).
    pub(crate) fn is_live(&self) -> bool {
        self.live
    }

    /// Writes a line of narrative (above the live table on a terminal).
    pub(crate) fn line(&mut self, text: &str) -> io::Result<()> {
        self.erase()?;
        writeln!(self.out, "{text}")?;
        self.draw()
    }

    /// Replaces the live table; does nothing in plain mode (see [`Self::snapshot`]).
    pub(crate) fn table(&mut self, rows: Vec<String>) -> io::Result<()> {
        if !self.live || rows == self.table {
            return Ok(());
        }
        self.erase()?;
        self.table = rows;
        self.draw()
    }

    /// Shows the table at a milestone: printed whole in plain mode, redrawn on a terminal.
    pub(crate) fn snapshot(&mut self, rows: Vec<String>) -> io::Result<()> {
        if self.live {
            return self.table(rows);
        }
        for row in rows {
            writeln!(self.out, "{row}")?;
        }
        self.out.flush()
    }

    /// Leaves the live table where it is (it becomes ordinary output) and flushes.
    pub(crate) fn finish(&mut self) -> io::Result<()> {
        self.drawn = 0;
        self.table.clear();
        self.out.flush()
    }

    /// The writer, once done.
    #[cfg(test)]
    pub(crate) fn into_inner(self) -> W {
        self.out
    }

    fn erase(&mut self) -> io::Result<()> {
        if self.live && self.drawn > 0 {
            write!(self.out, "{}{CLEAR_BELOW}", cursor_up(self.drawn))?;
            self.drawn = 0;
        }
        Ok(())
    }

    fn draw(&mut self) -> io::Result<()> {
        if self.live {
            for row in &self.table {
                writeln!(self.out, "{row}")?;
            }
            self.drawn = self.table.len();
        }
        self.out.flush()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn rows(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("row {i}")).collect()
    }

    #[test]
    fn plain_mode_writes_lines_and_snapshots_without_control_codes() {
        let mut s = Screen::new(Vec::new(), false);
        s.line("hello").unwrap();
        s.table(rows(3)).unwrap();
        s.snapshot(rows(2)).unwrap();
        s.line("bye").unwrap();
        s.finish().unwrap();
        let out = String::from_utf8(s.into_inner()).unwrap();
        assert_eq!(out, "hello\nrow 0\nrow 1\nbye\n");
    }

    #[test]
    fn live_mode_redraws_the_table_below_new_lines() {
        let mut s = Screen::new(Vec::new(), true);
        s.table(rows(2)).unwrap();
        s.line("news").unwrap();
        s.table(rows(2)).unwrap(); // unchanged: nothing written
        s.finish().unwrap();
        let out = String::from_utf8(s.into_inner()).unwrap();
        assert_eq!(out, "row 0\nrow 1\n\x1b[2F\x1b[Jnews\nrow 0\nrow 1\n");
    }
}
