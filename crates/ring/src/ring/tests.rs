use super::*;

fn servers(n: usize) -> Vec<Server> {
    (0..n)
        .map(|i| Server::new(format!("server-{i}"), 1))
        .collect()
}

fn ring(n: usize, distribution: Distribution) -> Ring {
    Ring::builder(servers(n))
        .distribution(distribution)
        .build()
        .unwrap()
}

#[test]
fn build_errors() {
    assert_eq!(
        Ring::builder(Vec::new()).build().unwrap_err(),
        BuildError::NoServers
    );
    assert_eq!(
        Ring::builder(vec![Server::new("a", 0)])
            .build()
            .unwrap_err(),
        BuildError::ZeroWeight(0)
    );
    assert_eq!(
        Ring::builder(servers(2))
            .live(&[false, false])
            .build()
            .unwrap_err(),
        BuildError::NoLiveServers
    );
    assert_eq!(
        Ring::builder(servers(2)).live(&[true]).build().unwrap_err(),
        BuildError::LiveMaskLength
    );
    assert_eq!(
        Ring::builder(servers(2))
            .hash_tag(b"{")
            .build()
            .unwrap_err(),
        BuildError::HashTag
    );
    assert_eq!(
        Ring::builder(vec![Server::new("a", 1), Server::new("a", 2)])
            .build()
            .unwrap_err(),
        BuildError::DuplicateIdentity("a".into())
    );
    let weighted = vec![Server::new("a", 1), Server::new("b", 2)];
    assert_eq!(
        Ring::builder(weighted)
            .distribution(Distribution::Jump)
            .build()
            .unwrap_err(),
        BuildError::WeightsUnsupported
    );
}

#[test]
fn hash_tag_rules() {
    let ring = Ring::builder(servers(3)).hash_tag(b"{}").build().unwrap();
    assert_eq!(ring.hashed_part(b"a{b}c"), b"b");
    assert_eq!(ring.hashed_part(b"a{bc}{d}"), b"bc");
    // Empty or unclosed tags hash the whole key.
    assert_eq!(ring.hashed_part(b"a{}c"), b"a{}c");
    assert_eq!(ring.hashed_part(b"a{bc"), b"a{bc");
    assert_eq!(ring.hashed_part(b"a}b{"), b"a}b{");
    // The closing byte is looked for after the first opening byte only.
    assert_eq!(ring.hashed_part(b"}{x}"), b"x");
}

#[test]
fn single_server_shortcut() {
    for d in Distribution::ALL {
        let ring = ring(1, d);
        assert_eq!(ring.node_for(b"anything"), 0);
        assert_eq!(
            ring.replicas_for(b"anything", 3).collect::<Vec<_>>(),
            vec![0]
        );
    }
}

#[test]
fn twenty_five_servers_get_156_points_each() {
    let ring = ring(25, Distribution::Ketama);
    assert_eq!(ring.continuum_len(), 25 * 156);
    assert_eq!(self::ring(5, Distribution::Ketama).continuum_len(), 5 * 160);
}

#[test]
fn replicas_are_distinct_and_start_with_the_primary() {
    for d in Distribution::ALL {
        let ring = ring(7, d);
        for k in 0..200u32 {
            let key = format!("key:{k}");
            let all: Vec<usize> = ring.replicas_for(key.as_bytes(), 10).collect();
            assert_eq!(all.len(), 7, "{d}");
            let mut sorted = all.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), 7, "{d}: {all:?}");
            if d != Distribution::Random {
                assert_eq!(all[0], ring.node_for(key.as_bytes()), "{d}");
                let again: Vec<usize> = ring.replicas_for(key.as_bytes(), 3).collect();
                assert_eq!(again, all[..3], "{d}: stable order");
            }
        }
    }
}

#[test]
fn walking_past_dead_servers() {
    for d in [
        Distribution::Ketama,
        Distribution::Modula,
        Distribution::Jump,
        Distribution::Rendezvous,
    ] {
        let ring = ring(5, d);
        let mut live = vec![true; 5];
        live[2] = false;
        for k in 0..500u32 {
            let key = format!("k{k}");
            let primary = ring.node_for(key.as_bytes());
            let chosen = ring.node_for_live(key.as_bytes(), &live).unwrap();
            if primary != 2 {
                assert_eq!(chosen, primary, "{d}: live keys stay");
            } else {
                assert_ne!(chosen, 2);
            }
        }
        assert_eq!(ring.node_for_live(b"k", &[false; 5]), None);
    }
}

#[test]
fn live_subset_builds_only_over_live_servers() {
    for d in Distribution::ALL {
        let ring = Ring::builder(servers(4))
            .distribution(d)
            .live(&[true, false, true, true])
            .build()
            .unwrap();
        let mut members = ring.members().to_vec();
        members.sort_unstable();
        assert_eq!(members, [0, 2, 3]);
        for k in 0..300u32 {
            assert_ne!(ring.node_for(format!("{k}").as_bytes()), 1, "{d}");
        }
    }
}

#[test]
fn weights_shift_load() {
    let servers = vec![Server::new("a", 1), Server::new("b", 3)];
    for d in [
        Distribution::Ketama,
        Distribution::Modula,
        Distribution::Rendezvous,
    ] {
        let ring = Ring::builder(servers.clone())
            .distribution(d)
            .build()
            .unwrap();
        let on_b = (0..4000u32)
            .filter(|k| ring.node_for(format!("key-{k}").as_bytes()) == 1)
            .count();
        assert!(
            (2700..3300).contains(&on_b),
            "{d}: {on_b} of 4000 on the weight-3 server"
        );
    }
}

#[test]
fn random_spreads() {
    let ring = ring(4, Distribution::Random);
    let mut counts = [0usize; 4];
    for _ in 0..4000 {
        counts[ring.node_for(b"same key")] += 1;
    }
    assert!(counts.iter().all(|&c| c > 800), "{counts:?}");
}

#[test]
fn jump_reference_values() {
    // From the paper's reference implementation: the result never exceeds the
    // bucket count and growing by one bucket moves about 1/n of the keys.
    assert_eq!(jump(0, 1), 0);
    for key in 0..1000u64 {
        assert!(jump(key, 10) < 10);
    }
    let moved = (0..10_000u64)
        .filter(|&k| jump(k, 10) != jump(k, 11))
        .count();
    assert!((600..1200).contains(&moved), "{moved}");
    assert!((0..10_000u64).all(|k| jump(k, 11) == jump(k, 10) || jump(k, 11) == 10));
}

#[test]
fn magent_is_djb_modulo() {
    let ring = Ring::magent(servers(3)).unwrap();
    for k in 0..100u32 {
        let key = format!("key{k}");
        let want = Hash::Djb.hash32(key.as_bytes()) as usize % 3;
        assert_eq!(ring.node_for(key.as_bytes()), want);
    }
}

#[test]
fn names_round_trip() {
    for d in Distribution::ALL {
        assert_eq!(d.name().parse::<Distribution>(), Ok(d));
    }
}

#[test]
fn twemproxy_orders_servers_by_name_length_then_bytes() {
    let servers = vec![
        Server::new("bb", 1),
        Server::new("c", 1),
        Server::new("ab", 1),
    ];
    let ring = Ring::builder(servers.clone())
        .distribution(Distribution::Modula)
        .build()
        .unwrap();
    assert_eq!(ring.members(), &[1, 2, 0]);
    let ring = Ring::builder(servers)
        .distribution(Distribution::Jump)
        .build()
        .unwrap();
    assert_eq!(ring.members(), &[0, 1, 2]);
}
