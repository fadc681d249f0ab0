//! Kafka's windowed rate with a quota (`org.apache.kafka.common.metrics.stats.Rate` over
//! `quota.window.num` samples of `quota.window.size.seconds`, checked as `Sensor.record` checks
//! an upper-bound `Quota`), for the connection-creation limits the acceptor enforces
//! (`max.connection.creation.rate` broker-wide and per listener, `connection_creation_rate`
//! per IP). The client quotas (byte rates, request time) run the same arithmetic in JS
//! (`src/security/quota-rate.ts`).

use std::time::{Duration, Instant};

/// `quota.window.num` and `quota.window.size.seconds`: Kafka's defaults are 11 and 1 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaWindow {
    pub samples: u32,
    pub window: Duration,
}

impl Default for QuotaWindow {
    fn default() -> Self {
        Self {
            samples: 11,
            window: Duration::from_secs(1),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    start: Instant,
    value: f64,
}

/// Events per second over the last `samples` windows, as Kafka's `Rate` measures it.
#[derive(Debug, Clone)]
pub struct Rate {
    config: QuotaWindow,
    samples: Vec<Sample>,
    current: usize,
}

impl Rate {
    pub fn new(config: QuotaWindow, now: Instant) -> Self {
        Self {
            config,
            samples: vec![Sample {
                start: now,
                value: 0.0,
            }],
            current: 0,
        }
    }

    /// Adds `value` at `now` (negative to take back an earlier record, as Kafka un-records).
    pub fn record(&mut self, value: f64, now: Instant) {
        let sample = self.samples[self.current];
        if now.saturating_duration_since(sample.start) >= self.config.window {
            self.current = (self.current + 1) % self.config.samples.max(1) as usize;
            let fresh = Sample {
                start: now,
                value: 0.0,
            };
            if self.current >= self.samples.len() {
                self.samples.push(fresh);
            } else {
                self.samples[self.current] = fresh;
            }
        }
        self.samples[self.current].value += value;
    }

    /// Resets samples older than the whole window (Kafka's `purgeObsoleteSamples`).
    fn purge(&mut self, now: Instant) {
        let expiry = self.config.window * self.config.samples;
        for sample in &mut self.samples {
            if now.saturating_duration_since(sample.start) >= expiry {
                *sample = Sample {
                    start: now,
                    value: 0.0,
                };
            }
        }
    }

    /// The time the rate is averaged over: from the oldest sample, but at least
    /// `samples - 1` full windows (Kafka's `Rate.windowSize`).
    fn window_size(&mut self, now: Instant) -> Duration {
        self.purge(now);
        let oldest = self
            .samples
            .iter()
            .map(|sample| sample.start)
            .min()
            .unwrap_or(now);
        let mut elapsed = now.saturating_duration_since(oldest);
        let window = self.config.window;
        let full_windows = (elapsed.as_nanos() / window.as_nanos().max(1)) as u32;
        let min_full_windows = self.config.samples.saturating_sub(1);
        if full_windows < min_full_windows {
            elapsed += window * (min_full_windows - full_windows);
        }
        elapsed.max(Duration::from_millis(1))
    }

    /// Events per second at `now`.
    pub fn measure(&mut self, now: Instant) -> f64 {
        let window = self.window_size(now);
        let total: f64 = self.samples.iter().map(|sample| sample.value).sum();
        total / window.as_secs_f64()
    }

    /// Records one event and returns how long the caller must wait for the rate to come back
    /// to `quota` per second, bounded by one quota window (Kafka's `boundedThrottleTime`, as
    /// its `ConnectionQuotas` uses it); zero while under the quota.
    pub fn record_and_throttle(&mut self, quota: f64, now: Instant) -> Duration {
        self.record(1.0, now);
        let rate = self.measure(now);
        if rate <= quota {
            return Duration::ZERO;
        }
        let window = self.window_size(now);
        let throttle = window.mul_f64((rate - quota) / quota);
        throttle.min(self.config.window)
    }

    /// Whether nothing has been recorded for the whole window: the rate can be dropped.
    pub fn is_idle(&self, now: Instant) -> bool {
        let expiry = self.config.window * self.config.samples;
        self.samples
            .iter()
            .all(|sample| now.saturating_duration_since(sample.start) >= expiry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_over_at_least_samples_minus_one_windows() {
        let start = Instant::now();
        let mut rate = Rate::new(QuotaWindow::default(), start);
        for _ in 0..20 {
            rate.record(1.0, start);
        }
        // 20 events, window at least 10 s: 2/s.
        assert!((rate.measure(start) - 2.0).abs() < 1e-9);
    }

    #[test]
    fn throttles_by_the_excess_bounded_by_one_window() {
        let start = Instant::now();
        let mut rate = Rate::new(QuotaWindow::default(), start);
        for _ in 0..10 {
            assert_eq!(rate.record_and_throttle(1.0, start), Duration::ZERO);
        }
        // The 11th event: 1.1/s over 10 s against 1/s → 1 s, which is the bound.
        assert_eq!(rate.record_and_throttle(1.0, start), Duration::from_secs(1));
        let mut rate = Rate::new(QuotaWindow::default(), start);
        for _ in 0..10 {
            rate.record(1.0, start);
        }
        // 11 events over 10 s against 1.05/s: (1.1 - 1.05) / 1.05 × 10 s ≈ 476 ms.
        let throttle = rate.record_and_throttle(1.05, start);
        assert_eq!(throttle.as_millis(), 476);
    }

    #[test]
    fn forgets_after_the_whole_window() {
        let start = Instant::now();
        let config = QuotaWindow::default();
        let mut rate = Rate::new(config, start);
        for _ in 0..50 {
            rate.record(1.0, start);
        }
        let later = start + config.window * config.samples;
        assert!(rate.is_idle(later));
        assert_eq!(rate.measure(later), 0.0);
    }
}
