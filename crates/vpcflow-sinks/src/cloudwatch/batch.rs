//! PutLogEvents' limits, enforced by vpcflow itself (a stand-in server may
//! not): which events the service would refuse for their time, and how the
//! events of one log stream are cut into batches it accepts. No I/O.

use std::ops::Range;

/// Most events in one PutLogEvents call.
pub const MAX_EVENTS: usize = 10_000;
/// Most bytes in one call: the messages' UTF-8 bytes plus
/// [`EVENT_OVERHEAD`] per event.
pub const MAX_BATCH_BYTES: usize = 1_048_576;
/// Bytes the service counts for each event on top of its message.
pub const EVENT_OVERHEAD: usize = 26;
/// Longest message of one event.
pub const MAX_MESSAGE_BYTES: usize = MAX_BATCH_BYTES - EVENT_OVERHEAD;
/// Largest span between the first and the last event of one call: 24 h.
pub const MAX_SPAN_MS: i64 = 24 * 3600 * 1000;
/// Events older than this (before now) are refused: 14 days.
pub const MAX_AGE_MS: i64 = 14 * 24 * 3600 * 1000;
/// Events further than this in the future are refused: 2 h.
pub const MAX_FUTURE_MS: i64 = 2 * 3600 * 1000;

/// One log event: the record line (no LF) and its time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    /// Milliseconds since the Unix epoch (the record's `start`).
    pub timestamp_ms: i64,
    /// The record line without a header or LF.
    pub message: String,
}

impl LogEvent {
    /// Bytes the service counts for this event.
    pub fn counted_bytes(&self) -> usize {
        self.message.len() + EVENT_OVERHEAD
    }
}

/// Why an event is refused before it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Older than [`MAX_AGE_MS`].
    TooOld,
    /// More than [`MAX_FUTURE_MS`] ahead.
    TooNew,
    /// Message longer than [`MAX_MESSAGE_BYTES`].
    TooLarge,
}

impl Refusal {
    /// For logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::TooOld => "older than 14 days",
            Refusal::TooNew => "more than 2 hours in the future",
            Refusal::TooLarge => "message larger than 1,048,550 bytes",
        }
    }
}

/// Whether the service would accept `event` at `now_ms`.
pub fn check(event: &LogEvent, now_ms: i64) -> Result<(), Refusal> {
    if event.message.len() > MAX_MESSAGE_BYTES {
        Err(Refusal::TooLarge)
    } else if event.timestamp_ms < now_ms - MAX_AGE_MS {
        Err(Refusal::TooOld)
    } else if event.timestamp_ms > now_ms + MAX_FUTURE_MS {
        Err(Refusal::TooNew)
    } else {
        Ok(())
    }
}

/// Sorts the events of one log stream by time (stable: records of the same
/// second keep their order) and cuts them into consecutive ranges, each one
/// PutLogEvents call within [`MAX_EVENTS`], [`MAX_BATCH_BYTES`] and
/// [`MAX_SPAN_MS`]. Every event must have passed [`check`].
pub fn split(events: &mut [LogEvent]) -> Vec<Range<usize>> {
    events.sort_by_key(|e| e.timestamp_ms);
    let mut batches = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, event) in events.iter().enumerate() {
        let size = event.counted_bytes();
        let full = i - start == MAX_EVENTS
            || bytes + size > MAX_BATCH_BYTES
            || event.timestamp_ms - events[start].timestamp_ms > MAX_SPAN_MS;
        if i > start && full {
            batches.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < events.len() {
        batches.push(start..events.len());
    }
    batches
}

/// The spooled form of a batch: one line `TIMESTAMP_MS MESSAGE` per event.
pub fn encode(events: &[LogEvent], out: &mut Vec<u8>) {
    for e in events {
        out.extend_from_slice(e.timestamp_ms.to_string().as_bytes());
        out.push(b' ');
        out.extend_from_slice(e.message.as_bytes());
        out.push(b'\n');
    }
}

/// Reads back what [`encode`] wrote; `Err` names the bad line.
pub fn decode(body: &[u8]) -> Result<Vec<LogEvent>, String> {
    let text = std::str::from_utf8(body).map_err(|e| format!("not UTF-8: {e}"))?;
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            let (ts, message) = line
                .split_once(' ')
                .ok_or_else(|| format!("line {}: no timestamp", i + 1))?;
            let timestamp_ms = ts
                .parse()
                .map_err(|_| format!("line {}: bad timestamp {ts:?}", i + 1))?;
            Ok(LogEvent {
                timestamp_ms,
                message: message.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(ts: i64, len: usize) -> LogEvent {
        LogEvent {
            timestamp_ms: ts,
            message: "x".repeat(len),
        }
    }

    fn sizes(batches: &[Range<usize>]) -> Vec<usize> {
        batches.iter().map(|r| r.len()).collect()
    }

    #[test]
    fn event_count_limit_exactly_and_one_over() {
        let mut at: Vec<_> = (0..MAX_EVENTS).map(|i| event(i as i64, 10)).collect();
        assert_eq!(sizes(&split(&mut at)), [MAX_EVENTS]);
        let mut over: Vec<_> = (0..=MAX_EVENTS).map(|i| event(i as i64, 10)).collect();
        assert_eq!(sizes(&split(&mut over)), [MAX_EVENTS, 1]);
    }

    #[test]
    fn byte_limit_counts_26_bytes_per_event_exactly_and_one_over() {
        // 4 events whose counted sizes add up to exactly 1,048,576 bytes.
        let each = MAX_BATCH_BYTES / 4 - EVENT_OVERHEAD;
        let mut at: Vec<_> = (0..4).map(|i| event(i, each)).collect();
        assert_eq!(
            at.iter().map(LogEvent::counted_bytes).sum::<usize>(),
            MAX_BATCH_BYTES
        );
        assert_eq!(sizes(&split(&mut at)), [4]);
        let mut over = at.clone();
        over[3].message.push('x');
        assert_eq!(sizes(&split(&mut over)), [3, 1]);
        // One event of the largest size fills a batch alone.
        let mut big = vec![event(0, MAX_MESSAGE_BYTES), event(1, 0)];
        assert_eq!(sizes(&split(&mut big)), [1, 1]);
    }

    #[test]
    fn span_limit_exactly_24_hours_and_one_millisecond_over() {
        let mut at = vec![event(1_000, 5), event(1_000 + MAX_SPAN_MS, 5)];
        assert_eq!(sizes(&split(&mut at)), [2]);
        let mut over = vec![event(1_000, 5), event(1_001 + MAX_SPAN_MS, 5)];
        assert_eq!(sizes(&split(&mut over)), [1, 1]);
    }

    #[test]
    fn events_are_sent_in_time_order_keeping_ties_in_place() {
        let mut events = vec![
            LogEvent {
                timestamp_ms: 3,
                message: "c".into(),
            },
            LogEvent {
                timestamp_ms: 1,
                message: "a1".into(),
            },
            LogEvent {
                timestamp_ms: 1,
                message: "a2".into(),
            },
        ];
        assert_eq!(sizes(&split(&mut events)), [3]);
        let order: Vec<&str> = events.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(order, ["a1", "a2", "c"]);
        assert!(split(&mut []).is_empty());
    }

    #[test]
    fn age_and_future_limits_exactly_and_one_over() {
        let now = 2_000_000_000_000;
        let at = |ts| check(&event(ts, 1), now);
        assert_eq!(at(now - MAX_AGE_MS), Ok(()));
        assert_eq!(at(now - MAX_AGE_MS - 1), Err(Refusal::TooOld));
        assert_eq!(at(now + MAX_FUTURE_MS), Ok(()));
        assert_eq!(at(now + MAX_FUTURE_MS + 1), Err(Refusal::TooNew));
        assert_eq!(check(&event(now, MAX_MESSAGE_BYTES), now), Ok(()));
        assert_eq!(
            check(&event(now, MAX_MESSAGE_BYTES + 1), now),
            Err(Refusal::TooLarge)
        );
    }

    #[test]
    fn spooled_form_round_trips() {
        let events = vec![
            LogEvent {
                timestamp_ms: 1_700_000_000_000,
                message: "2 123456789012 eni-1 10.0.0.1 10.0.0.2 443 5 6 1 40 1700000000 1700000060 ACCEPT OK".into(),
            },
            LogEvent {
                timestamp_ms: 1_700_000_000_000,
                message: "2 123456789012 eni-1 - - - - - - - 1700000000 1700000060 - NODATA".into(),
            },
        ];
        let mut body = Vec::new();
        encode(&events, &mut body);
        assert_eq!(decode(&body).unwrap(), events);
        assert!(decode(b"x\n").unwrap_err().contains("line 1"));
        assert!(decode(b"12 a\nzz b\n").unwrap_err().contains("line 2"));
    }
}
