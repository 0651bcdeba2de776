//! Block Public Access: public peers rejected with reason `BPA`.

use super::*;

fn bpa_policy(mode: BpaMode) -> Policy {
    Policy {
        block_public_access: BlockPublicAccess {
            mode,
            exclusions: vec!["eth1".into()],
        },
        ..Policy::default()
    }
}

#[test]
fn bpa_bidirectional_rejects_public_peers_with_reason() {
    let mut e = engine(bpa_policy(BpaMode::Bidirectional));
    let from_public = tcp(("8.8.8.8", 40000), (ME, 80), 1);
    let to_public = tcp((ME, 40000), ("8.8.8.8", 443), 1);
    let to_public6 = tcp((ME6, 40000), ("2600:1f18::1", 443), 1);
    let private = tcp(("10.0.0.5", 40000), (ME, 80), 1);
    assert_eq!(e.decide(&from_public), Action::RejectBpa);
    assert_eq!(e.decide(&to_public), Action::RejectBpa);
    assert_eq!(e.decide(&to_public6), Action::RejectBpa);
    assert_eq!(e.decide(&private), Action::Accept);
    let local6 = tcp(("fd00::5", 1), (ME6, 80), 1);
    assert_eq!(e.decide(&local6), Action::Accept);
    // Excluded interface.
    let on_eth1 = packet(ETH1, ("8.8.8.8", 1), ("10.9.0.1", 80), 6, 1);
    assert_eq!(e.decide(&on_eth1), Action::Accept);
    assert_eq!(Action::RejectBpa.as_str(), "REJECT");
    assert_eq!(Action::RejectBpa.reject_reason(), Some("BPA"));
    assert_eq!(Action::Reject.reject_reason(), None);
}

#[test]
fn bpa_ingress_allows_responses_of_own_connections() {
    let mut e = engine(bpa_policy(BpaMode::Ingress));
    let inbound = tcp(("8.8.8.8", 40000), (ME, 80), 1);
    assert_eq!(e.decide(&inbound), Action::RejectBpa);
    let out = tcp((ME, 40001), ("8.8.8.8", 443), 1);
    let back = tcp(("8.8.8.8", 443), (ME, 40001), 1);
    assert_eq!(e.decide(&out), Action::Accept);
    assert_eq!(e.decide(&back), Action::Accept);
    // Once an inbound packet was blocked, its "response" opens nothing that
    // lets the next inbound packet in.
    let reply_to_blocked = tcp((ME, 80), ("8.8.8.8", 40000), 2);
    assert_eq!(e.decide(&reply_to_blocked), Action::Accept);
    assert_eq!(
        e.decide(&inbound),
        Action::Accept,
        "now a response of eth0's own flow"
    );
}

#[test]
fn bpa_comes_before_groups() {
    let mut p = web_policy();
    p.block_public_access = BlockPublicAccess {
        mode: BpaMode::Bidirectional,
        exclusions: vec![],
    };
    let mut e = engine(p);
    assert_eq!(
        e.decide(&tcp(("8.8.8.8", 40000), (ME, 80), 1)),
        Action::RejectBpa
    );
    assert_eq!(
        e.decide(&tcp(("8.8.8.8", 40000), (ME, 22), 1)),
        Action::RejectBpa
    );
    assert_eq!(
        e.decide(&tcp(("10.0.0.8", 40000), (ME, 22), 1)),
        Action::Reject
    );
}
