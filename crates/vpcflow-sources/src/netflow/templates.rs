//! Templates of NetFlow v9 and IPFIX, per (exporter address, source id or
//! observation domain, template id), and the data sets that arrived before
//! their template, held in a bounded buffer until it comes.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;

use vpcflow_core::Timestamp;

use super::fields::Use;

/// The length that marks a variable-length field (IPFIX).
pub const VARIABLE: u16 = 0xFFFF;

/// One field of a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    /// Information element id (the enterprise bit cleared).
    pub id: u16,
    /// Private enterprise number, 0 for IANA elements.
    pub pen: u32,
    /// Length in bytes, or [`VARIABLE`].
    pub len: u16,
}

/// A field a record is read for, at a fixed place in the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Offset in the record.
    pub at: u32,
    /// Length in bytes.
    pub len: u16,
    /// What the field is.
    pub usage: Use,
}

/// A data template or an options template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// The fields, scope fields first for an options template.
    pub fields: Box<[FieldSpec]>,
    /// What each field is to vpcflow (`None`: skipped), decided when the
    /// template is made.
    pub uses: Box<[Option<Use>]>,
    /// An options template (its records describe the exporter, not flows).
    pub options: bool,
    /// Shortest possible record: fixed lengths plus one byte per variable
    /// field. At least 1 ([`Template::new`] refuses templates of records
    /// without bytes).
    pub min_len: usize,
    /// For a template without variable-length fields (every record
    /// `min_len` bytes long): the fields vpcflow reads, in template order,
    /// with their offsets; the others are never looked at. `None` for a
    /// template with variable-length fields, whose records are walked field
    /// by field.
    pub plan: Option<Box<[Step]>>,
}

impl Template {
    /// A template of `fields`; `None` when its records would have no bytes
    /// (no fields, or only fields of length 0), which no record could be
    /// read with.
    pub fn new(fields: Vec<FieldSpec>, options: bool) -> Option<Template> {
        let min_len = fields
            .iter()
            .map(|f| {
                if f.len == VARIABLE {
                    1
                } else {
                    usize::from(f.len)
                }
            })
            .sum::<usize>();
        let uses: Box<[Option<Use>]> = fields.iter().map(|f| Use::of(f.id, f.pen)).collect();
        let plan = fields.iter().all(|f| f.len != VARIABLE).then(|| {
            let mut at = 0u32;
            let mut plan = Vec::new();
            for (f, usage) in fields.iter().zip(uses.iter()) {
                if let Some(usage) = *usage {
                    plan.push(Step {
                        at,
                        len: f.len,
                        usage,
                    });
                }
                at += u32::from(f.len);
            }
            plan.into_boxed_slice()
        });
        (min_len > 0).then(|| Template {
            fields: fields.into_boxed_slice(),
            uses,
            options,
            min_len,
            plan,
        })
    }
}

/// Where templates are valid: an exporter and one of its domains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scope {
    /// The exporter's address (the source address of its datagrams).
    pub exporter: IpAddr,
    /// Source id (v9) or observation domain id (IPFIX), with the version in
    /// the upper bits of the key so that v9 and IPFIX never share templates.
    pub domain: u64,
}

impl Scope {
    /// The scope of `domain` of `exporter` for export `version` (9 or 10).
    pub fn new(exporter: IpAddr, version: u16, domain: u32) -> Scope {
        Scope {
            exporter,
            domain: (u64::from(version) << 32) | u64::from(domain),
        }
    }

    /// The source id or observation domain id.
    pub fn domain_id(&self) -> u32 {
        self.domain as u32
    }
}

/// How a message's times are resolved: what its header said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// Export time of the message, Unix nanoseconds.
    pub export_ns: Timestamp,
    /// The exporter's uptime at export (v5 and v9 headers), milliseconds.
    pub uptime_ms: Option<u32>,
}

/// A data set waiting for its template.
#[derive(Debug)]
pub struct Pending {
    /// Its scope.
    pub scope: Scope,
    /// Its template id.
    pub template: u16,
    /// The clock of the message it came in.
    pub clock: Clock,
    /// The set's records (without the set header).
    pub data: Vec<u8>,
}

/// What the template cache holds at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Templates over all exporters.
    pub templates: usize,
    /// Bytes of data sets held for their template.
    pub pending_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            templates: 65_536,
            pending_bytes: 4 << 20,
        }
    }
}

/// The templates known, and the data sets waiting for one.
#[derive(Debug, Default)]
pub struct TemplateCache {
    limits: Limits,
    map: foldhash::HashMap<(Scope, u16), Arc<Template>>,
    pending: VecDeque<Pending>,
    pending_bytes: usize,
}

impl TemplateCache {
    /// An empty cache bounded by `limits`.
    pub fn new(limits: Limits) -> TemplateCache {
        TemplateCache {
            limits,
            ..TemplateCache::default()
        }
    }

    /// The template `id` of `scope`.
    #[inline]
    pub fn get(&self, scope: Scope, id: u16) -> Option<&Arc<Template>> {
        self.map.get(&(scope, id))
    }

    /// Defines (or refreshes, possibly with another layout) template `id` of
    /// `scope`. Returns false when the cache is full and the template is new
    /// (it is not kept).
    pub fn define(&mut self, scope: Scope, id: u16, template: Template) -> bool {
        if let Some(old) = self.map.get_mut(&(scope, id)) {
            if **old != template {
                *old = Arc::new(template);
            }
            return true;
        }
        if self.map.len() >= self.limits.templates {
            return false;
        }
        self.map.insert((scope, id), Arc::new(template));
        true
    }

    /// Withdraws template `id` of `scope`; `None` withdraws every template
    /// of the scope (IPFIX withdrawal of all data or options templates).
    pub fn withdraw(&mut self, scope: Scope, id: Option<u16>, options: bool) {
        match id {
            Some(id) => {
                self.map.remove(&(scope, id));
            }
            None => self
                .map
                .retain(|(s, _), t| *s != scope || t.options != options),
        }
    }

    /// Templates known.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no template is known.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Holds a data set whose template is unknown. Returns the sets pushed
    /// out to make room (oldest first): they are lost.
    pub fn hold(&mut self, pending: Pending) -> Vec<Pending> {
        let mut evicted = Vec::new();
        if pending.data.len() > self.limits.pending_bytes {
            evicted.push(pending);
            return evicted;
        }
        self.pending_bytes += pending.data.len();
        self.pending.push_back(pending);
        while self.pending_bytes > self.limits.pending_bytes {
            match self.pending.pop_front() {
                Some(p) => {
                    self.pending_bytes -= p.data.len();
                    evicted.push(p);
                }
                None => break,
            }
        }
        evicted
    }

    /// Takes the held sets of template `id` of `scope`, oldest first.
    pub fn take_pending(&mut self, scope: Scope, id: u16) -> Vec<Pending> {
        if self.pending.is_empty() {
            return Vec::new();
        }
        let mut taken = Vec::new();
        let mut kept = VecDeque::with_capacity(self.pending.len());
        for p in self.pending.drain(..) {
            if p.scope == scope && p.template == id {
                self.pending_bytes -= p.data.len();
                taken.push(p);
            } else {
                kept.push_back(p);
            }
        }
        self.pending = kept;
        taken
    }

    /// Takes every held set whose message was exported before `before`
    /// (export time, nanoseconds): their template did not come in time.
    pub fn expire(&mut self, before: Timestamp) -> Vec<Pending> {
        let mut expired = Vec::new();
        while self
            .pending
            .front()
            .is_some_and(|p| p.clock.export_ns < before)
        {
            if let Some(p) = self.pending.pop_front() {
                self.pending_bytes -= p.data.len();
                expired.push(p);
            }
        }
        expired
    }

    /// Takes every held set (the end of input).
    pub fn drain_pending(&mut self) -> Vec<Pending> {
        self.pending_bytes = 0;
        self.pending.drain(..).collect()
    }

    /// Data sets held now.
    pub fn pending_sets(&self) -> usize {
        self.pending.len()
    }
}
