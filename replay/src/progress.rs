//! A progress bar on stderr, redrawn only when the shown percentage changes.

use std::io::Write;

pub struct ProgressBar {
    label: &'static str,
    total: usize,
    shown: Option<usize>,
    enabled: bool,
}

impl ProgressBar {
    pub fn new(label: &'static str, total: usize, enabled: bool) -> Self {
        Self { label, total: total.max(1), shown: None, enabled }
    }

    pub fn update(&mut self, done: usize) {
        let percent = (done.min(self.total) * 100) / self.total;
        if !self.enabled || self.shown == Some(percent) {
            return;
        }
        self.shown = Some(percent);
        let filled = percent * 30 / 100;
        let bar: String = (0..30).map(|i| if i < filled { '#' } else { '-' }).collect();
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{:<10} [{bar}] {percent:>3}% ({done}/{})", self.label, self.total);
        let _ = err.flush();
    }

    pub fn finish(&mut self) {
        self.update(self.total);
        if self.enabled {
            let _ = writeln!(std::io::stderr());
        }
    }
}
