//! PutRecordBatch's limits, enforced by vpcflow itself: how the records of
//! a write are cut into calls the service accepts. No I/O.

use std::ops::Range;

/// Most records in one PutRecordBatch call.
pub const MAX_RECORDS: usize = 500;
/// Most bytes in one call (the records' data): 4 MiB.
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Largest record (its data, before base64): 1,000 KiB.
pub const MAX_RECORD_BYTES: usize = 1000 * 1024;

/// Cuts `records` (each one flow log line with its LF) into consecutive
/// ranges within [`MAX_RECORDS`] and [`MAX_BATCH_BYTES`]. A record larger
/// than [`MAX_RECORD_BYTES`] must have been left out before.
pub fn split(records: &[Vec<u8>]) -> Vec<Range<usize>> {
    let mut batches = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, record) in records.iter().enumerate() {
        let full = i - start == MAX_RECORDS || bytes + record.len() > MAX_BATCH_BYTES;
        if i > start && full {
            batches.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += record.len();
    }
    if start < records.len() {
        batches.push(start..records.len());
    }
    batches
}

/// The records of a spooled batch: its LF-terminated lines.
pub fn decode(body: &[u8]) -> Vec<&[u8]> {
    body.split_inclusive(|b| *b == b'\n').collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(batches: &[Range<usize>]) -> Vec<usize> {
        batches.iter().map(|r| r.len()).collect()
    }

    #[test]
    fn record_count_limit_exactly_and_one_over() {
        let at = vec![b"r\n".to_vec(); MAX_RECORDS];
        assert_eq!(sizes(&split(&at)), [MAX_RECORDS]);
        let over = vec![b"r\n".to_vec(); MAX_RECORDS + 1];
        assert_eq!(sizes(&split(&over)), [MAX_RECORDS, 1]);
        assert!(split(&[]).is_empty());
    }

    #[test]
    fn byte_limit_exactly_and_one_over() {
        // Five records of exactly 4 MiB together.
        let each = MAX_BATCH_BYTES / 4;
        let at: Vec<Vec<u8>> = (0..4).map(|_| vec![b'x'; each]).collect();
        assert_eq!(sizes(&split(&at)), [4]);
        let mut over = at.clone();
        over[3].push(b'x');
        assert_eq!(sizes(&split(&over)), [3, 1]);
        // The largest record fits four times, not five.
        let big: Vec<Vec<u8>> = (0..5).map(|_| vec![b'x'; MAX_RECORD_BYTES]).collect();
        assert_eq!(sizes(&split(&big)), [4, 1]);
    }

    #[test]
    fn spooled_batches_split_into_their_lines() {
        let body = b"2 a b\n2 c d\n";
        assert_eq!(decode(body), [&b"2 a b\n"[..], &b"2 c d\n"[..]]);
        assert!(decode(b"").is_empty());
    }
}
