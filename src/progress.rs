//! What an operator sees while flows run: a live progress line per running
//! flow on a terminal (indicatif), plain log lines elsewhere.
//!
//! Log lines and progress bars share standard error: while bars are shown,
//! [`LogWriter`] writes each log line with the bars suspended, so neither
//! garbles the other.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use integ_compiler::interp::flow::Live;

/// The bars, once a command shows any.
static BARS: OnceLock<MultiProgress> = OnceLock::new();

/// The writer of log lines: standard error, around the progress bars.
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buffer: &[u8]) -> std::io::Result<usize> {
        match BARS.get() {
            Some(bars) => bars.suspend(|| std::io::stderr().write_all(buffer)).map(|()| buffer.len()),
            None => std::io::stderr().write(buffer),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// When to show progress bars.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum When {
    /// On a terminal.
    Auto,
    Always,
    Never,
}

/// The progress display of a command.
#[derive(Clone)]
pub struct Progress {
    bars: Option<MultiProgress>,
}

impl Progress {
    pub fn new(when: When) -> Progress {
        let show = match when {
            When::Auto => std::io::stderr().is_terminal(),
            When::Always => true,
            When::Never => false,
        };
        let bars =
            show.then(|| BARS.get_or_init(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())).clone());
        Progress { bars }
    }

    /// Follows one run of `flow`: a bar on a terminal, else a log line every
    /// ten seconds. Stops when the returned [`Tracker`] is finished or dropped.
    pub fn track(&self, runtime: &tokio::runtime::Handle, flow: &str, live: Arc<Live>) -> Tracker {
        let done = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let bar = self.bars.as_ref().map(|bars| {
            let bar = bars.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix:.bold} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            // Flows' lines line up when their names are of similar length.
            bar.set_prefix(format!("{flow:<18}"));
            bar.set_message(line(&live, Duration::ZERO));
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        let task = {
            let done = done.clone();
            let bar = bar.clone();
            let flow = flow.to_owned();
            runtime.spawn(async move {
                let period = if bar.is_some() { Duration::from_millis(200) } else { Duration::from_secs(10) };
                let mut ticks = tokio::time::interval(period);
                ticks.tick().await;
                while !done.load(Ordering::Relaxed) {
                    ticks.tick().await;
                    let line = line(&live, started.elapsed());
                    match &bar {
                        Some(bar) => bar.set_message(line),
                        None if !done.load(Ordering::Relaxed) => tracing::info!(flow = %flow, "{flow}: {line}"),
                        None => {}
                    }
                }
            })
        };
        Tracker { done, bar, task: Some(task) }
    }
}

/// `read 1,234 · written 1,200 · skipped 30 · dead letters 4 · 412 records/s · 0:03`.
pub fn line(live: &Live, elapsed: Duration) -> String {
    let counters = live.counters();
    let seconds = elapsed.as_secs_f64().max(0.001);
    let rate = counters.read as f64 / seconds;
    let mut text = format!(
        "read {} · written {} · skipped {} · dead letters {}",
        thousands(counters.read),
        thousands(counters.written),
        thousands(counters.skipped),
        thousands(counters.dead_letters),
    );
    let retries = live.retries();
    if retries > 0 {
        text.push_str(&format!(" · retries {}", thousands(retries)));
    }
    text.push_str(&format!(" · {} records/s · {}", thousands(rate.round() as u64), clock(elapsed)));
    text
}

/// Ends the display of one run.
pub struct Tracker {
    done: Arc<AtomicBool>,
    bar: Option<ProgressBar>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Tracker {
    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
            if let Some(bars) = BARS.get() {
                bars.remove(&bar);
            }
        }
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `1,234,567`.
pub fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut text = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            text.push(',');
        }
        text.push(digit);
    }
    text
}

/// `0:03`, `12:40`, `1:02:03`.
pub fn clock(elapsed: Duration) -> String {
    let seconds = elapsed.as_secs();
    let (hours, minutes, seconds) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if hours > 0 { format!("{hours}:{minutes:02}:{seconds:02}") } else { format!("{minutes}:{seconds:02}") }
}

/// `850ms`, `4.2s`, `3m 05s`.
pub fn duration(elapsed: Duration) -> String {
    let millis = elapsed.as_millis();
    if millis < 1000 {
        format!("{millis}ms")
    } else if millis < 60_000 {
        format!("{:.1}s", elapsed.as_secs_f64())
    } else {
        let seconds = elapsed.as_secs();
        format!("{}m {:02}s", seconds / 60, seconds % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn clocks_and_durations() {
        assert_eq!(clock(Duration::from_secs(3)), "0:03");
        assert_eq!(clock(Duration::from_secs(3723)), "1:02:03");
        assert_eq!(duration(Duration::from_millis(850)), "850ms");
        assert_eq!(duration(Duration::from_millis(4210)), "4.2s");
        assert_eq!(duration(Duration::from_secs(185)), "3m 05s");
    }
}
