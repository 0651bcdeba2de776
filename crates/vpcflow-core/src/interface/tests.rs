use super::*;

fn defaults() -> InterfaceDefaults {
    InterfaceDefaults {
        account_id: "123456789012".into(),
        region: "eu-west-1".into(),
    }
}

#[test]
fn derived_ids_are_stable_and_valid_looking() {
    let a = InterfaceMeta::resolve("eth0", &InterfaceConfig::default(), &defaults());
    let b = InterfaceMeta::resolve("eth0", &InterfaceConfig::default(), &defaults());
    let c = InterfaceMeta::resolve("eth1", &InterfaceConfig::default(), &defaults());
    assert_eq!(a, b);
    assert_ne!(a.interface_id, c.interface_id);
    let re = regex::Regex::new(r"^eni-[0-9a-f]{17}$").unwrap();
    assert!(re.is_match(&a.interface_id), "{}", a.interface_id);
    assert!(regex::Regex::new(r"^vpc-[0-9a-f]{17}$")
        .unwrap()
        .is_match(a.vpc_id.as_deref().unwrap()));
    assert!(regex::Regex::new(r"^subnet-[0-9a-f]{17}$")
        .unwrap()
        .is_match(a.subnet_id.as_deref().unwrap()));
    assert!(regex::Regex::new(r"^i-[0-9a-f]{17}$")
        .unwrap()
        .is_match(a.instance_id.as_deref().unwrap()));
    assert_eq!(a.az_id.as_deref(), Some("euw1-az1"));
    assert_eq!(a.account_id, "123456789012");
}

#[test]
fn overrides_win() {
    let o = InterfaceConfig {
        interface_id: Some("eni-1235b8ca123456789".into()),
        region: Some("ap-southeast-2".into()),
        sublocation_type: Some("outpost".into()),
        sublocation_id: Some("op-1".into()),
        ..Default::default()
    };
    let m = InterfaceMeta::resolve("x", &o, &defaults());
    assert_eq!(m.interface_id, "eni-1235b8ca123456789");
    assert_eq!(m.region, "ap-southeast-2");
    assert_eq!(m.az_id, None, "traffic from a sublocation has no az-id");
    let requester_managed = InterfaceConfig {
        instance_id: Some("-".into()),
        ..Default::default()
    };
    assert_eq!(
        InterfaceMeta::resolve("nat", &requester_managed, &defaults()).instance_id,
        None
    );
}

#[test]
fn region_short_names() {
    assert_eq!(region_short_name("us-east-1"), "use1");
    assert_eq!(region_short_name("ap-southeast-2"), "apse2");
    assert_eq!(region_short_name("us-gov-west-1"), "usgw1");
    assert_eq!(region_short_name("eu-central-1"), "euc1");
    assert_eq!(region_short_name("ap-northeast-1"), "apne1");
}
