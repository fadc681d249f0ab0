//! Counters shared by the connection threads, the once-a-second progress line (stderr), a
//! small semaphore for requests in flight, and the final JSON line (stdout).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::wire::Error;

#[derive(Default)]
pub struct Stats {
    pub records: AtomicU64,
    pub bytes: AtomicU64,
    pub requests: AtomicU64,
    pub latency_us_sum: AtomicU64,
    pub latency_count: AtomicU64,
    pub max_throttle_ms: AtomicU64,
    /// Set on the first failure, at the deadline, or when the records asked for are done.
    stop: AtomicBool,
    failure: Mutex<Option<Error>>,
}

impl Stats {
    pub fn add(&self, records: u64, bytes: u64) {
        self.records.fetch_add(records, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }
    pub fn latency(&self, latency: Duration) {
        self.latency_us_sum
            .fetch_add(latency.as_micros() as u64, Ordering::Relaxed);
        self.latency_count.fetch_add(1, Ordering::Relaxed);
    }
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
    }
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }
    /// Records the first failure (later ones are consequences) and stops everyone.
    pub fn fail(&self, error: Error) {
        let mut failure = self.failure.lock().unwrap();
        if failure.is_none() {
            *failure = Some(error);
        }
        self.stop();
    }
    pub fn failure(&self) -> Option<Error> {
        self.failure.lock().unwrap().clone()
    }
}

/// CPU seconds this process has used (user + system, all threads) from /proc/self/stat, so
/// a run shows whether the generator itself was near a core's worth (Linux; None elsewhere).
/// Clock ticks are taken as 100 per second (USER_HZ on every Linux architecture we build for).
pub fn own_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat[stat.rfind(')')? + 2..].split(' ').collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Latencies in microseconds, 1 µs to 1 hour, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

/// Counts requests in flight on one connection; `close` wakes a waiting writer for good.
pub struct Slots {
    state: Mutex<(usize, bool)>,
    changed: Condvar,
}

impl Slots {
    pub fn new(count: usize) -> Self {
        Slots {
            state: Mutex::new((count, false)),
            changed: Condvar::new(),
        }
    }
    /// Takes a slot, waiting for one; false once closed.
    pub fn acquire(&self) -> bool {
        let mut state = self.state.lock().unwrap();
        loop {
            if state.1 {
                return false;
            }
            if state.0 > 0 {
                state.0 -= 1;
                return true;
            }
            state = self.changed.wait(state).unwrap();
        }
    }
    pub fn release(&self) {
        self.state.lock().unwrap().0 += 1;
        self.changed.notify_one();
    }
    pub fn close(&self) {
        self.state.lock().unwrap().1 = true;
        self.changed.notify_all();
    }
}

/// Prints a progress line to stderr every second until `done()` is true; returns when it is.
pub fn progress(stats: &Stats, started: Instant, quiet: bool, done: impl Fn() -> bool) {
    let mut last = (0u64, 0u64, 0u64, 0u64);
    let mut last_at = started;
    let mut next = started + Duration::from_secs(1);
    while !done() {
        let now = Instant::now();
        if now < next {
            std::thread::sleep((next - now).min(Duration::from_millis(50)));
            continue;
        }
        next += Duration::from_secs(1);
        let records = stats.records.load(Ordering::Relaxed);
        let bytes = stats.bytes.load(Ordering::Relaxed);
        let latency_sum = stats.latency_us_sum.load(Ordering::Relaxed);
        let latency_count = stats.latency_count.load(Ordering::Relaxed);
        let seconds = now.duration_since(last_at).as_secs_f64();
        if !quiet {
            let latency = if latency_count > last.3 {
                format!(
                    "{:.2} ms avg",
                    (latency_sum - last.2) as f64 / (latency_count - last.3) as f64 / 1000.0
                )
            } else {
                "-".to_owned()
            };
            eprintln!(
                "[{:6.1} s] {:>11.0} records/s {:>9.1} MB/s  latency {latency}  total {records} records",
                now.duration_since(started).as_secs_f64(),
                (records - last.0) as f64 / seconds,
                (bytes - last.1) as f64 / seconds / 1e6,
            );
        }
        last = (records, bytes, latency_sum, latency_count);
        last_at = now;
    }
}

/// A flat JSON object, written by hand (numbers, strings, null).
#[derive(Default)]
pub struct Json(String);

impl Json {
    fn key(&mut self, key: &str) {
        self.0.push(if self.0.is_empty() { '{' } else { ',' });
        let _ = write!(self.0, "\"{key}\":");
    }
    pub fn string(&mut self, key: &str, value: &str) -> &mut Self {
        self.key(key);
        self.0.push('"');
        for character in value.chars() {
            match character {
                '"' => self.0.push_str("\\\""),
                '\\' => self.0.push_str("\\\\"),
                character if (character as u32) < 0x20 => {
                    let _ = write!(self.0, "\\u{:04x}", character as u32);
                }
                character => self.0.push(character),
            }
        }
        self.0.push('"');
        self
    }
    pub fn int(&mut self, key: &str, value: i64) -> &mut Self {
        self.key(key);
        let _ = write!(self.0, "{value}");
        self
    }
    /// A float rounded to `decimals`, or null when not finite.
    pub fn float(&mut self, key: &str, value: f64, decimals: usize) -> &mut Self {
        self.key(key);
        if value.is_finite() {
            let _ = write!(self.0, "{value:.decimals$}");
        } else {
            self.0.push_str("null");
        }
        self
    }
    pub fn null(&mut self, key: &str) -> &mut Self {
        self.key(key);
        self.0.push_str("null");
        self
    }
    /// p50, p99, p99.9, max and mean of a histogram in µs, as `{prefix}_p50_ms` etc.; null
    /// when it holds nothing (acks=0).
    pub fn latencies(&mut self, prefix: &str, histogram: &Histogram<u64>) -> &mut Self {
        let fields = [("p50", 50.0), ("p99", 99.0), ("p999", 99.9)];
        for (name, quantile) in fields {
            let key = format!("{prefix}_{name}_ms");
            if histogram.is_empty() {
                self.null(&key);
            } else {
                self.float(
                    &key,
                    histogram.value_at_percentile(quantile) as f64 / 1000.0,
                    3,
                );
            }
        }
        if histogram.is_empty() {
            self.null(&format!("{prefix}_max_ms"))
                .null(&format!("{prefix}_mean_ms"))
        } else {
            self.float(
                &format!("{prefix}_max_ms"),
                histogram.max() as f64 / 1000.0,
                3,
            )
            .float(&format!("{prefix}_mean_ms"), histogram.mean() / 1000.0, 3)
        }
    }
    pub fn finish(&self) -> String {
        if self.0.is_empty() {
            "{}".to_owned()
        } else {
            format!("{}}}", self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_line() {
        let mut histogram = histogram();
        for value in 1..=1000 {
            histogram.record(value * 1000).unwrap();
        }
        let mut json = Json::default();
        json.string("mode", "pro\"duce")
            .int("records", 5)
            .float("rate", f64::NAN, 1)
            .latencies("latency", &histogram);
        let line = json.finish();
        assert!(
            line.starts_with(
                r#"{"mode":"pro\"duce","records":5,"rate":null,"latency_p50_ms":500."#
            ),
            "{line}"
        );
        assert!(line.contains(r#""latency_max_ms":1000."#), "{line}");
        let mut empty = Json::default();
        empty.latencies("latency", &super::histogram());
        assert_eq!(
            empty.finish(),
            r#"{"latency_p50_ms":null,"latency_p99_ms":null,"latency_p999_ms":null,"latency_max_ms":null,"latency_mean_ms":null}"#
        );
    }

    #[test]
    fn own_cpu_time_is_read() {
        let seconds = own_cpu_seconds().expect("/proc/self/stat");
        assert!((0.0..1e6).contains(&seconds));
    }

    #[test]
    fn slots_count_and_close() {
        let slots = Slots::new(2);
        assert!(slots.acquire());
        assert!(slots.acquire());
        slots.release();
        assert!(slots.acquire());
        slots.close();
        assert!(!slots.acquire());
    }
}
