//! `up`'s progress: a spinner per step on a terminal, and one line per finished step always
//! (so logs and tests see the steps too).

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

pub struct Steps {
    current: Option<(String, ProgressBar, Instant)>,
}

// === impl Steps ===

impl Steps {
    pub fn new() -> Self {
        Steps { current: None }
    }

    pub fn start(&mut self, what: &str) {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template(" {spinner} {msg} {elapsed}").expect("static template"),
        );
        bar.set_message(what.to_string());
        bar.enable_steady_tick(Duration::from_millis(80));
        self.current = Some((what.to_string(), bar, Instant::now()));
    }

    /// Shows progress inside the current step (`2/3 nodes`).
    pub fn update(&self, detail: &str) {
        if let Some((what, bar, _)) = &self.current {
            bar.set_message(format!("{what} ({detail})"));
        }
    }

    pub fn done(&mut self, detail: &str) {
        self.finish("✓", detail);
    }

    pub fn fail(&mut self) {
        self.finish("✗", "");
    }

    fn finish(&mut self, mark: &str, detail: &str) {
        if let Some((what, bar, started)) = self.current.take() {
            bar.finish_and_clear();
            let detail = if detail.is_empty() {
                String::new()
            } else {
                format!(" ({detail})")
            };
            eprintln!(
                " {mark} {what}{detail} [{:.1}s]",
                started.elapsed().as_secs_f64()
            );
        }
    }
}

impl Drop for Steps {
    /// A step still open when `up` gives up failed.
    fn drop(&mut self) {
        self.fail();
    }
}
