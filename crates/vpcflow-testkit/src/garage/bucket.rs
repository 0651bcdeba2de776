//! An S3 client of one bucket, for reading back what a test delivered.

use std::collections::BTreeMap;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::Client;
use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::Provider;

/// One object as read back.
#[derive(Debug, Clone)]
pub struct StoredObject {
    /// Its bytes.
    pub body: Vec<u8>,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// `Content-Encoding`.
    pub content_encoding: Option<String>,
    /// `ETag`.
    pub e_tag: Option<String>,
}

/// An S3 client of a [`Garage`](super::Garage) bucket, with its own runtime.
pub struct BucketClient {
    runtime: tokio::runtime::Runtime,
    client: Client,
    bucket: String,
}

impl BucketClient {
    /// A path-style client of `bucket` at `endpoint` with static credentials
    /// `(key id, secret)`.
    pub fn new(endpoint: &str, region: &str, key: (&str, &str), bucket: &str) -> BucketClient {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .endpoint_url(endpoint)
            .force_path_style(true)
            .http_client(
                aws_smithy_http_client::Builder::new()
                    .tls_provider(Provider::Rustls(CryptoMode::Ring))
                    .build_https(),
            )
            .credentials_provider(Credentials::new(key.0, key.1, None, None, "test"))
            .build();
        let client = {
            let _guard = runtime.enter();
            Client::from_conf(config)
        };
        BucketClient {
            runtime,
            client,
            bucket: bucket.to_string(),
        }
    }

    /// The object at `key`, or `None` when there is none.
    pub fn get(&self, key: &str) -> Option<StoredObject> {
        self.runtime.block_on(async {
            let out = match self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
            {
                Ok(out) => out,
                Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return None,
                Err(e) => panic!("GET {key}: {e:?}"),
            };
            let content_type = out.content_type().map(str::to_string);
            let content_encoding = out.content_encoding().map(str::to_string);
            let e_tag = out.e_tag().map(str::to_string);
            let body = out.body.collect().await.unwrap().into_bytes().to_vec();
            Some(StoredObject {
                body,
                content_type,
                content_encoding,
                e_tag,
            })
        })
    }

    /// Every key below `prefix`, listed page by page.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        self.runtime.block_on(async {
            let mut keys = Vec::new();
            let mut pages = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.expect("list the bucket");
                keys.extend(
                    page.contents()
                        .iter()
                        .filter_map(|o| o.key().map(str::to_string)),
                );
            }
            keys
        })
    }

    /// Every object of the bucket by key.
    pub fn objects(&self) -> BTreeMap<String, StoredObject> {
        self.keys("")
            .into_iter()
            .map(|key| {
                let object = self
                    .get(&key)
                    .unwrap_or_else(|| panic!("{key} was listed but is gone"));
                (key, object)
            })
            .collect()
    }

    /// Writes `body` at `key` directly, as another writer would.
    pub fn put(&self, key: &str, body: &[u8]) {
        self.runtime.block_on(async {
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .body(body.to_vec().into())
                .send()
                .await
                .unwrap();
        });
    }

    /// Starts a multipart upload of `key` and sends one part, then leaves it
    /// incomplete (as a process killed mid-upload would).
    pub fn abandon_multipart(&self, key: &str) {
        self.runtime.block_on(async {
            let created = self
                .client
                .create_multipart_upload()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
                .unwrap();
            self.client
                .upload_part()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(created.upload_id().unwrap())
                .part_number(1)
                .body(vec![7u8; 5 << 20].into())
                .send()
                .await
                .unwrap();
        });
    }

    /// The upload ids of incomplete multipart uploads of `key`.
    pub fn incomplete_uploads(&self, key: &str) -> Vec<String> {
        self.runtime.block_on(async {
            let out = self
                .client
                .list_multipart_uploads()
                .bucket(&self.bucket)
                .prefix(key)
                .send()
                .await
                .unwrap();
            out.uploads()
                .iter()
                .filter(|u| u.key() == Some(key))
                .filter_map(|u| u.upload_id().map(str::to_string))
                .collect()
        })
    }
}
