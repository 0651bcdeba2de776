//! Encoders: how the records of one object become its bytes.
//!
//! An encoder streams into any [`Write`](std::io::Write): records are formatted and compressed as
//! they arrive, so memory does not grow with the size of the object. Text
//! objects come from [`TextGzipEncoder`], Parquet objects from
//! [`ParquetEncoder`]; [`ObjectEncoder`] is either, as [`FileFormat`] says.
//!
//! gzip members are compressed in independent blocks ([`BLOCK_SIZE`]) that a
//! [`DeflatePool`] can spread over several cores; the blocks still form one
//! standard deflate stream, identical whatever the number of threads.

mod block;
mod counting;
mod encoded;
mod format;
mod gzip_stream;
mod object;
pub mod parquet;
mod pool;
mod text_gzip;

pub use self::parquet::ParquetEncoder;
pub use block::BLOCK_SIZE;
pub use encoded::{Encoded, ObjectStats};
pub use format::{FileFormat, FileFormatError};
pub use object::ObjectEncoder;
pub use pool::{available_threads, DeflatePool};
pub use text_gzip::{GzipLevel, InvalidGzipLevel, TextGzipEncoder};
