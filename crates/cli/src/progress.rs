//! A progress bar for long runs (hidden when stderr isn't a terminal or with --json).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Bar(ProgressBar);

impl Bar {
    pub fn new(quiet: bool) -> Bar {
        let pb = ProgressBar::new(0);
        if quiet {
            pb.set_draw_target(ProgressDrawTarget::hidden());
        }
        pb.set_style(ProgressStyle::with_template("{spinner} {msg} {wide_bar} {pos}/{len} ({eta})").unwrap_or_else(|_| ProgressStyle::default_bar()));
        Bar(pb)
    }
    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}

impl crosswalk_core::runner::Progress for Bar {
    fn stage(&self, message: &str) {
        self.0.set_message(message.to_string());
        self.0.set_position(0);
        self.0.set_length(0);
        self.0.tick();
    }
    fn set_total(&self, total: u64) {
        self.0.set_length(total);
    }
    fn advance(&self, n: u64) {
        if self.0.length() == Some(0) {
            self.0.inc_length(n);
        }
        self.0.inc(n);
    }
}
