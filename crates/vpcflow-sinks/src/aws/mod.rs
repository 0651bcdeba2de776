//! What the AWS destinations share: the HTTP client and SDK configuration
//! ([`client`]), where credentials come from ([`credentials`]), how failed
//! calls are sorted ([`classify`]) and the pause between attempts
//! ([`backoff`]), and how the resources records are sent to are named
//! ([`resource`]).

pub mod backoff;
pub mod classify;
pub mod client;
pub mod credentials;
pub mod resource;

pub use classify::{Class, Failure};
pub use client::{https_client, load_config, ClientSettings};
