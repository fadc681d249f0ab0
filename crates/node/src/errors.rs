//! The binding's one error contract. Every failure of a log operation reaches JS as an
//! `Error` whose `code` property napi-rs sets from [`ErrorCode`] (the status of a
//! `napi::Error<ErrorCode>`), synchronous calls and promises alike; `src/native.ts` reads
//! that property (no message parsing) and `src/handlers/common.ts` maps each code to a
//! Kafka error in one exhaustive table, checked against [`native_error_codes`] by
//! `test/unit/errors.test.ts`.

use napi::bindgen_prelude::{Env, FromNapiValue, JsError, Unknown};
use napi_derive::napi;
use sluice_storage::log::LogError;
use sluice_storage::producer_state::ProducerStateError;

/// Why a native log operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// `LogError::OffsetOutOfRange`.
    OffsetOutOfRange,
    /// `LogError::InvalidBatch`: the append buffer is not whole v2 batches.
    CorruptMessage,
    /// `LogError::EmptyAppend`.
    EmptyAppend,
    /// `LogError::UnexpectedAppendOffset`: a replica append out of order.
    UnexpectedAppendOffset,
    /// `LogError::LogStartOffsetAboveHighWatermark` (DeleteRecords past the HW).
    LogStartOffsetAboveHighWatermark,
    /// `ProducerStateError::OutOfOrderSequence`.
    OutOfOrderSequenceNumber,
    /// `ProducerStateError::InvalidProducerEpoch`.
    InvalidProducerEpoch,
    /// `ProducerStateError::InvalidTxnState`.
    InvalidTxnState,
    /// `ProducerStateError::TransactionCoordinatorFenced`: a marker from an older
    /// coordinator.
    TransactionCoordinatorFenced,
    /// `LogError::Io`, or a panicked operation that left the log unusable.
    StorageError,
    /// The log was closed or deleted.
    LogClosed,
    /// A bad argument from the caller (a broker bug).
    InvalidArgument,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 12] = [
        Self::OffsetOutOfRange,
        Self::CorruptMessage,
        Self::EmptyAppend,
        Self::UnexpectedAppendOffset,
        Self::LogStartOffsetAboveHighWatermark,
        Self::OutOfOrderSequenceNumber,
        Self::InvalidProducerEpoch,
        Self::InvalidTxnState,
        Self::TransactionCoordinatorFenced,
        Self::StorageError,
        Self::LogClosed,
        Self::InvalidArgument,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::OffsetOutOfRange => "OFFSET_OUT_OF_RANGE",
            Self::CorruptMessage => "CORRUPT_MESSAGE",
            Self::EmptyAppend => "EMPTY_APPEND",
            Self::UnexpectedAppendOffset => "UNEXPECTED_APPEND_OFFSET",
            Self::LogStartOffsetAboveHighWatermark => "LOG_START_OFFSET_ABOVE_HIGH_WATERMARK",
            Self::OutOfOrderSequenceNumber => "OUT_OF_ORDER_SEQUENCE_NUMBER",
            Self::InvalidProducerEpoch => "INVALID_PRODUCER_EPOCH",
            Self::InvalidTxnState => "INVALID_TXN_STATE",
            Self::TransactionCoordinatorFenced => "TRANSACTION_COORDINATOR_FENCED",
            Self::StorageError => "STORAGE_ERROR",
            Self::LogClosed => "LOG_CLOSED",
            Self::InvalidArgument => "INVALID_ARGUMENT",
        }
    }

    /// The code of a storage error: one arm per variant, so a new `LogError` cannot
    /// compile without a code.
    pub fn of(error: &LogError) -> Self {
        match error {
            LogError::OffsetOutOfRange { .. } => Self::OffsetOutOfRange,
            LogError::InvalidBatch(_) => Self::CorruptMessage,
            LogError::EmptyAppend => Self::EmptyAppend,
            LogError::UnexpectedAppendOffset { .. } => Self::UnexpectedAppendOffset,
            LogError::LogStartOffsetAboveHighWatermark { .. } => {
                Self::LogStartOffsetAboveHighWatermark
            }
            LogError::ProducerState(ProducerStateError::OutOfOrderSequence { .. }) => {
                Self::OutOfOrderSequenceNumber
            }
            LogError::ProducerState(ProducerStateError::InvalidProducerEpoch { .. }) => {
                Self::InvalidProducerEpoch
            }
            LogError::ProducerState(ProducerStateError::InvalidTxnState { .. }) => {
                Self::InvalidTxnState
            }
            LogError::ProducerState(ProducerStateError::TransactionCoordinatorFenced {
                ..
            }) => Self::TransactionCoordinatorFenced,
            LogError::Io(_) => Self::StorageError,
        }
    }
}

impl AsRef<str> for ErrorCode {
    fn as_ref(&self) -> &str {
        self.name()
    }
}

/// A failure with its code; thrown by napi-rs as a JS `Error` with `code` set.
pub type NativeError = napi::Error<ErrorCode>;
pub type NativeResult<T> = std::result::Result<T, NativeError>;

pub fn coded(code: ErrorCode, message: impl std::fmt::Display) -> NativeError {
    napi::Error::new(code, message.to_string())
}

pub fn thrown(error: LogError) -> NativeError {
    coded(ErrorCode::of(&error), error)
}

pub fn invalid(message: impl std::fmt::Display) -> NativeError {
    coded(ErrorCode::InvalidArgument, message)
}

/// A napi-rs failure (a bad argument type or value) as an `INVALID_ARGUMENT`.
pub fn from_napi(error: napi::Error) -> NativeError {
    coded(ErrorCode::InvalidArgument, error.reason)
}

/// A coded failure as a promise rejection: the JS error is built here, on the JS thread,
/// with its `code`, and napi-rs rejects with that very object.
pub fn rejection(env: &Env, error: NativeError) -> napi::Error {
    // SAFETY: `env` is the live environment of the JS thread this runs on (a task's
    // `resolve`), and the value comes straight from napi.
    unsafe {
        let value = JsError::from(error).into_value(env.raw());
        match Unknown::from_napi_value(env.raw(), value) {
            Ok(unknown) => napi::Error::from(unknown),
            Err(error) => error,
        }
    }
}

/// Settles a task's output: a value, or a rejection carrying its code.
pub fn settle<T>(env: &Env, output: NativeResult<T>) -> napi::Result<T> {
    output.map_err(|error| rejection(env, error))
}

/// The name of every code the binding throws, for the exhaustive-mapping test.
#[napi]
pub fn native_error_codes() -> Vec<String> {
    ErrorCode::ALL
        .iter()
        .map(|code| code.name().to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_distinct_name() {
        let mut names: Vec<&str> = ErrorCode::ALL.iter().map(|code| code.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::ALL.len());
    }
}
