//! [`InterfaceTable`]: every interface of a run with its resolved metadata,
//! and the AWS service ranges records are enriched with.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use super::{interface_values, record_values, set_record_fields};
use crate::aws_service::AwsServices;
use crate::flow::InterfaceIndex;
use crate::interface::{InterfaceConfig, InterfaceDefaults, InterfaceMeta};
use crate::record::FlowRecord;
use crate::values::RecordValues;

/// All interfaces of a run, by index, with the configuration they are
/// resolved from, and the AWS service ranges records are enriched with: what
/// a sink needs to turn records into field values ([`InterfaceTable::values`]).
#[derive(Debug, Clone)]
pub struct InterfaceTable {
    defaults: InterfaceDefaults,
    configured: HashMap<String, InterfaceConfig>,
    interfaces: Vec<InterfaceMeta>,
    by_name: HashMap<String, InterfaceIndex>,
    aws_services: Option<Arc<AwsServices>>,
    /// Addresses given by [`InterfaceTable::add_addresses`], by index, kept
    /// for [`InterfaceTable::reconfigure`].
    added: Vec<Vec<IpAddr>>,
}

impl InterfaceTable {
    /// A table resolving names with `configured` overrides and `defaults`.
    pub fn new(
        defaults: InterfaceDefaults,
        configured: HashMap<String, InterfaceConfig>,
    ) -> InterfaceTable {
        InterfaceTable {
            defaults,
            configured,
            interfaces: Vec::new(),
            by_name: HashMap::new(),
            aws_services: None,
            added: Vec::new(),
        }
    }

    /// Uses `services` for `pkt-src-aws-service` / `pkt-dst-aws-service` from
    /// now on (`None`: both `-`); a reload swaps in a fresh table this way.
    pub fn set_aws_services(&mut self, services: Option<Arc<AwsServices>>) {
        self.aws_services = services;
    }

    /// The AWS service ranges in use.
    pub fn aws_services(&self) -> Option<&Arc<AwsServices>> {
        self.aws_services.as_ref()
    }

    /// The field values of `record` (of a registered interface) for a format
    /// of `version`: its interface's metadata, and the AWS services of its
    /// packet addresses when a table is set.
    ///
    /// # Panics
    /// If `record.interface` was not returned by [`InterfaceTable::register`].
    #[inline]
    pub fn values(&self, record: &FlowRecord, version: u8) -> RecordValues<'_> {
        let mut v = record_values(record, self.get(record.interface), version);
        self.set_aws_service_fields(&mut v);
        v
    }

    /// An [`Enricher`]: the values of many records one after the other, for
    /// a format of `version`.
    pub fn enricher(&self, version: u8) -> Enricher<'_> {
        Enricher {
            table: self,
            version,
            interface: None,
            values: RecordValues::default(),
        }
    }

    fn set_aws_service_fields<'s>(&'s self, v: &mut RecordValues<'s>) {
        let lookup = |a: Option<IpAddr>| {
            let services = self.aws_services.as_ref()?;
            services.lookup(a?)
        };
        v.pkt_src_aws_service = lookup(v.pkt_srcaddr);
        v.pkt_dst_aws_service = lookup(v.pkt_dstaddr);
    }

    /// The index of interface `name`, registering it on first use.
    pub fn register(&mut self, name: &str) -> InterfaceIndex {
        if let Some(i) = self.by_name.get(name) {
            return *i;
        }
        let empty = InterfaceConfig::default();
        let overrides = self.configured.get(name).unwrap_or(&empty);
        let meta = InterfaceMeta::resolve(name, overrides, &self.defaults);
        let index = InterfaceIndex(self.interfaces.len() as u32);
        self.interfaces.push(meta);
        self.added.push(Vec::new());
        self.by_name.insert(name.to_string(), index);
        index
    }

    /// Puts `meta`, already resolved elsewhere (by the table of another
    /// thread), in the table as it is: a new interface gets the next index,
    /// a known one (same name) has its metadata replaced and keeps its index.
    pub fn insert(&mut self, meta: InterfaceMeta) -> InterfaceIndex {
        if let Some(&index) = self.by_name.get(&meta.name) {
            self.interfaces[index.0 as usize] = meta;
            return index;
        }
        let index = InterfaceIndex(self.interfaces.len() as u32);
        self.by_name.insert(meta.name.clone(), index);
        self.interfaces.push(meta);
        self.added.push(Vec::new());
        index
    }

    /// Replaces the configured overrides (a configuration reload): every
    /// registered interface keeps its index and the addresses added with
    /// [`InterfaceTable::add_addresses`], and is resolved again from
    /// `configured`, as are interfaces registered later.
    pub fn reconfigure(&mut self, configured: HashMap<String, InterfaceConfig>) {
        self.configured = configured;
        let empty = InterfaceConfig::default();
        for (i, meta) in self.interfaces.iter_mut().enumerate() {
            let overrides = self.configured.get(&meta.name).unwrap_or(&empty);
            let mut resolved = InterfaceMeta::resolve(&meta.name, overrides, &self.defaults);
            for a in &self.added[i] {
                if !resolved.addresses.contains(a) {
                    resolved.addresses.push(*a);
                }
            }
            *meta = resolved;
        }
    }

    /// Adds `addresses` to the own addresses of a registered interface (those
    /// it already has are kept, duplicates ignored): the addresses a live
    /// capture reads from the operating system.
    ///
    /// # Panics
    /// If `index` was not returned by [`InterfaceTable::register`].
    pub fn add_addresses(&mut self, index: InterfaceIndex, addresses: &[IpAddr]) {
        let own = &mut self.interfaces[index.0 as usize].addresses;
        let added = &mut self.added[index.0 as usize];
        for a in addresses {
            if !own.contains(a) {
                own.push(*a);
            }
            if !added.contains(a) {
                added.push(*a);
            }
        }
    }

    /// The metadata of a registered interface.
    ///
    /// # Panics
    /// If `index` was not returned by [`InterfaceTable::register`].
    pub fn get(&self, index: InterfaceIndex) -> &InterfaceMeta {
        &self.interfaces[index.0 as usize]
    }

    /// Every registered interface, by index.
    pub fn iter(&self) -> impl Iterator<Item = (InterfaceIndex, &InterfaceMeta)> {
        self.interfaces
            .iter()
            .enumerate()
            .map(|(i, m)| (InterfaceIndex(i as u32), m))
    }

    /// Number of registered interfaces.
    pub fn len(&self) -> usize {
        self.interfaces.len()
    }

    /// Whether no interface is registered.
    pub fn is_empty(&self) -> bool {
        self.interfaces.is_empty()
    }
}

/// The field values of records one after the other ([`InterfaceTable::values`]
/// of each), with the fields of an interface filled again only when the
/// interface changes from one record to the next: records come sorted by
/// `end` and interface, so filling the interface's 20 fields for every
/// record repeated the same work.
pub struct Enricher<'a> {
    table: &'a InterfaceTable,
    version: u8,
    /// The interface whose fields `values` holds.
    interface: Option<InterfaceIndex>,
    values: RecordValues<'a>,
}

impl<'a> Enricher<'a> {
    /// The values of `record`, equal to [`InterfaceTable::values`] of it.
    ///
    /// # Panics
    /// If `record.interface` was not returned by [`InterfaceTable::register`].
    #[inline]
    pub fn values(&mut self, record: &FlowRecord) -> &RecordValues<'a> {
        let meta = self.table.get(record.interface);
        if self.interface != Some(record.interface) {
            self.values = interface_values(meta, self.version);
            self.interface = Some(record.interface);
        }
        set_record_fields(&mut self.values, record, meta);
        self.table.set_aws_service_fields(&mut self.values);
        &self.values
    }
}
