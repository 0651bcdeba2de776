//! The inputs of `vpcflow convert` as given on the command line, made into
//! files the readers map: `-` (standard input, e.g. `tcpdump -w - | vpcflow
//! convert -`), gzip-compressed files (`.pcap.gz`, `.pcapng.gz`, recordings),
//! and folders (their capture files, in name order).
//!
//! Standard input and compressed files are written to a temporary folder
//! first (memory stays bounded whatever their size; the disk holds them until
//! the conversion ends), so records are written when the input has ended.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use vpcflow_sources::sniff_format;

use crate::pipeline::InputKind;

/// The files to read, in order, with the temporary folder that holds the
/// ones made from standard input or compressed files (removed when dropped).
pub struct Inputs {
    /// The files, in the order given (a folder's files in name order).
    pub files: Vec<PathBuf>,
    _temp: Option<tempfile::TempDir>,
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Resolves `args` into files of `kind`.
pub fn resolve(args: &[PathBuf], kind: InputKind) -> Result<Inputs> {
    let mut temp: Option<tempfile::TempDir> = None;
    let mut temp_dir = || -> Result<PathBuf> {
        if temp.is_none() {
            temp = Some(
                tempfile::Builder::new()
                    .prefix("vpcflow-input-")
                    .tempdir()
                    .context("cannot create a temporary folder for the input")?,
            );
        }
        Ok(temp
            .as_ref()
            .map(|t| t.path().to_path_buf())
            .unwrap_or_default())
    };
    let what = kind.file_noun();
    let mut files = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        if arg.as_os_str() == "-" {
            let path = temp_dir()?.join(format!("{i}-stdin"));
            let mut out = BufWriter::new(File::create(&path)?);
            let mut stdin = io::stdin().lock();
            if starts_with_gzip(&mut stdin)? {
                io::copy(&mut flate2::read::MultiGzDecoder::new(stdin), &mut out)
                    .context("cannot decompress standard input")?;
            } else {
                io::copy(&mut stdin, &mut out).context("cannot read standard input")?;
            }
            out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            files.push(path);
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
                files.push(decompressed(entry, &mut temp_dir)?);
            }
        } else if arg.is_file() {
            files.push(decompressed(arg.clone(), &mut temp_dir)?);
        } else {
            bail!("{what} {} does not exist or is not a file", arg.display());
        }
    }
    Ok(Inputs { files, _temp: temp })
}

/// `path` itself, or its decompressed copy when it is gzip-compressed.
fn decompressed(path: PathBuf, temp_dir: &mut dyn FnMut() -> Result<PathBuf>) -> Result<PathBuf> {
    let mut file = BufReader::new(
        File::open(&path).with_context(|| format!("cannot open {}", path.display()))?,
    );
    if !starts_with_gzip(&mut file)? {
        return Ok(path);
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().trim_end_matches(".gz").to_string())
        .unwrap_or_default();
    let plain = temp_dir()?.join(format!("{}-{name}", temp_count(&path)));
    let mut out = BufWriter::new(File::create(&plain)?);
    io::copy(&mut flate2::read::MultiGzDecoder::new(file), &mut out)
        .with_context(|| format!("cannot decompress {}", path.display()))?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(plain)
}

/// A number that keeps the copies of files of the same name apart.
fn temp_count(path: &Path) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    path.hash(&mut h);
    h.finish() & 0xffff_ffff
}

/// Whether the buffered reader starts with the gzip magic (nothing consumed).
fn starts_with_gzip(reader: &mut dyn io::BufRead) -> Result<bool> {
    let head = reader.fill_buf().context("cannot read the input")?;
    Ok(head.starts_with(&GZIP_MAGIC))
}

/// Whether a folder's file is a capture (pcap, pcapng, or gzip-compressed).
fn looks_like_capture(path: &Path) -> bool {
    let mut head = [0u8; 12];
    let n = File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    let head = &head[..n];
    head.starts_with(&GZIP_MAGIC) || sniff_format(head).is_some()
}
