//! Property tests: whatever is appended reads back, byte for byte, from any offset, before
//! and after a reopen.

mod common;

use common::*;
use proptest::prelude::*;
use sluice_storage::config::LogConfig;

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 8 * 1024,
        segment_index_bytes: 256,
        index_interval_bytes: 300,
        preallocate_chunk_bytes: 4096,
        ..LogConfig::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn appended_batches_read_back_from_every_offset(
        shapes in proptest::collection::vec((1usize..6, 0usize..900), 1..60),
        max_bytes in 1u32..5000,
        reopen_cleanly in any::<bool>(),
    ) {
        let directory = tempfile::tempdir().unwrap();
        let mut log = fresh(directory.path(), config());
        let mut expected: Vec<(i64, Vec<u8>)> = Vec::new();
        for (index, &(count, value_bytes)) in shapes.iter().enumerate() {
            let mut bytes = batch_of(count, value_bytes, NOW_MS + index as i64);
            let info = log
                .append(&mut bytes, &sluice_storage::log::AppendOptions::leader(NOW_MS, 0))
                .unwrap();
            prop_assert_eq!(info.last_offset - info.base_offset + 1, count as i64);
            expected.push((info.base_offset, bytes));
        }
        let end = log.log_end_offset();
        let log = if reopen_cleanly {
            log.close().unwrap();
            open(directory.path(), config(), clean(end, 0)).0
        } else {
            drop(log);
            open(directory.path(), config(), unclean(0)).0
        };
        prop_assert_eq!(log.log_end_offset(), end);
        for offset in 0..end {
            let read = log.read(offset, max_bytes, None).unwrap();
            let bytes = read.to_vec().unwrap();
            let first = expected.iter().rposition(|(base, _)| *base <= offset).unwrap();
            prop_assert_eq!(read.first_batch_offset, expected[first].0);
            // The first batch whole, then whole batches while they fit.
            prop_assert!(bytes.starts_with(&expected[first].1));
            let mut at = 0;
            let mut index = first;
            while at < bytes.len() {
                let batch = &expected[index].1;
                prop_assert_eq!(&bytes[at..at + batch.len()], &batch[..]);
                at += batch.len();
                index += 1;
            }
            prop_assert!(index == first + 1 || at as u32 <= max_bytes);
        }
    }
}
