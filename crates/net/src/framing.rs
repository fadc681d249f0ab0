//! Size-prefixed frames, the outer layer of the Kafka wire protocol.
//!
//! Every request and response is a frame:
//!
//! ```text
//! size     i32, big-endian: number of payload bytes that follow (not counting itself)
//! payload  `size` bytes: request header + request body
//! ```
//!
//! A socket read can end anywhere: inside the size prefix, inside a payload, or after many
//! whole frames. [`FrameDecoder`] keeps the state between reads and hands out each payload,
//! either lent straight from the read buffer (a frame wholly inside one read) or assembled
//! in its own buffer (a frame spread over reads). The size is checked against
//! `request_bytes_max` (Kafka's `socket.request.max.bytes`) as soon as its four bytes are
//! in, before any memory is reserved for the payload, so a hostile prefix cannot make the
//! broker allocate 2 GB.

use std::fmt;

/// Bytes of the size prefix in front of every frame.
pub const SIZE_PREFIX_BYTES: usize = 4;

/// Why a connection's byte stream cannot be framed. The connection must be closed: there
/// is no way to find the next frame boundary after a bad size prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// The size prefix is negative.
    NegativeSize { size: i32 },
    /// The size prefix is above the configured limit.
    TooLarge {
        size_bytes: usize,
        request_bytes_max: usize,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::NegativeSize { size } => write!(formatter, "frame size is negative: {size}"),
            Self::TooLarge {
                size_bytes,
                request_bytes_max,
            } => write!(
                formatter,
                "frame of {size_bytes} bytes is larger than request_bytes_max \
                 ({request_bytes_max} bytes)"
            ),
        }
    }
}

impl std::error::Error for FrameError {}

/// A frame handed out by [`FrameDecoder::decode_each`].
#[derive(Debug)]
pub enum FrameBytes<'a> {
    /// Lent from the input: the whole frame came in one read.
    Borrowed(&'a [u8]),
    /// Assembled from several reads.
    Owned(Vec<u8>),
}

impl FrameBytes<'_> {
    pub fn as_slice(&self) -> &[u8] {
        match self {
            Self::Borrowed(bytes) => bytes,
            Self::Owned(bytes) => bytes,
        }
    }

    pub fn into_vec(self) -> Vec<u8> {
        match self {
            Self::Borrowed(bytes) => bytes.to_vec(),
            Self::Owned(bytes) => bytes,
        }
    }
}

/// Turns the bytes of successive socket reads into whole frame payloads.
#[derive(Debug)]
pub struct FrameDecoder {
    request_bytes_max: usize,
    prefix: [u8; SIZE_PREFIX_BYTES],
    prefix_filled_bytes: usize,
    /// Size of the frame whose payload is being read; `None` while reading a prefix.
    payload_size_bytes: Option<usize>,
    /// Capacity is reserved only once the size has passed the checks.
    payload: Vec<u8>,
    /// Set on the first error; the decoder refuses all later input.
    failure: Option<FrameError>,
}

impl FrameDecoder {
    pub fn new(request_bytes_max: usize) -> Self {
        Self {
            request_bytes_max,
            prefix: [0; SIZE_PREFIX_BYTES],
            prefix_filled_bytes: 0,
            payload_size_bytes: None,
            payload: Vec::new(),
            failure: None,
        }
    }

    pub fn request_bytes_max(&self) -> usize {
        self.request_bytes_max
    }

    /// Bytes received for the frame in progress (prefix and payload), not yet handed out.
    pub fn partial_frame_bytes(&self) -> usize {
        match self.payload_size_bytes {
            None => self.prefix_filled_bytes,
            Some(_) => SIZE_PREFIX_BYTES + self.payload.len(),
        }
    }

    /// Consumes one read's worth of `input` and appends each frame it completes to `frames`.
    ///
    /// On error, the frames completed before the bad prefix are already in `frames`, and
    /// every later call returns the same error.
    pub fn decode(&mut self, input: &[u8], frames: &mut Vec<Vec<u8>>) -> Result<(), FrameError> {
        self.decode_each(input, |frame| frames.push(frame.into_vec()))
    }

    /// Consumes one read's worth of `input`, handing each frame it completes to `on_frame`
    /// in order. A frame wholly inside `input` is lent straight out of it (no copy); one
    /// spread over reads comes out of the decoder's buffer. Errors as [`Self::decode`].
    pub fn decode_each(
        &mut self,
        mut input: &[u8],
        mut on_frame: impl FnMut(FrameBytes<'_>),
    ) -> Result<(), FrameError> {
        if let Some(failure) = self.failure {
            return Err(failure);
        }
        while !input.is_empty() {
            if self.payload_size_bytes.is_none() && self.prefix_filled_bytes == 0 {
                if let Some((size_bytes, rest)) = self.whole_frame_prefix(input)? {
                    on_frame(FrameBytes::Borrowed(&rest[..size_bytes]));
                    input = &rest[size_bytes..];
                    continue;
                }
            }
            let consumed = match self.payload_size_bytes {
                None => self.read_prefix(input)?,
                Some(size_bytes) => self.read_payload(input, size_bytes),
            };
            input = &input[consumed..];
            if self.payload_size_bytes == Some(self.payload.len()) {
                self.payload_size_bytes = None;
                on_frame(FrameBytes::Owned(std::mem::take(&mut self.payload)));
            }
        }
        Ok(())
    }

    /// When `input` starts with a whole frame, its checked size and the bytes after the
    /// prefix; `None` when the frame (or its prefix) continues past `input`.
    fn whole_frame_prefix<'a>(
        &mut self,
        input: &'a [u8],
    ) -> Result<Option<(usize, &'a [u8])>, FrameError> {
        let Some((prefix, rest)) = input.split_first_chunk::<SIZE_PREFIX_BYTES>() else {
            return Ok(None);
        };
        let size = i32::from_be_bytes(*prefix);
        let size_bytes = self.check_size(size)?;
        Ok((rest.len() >= size_bytes).then_some((size_bytes, rest)))
    }

    fn read_prefix(&mut self, input: &[u8]) -> Result<usize, FrameError> {
        let wanted = SIZE_PREFIX_BYTES - self.prefix_filled_bytes;
        let taken = wanted.min(input.len());
        self.prefix[self.prefix_filled_bytes..self.prefix_filled_bytes + taken]
            .copy_from_slice(&input[..taken]);
        self.prefix_filled_bytes += taken;
        if self.prefix_filled_bytes == SIZE_PREFIX_BYTES {
            let size_bytes = self.check_size(i32::from_be_bytes(self.prefix))?;
            self.prefix_filled_bytes = 0;
            self.payload = Vec::with_capacity(size_bytes);
            self.payload_size_bytes = Some(size_bytes);
        }
        Ok(taken)
    }

    fn read_payload(&mut self, input: &[u8], size_bytes: usize) -> usize {
        let taken = (size_bytes - self.payload.len()).min(input.len());
        self.payload.extend_from_slice(&input[..taken]);
        taken
    }

    fn check_size(&mut self, size: i32) -> Result<usize, FrameError> {
        let checked = match usize::try_from(size) {
            Err(_) => Err(FrameError::NegativeSize { size }),
            Ok(size_bytes) if size_bytes > self.request_bytes_max => Err(FrameError::TooLarge {
                size_bytes,
                request_bytes_max: self.request_bytes_max,
            }),
            Ok(size_bytes) => Ok(size_bytes),
        };
        if let Err(failure) = checked {
            self.failure = Some(failure);
        }
        checked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kafka's default `socket.request.max.bytes`.
    const REQUEST_BYTES_MAX: usize = 100 * 1024 * 1024;

    fn frame(payload: &[u8]) -> Vec<u8> {
        let mut bytes = (payload.len() as i32).to_be_bytes().to_vec();
        bytes.extend_from_slice(payload);
        bytes
    }

    fn payloads() -> Vec<Vec<u8>> {
        vec![
            b"first".to_vec(),
            Vec::new(),
            (0..=255u8).collect(),
            b"x".to_vec(),
            b"last frame".to_vec(),
        ]
    }

    fn stream_of(payloads: &[Vec<u8>]) -> Vec<u8> {
        payloads.iter().flat_map(|payload| frame(payload)).collect()
    }

    fn decode_all(decoder: &mut FrameDecoder, reads: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut frames = Vec::new();
        for read in reads {
            decoder.decode(read, &mut frames).unwrap();
        }
        frames
    }

    #[test]
    fn one_frame_in_one_read() {
        let mut decoder = FrameDecoder::new(REQUEST_BYTES_MAX);
        let frames = decode_all(&mut decoder, &[&frame(b"hello")]);
        assert_eq!(frames, vec![b"hello".to_vec()]);
        assert_eq!(decoder.partial_frame_bytes(), 0);
    }

    #[test]
    fn many_frames_in_one_read_come_out_in_order() {
        let mut decoder = FrameDecoder::new(REQUEST_BYTES_MAX);
        let frames = decode_all(&mut decoder, &[&stream_of(&payloads())]);
        assert_eq!(frames, payloads());
    }

    #[test]
    fn a_stream_split_into_two_reads_at_every_byte_gives_the_same_frames() {
        let stream = stream_of(&payloads());
        for split in 0..=stream.len() {
            let mut decoder = FrameDecoder::new(REQUEST_BYTES_MAX);
            let (head, tail) = stream.split_at(split);
            let frames = decode_all(&mut decoder, &[head, tail]);
            assert_eq!(frames, payloads(), "split at byte {split}");
            assert_eq!(decoder.partial_frame_bytes(), 0);
        }
    }

    #[test]
    fn a_stream_fed_one_byte_per_read_gives_the_same_frames() {
        let stream = stream_of(&payloads());
        let reads: Vec<&[u8]> = stream.chunks(1).collect();
        let mut decoder = FrameDecoder::new(REQUEST_BYTES_MAX);
        assert_eq!(decode_all(&mut decoder, &reads), payloads());
    }

    #[test]
    fn frames_wholly_inside_a_read_are_lent_and_frames_spread_over_reads_are_assembled() {
        let mut decoder = FrameDecoder::new(REQUEST_BYTES_MAX);
        let mut stream = stream_of(&[b"whole".to_vec(), b"spread".to_vec()]);
        stream.truncate(stream.len() - 2);
        let mut seen = Vec::new();
        decoder
            .decode_each(&stream, |frame| seen.push(frame.into_vec()))
            .unwrap();
        decoder
            .decode_each(b"ad", |frame| {
                assert!(matches!(frame, FrameBytes::Owned(_)));
                seen.push(frame.into_vec());
            })
            .unwrap();
        assert_eq!(seen, vec![b"whole".to_vec(), b"spread".to_vec()]);

        let mut lent = 0;
        decoder
            .decode_each(&stream_of(&payloads()), |frame| {
                lent += usize::from(matches!(frame, FrameBytes::Borrowed(_)));
            })
            .unwrap();
        assert_eq!(lent, payloads().len());
    }

    #[test]
    fn an_incomplete_frame_is_held_until_the_rest_arrives() {
        let mut decoder = FrameDecoder::new(REQUEST_BYTES_MAX);
        let bytes = frame(b"hello");
        let mut frames = Vec::new();
        decoder.decode(&bytes[..6], &mut frames).unwrap();
        assert!(frames.is_empty());
        assert_eq!(decoder.partial_frame_bytes(), 6);
        decoder.decode(&bytes[6..], &mut frames).unwrap();
        assert_eq!(frames, vec![b"hello".to_vec()]);
    }

    #[test]
    fn a_2_gb_size_prefix_is_rejected_before_any_payload_is_allocated() {
        let mut decoder = FrameDecoder::new(REQUEST_BYTES_MAX);
        let mut frames = Vec::new();
        let error = decoder
            .decode(&i32::MAX.to_be_bytes(), &mut frames)
            .unwrap_err();
        assert_eq!(
            error,
            FrameError::TooLarge {
                size_bytes: i32::MAX as usize,
                request_bytes_max: REQUEST_BYTES_MAX,
            }
        );
        assert_eq!(decoder.payload.capacity(), 0);
        assert!(frames.is_empty());
    }

    #[test]
    fn a_negative_size_prefix_is_rejected() {
        for size in [-1i32, i32::MIN] {
            let mut decoder = FrameDecoder::new(REQUEST_BYTES_MAX);
            let error = decoder
                .decode(&size.to_be_bytes(), &mut Vec::new())
                .unwrap_err();
            assert_eq!(error, FrameError::NegativeSize { size });
            assert_eq!(decoder.payload.capacity(), 0);
        }
    }

    #[test]
    fn a_frame_of_exactly_request_bytes_max_is_accepted_and_one_more_byte_is_not() {
        let limit = 1024;
        let mut decoder = FrameDecoder::new(limit);
        let frames = decode_all(&mut decoder, &[&frame(&vec![7u8; limit])]);
        assert_eq!(frames, vec![vec![7u8; limit]]);

        let error = decoder
            .decode(&frame(&vec![7u8; limit + 1]), &mut Vec::new())
            .unwrap_err();
        assert_eq!(
            error,
            FrameError::TooLarge {
                size_bytes: limit + 1,
                request_bytes_max: limit,
            }
        );
    }

    #[test]
    fn frames_before_a_bad_prefix_are_delivered_and_the_decoder_stays_failed() {
        let mut decoder = FrameDecoder::new(REQUEST_BYTES_MAX);
        let mut read = frame(b"good");
        read.extend_from_slice(&(-5i32).to_be_bytes());
        read.extend_from_slice(&frame(b"never"));
        let mut frames = Vec::new();
        let error = decoder.decode(&read, &mut frames).unwrap_err();
        assert_eq!(error, FrameError::NegativeSize { size: -5 });
        assert_eq!(frames, vec![b"good".to_vec()]);

        let later = decoder.decode(&frame(b"later"), &mut frames).unwrap_err();
        assert_eq!(later, error);
        assert_eq!(frames, vec![b"good".to_vec()]);
    }

    #[test]
    fn a_size_prefix_split_across_reads_is_checked_when_complete() {
        let mut decoder = FrameDecoder::new(16);
        let prefix = 17i32.to_be_bytes();
        let mut frames = Vec::new();
        decoder.decode(&prefix[..3], &mut frames).unwrap();
        let error = decoder.decode(&prefix[3..], &mut frames).unwrap_err();
        assert!(matches!(error, FrameError::TooLarge { size_bytes: 17, .. }));
    }

    #[test]
    fn errors_explain_themselves() {
        let error = FrameError::TooLarge {
            size_bytes: 2_147_483_647,
            request_bytes_max: 104_857_600,
        };
        assert_eq!(
            error.to_string(),
            "frame of 2147483647 bytes is larger than request_bytes_max (104857600 bytes)"
        );
    }
}
