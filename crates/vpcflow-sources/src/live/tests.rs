use super::*;

#[test]
fn spec_defaults_and_patterns() {
    let s = CaptureSpec::new("eth0");
    assert!(!s.is_pattern());
    assert!(!s.promisc);
    assert_eq!(s.snaplen, DEFAULT_SNAPLEN);
    assert!(CaptureSpec::new("veth*").is_pattern());
    assert!(CaptureSpec::new("tap?").is_pattern());
}

#[test]
fn opening_a_missing_interface_names_it() {
    let mut src = LiveSource::new(
        vec![CaptureSpec::new("no-such-if0")],
        crate::FragmentPolicy::Zero,
    );
    let err = src
        .start(&mut vpcflow_testkit::RecordingConsumer::default())
        .unwrap_err();
    assert!(err.contains("capture.interface[0] no-such-if0"), "{err}");
}
