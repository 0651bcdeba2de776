//! `[[interface]]`: the metadata of each capture interface. The file is read
//! straight into [`InterfaceConfig`] (vpcflow-core's one definition of the
//! interface fields); what the types cannot say is checked here.

use std::collections::HashMap;

use anyhow::{bail, Result};
use vpcflow_core::interface::InterfaceConfig;
use vpcflow_core::name::is_region_code;

use super::validate::{check_id, check_token};

/// Checks every `[[interface]]` and indexes them by name (a name given twice
/// is an error).
pub fn by_name(interfaces: &[InterfaceConfig]) -> Result<HashMap<String, InterfaceConfig>> {
    let mut out = HashMap::new();
    for (i, interface) in interfaces.iter().enumerate() {
        if interface.name.is_empty() {
            bail!("interface[{i}].name: must not be empty");
        }
        check(interface, i)?;
        if out
            .insert(interface.name.clone(), interface.clone())
            .is_some()
        {
            bail!(
                "interface[{i}].name: {:?} is configured twice",
                interface.name
            );
        }
    }
    Ok(out)
}

fn check(c: &InterfaceConfig, i: usize) -> Result<()> {
    let key = |k: &str| format!("interface[{i}] ({}).{k}", c.name);
    if let Some(a) = &c.account_id {
        let twelve_digits = a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit());
        if !twelve_digits && a != "unknown" {
            bail!(
                "{}: {a:?} must be 12 digits or \"unknown\"",
                key("account_id")
            );
        }
    }
    check_id(&key("interface_id"), &c.interface_id, "eni-")?;
    check_id(&key("vpc_id"), &c.vpc_id, "vpc-")?;
    check_id(&key("subnet_id"), &c.subnet_id, "subnet-")?;
    if c.instance_id.as_deref() != Some("-") {
        check_id(&key("instance_id"), &c.instance_id, "i-")?;
    }
    if let Some(r) = &c.region {
        if !is_region_code(r) {
            bail!(
                "{}: {r:?} is not a Region code such as us-east-1",
                key("region")
            );
        }
    }
    check_token(&key("az_id"), c.az_id.as_deref())?;
    if let Some(t) = &c.sublocation_type {
        if !["wavelength", "outpost", "localzone"].contains(&t.as_str()) {
            bail!(
                "{}: {t:?} must be wavelength, outpost or localzone",
                key("sublocation_type")
            );
        }
    }
    check_token(&key("sublocation_id"), c.sublocation_id.as_deref())?;
    if c.sublocation_type.is_some() != c.sublocation_id.is_some() {
        bail!(
            "{}: sublocation_type and sublocation_id go together",
            key("sublocation_type")
        );
    }
    for net in &c.networks {
        if net.trunc() != *net {
            bail!(
                "{}: \"{net}\" has host bits set (the network is {})",
                key("networks"),
                net.trunc()
            );
        }
    }
    if let Some(ecs) = &c.ecs {
        for (k, v) in ecs.values() {
            check_token(&key(&format!("ecs.{k}")), v)?;
        }
    }
    Ok(())
}
