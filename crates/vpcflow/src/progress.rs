//! A progress bar on a terminal for long conversions.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Progress over the bytes of all input files; invisible when not shown.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A bar over `total` bytes, drawn on stderr when `show`.
    pub fn new(show: bool, total: u64) -> Progress {
        if !show {
            return Progress { bar: None };
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(4));
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .expect("valid template"),
        );
        Progress { bar: Some(bar) }
    }

    /// Sets the bytes consumed so far.
    #[inline]
    pub fn set(&self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(bytes);
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
