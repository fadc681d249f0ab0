//! Node-API binding: a thin layer that converts arguments and results between JavaScript
//! and the pure Rust crates. No broker logic lives here.
//!
//! The generated `native/index.js` / `index.d.ts` come from these declarations; the
//! TypeScript side imports them only through `src/native.ts`.

/// jemalloc for every Rust allocation of the addon (see Cargo.toml for why).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

pub mod cleaner;
pub mod codec;
pub mod errors;
pub mod log;
pub mod net;
pub mod replica;

use napi_derive::napi;
use sluice_storage::record_batch::{self, RecordBatchError};

/// CRC32C (Castagnoli) of all bytes of `bytes` (a Buffer or any Uint8Array).
#[napi(js_name = "crc32c")]
pub fn crc32c(bytes: &[u8]) -> u32 {
    sluice_storage::crc32c::crc32c(bytes)
}

/// Why a record batch failed validation.
#[napi(string_enum = "UPPER_SNAKE")]
#[derive(Debug, PartialEq, Eq)]
pub enum RecordBatchErrorCode {
    TooShort,
    BadMagic,
    LengthMismatch,
    CrcMismatch,
}

/// A failed validation: a stable code to branch on and a message for logs.
#[napi(object)]
pub struct RecordBatchProblem {
    pub code: RecordBatchErrorCode,
    pub message: String,
}

/// Checks that `bytes` hold exactly one record batch v2 (size, magic, length) whose CRC32C
/// matches. Returns `null` when it is valid: bad input is an expected outcome on the
/// produce path, so it is a value, not an exception.
#[napi]
pub fn validate_record_batch_crc(bytes: &[u8]) -> Option<RecordBatchProblem> {
    record_batch::validate_record_batch_crc(bytes)
        .err()
        .map(problem_of)
}

/// Version of the native addon (the Cargo workspace version).
#[napi]
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

fn problem_of(error: RecordBatchError) -> RecordBatchProblem {
    let code = match error {
        RecordBatchError::TooShort { .. } => RecordBatchErrorCode::TooShort,
        RecordBatchError::BadMagic { .. } => RecordBatchErrorCode::BadMagic,
        RecordBatchError::LengthMismatch { .. } => RecordBatchErrorCode::LengthMismatch,
        RecordBatchError::CrcMismatch { .. } => RecordBatchErrorCode::CrcMismatch,
    };
    RecordBatchProblem {
        code,
        message: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_record_batch_error_maps_to_its_code_and_keeps_its_message() {
        let cases = [
            (
                RecordBatchError::TooShort { buffer_bytes: 3 },
                RecordBatchErrorCode::TooShort,
            ),
            (
                RecordBatchError::BadMagic { magic: 1 },
                RecordBatchErrorCode::BadMagic,
            ),
            (
                RecordBatchError::LengthMismatch {
                    batch_length: 100,
                    buffer_bytes: 70,
                },
                RecordBatchErrorCode::LengthMismatch,
            ),
            (
                RecordBatchError::CrcMismatch {
                    stored: 1,
                    computed: 2,
                },
                RecordBatchErrorCode::CrcMismatch,
            ),
        ];
        for (error, expected_code) in cases {
            let problem = problem_of(error);
            assert_eq!(problem.code, expected_code);
            assert_eq!(problem.message, error.to_string());
        }
    }

    #[test]
    fn validation_of_too_few_bytes_reports_too_short() {
        let problem = validate_record_batch_crc(&[0u8; 10]).expect("a problem");
        assert_eq!(problem.code, RecordBatchErrorCode::TooShort);
    }

    #[test]
    fn crc32c_of_the_check_string() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    }
}
