//! WAV reading and writing: enough RIFF to parse what espeak-ng writes and to frame PCM for
//! clients, whole or streamed.
//!
//! espeak-ng writing to a pipe cannot seek back to patch the sizes, so its RIFF and data sizes
//! are placeholders (0x7FFFF000-ish, or 0xFFFFFFFF from other engines). The data chunk is
//! therefore taken as whatever follows its header, up to the declared size, in whole frames.

use std::fmt;

use bytes::Bytes;

/// Length of the canonical header written by [`header`].
pub const HEADER_LEN: usize = 44;

/// Declared data size of a stream whose length is not known yet.
const UNKNOWN_SIZE: u32 = u32::MAX;

/// PCM sample layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Format {
    pub sample_rate: u32,
    pub channels: u16,
    pub bits_per_sample: u16,
}

impl Format {
    /// Bytes of one frame: one sample of every channel.
    pub fn block_align(&self) -> usize {
        usize::from(self.channels) * usize::from(self.bits_per_sample / 8)
    }

    /// Duration of `pcm_len` bytes of PCM, in seconds.
    pub fn seconds(&self, pcm_len: usize) -> f64 {
        let frames = pcm_len / self.block_align();
        frames as f64 / f64::from(self.sample_rate)
    }
}

/// Decoded audio: its layout and the raw PCM bytes, whole frames only.
#[derive(Clone, Debug, PartialEq)]
pub struct Audio {
    pub format: Format,
    pub pcm: Bytes,
}

impl Audio {
    /// Duration computed from the samples, in seconds.
    pub fn seconds(&self) -> f64 {
        self.format.seconds(self.pcm.len())
    }
}

/// Why bytes are not a WAV file this module can read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WavError {
    NotRiff,
    Truncated,
    MissingFormat,
    MissingData,
    Unsupported(String),
}

impl fmt::Display for WavError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WavError::NotRiff => write!(f, "not a RIFF/WAVE stream"),
            WavError::Truncated => write!(f, "truncated chunk header"),
            WavError::MissingFormat => write!(f, "no fmt chunk before the data chunk"),
            WavError::MissingData => write!(f, "no data chunk"),
            WavError::Unsupported(what) => write!(f, "unsupported WAV layout: {what}"),
        }
    }
}

impl std::error::Error for WavError {}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Parses a PCM WAV file, tolerating placeholder sizes in the RIFF and data headers.
pub fn parse(bytes: &Bytes) -> Result<Audio, WavError> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(WavError::NotRiff);
    }
    let mut format = None;
    let mut at = 12;
    while at < bytes.len() {
        if bytes.len() - at < 8 {
            return Err(WavError::Truncated);
        }
        let id = &bytes[at..at + 4];
        let declared = u32_at(bytes, at + 4) as usize;
        let body = at + 8;
        let available = bytes.len() - body;
        if id == b"data" {
            let format = format.ok_or(WavError::MissingFormat)?;
            return Ok(data_chunk(bytes, body, declared.min(available), format));
        }
        if declared > available {
            return Err(WavError::Truncated);
        }
        if id == b"fmt " {
            format = Some(parse_format(&bytes[body..body + declared])?);
        }
        at = body + declared + declared % 2;
    }
    Err(WavError::MissingData)
}

fn data_chunk(bytes: &Bytes, body: usize, len: usize, format: Format) -> Audio {
    let whole = len - len % format.block_align();
    Audio {
        format,
        pcm: bytes.slice(body..body + whole),
    }
}

fn parse_format(chunk: &[u8]) -> Result<Format, WavError> {
    if chunk.len() < 16 {
        return Err(WavError::Unsupported(
            "fmt chunk shorter than 16 bytes".into(),
        ));
    }
    let tag = u16_at(chunk, 0);
    let format = Format {
        channels: u16_at(chunk, 2),
        sample_rate: u32_at(chunk, 4),
        bits_per_sample: u16_at(chunk, 14),
    };
    if tag != 1 {
        return Err(WavError::Unsupported(format!("format tag {tag}, not PCM")));
    }
    if format.channels == 0 || format.sample_rate == 0 {
        return Err(WavError::Unsupported("zero channels or sample rate".into()));
    }
    if !matches!(format.bits_per_sample, 8 | 16 | 24 | 32) {
        let bits = format.bits_per_sample;
        return Err(WavError::Unsupported(format!("{bits} bits per sample")));
    }
    Ok(format)
}

/// A canonical 44-byte header; `data_len` `None` declares a stream of unknown length.
pub fn header(format: Format, data_len: Option<usize>) -> [u8; HEADER_LEN] {
    let data = data_len.map_or(UNKNOWN_SIZE, |len| {
        u32::try_from(len).unwrap_or(UNKNOWN_SIZE)
    });
    let riff = if data == UNKNOWN_SIZE {
        UNKNOWN_SIZE
    } else {
        data + 36
    };
    let align = format.block_align() as u16;
    let byte_rate = format.sample_rate * u32::from(align);

    let mut out = [0u8; HEADER_LEN];
    out[0..4].copy_from_slice(b"RIFF");
    out[4..8].copy_from_slice(&riff.to_le_bytes());
    out[8..16].copy_from_slice(b"WAVEfmt ");
    out[16..20].copy_from_slice(&16u32.to_le_bytes());
    out[20..22].copy_from_slice(&1u16.to_le_bytes());
    out[22..24].copy_from_slice(&format.channels.to_le_bytes());
    out[24..28].copy_from_slice(&format.sample_rate.to_le_bytes());
    out[28..32].copy_from_slice(&byte_rate.to_le_bytes());
    out[32..34].copy_from_slice(&align.to_le_bytes());
    out[34..36].copy_from_slice(&format.bits_per_sample.to_le_bytes());
    out[36..40].copy_from_slice(b"data");
    out[40..44].copy_from_slice(&data.to_le_bytes());
    out
}

/// A complete WAV file with exact sizes.
pub fn encode(audio: &Audio) -> Bytes {
    let mut out = Vec::with_capacity(HEADER_LEN + audio.pcm.len());
    out.extend_from_slice(&header(audio.format, Some(audio.pcm.len())));
    out.extend_from_slice(&audio.pcm);
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MONO16: Format = Format {
        sample_rate: 22_050,
        channels: 1,
        bits_per_sample: 16,
    };

    fn with_sizes(riff: u32, data: u32, pcm: &[u8]) -> Bytes {
        let mut bytes = header(MONO16, Some(pcm.len())).to_vec();
        bytes[4..8].copy_from_slice(&riff.to_le_bytes());
        bytes[40..44].copy_from_slice(&data.to_le_bytes());
        bytes.extend_from_slice(pcm);
        Bytes::from(bytes)
    }

    #[test]
    fn placeholder_sizes_from_a_pipe_are_read_as_what_follows() {
        let pcm = vec![1u8; 44_100];
        for placeholder in [u32::MAX, 0x7fff_f000] {
            let audio = parse(&with_sizes(placeholder, placeholder, &pcm)).unwrap();
            assert_eq!(audio.format, MONO16);
            assert_eq!(audio.pcm.len(), 44_100);
            assert!((audio.seconds() - 1.0).abs() < 1e-9);
        }
    }

    #[test]
    fn a_trailing_partial_frame_is_dropped() {
        let audio = parse(&with_sizes(u32::MAX, u32::MAX, &[0u8; 7])).unwrap();
        assert_eq!(audio.pcm.len(), 6);
    }

    #[test]
    fn encoding_then_parsing_gives_the_same_audio() {
        let audio = Audio {
            format: MONO16,
            pcm: Bytes::from(vec![3u8; 1000]),
        };
        let encoded = encode(&audio);
        assert_eq!(&encoded[40..44], &1000u32.to_le_bytes());
        assert_eq!(parse(&encoded).unwrap(), audio);
    }

    #[test]
    fn non_wav_and_non_pcm_input_is_rejected() {
        assert_eq!(
            parse(&Bytes::from_static(b"not a wav file")),
            Err(WavError::NotRiff)
        );
        let mut float = with_sizes(u32::MAX, u32::MAX, &[0; 4]).to_vec();
        float[20] = 3;
        assert!(matches!(
            parse(&Bytes::from(float)),
            Err(WavError::Unsupported(_))
        ));
    }
}
