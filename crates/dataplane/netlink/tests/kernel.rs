//! Against the real kernel, each test in namespaces of its own.

use std::fs::File;
use std::os::fd::AsFd;

use podnet_netlink::{BridgeSpec, LinkChange, Mac, Netlink, RouteSpec, VethSpec};
use podnet_test_util::Netns;

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn kernel_bridge_veth_into_other_netns_with_hairpin() {
    let host = Netns::new("nl-host");
    let pod = Netns::new("nl-pod");
    block_on(async {
        let h = Netlink::open(Some(host.path())).unwrap();
        let p = Netlink::open(Some(pod.path())).unwrap();
        let mac = Mac::local_from([1, 2, 3, 4, 5, 6]);
        let br = h
            .ensure_bridge(&BridgeSpec {
                name: "br-t",
                mtu: Some(1400),
                promisc: true,
                mac: Some(mac),
            })
            .await
            .unwrap();
        assert_eq!(br.kind.as_deref(), Some("bridge"));
        assert!(br.up && br.promisc);
        assert_eq!(br.mtu, 1400);
        assert_eq!(br.mac.to_string(), "02:02:03:04:05:06");
        // Reused, not recreated.
        let reuse = BridgeSpec {
            name: "br-t",
            ..Default::default()
        };
        assert_eq!(h.ensure_bridge(&reuse).await.unwrap().index, br.index);

        let pod_ns = File::open(pod.path()).unwrap();
        h.add_veth(&VethSpec {
            name: "vethtest0",
            peer_name: "eth0",
            peer_netns: Some(pod_ns.as_fd()),
            mtu: Some(1400),
            master: Some(br.index),
        })
        .await
        .unwrap();
        let port = h.link("vethtest0").await.unwrap();
        assert_eq!(port.master, Some(br.index));
        assert_eq!(port.hairpin, Some(false));
        h.set_hairpin(&port, true).await.unwrap();
        assert_eq!(h.link("vethtest0").await.unwrap().hairpin, Some(true));

        let eth0 = p.link("eth0").await.unwrap();
        assert!(!eth0.up, "the peer is left for its namespace to bring up");
        p.change_link(
            &eth0,
            &LinkChange {
                up: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert!(p.link("eth0").await.unwrap().up);
        assert_eq!(eth0.mtu, 1400);
        assert!(
            h.link_by_name("eth0").await.unwrap().is_none(),
            "peer must not be in the host"
        );

        // Addresses (IPv6 without DAD) and routes inside the pod.
        p.add_address(eth0.index, "10.9.0.2/24".parse().unwrap())
            .await
            .unwrap();
        p.add_address(eth0.index, "fd09::2/64".parse().unwrap())
            .await
            .unwrap();
        let dup = p
            .add_address(eth0.index, "10.9.0.2/24".parse().unwrap())
            .await;
        assert!(dup.unwrap_err().is_exists());
        let addrs = p.addresses(Some(eth0.index)).await.unwrap();
        let v6 = addrs
            .iter()
            .find(|a| a.addr.to_string() == "fd09::2/64")
            .unwrap();
        assert!(v6.nodad && !v6.tentative, "{v6:?}");
        assert!(addrs.iter().any(|a| a.addr.to_string() == "10.9.0.2/24"));
        p.add_route(&RouteSpec {
            gw: Some("10.9.0.1".parse().unwrap()),
            oif: Some(eth0.index),
            ..Default::default()
        })
        .await
        .unwrap();
        p.replace_route(&RouteSpec {
            dst: Some("10.10.0.0/16".parse().unwrap()),
            gw: Some("10.9.0.1".parse().unwrap()),
            oif: Some(eth0.index),
            mtu: Some(1300),
            ..Default::default()
        })
        .await
        .unwrap();
        let shown = pod.exec(&["ip", "route"]);
        assert!(shown.contains("default via 10.9.0.1 dev eth0"), "{shown}");
        assert!(
            shown.contains("10.10.0.0/16 via 10.9.0.1 dev eth0"),
            "{shown}"
        );
        let routes = p.routes().await.unwrap();
        let r = routes
            .iter()
            .find(|r| r.dst.to_string() == "10.10.0.0/16")
            .unwrap();
        assert_eq!(r.mtu, Some(1300));
        p.del_route(&RouteSpec {
            dst: Some("10.10.0.0/16".parse().unwrap()),
            ..Default::default()
        })
        .await
        .unwrap();
        assert!(!pod.exec(&["ip", "route"]).contains("10.10.0.0/16"));

        p.change_link(
            &eth0,
            &LinkChange {
                mtu: Some(1280),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(p.link("eth0").await.unwrap().mtu, 1280);

        // Deleting the host end takes the pod end with it; a second delete is not an error.
        assert!(h.delete_link("vethtest0").await.unwrap());
        assert!(!h.delete_link("vethtest0").await.unwrap());
        assert!(p.link_by_name("eth0").await.unwrap().is_none());
    });
}

#[test]
fn kernel_errors_name_the_object_and_the_netns() {
    let host = Netns::new("nl-err");
    block_on(async {
        let h = Netlink::open(Some(host.path())).unwrap();
        let err = h.link("nosuch0").await.unwrap_err();
        assert!(err.to_string().contains("\"nosuch0\""), "{err}");
        assert!(err.to_string().contains(host.name()), "{err}");
        let err = h
            .ensure_bridge(&BridgeSpec {
                name: "lo",
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert!(err.to_string().contains("not a bridge"), "{err}");
        let err = h
            .add_address(9999, "10.1.1.1/24".parse().unwrap())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("10.1.1.1/24"), "{err}");
        assert!(err.errno().is_some());
    });
}
