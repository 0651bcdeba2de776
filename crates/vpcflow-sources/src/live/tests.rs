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
    struct Sink;
    impl vpcflow_core::FlowConsumer for Sink {
        fn interface(&mut self, _: &str) -> vpcflow_core::InterfaceIndex {
            vpcflow_core::InterfaceIndex(0)
        }
        fn update(&mut self, _: &vpcflow_core::FlowUpdate) {}
        fn loss(&mut self, _: &vpcflow_core::LossEvent) {}
    }
    let mut src = LiveSource::new(
        vec![CaptureSpec::new("no-such-if0")],
        crate::FragmentPolicy::Zero,
    );
    let err = src.start(&mut Sink).unwrap_err();
    assert!(err.contains("capture.interface[0] no-such-if0"), "{err}");
}
