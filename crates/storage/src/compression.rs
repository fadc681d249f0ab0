//! Kafka's record compression codecs: gzip, snappy, lz4 and zstd, byte-compatible with the
//! Java client (`org.apache.kafka.common.compress`).
//!
//! In a record batch v2 the whole records section (everything after the 61-byte header) is
//! compressed as one stream; bits 0-2 of `attributes` name the codec (0 none, 1 gzip,
//! 2 snappy, 3 lz4, 4 zstd). The streams are:
//!
//! ```text
//! gzip    RFC 1952 members (Java's GZIPOutputStream); a reader accepts concatenated members
//! snappy  snappy-java's "xerial" framing, not the official snappy frame format:
//!           0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00   magic (8 bytes)
//!           version i32 BE = 1, compatible version i32 BE = 1
//!           then blocks: length i32 BE + one raw snappy block (32 KiB of input each)
//!         snappy-java also reads input without the magic as one raw snappy block, and a
//!         second magic header between blocks (concatenated streams); so do we
//! lz4     the standard LZ4 frame (magic 0x184D2204), 64 KiB independent blocks, no block or
//!         content checksum, no content size: what KafkaLZ4BlockOutputStream writes. Magic v0
//!         message sets carry a header checksum computed over the magic bytes too (an old
//!         Kafka bug, KAFKA-3160); readers of v0 ignore it, as Kafka does
//! zstd    standard zstd frames (zstd-jni); a reader accepts concatenated frames
//! ```
//!
//! Decompression streams with bounded memory: every reader takes a `decompressed_bytes_max`
//! and fails with [`CompressionError::TooLarge`] as soon as the output would pass it, so a
//! decompression bomb costs at most that many bytes of CPU work and a fixed amount of
//! memory (codec windows: 32 KiB gzip, 64 KiB-4 MiB lz4 blocks, at most 128 MiB zstd window,
//! snappy blocks never larger than what is left of the limit).

use std::borrow::Cow;
use std::fmt;
use std::io::{self, Read, Write};

use crate::crc32c::crc32c;
use crate::record_batch::{
    RecordBatchError, RecordBatchView, COMPRESSION_ATTRIBUTE_MASK, CRC_OFFSET, CRC_START_OFFSET,
    HEADER_BYTES, LOG_OVERHEAD_BYTES, MAGIC_V2,
};

/// zstd frames may ask for a window up to 2^27 bytes (128 MiB), libzstd's default limit,
/// which zstd-jni (Kafka) also keeps: producers at levels 19-22 need it.
pub const ZSTD_WINDOW_LOG_MAX: u32 = 27;

/// snappy-java's stream header: magic, then version and compatible version (both 1).
pub const XERIAL_SNAPPY_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
const XERIAL_SNAPPY_HEADER_BYTES: usize = 16;
const XERIAL_SNAPPY_VERSION: i32 = 1;
/// snappy-java's default block size (SnappyOutputStream), which Kafka uses.
const XERIAL_SNAPPY_BLOCK_BYTES: usize = 32 * 1024;

const LZ4_FRAME_MAGIC: [u8; 4] = 0x184D_2204u32.to_le_bytes();

/// A codec a record batch's attributes can name, with Kafka's ids and names
/// (`compression.type` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl Compression {
    pub const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    /// The id stored in attributes bits 0-2.
    pub fn id(self) -> u8 {
        match self {
            Self::None => 0,
            Self::Gzip => 1,
            Self::Snappy => 2,
            Self::Lz4 => 3,
            Self::Zstd => 4,
        }
    }

    pub fn from_id(id: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|codec| codec.id() == id)
    }

    /// The codec named by the low three bits of `attributes`; ids 5-7 are unknown.
    pub fn from_attributes(attributes: i16) -> Result<Self, CompressionError> {
        let id = (attributes & COMPRESSION_ATTRIBUTE_MASK) as u8;
        Self::from_id(id).ok_or(CompressionError::UnknownCodec { id })
    }

    /// Kafka's name: `none`, `gzip`, `snappy`, `lz4`, `zstd`.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Gzip => "gzip",
            Self::Snappy => "snappy",
            Self::Lz4 => "lz4",
            Self::Zstd => "zstd",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|codec| codec.name() == name)
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// Why compressing or decompressing failed. Bad input (a client's or a disk's), never a
/// programmer error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompressionError {
    /// Attributes name codec id 5, 6 or 7.
    UnknownCodec { id: u8 },
    /// The decompressed bytes would pass the caller's limit (a decompression bomb, or a
    /// batch too large to handle).
    TooLarge { decompressed_bytes_max: u64 },
    /// The compressed bytes are not a valid stream of their codec (garbage, truncated,
    /// bad checksum).
    Corrupt {
        compression: Compression,
        reason: String,
    },
    /// A level outside the codec's range (gzip 1-9, zstd -131072..=22).
    InvalidLevel {
        compression: Compression,
        level: i32,
    },
    /// The input batch is not a valid record batch v2.
    InvalidBatch(RecordBatchError),
    /// The batch to write would be larger than a batch length (i32) can say.
    BatchTooLarge { bytes: usize },
}

impl fmt::Display for CompressionError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownCodec { id } => write!(formatter, "unknown compression codec id {id}"),
            Self::TooLarge {
                decompressed_bytes_max,
            } => write!(
                formatter,
                "decompressed records exceed the limit of {decompressed_bytes_max} bytes"
            ),
            Self::Corrupt {
                compression,
                reason,
            } => write!(formatter, "invalid {compression} data: {reason}"),
            Self::InvalidLevel { compression, level } => {
                write!(formatter, "{compression} does not support level {level}")
            }
            Self::InvalidBatch(error) => write!(formatter, "{error}"),
            Self::BatchTooLarge { bytes } => {
                write!(formatter, "a record batch of {bytes} bytes is too large")
            }
        }
    }
}

impl std::error::Error for CompressionError {}

impl From<RecordBatchError> for CompressionError {
    fn from(error: RecordBatchError) -> Self {
        Self::InvalidBatch(error)
    }
}

fn corrupt(compression: Compression, reason: impl fmt::Display) -> CompressionError {
    CompressionError::Corrupt {
        compression,
        reason: reason.to_string(),
    }
}

// ---------------------------------------------------------------------------------------
// Decompression

/// A streaming reader of decompressed bytes that never yields more than
/// `decompressed_bytes_max` bytes: past that it fails with [`CompressionError::TooLarge`].
pub struct Decompressor<'a> {
    compression: Compression,
    source: Source<'a>,
    produced_bytes: u64,
    decompressed_bytes_max: u64,
}

enum Source<'a> {
    None(&'a [u8]),
    Gzip(Box<flate2::read::MultiGzDecoder<&'a [u8]>>),
    Snappy(XerialSnappyReader<'a>),
    Lz4(Box<lz4_flex::frame::FrameDecoder<io::Cursor<Cow<'a, [u8]>>>>),
    Zstd(ZstdReader<'a>),
}

impl<'a> Decompressor<'a> {
    /// A reader of the decompressed form of `compressed`, as written in a record batch v2.
    pub fn new(
        compression: Compression,
        compressed: &'a [u8],
        decompressed_bytes_max: u64,
    ) -> Result<Self, CompressionError> {
        Self::for_magic(compression, compressed, MAGIC_V2, decompressed_bytes_max)
    }

    /// Like [`Decompressor::new`] for a message of format `magic` (0, 1 or 2): lz4 in magic
    /// 0 has a header checksum Kafka never checks.
    pub fn for_magic(
        compression: Compression,
        compressed: &'a [u8],
        magic: i8,
        decompressed_bytes_max: u64,
    ) -> Result<Self, CompressionError> {
        let source = match compression {
            Compression::None => Source::None(compressed),
            Compression::Gzip => {
                Source::Gzip(Box::new(flate2::read::MultiGzDecoder::new(compressed)))
            }
            Compression::Snappy => {
                Source::Snappy(XerialSnappyReader::new(compressed, decompressed_bytes_max))
            }
            Compression::Lz4 => {
                check_lz4_frame_complete(compressed)?;
                let frame = if magic == 0 {
                    Cow::Owned(with_lz4_header_checksum_fixed(compressed))
                } else {
                    Cow::Borrowed(compressed)
                };
                Source::Lz4(Box::new(lz4_flex::frame::FrameDecoder::new(
                    io::Cursor::new(frame),
                )))
            }
            Compression::Zstd => Source::Zstd(
                ZstdReader::new(compressed).map_err(|error| corrupt(compression, error))?,
            ),
        };
        Ok(Self {
            compression,
            source,
            produced_bytes: 0,
            decompressed_bytes_max,
        })
    }

    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// Bytes produced so far.
    pub fn produced_bytes(&self) -> u64 {
        self.produced_bytes
    }

    /// Reads decompressed bytes into `buffer`; `Ok(0)` at the end of the stream.
    pub fn read_decompressed(&mut self, buffer: &mut [u8]) -> Result<usize, CompressionError> {
        if buffer.is_empty() {
            return Ok(0);
        }
        // Ask for at most one byte past the limit: enough to notice a bomb, never more work.
        let allowed = self
            .decompressed_bytes_max
            .saturating_sub(self.produced_bytes)
            .saturating_add(1);
        let wanted =
            usize::try_from(allowed).map_or(buffer.len(), |allowed| allowed.min(buffer.len()));
        let compression = self.compression;
        let read = match &mut self.source {
            Source::None(bytes) => bytes
                .read(&mut buffer[..wanted])
                .map_err(|e| corrupt(compression, e)),
            Source::Gzip(decoder) => read_io(compression, decoder.as_mut(), &mut buffer[..wanted]),
            Source::Snappy(reader) => reader.read(&mut buffer[..wanted]),
            Source::Lz4(decoder) => read_io(compression, decoder.as_mut(), &mut buffer[..wanted]),
            Source::Zstd(reader) => read_io(compression, reader, &mut buffer[..wanted]),
        }?;
        self.produced_bytes += read as u64;
        if self.produced_bytes > self.decompressed_bytes_max {
            return Err(CompressionError::TooLarge {
                decompressed_bytes_max: self.decompressed_bytes_max,
            });
        }
        Ok(read)
    }

    /// Reads the rest of the stream into a vector.
    pub fn read_to_end(mut self) -> Result<Vec<u8>, CompressionError> {
        let mut output = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let read = self.read_decompressed(&mut chunk)?;
            if read == 0 {
                return Ok(output);
            }
            output.extend_from_slice(&chunk[..read]);
        }
    }
}

impl Read for Decompressor<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        self.read_decompressed(buffer).map_err(io::Error::other)
    }
}

fn read_io(
    compression: Compression,
    reader: &mut dyn Read,
    buffer: &mut [u8],
) -> Result<usize, CompressionError> {
    loop {
        match reader.read(buffer) {
            Ok(read) => return Ok(read),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => {
                return Err(corrupt(compression, "truncated stream"))
            }
            Err(error) => return Err(corrupt(compression, error)),
        }
    }
}

/// Decompresses all of `compressed` into memory, up to `decompressed_bytes_max` bytes.
pub fn decompress(
    compression: Compression,
    compressed: &[u8],
    decompressed_bytes_max: u64,
) -> Result<Vec<u8>, CompressionError> {
    Decompressor::new(compression, compressed, decompressed_bytes_max)?.read_to_end()
}

/// The records section of `batch`, decompressed if its attributes name a codec.
pub fn decompress_records<'a>(
    batch: &RecordBatchView<'a>,
    decompressed_bytes_max: u64,
) -> Result<Cow<'a, [u8]>, CompressionError> {
    match Compression::from_attributes(batch.attributes())? {
        Compression::None => Ok(Cow::Borrowed(batch.records_bytes())),
        codec => decompress(codec, batch.records_bytes(), decompressed_bytes_max).map(Cow::Owned),
    }
}

/// zstd decompression contexts kept for reuse, per thread: creating one (`ZSTD_createDCtx`)
/// cost more than decompressing a producer's 16 KiB batch (15% of the broker's CPU under
/// zstd produce load, profile in docs/performance.md).
const ZSTD_DCTX_POOL_MAX: usize = 4;
/// A context that grew past this (a frame with a large window) is freed, not kept.
const ZSTD_DCTX_POOLED_BYTES_MAX: usize = 8 * 1024 * 1024;

thread_local! {
    static ZSTD_DCTX_POOL: std::cell::RefCell<Vec<zstd::zstd_safe::DCtx<'static>>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

fn zstd_error(code: usize) -> io::Error {
    io::Error::other(zstd::zstd_safe::get_error_name(code))
}

/// Reads concatenated zstd frames from a slice, with a pooled context; behaves as
/// `zstd::stream::read::Decoder` does (a stream that ends inside a frame, or holds no frame
/// at all, is an `UnexpectedEof` error).
struct ZstdReader<'a> {
    context: Option<zstd::zstd_safe::DCtx<'static>>,
    input: &'a [u8],
    /// The last call ended a frame and no input has been fed since.
    frame_finished: bool,
    done: bool,
}

impl<'a> ZstdReader<'a> {
    fn new(input: &'a [u8]) -> io::Result<Self> {
        let pooled = ZSTD_DCTX_POOL.with(|pool| pool.borrow_mut().pop());
        let context = match pooled {
            Some(mut context) => {
                context
                    .reset(zstd::zstd_safe::ResetDirective::SessionOnly)
                    .map_err(zstd_error)?;
                context
            }
            None => {
                let mut context = zstd::zstd_safe::DCtx::try_create().ok_or_else(|| {
                    io::Error::other("zstd could not allocate a decompression context")
                })?;
                context
                    .set_parameter(zstd::zstd_safe::DParameter::WindowLogMax(
                        ZSTD_WINDOW_LOG_MAX,
                    ))
                    .map_err(zstd_error)?;
                context
            }
        };
        Ok(Self {
            context: Some(context),
            input,
            frame_finished: false,
            done: false,
        })
    }
}

impl Read for ZstdReader<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        use zstd::zstd_safe::{InBuffer, OutBuffer};
        if buffer.is_empty() || self.done {
            return Ok(0);
        }
        let context = self.context.as_mut().expect("a context until dropped");
        loop {
            let mut output = OutBuffer::around(&mut *buffer);
            let mut input = InBuffer::around(self.input);
            let hint = context
                .decompress_stream(&mut output, &mut input)
                .map_err(zstd_error)?;
            let consumed = input.pos();
            let written = output.pos();
            let fed = !self.input.is_empty();
            self.input = &self.input[consumed..];
            if hint == 0 {
                self.frame_finished = true;
            } else if consumed > 0 {
                self.frame_finished = false;
            }
            if written > 0 {
                return Ok(written);
            }
            if fed && consumed == 0 {
                // libzstd always progresses with room on both sides; never spin if it does not.
                self.done = true;
                return Err(io::Error::other("zstd made no progress"));
            }
            if !fed {
                // Nothing more to give it: complete only if the last frame was.
                self.done = true;
                return if self.frame_finished {
                    Ok(0)
                } else {
                    Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "incomplete frame",
                    ))
                };
            }
        }
    }
}

impl Drop for ZstdReader<'_> {
    fn drop(&mut self) {
        if let Some(context) = self.context.take() {
            if context.sizeof() <= ZSTD_DCTX_POOLED_BYTES_MAX {
                // try_with: the thread's pool may already be gone while the thread exits.
                let _ = ZSTD_DCTX_POOL.try_with(|pool| {
                    let mut pool = pool.borrow_mut();
                    if pool.len() < ZSTD_DCTX_POOL_MAX {
                        pool.push(context);
                    }
                });
            }
        }
    }
}

/// Walks the blocks of an lz4 frame up to its end mark. The decoder takes a frame cut
/// between two blocks for a complete one; Kafka's reader (and so every Java consumer)
/// fails on it, so such a frame must not get into a log.
fn check_lz4_frame_complete(frame: &[u8]) -> Result<(), CompressionError> {
    let truncated = || corrupt(Compression::Lz4, "truncated frame (no end mark)");
    if frame.len() < 7 || frame[..4] != LZ4_FRAME_MAGIC {
        return Ok(()); // not a frame: the decoder reports what is wrong
    }
    let flags = frame[4];
    let block_checksum_bytes = if flags & 0x10 != 0 { 4 } else { 0 };
    let mut position =
        7 + if flags & 0x08 != 0 { 8 } else { 0 } + if flags & 0x01 != 0 { 4 } else { 0 };
    loop {
        let size_bytes = frame.get(position..position + 4).ok_or_else(truncated)?;
        let size = u32::from_le_bytes(size_bytes.try_into().expect("4 bytes")) & 0x7FFF_FFFF;
        position += 4;
        if size == 0 {
            return Ok(());
        }
        position = position
            .checked_add(size as usize + block_checksum_bytes)
            .filter(|end| *end <= frame.len())
            .ok_or_else(truncated)?;
    }
}

/// Kafka before 0.10 (magic 0) computed the lz4 frame header checksum over the magic
/// bytes too. Readers of magic 0 ignore it (KafkaLZ4BlockInputStream with
/// `ignoreFlagDescriptorChecksum`); the standard decoder does not, so we rewrite it.
fn with_lz4_header_checksum_fixed(frame: &[u8]) -> Vec<u8> {
    let mut fixed = frame.to_vec();
    if fixed.len() < 7 || fixed[..4] != LZ4_FRAME_MAGIC {
        return fixed; // the decoder reports what is wrong
    }
    let flags = fixed[4];
    let has_content_size = flags & 0x08 != 0;
    let has_dictionary_id = flags & 0x01 != 0;
    let descriptor_end =
        6 + if has_content_size { 8 } else { 0 } + if has_dictionary_id { 4 } else { 0 };
    if fixed.len() > descriptor_end {
        let hash = twox_hash::XxHash32::oneshot(0, &fixed[4..descriptor_end]);
        fixed[descriptor_end] = (hash >> 8) as u8;
    }
    fixed
}

/// Reads snappy-java's framing (or one raw snappy block, as snappy-java does when the
/// magic is missing).
struct XerialSnappyReader<'a> {
    remaining: &'a [u8],
    state: SnappyState,
    block: Vec<u8>,
    block_position: usize,
    decoded_bytes: u64,
    decompressed_bytes_max: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SnappyState {
    Start,
    Blocks,
    Finished,
}

impl<'a> XerialSnappyReader<'a> {
    fn new(compressed: &'a [u8], decompressed_bytes_max: u64) -> Self {
        Self {
            remaining: compressed,
            state: SnappyState::Start,
            block: Vec::new(),
            block_position: 0,
            decoded_bytes: 0,
            decompressed_bytes_max,
        }
    }

    fn read(&mut self, buffer: &mut [u8]) -> Result<usize, CompressionError> {
        while self.block_position == self.block.len() {
            if !self.next_block()? {
                return Ok(0);
            }
        }
        let available = &self.block[self.block_position..];
        let count = available.len().min(buffer.len());
        buffer[..count].copy_from_slice(&available[..count]);
        self.block_position += count;
        Ok(count)
    }

    /// Decodes the next block into `self.block`; false at the end of the stream.
    fn next_block(&mut self) -> Result<bool, CompressionError> {
        loop {
            match self.state {
                SnappyState::Finished => return Ok(false),
                SnappyState::Start => {
                    if self.remaining.is_empty() {
                        return Err(corrupt(Compression::Snappy, "empty stream"));
                    }
                    if self.remaining.len() < XERIAL_SNAPPY_HEADER_BYTES
                        || self.remaining[..8] != XERIAL_SNAPPY_MAGIC
                    {
                        // No header: the whole input is one raw snappy block.
                        let raw = std::mem::take(&mut self.remaining);
                        self.state = SnappyState::Finished;
                        self.decode_block(raw)?;
                        return Ok(true);
                    }
                    self.skip_header()?;
                    self.state = SnappyState::Blocks;
                }
                SnappyState::Blocks => {
                    // snappy-java stops quietly when fewer than 4 bytes are left.
                    if self.remaining.len() < 4 {
                        self.state = SnappyState::Finished;
                        return Ok(false);
                    }
                    let length_bytes: [u8; 4] = self.remaining[..4].try_into().expect("4 bytes");
                    if length_bytes == XERIAL_SNAPPY_MAGIC[..4] {
                        // Another stream's header: concatenated streams.
                        if self.remaining.len() < XERIAL_SNAPPY_HEADER_BYTES {
                            return Err(corrupt(
                                Compression::Snappy,
                                "truncated header of a concatenated stream",
                            ));
                        }
                        if self.remaining[..8] != XERIAL_SNAPPY_MAGIC {
                            self.state = SnappyState::Finished;
                            return Ok(false);
                        }
                        self.skip_header()?;
                        continue;
                    }
                    let length = i32::from_be_bytes(length_bytes);
                    let length = usize::try_from(length).map_err(|_| {
                        corrupt(
                            Compression::Snappy,
                            format!("negative block length {length}"),
                        )
                    })?;
                    let rest = &self.remaining[4..];
                    if rest.len() < length {
                        return Err(corrupt(
                            Compression::Snappy,
                            format!("block of {length} bytes truncated to {} bytes", rest.len()),
                        ));
                    }
                    let (block, rest) = rest.split_at(length);
                    self.remaining = rest;
                    self.decode_block(block)?;
                    if !self.block.is_empty() {
                        return Ok(true);
                    }
                }
            }
        }
    }

    fn skip_header(&mut self) -> Result<(), CompressionError> {
        let version = i32::from_be_bytes(self.remaining[8..12].try_into().expect("4 bytes"));
        if version < XERIAL_SNAPPY_VERSION {
            return Err(corrupt(
                Compression::Snappy,
                format!("stream version {version} is older than 1"),
            ));
        }
        self.remaining = &self.remaining[XERIAL_SNAPPY_HEADER_BYTES..];
        Ok(())
    }

    fn decode_block(&mut self, block: &[u8]) -> Result<(), CompressionError> {
        let length =
            snap::raw::decompress_len(block).map_err(|e| corrupt(Compression::Snappy, e))?;
        let limit_left = self
            .decompressed_bytes_max
            .saturating_sub(self.decoded_bytes);
        if length as u64 > limit_left {
            return Err(CompressionError::TooLarge {
                decompressed_bytes_max: self.decompressed_bytes_max,
            });
        }
        self.block.clear();
        self.block.resize(length, 0);
        snap::raw::Decoder::new()
            .decompress(block, &mut self.block)
            .map_err(|e| corrupt(Compression::Snappy, e))?;
        self.block_position = 0;
        self.decoded_bytes += length as u64;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Compression

/// Compresses `uncompressed` as one stream of `compression`, the way Kafka's producer
/// writes a batch's records. `level`: gzip 1-9 (default 6, Java's default), zstd
/// -131072..=22 (default 3, Kafka's default); snappy and lz4 have no levels here (lz4_flex
/// has one speed; Kafka's lz4 levels only change the ratio, not the format).
pub fn compress(
    compression: Compression,
    uncompressed: &[u8],
    level: Option<i32>,
) -> Result<Vec<u8>, CompressionError> {
    let io_error = |error: io::Error| corrupt(compression, error);
    match compression {
        Compression::None => Ok(uncompressed.to_vec()),
        Compression::Gzip => {
            let level = match level {
                None => 6,
                Some(level @ 1..=9) => level as u32,
                Some(level) => return Err(CompressionError::InvalidLevel { compression, level }),
            };
            let mut encoder = flate2::write::GzEncoder::new(
                Vec::with_capacity(uncompressed.len() / 2 + 64),
                flate2::Compression::new(level),
            );
            encoder.write_all(uncompressed).map_err(io_error)?;
            encoder.finish().map_err(io_error)
        }
        Compression::Snappy => Ok(compress_xerial_snappy(uncompressed)),
        Compression::Lz4 => {
            let frame_info = lz4_flex::frame::FrameInfo::new()
                .block_size(lz4_flex::frame::BlockSize::Max64KB)
                .block_mode(lz4_flex::frame::BlockMode::Independent)
                .block_checksums(false)
                .content_checksum(false);
            let mut encoder = lz4_flex::frame::FrameEncoder::with_frame_info(
                frame_info,
                Vec::with_capacity(uncompressed.len() / 2 + 64),
            );
            encoder.write_all(uncompressed).map_err(io_error)?;
            encoder
                .finish()
                .map_err(|error| corrupt(compression, error))
        }
        Compression::Zstd => {
            let level = match level {
                None => 3,
                Some(level @ -131_072..=22) => level,
                Some(level) => return Err(CompressionError::InvalidLevel { compression, level }),
            };
            zstd::stream::encode_all(uncompressed, level).map_err(io_error)
        }
    }
}

fn compress_xerial_snappy(uncompressed: &[u8]) -> Vec<u8> {
    let mut output = Vec::with_capacity(
        XERIAL_SNAPPY_HEADER_BYTES + snap::raw::max_compress_len(uncompressed.len()) + 64,
    );
    output.extend_from_slice(&XERIAL_SNAPPY_MAGIC);
    output.extend_from_slice(&XERIAL_SNAPPY_VERSION.to_be_bytes());
    output.extend_from_slice(&XERIAL_SNAPPY_VERSION.to_be_bytes()); // compatible version
    let mut encoder = snap::raw::Encoder::new();
    let mut block = vec![0u8; snap::raw::max_compress_len(XERIAL_SNAPPY_BLOCK_BYTES)];
    for chunk in uncompressed.chunks(XERIAL_SNAPPY_BLOCK_BYTES) {
        let length = encoder
            .compress(chunk, &mut block)
            .expect("the output buffer has max_compress_len bytes");
        output.extend_from_slice(&(length as i32).to_be_bytes());
        output.extend_from_slice(&block[..length]);
    }
    output
}

// ---------------------------------------------------------------------------------------
// Batches

/// The header fields of a record batch v2 to write. `attributes` keeps its timestamp
/// type, transactional, control and delete-horizon bits; its compression bits are replaced
/// by the codec the batch is written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    pub partition_leader_epoch: i32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub records_count: i32,
}

impl BatchHeader {
    /// The header of an existing batch.
    pub fn of(batch: &RecordBatchView<'_>) -> Self {
        Self {
            base_offset: batch.base_offset(),
            partition_leader_epoch: batch.partition_leader_epoch(),
            attributes: batch.attributes(),
            last_offset_delta: batch.last_offset_delta(),
            base_timestamp: batch.base_timestamp(),
            max_timestamp: batch.max_timestamp(),
            producer_id: batch.producer_id(),
            producer_epoch: batch.producer_epoch(),
            base_sequence: batch.base_sequence(),
            records_count: batch.records_count(),
        }
    }
}

/// Writes a whole record batch v2: `header`, then `uncompressed_records` (the records in
/// Kafka's varint encoding, back to back) compressed with `compression`; sets the
/// attributes' codec bits, the batch length and the CRC32C.
pub fn write_batch(
    header: &BatchHeader,
    uncompressed_records: &[u8],
    compression: Compression,
    level: Option<i32>,
) -> Result<Vec<u8>, CompressionError> {
    let records = match compression {
        Compression::None => Cow::Borrowed(uncompressed_records),
        codec => Cow::Owned(compress(codec, uncompressed_records, level)?),
    };
    let total_bytes = HEADER_BYTES + records.len();
    let batch_length = i32::try_from(total_bytes - LOG_OVERHEAD_BYTES)
        .map_err(|_| CompressionError::BatchTooLarge { bytes: total_bytes })?;
    let attributes =
        (header.attributes & !COMPRESSION_ATTRIBUTE_MASK) | i16::from(compression.id());
    let mut batch = Vec::with_capacity(total_bytes);
    batch.extend_from_slice(&header.base_offset.to_be_bytes());
    batch.extend_from_slice(&batch_length.to_be_bytes());
    batch.extend_from_slice(&header.partition_leader_epoch.to_be_bytes());
    batch.push(MAGIC_V2 as u8);
    batch.extend_from_slice(&0u32.to_be_bytes()); // CRC, below
    batch.extend_from_slice(&attributes.to_be_bytes());
    batch.extend_from_slice(&header.last_offset_delta.to_be_bytes());
    batch.extend_from_slice(&header.base_timestamp.to_be_bytes());
    batch.extend_from_slice(&header.max_timestamp.to_be_bytes());
    batch.extend_from_slice(&header.producer_id.to_be_bytes());
    batch.extend_from_slice(&header.producer_epoch.to_be_bytes());
    batch.extend_from_slice(&header.base_sequence.to_be_bytes());
    batch.extend_from_slice(&header.records_count.to_be_bytes());
    debug_assert_eq!(batch.len(), HEADER_BYTES);
    batch.extend_from_slice(&records);
    let crc = crc32c(&batch[CRC_START_OFFSET..]);
    batch[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    Ok(batch)
}

/// Rewrites one whole batch v2 with another codec (or none), keeping every header field
/// but the codec bits, the length and the CRC. Checks the input's CRC first. Used by
/// compaction, by `compression.type` on a topic and by tools.
pub fn recompress_batch(
    batch: &[u8],
    compression: Compression,
    level: Option<i32>,
    decompressed_bytes_max: u64,
) -> Result<Vec<u8>, CompressionError> {
    let view = RecordBatchView::new(batch)?;
    view.validate_crc()?;
    let records = decompress_records(&view, decompressed_bytes_max)?;
    write_batch(&BatchHeader::of(&view), &records, compression, level)
}

#[cfg(test)]
mod tests;
