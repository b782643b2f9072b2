//! The progress displays of long commands, one style for all of them.

use std::time::Duration;

/// A bar of `total` steps labelled `msg`, with the elapsed time.
pub(crate) fn bar(total: usize, msg: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total as u64).with_style(
        indicatif::ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} [{elapsed}]")
            .expect("template"),
    );
    bar.set_message(msg.to_string());
    bar
}

/// A spinner labelled `msg` for work of unknown length (a Verilator build).
pub(crate) fn spinner(msg: &str) -> indicatif::ProgressBar {
    let s = indicatif::ProgressBar::new_spinner().with_message(msg.to_string());
    s.enable_steady_tick(Duration::from_millis(120));
    s
}
