use super::*;
use proptest::prelude::*;

fn sample() -> LiftShareMessage {
    LiftShareMessage {
        server: ShareServer::Helper,
        bucket: LiftBucket::Holdout,
        dimension: 2,
        fingerprint: [1, 2, 3, 4, 5, 6, 7, 8],
        report_id: [9; 16],
        share: vec![1, u64::MAX, 3, 4, 5],
    }
}

#[test]
fn the_layout_is_the_documented_one() {
    let bytes = sample().encode();
    assert_eq!(bytes.len(), 36 + 8 * 5);
    assert_eq!(&bytes[0..4], b"SPLS");
    assert_eq!(&bytes[4..8], &[1, 1, 1, 0], "version, helper, holdout, reserved");
    assert_eq!(&bytes[8..12], &[2, 0, 5, 0], "D = 2, L = 2 + 3");
    assert_eq!(&bytes[12..20], &[1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(&bytes[20..36], &[9; 16]);
    assert_eq!(&bytes[36..44], &1_u64.to_le_bytes());
    assert_eq!(&bytes[44..52], &[0xff; 8]);
    assert_eq!(LiftShareMessage::decode(&bytes), Ok(sample()));
}

#[test]
fn each_malformation_has_its_error() {
    let good = sample().encode();
    assert!(matches!(LiftShareMessage::decode(&good[..30]), Err(SyncError::Truncated { .. })));
    let mut magic = good.clone();
    magic[0] = b'X';
    assert_eq!(LiftShareMessage::decode(&magic), Err(SyncError::BadMagic));
    let mut version = good.clone();
    version[4] = 2;
    assert!(matches!(LiftShareMessage::decode(&version), Err(SyncError::UnsupportedFormat { got: 2, .. })));
    for (offset, field) in [(5, "server"), (6, "bucket"), (7, "reserved byte"), (10, "share length")] {
        let mut bad = good.clone();
        bad[offset] = 7;
        assert!(
            matches!(LiftShareMessage::decode(&bad), Err(SyncError::BadField { field: f, .. }) if f == field),
            "{field}"
        );
    }
    let mut long = good.clone();
    long.extend_from_slice(&[0; 8]);
    assert!(matches!(LiftShareMessage::decode(&long), Err(SyncError::LengthMismatch { .. })));
    let mut zero = good;
    zero[8] = 0;
    assert!(matches!(LiftShareMessage::decode(&zero), Err(SyncError::BadDimension { .. })));
}

#[test]
fn a_pair_splits_into_its_two_bodies() {
    let leader = LiftShareMessage { server: ShareServer::Leader, ..sample() }.encode();
    let helper = sample().encode();
    let blob = [leader.clone(), helper.clone()].concat();
    assert_eq!(SharePair::parse(&blob), Some(SharePair { leader: &leader, helper: &helper }));
    assert_eq!(SharePair::parse(&blob[..blob.len() - 1]), None, "cut off");
    assert_eq!(SharePair::parse(&leader), None, "one body is not a pair");
    assert_eq!(SharePair::parse(b"SPLR plain lift report"), None);
}

proptest! {
    #[test]
    fn any_share_round_trips(helper in any::<bool>(), dimension in 1_usize..20, id in any::<[u8; 16]>(), seed in any::<u64>()) {
        let message = LiftShareMessage {
            server: if helper { ShareServer::Helper } else { ShareServer::Leader },
            bucket: LiftBucket::Personalized,
            dimension,
            fingerprint: [3; 8],
            report_id: id,
            share: (0..shared_length(dimension) as u64).map(|i| i.wrapping_mul(seed)).collect(),
        };
        prop_assert_eq!(LiftShareMessage::decode(&message.encode()), Ok(message));
    }

    #[test]
    fn any_bytes_decode_or_error_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = LiftShareMessage::decode(&bytes);
        let _ = SharePair::parse(&bytes);
    }
}
