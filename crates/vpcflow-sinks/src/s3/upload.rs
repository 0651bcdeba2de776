//! Delivering one spooled object: find its key among the candidates without
//! ever replacing another object, and upload it with its checksum.

use std::path::Path;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, ObjectCannedAcl,
    ServerSideEncryption, StorageClass,
};
use aws_sdk_s3::Client;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::classify::{classify, Class, Failure};
use super::options::{Acl, S3Options, Sse};
use crate::spool::entry::Entry;

/// The content type of flow log objects (spec §3.8); no Content-Encoding.
const CONTENT_TYPE: &str = "application/octet-stream";

/// Chunk compared at a time when checking an existing object.
const COMPARE_CHUNK: usize = 256 * 1024;

/// How an object was delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The key it is stored at.
    pub key: String,
    /// Its index among the candidate keys.
    pub attempt: usize,
    /// The key already held the same bytes.
    pub already_present: bool,
}

/// Delivers `entry`: for each candidate key in order, an existing object
/// with the same bytes means it is already delivered, a different one sends
/// it on to the next key, and a free key gets a conditional create
/// (`If-None-Match: *`), so a concurrent writer cannot be overwritten.
pub async fn deliver(
    client: &Client,
    options: &S3Options,
    entry: &Entry,
) -> Result<Delivered, Failure> {
    let bucket = &entry.sidecar.bucket;
    for (attempt, key) in entry.sidecar.keys.iter().enumerate() {
        let taken = match head(client, bucket, key).await? {
            Some(size) => Some(size),
            None => match upload(client, options, entry, key).await {
                Ok(()) => {
                    return Ok(Delivered {
                        key: key.clone(),
                        attempt,
                        already_present: false,
                    })
                }
                Err(f) if f.class == Class::PreconditionFailed => None,
                Err(f) => return Err(f),
            },
        };
        if taken.is_none_or(|size| size == entry.sidecar.bytes)
            && same_bytes(client, bucket, key, &entry.data).await?
        {
            return Ok(Delivered {
                key: key.clone(),
                attempt,
                already_present: true,
            });
        }
        tracing::warn!(
            bucket = %bucket,
            key = %key,
            "key holds a different object; trying the next candidate key"
        );
    }
    Err(Failure::new(
        Class::Permanent,
        "NameCollision",
        format!(
            "all {} candidate keys of {} hold other objects",
            entry.sidecar.keys.len(),
            entry.data.display()
        ),
    ))
}

/// The size of the object at `key`, or `None` when there is none.
async fn head(client: &Client, bucket: &str, key: &str) -> Result<Option<u64>, Failure> {
    match client.head_object().bucket(bucket).key(key).send().await {
        Ok(out) => Ok(Some(
            out.content_length()
                .and_then(|l| u64::try_from(l).ok())
                .unwrap_or(0),
        )),
        Err(e) => {
            let f = classify(&e);
            if f.class == Class::NotFound {
                Ok(None)
            } else {
                Err(f)
            }
        }
    }
}

/// Whether the object at `key` holds exactly the bytes of `local`,
/// streaming both.
async fn same_bytes(
    client: &Client,
    bucket: &str,
    key: &str,
    local: &Path,
) -> Result<bool, Failure> {
    let out = match client.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => out,
        Err(e) => {
            let f = classify(&e);
            // Gone between HEAD/412 and GET: retry the whole delivery soon.
            return Err(if f.class == Class::NotFound {
                Failure::new(Class::Transient, "NoSuchKey", format!("{key} vanished"))
            } else {
                f
            });
        }
    };
    let mut body = out.body;
    let mut file = open(local).await?;
    let mut mine = vec![0u8; COMPARE_CHUNK];
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| Failure::new(Class::Transient, "read", e.to_string()))?;
        let mut rest: &[u8] = &chunk;
        while !rest.is_empty() {
            let n = rest.len().min(mine.len());
            match file.read_exact(&mut mine[..n]).await {
                Ok(_) => {}
                // The stored object is longer.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(false),
                Err(e) => return Err(local_error(local)(e)),
            }
            if mine[..n] != rest[..n] {
                return Ok(false);
            }
            rest = &rest[n..];
        }
    }
    Ok(file
        .read(&mut mine[..1])
        .await
        .map_err(local_error(local))?
        == 0)
}

async fn open(path: &Path) -> Result<tokio::fs::File, Failure> {
    tokio::fs::File::open(path).await.map_err(local_error(path))
}

fn local_error(path: &Path) -> impl Fn(std::io::Error) -> Failure + '_ {
    move |e| {
        Failure::new(
            Class::Permanent,
            "local file",
            format!("{}: {e}", path.display()),
        )
    }
}

/// The ACL, encryption and storage class an object is created with, as the
/// optional values PutObject and CreateMultipartUpload both take.
struct ObjectHeaders {
    acl: Option<ObjectCannedAcl>,
    sse: Option<ServerSideEncryption>,
    kms_key_id: Option<String>,
    storage_class: Option<StorageClass>,
}

impl ObjectHeaders {
    fn of(options: &S3Options) -> ObjectHeaders {
        let (sse, kms_key_id) = match &options.sse {
            Some(Sse::S3) => (Some(ServerSideEncryption::Aes256), None),
            Some(Sse::Kms(key_id)) => (Some(ServerSideEncryption::AwsKms), Some(key_id.clone())),
            None => (None, None),
        };
        ObjectHeaders {
            acl: (options.acl == Acl::BucketOwnerFullControl)
                .then_some(ObjectCannedAcl::BucketOwnerFullControl),
            sse,
            kms_key_id,
            storage_class: options.storage_class.as_deref().map(StorageClass::from),
        }
    }
}

/// Uploads `entry` to the free `key`: one PUT, or a multipart upload above
/// the threshold.
async fn upload(
    client: &Client,
    options: &S3Options,
    entry: &Entry,
    key: &str,
) -> Result<(), Failure> {
    if entry.sidecar.bytes > options.multipart_threshold {
        return upload_multipart(client, options, entry, key).await;
    }
    let digest = entry.sha256_bytes().ok_or_else(|| {
        Failure::new(
            Class::Permanent,
            "sidecar",
            "the sidecar's sha256 is not 64 hex digits",
        )
    })?;
    let body = ByteStream::from_path(&entry.data)
        .await
        .map_err(|e| Failure::new(Class::Permanent, "local file", e.to_string()))?;
    let put = client
        .put_object()
        .bucket(&entry.sidecar.bucket)
        .key(key)
        .body(body)
        .content_length(entry.sidecar.bytes as i64)
        .content_type(CONTENT_TYPE)
        .checksum_sha256(BASE64.encode(digest))
        .if_none_match("*");
    let h = ObjectHeaders::of(options);
    put.set_acl(h.acl)
        .set_server_side_encryption(h.sse)
        .set_ssekms_key_id(h.kms_key_id)
        .set_storage_class(h.storage_class)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| classify(&e))
}

/// A multipart upload of `entry` to `key`, each part with its SHA-256;
/// aborted if any step fails.
async fn upload_multipart(
    client: &Client,
    options: &S3Options,
    entry: &Entry,
    key: &str,
) -> Result<(), Failure> {
    let bucket = &entry.sidecar.bucket;
    abort_leftover_uploads(client, bucket, key).await;
    let create = client
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .content_type(CONTENT_TYPE)
        .checksum_algorithm(ChecksumAlgorithm::Sha256);
    let h = ObjectHeaders::of(options);
    let created = create
        .set_acl(h.acl)
        .set_server_side_encryption(h.sse)
        .set_ssekms_key_id(h.kms_key_id)
        .set_storage_class(h.storage_class)
        .send()
        .await
        .map_err(|e| classify(&e))?;
    let upload_id = created
        .upload_id()
        .ok_or_else(|| {
            Failure::new(
                Class::Transient,
                "no upload id",
                "CreateMultipartUpload returned no UploadId",
            )
        })?
        .to_string();
    let result = send_parts(client, options, entry, key, &upload_id).await;
    if result.is_err() {
        if let Err(e) = client
            .abort_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(&upload_id)
            .send()
            .await
        {
            tracing::warn!(key, error = %classify(&e), "cannot abort the failed multipart upload; a lifecycle rule for incomplete uploads removes it");
        }
    }
    result
}

/// Aborts incomplete multipart uploads of `key` left by an earlier attempt
/// (a process killed mid-upload cannot abort its own). The key derives from
/// this object's content, so such uploads can only be earlier tries of the
/// same object. Failing to list or abort is logged and otherwise ignored:
/// the new upload does not depend on it.
async fn abort_leftover_uploads(client: &Client, bucket: &str, key: &str) {
    let listed = match client
        .list_multipart_uploads()
        .bucket(bucket)
        .prefix(key)
        .send()
        .await
    {
        Ok(listed) => listed,
        Err(e) => {
            tracing::debug!(key, error = %classify(&e), "cannot list incomplete multipart uploads");
            return;
        }
    };
    for upload in listed.uploads() {
        let (Some(k), Some(id)) = (upload.key(), upload.upload_id()) else {
            continue;
        };
        if k != key {
            continue;
        }
        match client
            .abort_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(id)
            .send()
            .await
        {
            Ok(_) => tracing::info!(
                key,
                upload_id = id,
                "aborted an incomplete multipart upload left by an earlier attempt"
            ),
            Err(e) => {
                tracing::warn!(key, upload_id = id, error = %classify(&e), "cannot abort an incomplete multipart upload; a lifecycle rule for incomplete uploads removes it")
            }
        }
    }
}

async fn send_parts(
    client: &Client,
    options: &S3Options,
    entry: &Entry,
    key: &str,
    upload_id: &str,
) -> Result<(), Failure> {
    let bucket = &entry.sidecar.bucket;
    let mut file = open(&entry.data).await?;
    file.seek(std::io::SeekFrom::Start(0))
        .await
        .map_err(local_error(&entry.data))?;
    let part_size = options.multipart_part_size;
    let mut parts = Vec::new();
    let mut offset = 0u64;
    let mut number = 1i32;
    while offset < entry.sidecar.bytes {
        let len = part_size.min(entry.sidecar.bytes - offset) as usize;
        let mut buf = vec![0u8; len];
        file.read_exact(&mut buf)
            .await
            .map_err(local_error(&entry.data))?;
        let checksum = BASE64.encode(Sha256::digest(&buf));
        let out = client
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .content_length(len as i64)
            .checksum_sha256(&checksum)
            .body(ByteStream::from(buf))
            .send()
            .await
            .map_err(|e| classify(&e))?;
        parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(out.e_tag().map(str::to_string))
                .checksum_sha256(checksum)
                .build(),
        );
        offset += len as u64;
        number += 1;
    }
    client
        .complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .if_none_match("*")
        .send()
        .await
        .map(|_| ())
        .map_err(|e| classify(&e))
}
