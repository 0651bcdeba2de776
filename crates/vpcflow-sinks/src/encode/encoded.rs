//! What an encoder hands back when its object is finished.

use vpcflow_core::name::ContentHasher;

/// What an encoder produced for one finished object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ObjectStats {
    /// Records in the object (the header line not counted).
    pub records: u64,
    /// Bytes of the uncompressed body, header line included.
    pub uncompressed_bytes: u64,
    /// Bytes of the object as written (compressed).
    pub compressed_bytes: u64,
}

/// A finished object: the writer it went into, what it holds and the digest of
/// its uncompressed body (which names it).
pub struct Encoded<W> {
    /// The writer the object was written into, flushed.
    pub inner: W,
    /// Sizes and record count.
    pub stats: ObjectStats,
    /// Digest of the uncompressed body, for [`ContentHasher::name_hash`].
    pub hasher: ContentHasher,
}
