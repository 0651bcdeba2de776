//! The inputs of `vpcflow convert` as given on the command line: files, `-`
//! (standard input, e.g. `tcpdump -w - | vpcflow convert -`), gzip- or
//! zstd-compressed files (`.pcap.gz`, `.pcapng.zst`, recordings), and folders
//! (their capture files, in name order).
//!
//! Every input is read as a stream through one small reused buffer;
//! compressed files are decompressed on the fly: packets are converted as
//! they arrive, so an endless pipe is converted while it
//! runs and nothing is copied to disk.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use vpcflow_sources::sniff_format;

use crate::pipeline::InputKind;

/// One input, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A plain file, read in place.
    File(PathBuf),
    /// Standard input, plain or compressed (sniffed when it is opened).
    Stdin,
    /// A compressed file, decompressed as it is read.
    Compressed(PathBuf, Compression),
}

/// A compression vpcflow reads inputs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// gzip, one or more members (`.gz`).
    Gzip,
    /// Zstandard, one or more frames (`.zst`).
    Zstd,
}

impl Compression {
    /// The compression of a stream starting with `head`, if any.
    pub fn sniff(head: &[u8]) -> Option<Compression> {
        if head.starts_with(&[0x1f, 0x8b]) {
            Some(Compression::Gzip)
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Compression::Zstd)
        } else {
            None
        }
    }

    fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }

    /// A reader of the decompressed bytes of `raw`.
    fn decoder<'a>(
        self,
        raw: Box<dyn BufRead + Send + 'a>,
    ) -> io::Result<Box<dyn Read + Send + 'a>> {
        Ok(match self {
            Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(raw)),
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(raw)?),
        })
    }
}

/// An input opened as a stream.
pub struct Opened {
    /// The decompressed bytes.
    pub reader: Box<dyn Read + Send>,
    /// Bytes read of the file or standard input so far (compressed bytes for
    /// a compressed input), for progress.
    pub raw_bytes: Arc<AtomicU64>,
}

impl Input {
    /// The path plain and compressed files have; `-` for standard input.
    pub fn name(&self) -> &Path {
        match self {
            Input::File(p) | Input::Compressed(p, _) => p,
            Input::Stdin => Path::new("-"),
        }
    }

    /// Its size on disk, when it is a file.
    pub fn size(&self) -> Option<u64> {
        match self {
            Input::File(p) | Input::Compressed(p, _) => fs::metadata(p).ok().map(|m| m.len()),
            Input::Stdin => None,
        }
    }

    /// Opens a stream input (standard input or a compressed file); `None` for a
    /// plain file, which the readers map instead.
    pub fn open_stream(&self) -> Result<Option<Opened>> {
        let raw_bytes = Arc::new(AtomicU64::new(0));
        let (raw, compression): (Box<dyn BufRead + Send>, Option<Compression>) = match self {
            Input::File(_) => return Ok(None),
            Input::Stdin => {
                let mut raw = BufReader::with_capacity(
                    1 << 16,
                    Counted {
                        inner: io::stdin(),
                        count: raw_bytes.clone(),
                    },
                );
                let head = raw.fill_buf().context("cannot read standard input")?;
                let compression = Compression::sniff(head);
                (Box::new(raw), compression)
            }
            Input::Compressed(path, compression) => {
                let file =
                    File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
                let raw = BufReader::with_capacity(
                    1 << 16,
                    Counted {
                        inner: file,
                        count: raw_bytes.clone(),
                    },
                );
                (Box::new(raw), Some(*compression))
            }
        };
        let name = self.name().to_path_buf();
        let reader = match compression {
            None => Box::new(raw) as Box<dyn Read + Send>,
            Some(c) => Box::new(Named {
                inner: c.decoder(raw).with_context(|| {
                    format!(
                        "cannot start {} decompression of {}",
                        c.name(),
                        name.display()
                    )
                })?,
                what: format!("{} decompression", c.name()),
            }),
        };
        Ok(Some(Opened { reader, raw_bytes }))
    }
}

/// Resolves `args` into inputs of `kind`, in order.
pub fn resolve(args: &[PathBuf], kind: InputKind) -> Result<Vec<Input>> {
    let what = kind.file_noun();
    let mut inputs = Vec::new();
    let mut stdin_seen = false;
    for arg in args {
        if arg.as_os_str() == "-" {
            if stdin_seen {
                bail!("standard input (-) is given twice");
            }
            stdin_seen = true;
            inputs.push(Input::Stdin);
        } else if arg.is_dir() {
            let mut entries: Vec<PathBuf> = fs::read_dir(arg)
                .with_context(|| format!("cannot list the folder {}", arg.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .filter(|p| kind == InputKind::Skydive || looks_like_capture(p))
                .collect();
            entries.sort();
            if entries.is_empty() {
                bail!("the folder {} holds no {what}", arg.display());
            }
            for entry in entries {
                inputs.push(file_input(entry)?);
            }
        } else if arg.is_file() {
            inputs.push(file_input(arg.clone())?);
        } else {
            bail!("{what} {} does not exist or is not a file", arg.display());
        }
    }
    Ok(inputs)
}

/// A file, plain or compressed by its first bytes.
fn file_input(path: PathBuf) -> Result<Input> {
    let head = head_of(&path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(match Compression::sniff(&head) {
        Some(c) => Input::Compressed(path, c),
        None => Input::File(path),
    })
}

fn head_of(path: &Path) -> io::Result<Vec<u8>> {
    let mut head = [0u8; 12];
    let mut file = File::open(path)?;
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(head[..n].to_vec())
}

/// Whether a folder's file is a capture (pcap, pcapng, or compressed).
fn looks_like_capture(path: &Path) -> bool {
    let head = head_of(path).unwrap_or_default();
    Compression::sniff(&head).is_some() || sniff_format(&head).is_some()
}

/// Counts the bytes read through it.
struct Counted<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Names the decompressor in its errors ("gzip decompression: corrupt deflate
/// stream"), so a damaged compressed input says what failed.
struct Named<R> {
    inner: R,
    what: String,
}

impl<R: Read> Read for Named<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner
            .read(buf)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.what)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressions_are_sniffed_by_magic() {
        assert_eq!(
            Compression::sniff(&[0x1f, 0x8b, 8]),
            Some(Compression::Gzip)
        );
        assert_eq!(
            Compression::sniff(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
            Some(Compression::Zstd)
        );
        assert_eq!(Compression::sniff(&[0xd4, 0xc3, 0xb2, 0xa1]), None);
        assert_eq!(Compression::sniff(&[0x1f]), None);
    }

    #[test]
    fn stdin_twice_is_an_error() {
        let args = [PathBuf::from("-"), PathBuf::from("-")];
        let e = resolve(&args, InputKind::Captures).unwrap_err();
        assert!(e.to_string().contains("given twice"), "{e}");
    }

    #[test]
    fn compressed_files_decompress_as_streams() {
        let dir = tempfile::tempdir().unwrap();
        let plain = b"0123456789".repeat(1000);
        let gz = dir.path().join("a.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        io::Write::write_all(&mut enc, &plain).unwrap();
        fs::write(&gz, enc.finish().unwrap()).unwrap();
        let zst = dir.path().join("b.zst");
        fs::write(&zst, zstd::encode_all(&plain[..], 3).unwrap()).unwrap();
        let plain_path = dir.path().join("c");
        fs::write(&plain_path, &plain).unwrap();
        let inputs = resolve(
            &[gz.clone(), zst.clone(), plain_path.clone()],
            InputKind::Skydive,
        )
        .unwrap();
        assert_eq!(
            inputs,
            vec![
                Input::Compressed(gz.clone(), Compression::Gzip),
                Input::Compressed(zst, Compression::Zstd),
                Input::File(plain_path),
            ]
        );
        for input in &inputs[..2] {
            let mut opened = input.open_stream().unwrap().unwrap();
            let mut out = Vec::new();
            opened.reader.read_to_end(&mut out).unwrap();
            assert_eq!(out, plain);
            assert_eq!(
                opened.raw_bytes.load(Ordering::Relaxed),
                input.size().unwrap()
            );
        }
        assert!(inputs[2].open_stream().unwrap().is_none());
        // A damaged compressed file names the decompressor in its error.
        let mut bytes = fs::read(&gz).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid..].iter_mut().for_each(|b| *b = 0xff);
        fs::write(&gz, bytes).unwrap();
        let mut opened = Input::Compressed(gz, Compression::Gzip)
            .open_stream()
            .unwrap()
            .unwrap();
        let e = opened.reader.read_to_end(&mut Vec::new()).unwrap_err();
        assert!(e.to_string().starts_with("gzip decompression: "), "{e}");
    }
}
