//! The Kubernetes recipe (contrib/kubernetes) and the container image
//! (contrib/container/Containerfile), checked without a cluster: every manifest
//! parses, has its kind's fields, and agrees with the others (selectors, ports,
//! probes, the proxy's DNS name for the memkeepd Service); the command lines are
//! the real binaries' (memkeepd started with the StatefulSet's flags, as its
//! entrypoint computes them for each pod, and stopped; the proxy's configuration
//! checked by `memkeep-proxy -t`); the Containerfile ships the binaries the
//! manifests run.

#[path = "kubernetes_recipe/objects.rs"]
mod objects;
mod support;
#[path = "kubernetes_recipe/yaml.rs"]
mod yaml;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use objects::{container_ports, manifests, one, port_number, Object};
use support::{free_port, spawn_listening, wait_for};
use yaml::Yaml;

/// Generous bound on anything these tests wait for.
const LIMIT: Duration = Duration::from_secs(20);

fn contrib() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../contrib")
}

#[test]
fn every_object_has_its_kinds_api_version_and_required_fields() {
    let objects = manifests();
    let namespace = one(&objects, "Namespace").name();
    for object in &objects {
        let (kind, doc) = (object.kind(), &object.doc);
        let expected = match kind {
            "Namespace" | "Service" | "ConfigMap" => "v1",
            "StatefulSet" | "Deployment" => "apps/v1",
            "PodDisruptionBudget" => "policy/v1",
            other => panic!("{}: unexpected kind {other}", object.file),
        };
        assert_eq!(doc.text("apiVersion"), expected, "{}", object.describe());
        assert!(!object.name().is_empty());
        if kind != "Namespace" {
            assert_eq!(
                doc.text("metadata.namespace"),
                namespace,
                "{}",
                object.describe()
            );
        }
        match kind {
            "Service" => {
                assert!(
                    !doc.pairs("spec.selector").is_empty(),
                    "{}",
                    object.describe()
                );
                assert!(!doc.items("spec.ports").is_empty());
                for port in doc.items("spec.ports") {
                    assert!(!port.text("name").is_empty());
                    port.text("port").parse::<u16>().unwrap();
                }
            }
            "StatefulSet" | "Deployment" => {
                assert!(!doc.pairs("spec.selector.matchLabels").is_empty());
                let containers = doc.items("spec.template.spec.containers");
                assert!(!containers.is_empty(), "{}", object.describe());
                for container in containers {
                    assert!(!container.text("name").is_empty());
                    assert!(!container.text("image").is_empty());
                    assert!(!container.items("command").is_empty());
                }
                if kind == "StatefulSet" {
                    assert!(!doc.text("spec.serviceName").is_empty());
                    let replicas: u32 = doc.text("spec.replicas").parse().unwrap();
                    assert_eq!(replicas % 2, 0, "memkeepd pods pair up: an even count");
                }
            }
            "PodDisruptionBudget" => {
                let budgets = ["spec.minAvailable", "spec.maxUnavailable"]
                    .iter()
                    .filter(|p| doc.at(p).is_some())
                    .count();
                assert_eq!(
                    budgets,
                    1,
                    "{}: one of minAvailable, maxUnavailable",
                    object.describe()
                );
                assert!(!doc.pairs("spec.selector.matchLabels").is_empty());
            }
            "ConfigMap" => assert!(!doc.pairs("data").is_empty()),
            _ => {}
        }
    }
    // kustomization.yaml applies every manifest file, and only those.
    let kustomization =
        std::fs::read_to_string(contrib().join("kubernetes/kustomization.yaml")).unwrap();
    let listed: BTreeSet<String> = yaml::documents(&kustomization)[0]
        .items("resources")
        .iter()
        .map(|r| match r {
            Yaml::Scalar(s) => s.clone(),
            other => panic!("resources: {other:?}"),
        })
        .collect();
    let files: BTreeSet<String> = objects.iter().map(|o| o.file.clone()).collect();
    assert_eq!(listed, files);
}

#[test]
fn selectors_pick_the_pods_they_are_for() {
    let objects = manifests();
    let workloads: Vec<&Object> = objects
        .iter()
        .filter(|o| matches!(o.kind(), "StatefulSet" | "Deployment"))
        .collect();
    for workload in &workloads {
        let labels = workload.doc.pairs("spec.template.metadata.labels");
        for pair in workload.doc.pairs("spec.selector.matchLabels") {
            assert!(
                labels.contains(&pair),
                "{}: selector {pair:?}",
                workload.describe()
            );
        }
    }
    // Each Service and budget selects the pods of exactly one workload.
    for object in &objects {
        let selector = match object.kind() {
            "Service" => object.doc.pairs("spec.selector"),
            "PodDisruptionBudget" => object.doc.pairs("spec.selector.matchLabels"),
            _ => continue,
        };
        let picked: Vec<&&Object> = workloads
            .iter()
            .filter(|w| {
                let labels = w.doc.pairs("spec.template.metadata.labels");
                selector.iter().all(|pair| labels.contains(pair))
            })
            .collect();
        assert_eq!(
            picked.len(),
            1,
            "{} selects {} workloads",
            object.describe(),
            picked.len()
        );
        // A Service's target ports are the picked pods' container ports.
        let ports = container_ports(picked[0]);
        for port in object.doc.items("spec.ports") {
            let target = port.text("targetPort");
            assert!(
                ports
                    .iter()
                    .any(|(name, number)| name == target || number.to_string() == target),
                "{}: targetPort {target} is no container port",
                object.describe()
            );
        }
    }
    // The StatefulSet's Service is headless (per-pod DNS names) and keeps warming
    // pods' records, so a peer can reach them to send its copy.
    let set = one(&objects, "StatefulSet");
    let service = objects
        .iter()
        .find(|o| o.kind() == "Service" && o.name() == set.doc.text("spec.serviceName"))
        .expect("the StatefulSet's serviceName is a Service of the recipe");
    assert_eq!(service.doc.text("spec.clusterIP"), "None");
    assert_eq!(service.doc.text("spec.publishNotReadyAddresses"), "true");
}

#[test]
fn probes_and_scrape_annotations_name_container_ports() {
    let objects = manifests();
    let image_user = containerfile_user();
    for workload in objects
        .iter()
        .filter(|o| matches!(o.kind(), "StatefulSet" | "Deployment"))
    {
        let what = workload.describe();
        let pod = workload.doc.at("spec.template").unwrap();
        let ports = container_ports(workload);
        let annotations = pod.pairs("metadata.annotations");
        let annotation = |key: &str| {
            annotations
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| panic!("{what}: no {key} annotation"))
        };
        assert_eq!(annotation("prometheus.io/scrape"), "true");
        assert_eq!(annotation("prometheus.io/path"), "/metrics");
        let scraped: u16 = annotation("prometheus.io/port").parse().unwrap();
        for container in pod.items("spec.containers") {
            for probe in ["readinessProbe", "livenessProbe"] {
                let port = port_number(&ports, container.text(&format!("{probe}.httpGet.port")))
                    .unwrap_or_else(|| panic!("{what}: {probe} names no container port"));
                // Probes and Prometheus both go to the admin listener.
                assert_eq!(port, scraped, "{what}: {probe}");
            }
            assert_eq!(container.text("readinessProbe.httpGet.path"), "/healthz");
            for resource in [
                "requests.cpu",
                "requests.memory",
                "limits.cpu",
                "limits.memory",
            ] {
                assert!(
                    container.at(&format!("resources.{resource}")).is_some(),
                    "{what}: {resource}"
                );
            }
            assert_eq!(
                container.text("securityContext.allowPrivilegeEscalation"),
                "false"
            );
            // Every mount is a volume of the pod or a claim of the StatefulSet.
            for mount in container.items("volumeMounts") {
                let name = mount.text("name");
                let volumes = pod.items("spec.volumes").iter();
                let claims = workload.doc.items("spec.volumeClaimTemplates").iter();
                assert!(
                    volumes
                        .map(|v| v.text("name"))
                        .chain(claims.map(|c| c.text("metadata.name")))
                        .any(|n| n == name),
                    "{what}: volume {name}"
                );
            }
        }
        assert_eq!(pod.text("spec.securityContext.runAsNonRoot"), "true");
        assert_eq!(
            pod.text("spec.securityContext.runAsUser"),
            image_user,
            "{what}: the image's user"
        );
        for volume in pod.items("spec.volumes") {
            if let Some(Yaml::Scalar(map)) = volume.at("configMap.name") {
                assert!(objects
                    .iter()
                    .any(|o| o.kind() == "ConfigMap" && o.name() == map));
            }
        }
        assert!(
            pod.text("spec.terminationGracePeriodSeconds")
                .parse::<u32>()
                .unwrap()
                >= 30
        );
    }
}

/// The proxy finds the memkeepd pods through the SRV records of the StatefulSet's
/// headless Service: `_<port name>._tcp.<service>.<namespace>.svc.cluster.local`.
#[test]
fn the_proxy_discovers_the_statefulsets_pods_by_srv() {
    let objects = manifests();
    let set = one(&objects, "StatefulSet");
    let service = set.doc.text("spec.serviceName");
    let namespace = set.doc.text("metadata.namespace");
    let route = proxy_route(&objects);
    let table: toml::Table = route.parse().unwrap();
    let servers: Vec<&str> = table["pools"]
        .as_table()
        .unwrap()
        .values()
        .flat_map(|pool| pool["servers"].as_array().unwrap())
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(
        servers,
        [format!(
            "dns+srv://_memcache._tcp.{service}.{namespace}.svc.cluster.local"
        )]
    );
    let headless = objects
        .iter()
        .find(|o| o.kind() == "Service" && o.name() == service)
        .unwrap();
    assert!(headless
        .doc
        .items("spec.ports")
        .iter()
        .any(|p| p.text("name") == "memcache"));
    // The proxy listens on its container's memcache port.
    let proxy = one(&objects, "Deployment");
    let memcache = port_number(&container_ports(proxy), "memcache").unwrap();
    let listen = table["listeners"][0]["listen"].as_str().unwrap();
    assert_eq!(listen, format!("0.0.0.0:{memcache}"));
}

#[test]
fn memkeep_proxy_accepts_its_command_line_and_configmap() {
    let objects = manifests();
    let proxy = one(&objects, "Deployment");
    let container = &proxy.doc.items("spec.template.spec.containers")[0];
    let mount = container.text("volumeMounts.0.mountPath");
    let dir = scratch_dir("proxy");
    std::fs::write(dir.join("route.toml"), proxy_route(&objects)).unwrap();
    let words = scalars(container.items("command"));
    assert_eq!(words[0], "memkeep-proxy");
    let args: Vec<String> = words[1..]
        .iter()
        .map(|w| w.replace(mount, dir.to_str().unwrap()))
        .collect();
    assert!(
        args.iter().any(|a| a.starts_with(dir.to_str().unwrap())),
        "the config is read from the ConfigMap's mount"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_memkeep-proxy"))
        .args(&args)
        .arg("-t")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "memkeep-proxy {args:?} -t: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn each_pod_dials_its_pair_by_its_stable_dns_name() {
    let objects = manifests();
    let set = one(&objects, "StatefulSet");
    let ports = container_ports(set);
    for ordinal in 0..6u32 {
        let args = entrypoint_args(set, ordinal);
        let flag = |name: &str| {
            let at = args
                .iter()
                .position(|a| a == name)
                .unwrap_or_else(|| panic!("no {name} in {args:?}"));
            args[at + 1].clone()
        };
        let peer = ordinal ^ 1;
        assert_eq!(
            flag("-x"),
            format!(
                "memkeepd-{peer}.memkeepd.memkeep.svc.cluster.local:{}",
                port_number(&ports, "replication").unwrap()
            )
        );
        assert_eq!(
            flag("-X"),
            port_number(&ports, "replication").unwrap().to_string()
        );
        assert_eq!(
            flag("-p"),
            port_number(&ports, "memcache").unwrap().to_string()
        );
        assert_eq!(flag("-l"), "0.0.0.0");
        assert_eq!(
            flag("--admin"),
            format!("0.0.0.0:{}", port_number(&ports, "admin").unwrap())
        );
        // The snapshot is on the claim that outlives the pod.
        let claim = set.doc.text("spec.volumeClaimTemplates.0.metadata.name");
        let container = &set.doc.items("spec.template.spec.containers")[0];
        let mount = container
            .items("volumeMounts")
            .iter()
            .find(|m| m.text("name") == claim)
            .expect("the claim is mounted");
        assert!(flag("-e").starts_with(&format!("{}/", mount.text("mountPath"))));
    }
}

/// memkeepd-2's command line, as its entrypoint computes it, run by the real
/// memkeepd (ports, addresses and the volume moved to this machine's loopback and
/// a scratch directory; the peer a name that resolves, with nobody there): it
/// serves alone while its peer is away, is healthy, and on SIGTERM drains, writes
/// its snapshot within the pod's grace period and exits 0.
#[test]
fn memkeepd_serves_and_stops_with_the_statefulsets_flags() {
    let objects = manifests();
    let set = one(&objects, "StatefulSet");
    let container = &set.doc.items("spec.template.spec.containers")[0];
    let mount = container.text("volumeMounts.0.mountPath");
    let ports = container_ports(set);
    let args = entrypoint_args(set, 2);
    let dir = scratch_dir("memkeepd");
    let fresh: Vec<(u16, u16)> = ports.iter().map(|(_, p)| (*p, free_port())).collect();
    let moved = |port: u16| fresh.iter().find(|(p, _)| *p == port).unwrap().1;
    let peer_port = free_port();
    let mut local: Vec<String> = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        let previous = if i > 0 { args[i - 1].as_str() } else { "" };
        let arg = match previous {
            "-p" | "-X" => moved(arg.parse().unwrap()).to_string(),
            "-x" => format!("localhost:{peer_port}"),
            "--admin" => {
                let (_, port) = arg.rsplit_once(':').unwrap();
                format!("127.0.0.1:{}", moved(port.parse().unwrap()))
            }
            _ => arg
                .replace("0.0.0.0", "127.0.0.1")
                .replace(mount, dir.to_str().unwrap()),
        };
        local.push(arg);
    }
    let port = moved(port_number(&ports, "memcache").unwrap());
    let admin = moved(port_number(&ports, "admin").unwrap());
    let mut command = Command::new(env!("CARGO_BIN_EXE_memkeepd"));
    command
        .args(&local)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = Reaped(spawn_listening(&mut command, port));
    let healthy = wait_for(LIMIT, || http_status(admin, "/healthz") == Some(200));
    let status = http_status(admin, "/status");
    let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    client.write_all(b"set k8s 0 0 2\r\nok\r\n").unwrap();
    let mut reply = [0u8; 8];
    client.read_exact(&mut reply).unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.0.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let grace: u64 = set
        .doc
        .text("spec.template.spec.terminationGracePeriodSeconds")
        .parse()
        .unwrap();
    let mut exit = None;
    wait_for(Duration::from_secs(grace), || {
        exit = child.0.try_wait().unwrap();
        exit.is_some()
    });
    assert!(healthy, "/healthz did not answer 200 with the peer away");
    assert_eq!(status, Some(200), "the liveness probe's /status");
    assert_eq!(&reply, b"STORED\r\n");
    assert!(
        exit.is_some_and(|s| s.success()),
        "exit on SIGTERM: {exit:?}"
    );
    let snapshot = local[local.iter().position(|a| a == "-e").unwrap() + 1].clone();
    assert!(Path::new(&snapshot).exists(), "no snapshot at {snapshot}");
}

#[test]
fn the_containerfile_ships_the_binaries_the_manifests_run() {
    let file = std::fs::read_to_string(contrib().join("container/Containerfile")).unwrap();
    let cargo: toml::Table =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
            .unwrap()
            .parse()
            .unwrap();
    let bins: Vec<String> = cargo["bin"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(bins.len(), 3);
    let instructions = containerfile_instructions(&file);
    let find = |keyword: &str| -> Vec<&String> {
        instructions
            .iter()
            .filter(|i| i.starts_with(&format!("{keyword} ")))
            .collect()
    };
    let build = find("RUN")
        .into_iter()
        .find(|r| r.contains("cargo build"))
        .expect("a RUN with cargo build");
    assert!(
        build.contains("cargo build --release --locked -p memkeep-bins"),
        "{build}"
    );
    let copy = find("COPY")
        .into_iter()
        .find(|c| c.starts_with("COPY --from=build "))
        .expect("a COPY from the build stage");
    let words: Vec<&str> = copy.split_whitespace().collect();
    assert_eq!(words.last(), Some(&"/usr/local/bin/"));
    for bin in &bins {
        assert!(
            build.contains(&format!("target/release/{bin} ")),
            "the build stage keeps {bin}"
        );
        assert!(
            words.contains(&format!("/out/{bin}").as_str()),
            "the image gets {bin}"
        );
    }
    let entrypoint = find("ENTRYPOINT");
    let entrypoint = entrypoint[0].trim_start_matches("ENTRYPOINT ");
    let entrypoint: Vec<String> = serde_json::from_str(entrypoint).unwrap();
    assert!(bins
        .iter()
        .any(|b| entrypoint[0] == format!("/usr/local/bin/{b}")));
    // The default CMD is flags memkeepd accepts.
    let cmd: Vec<String> = serde_json::from_str(find("CMD")[0].trim_start_matches("CMD ")).unwrap();
    assert!(
        cmd.windows(2).any(|w| w == ["-l", "0.0.0.0"]),
        "a container listens beyond loopback"
    );
    // Every container port of the manifests is exposed, and the manifests run the
    // image's binaries.
    let exposed: BTreeSet<u16> = find("EXPOSE")
        .iter()
        .flat_map(|e| {
            e.split_whitespace()
                .skip(1)
                .map(|p| p.parse::<u16>().unwrap())
        })
        .collect();
    let objects = manifests();
    for workload in objects
        .iter()
        .filter(|o| matches!(o.kind(), "StatefulSet" | "Deployment"))
    {
        for (_, port) in container_ports(workload) {
            assert!(
                exposed.contains(&port),
                "{}: port {port} not exposed",
                workload.describe()
            );
        }
        let container = &workload.doc.items("spec.template.spec.containers")[0];
        let command = scalars(container.items("command"));
        let program = match command[0].as_str() {
            "/bin/sh" => command[2]
                .split_whitespace()
                .skip_while(|w| *w != "exec")
                .nth(1)
                .expect("the script execs the server")
                .to_owned(),
            other => other.to_owned(),
        };
        assert!(
            bins.contains(&program),
            "{}: {program} is not in the image",
            workload.describe()
        );
    }
    assert!(find("USER")
        .iter()
        .any(|u| !u.starts_with("USER 0") && !u.starts_with("USER root")));
}

/// The Containerfile's instructions, continuation lines joined, comments dropped.
fn containerfile_instructions(file: &str) -> Vec<String> {
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in file
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        match line.strip_suffix('\\') {
            Some(part) => current.push_str(&format!("{} ", part.trim())),
            None => {
                current.push_str(line);
                instructions.push(std::mem::take(&mut current));
            }
        }
    }
    instructions
}

/// The uid the image runs as (`USER uid:gid`).
fn containerfile_user() -> String {
    let file = std::fs::read_to_string(contrib().join("container/Containerfile")).unwrap();
    let user = file
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("the image names its user");
    user.split(':').next().unwrap().trim().to_owned()
}

/// The ConfigMap's route.toml.
fn proxy_route(objects: &[Object]) -> String {
    one(objects, "ConfigMap")
        .doc
        .pairs("data")
        .into_iter()
        .find_map(|(key, text)| (key == "route.toml").then_some(text))
        .expect("the ConfigMap holds route.toml")
}

/// The memkeepd command line the StatefulSet's entrypoint runs in pod `ordinal`:
/// its script, run by sh with the pod's environment, `memkeepd` on the PATH being a
/// stand-in that writes down its arguments.
fn entrypoint_args(set: &Object, ordinal: u32) -> Vec<String> {
    let container = &set.doc.items("spec.template.spec.containers")[0];
    let command = scalars(container.items("command"));
    assert_eq!(command[..2], ["/bin/sh", "-c"]);
    let dir = scratch_dir(&format!("entrypoint-{ordinal}"));
    let record = dir.join("args");
    let stand_in = dir.join("memkeepd");
    std::fs::write(
        &stand_in,
        "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$ARGS_FILE\"\n",
    )
    .unwrap();
    std::fs::set_permissions(
        &stand_in,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let mut run = Command::new(&command[0]);
    run.args(&command[1..])
        .env("PATH", format!("{}:/usr/bin:/bin", dir.display()))
        .env("ARGS_FILE", &record)
        .env("HOSTNAME", format!("{}-{ordinal}", set.name()));
    for variable in container.items("env") {
        let value = match variable.at("value") {
            Some(Yaml::Scalar(v)) => v.clone(),
            // The downward API's namespace.
            _ => {
                assert_eq!(
                    variable.text("valueFrom.fieldRef.fieldPath"),
                    "metadata.namespace"
                );
                set.doc.text("metadata.namespace").to_owned()
            }
        };
        run.env(variable.text("name"), value);
    }
    let status = run.status().unwrap();
    assert!(
        status.success(),
        "the entrypoint failed in pod {ordinal}: {status}"
    );
    std::fs::read_to_string(&record)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn scalars(items: &[Yaml]) -> Vec<String> {
    items
        .iter()
        .map(|i| match i {
            Yaml::Scalar(s) => s.clone(),
            other => panic!("expected a scalar: {other:?}"),
        })
        .collect()
}

/// A new empty directory for one test.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("memkeep-k8s-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A child process killed and reaped when dropped, so a failing test leaves none.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// The status code of `GET path` on the admin listener at 127.0.0.1:`port`, if it
/// answers.
fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(LIMIT)).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}
