//! The recipe's Kubernetes objects: every document of every manifest in
//! contrib/kubernetes (kustomization.yaml aside), with the file it came from.

use super::yaml::{documents, Yaml};

/// One object of a manifest.
pub struct Object {
    /// The manifest's file name.
    pub file: String,
    pub doc: Yaml,
}

impl Object {
    pub fn kind(&self) -> &str {
        self.doc.text("kind")
    }

    pub fn name(&self) -> &str {
        self.doc.text("metadata.name")
    }

    /// `Kind/name in file`, for messages.
    pub fn describe(&self) -> String {
        format!("{}/{} in {}", self.kind(), self.name(), self.file)
    }
}

/// Every object of every manifest.
pub fn manifests() -> Vec<Object> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../contrib/kubernetes");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".yaml") && name != "kustomization.yaml")
        .collect();
    files.sort();
    let mut objects = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(dir.join(&file)).unwrap();
        for doc in documents(&text) {
            objects.push(Object {
                file: file.clone(),
                doc,
            });
        }
    }
    assert!(!objects.is_empty(), "no manifests in {}", dir.display());
    objects
}

/// The one object of `kind`.
pub fn one<'a>(objects: &'a [Object], kind: &str) -> &'a Object {
    let found: Vec<&Object> = objects.iter().filter(|o| o.kind() == kind).collect();
    assert_eq!(found.len(), 1, "one {kind} in the recipe");
    found[0]
}

/// A workload's container ports: (name, number).
pub fn container_ports(workload: &Object) -> Vec<(String, u16)> {
    workload
        .doc
        .items("spec.template.spec.containers")
        .iter()
        .flat_map(|c| c.items("ports"))
        .map(|p| {
            assert_eq!(p.text("protocol"), "TCP");
            (
                p.text("name").to_owned(),
                p.text("containerPort").parse().unwrap(),
            )
        })
        .collect()
}

/// The number of a port given by name or number, if it is one of `ports`.
pub fn port_number(ports: &[(String, u16)], port: &str) -> Option<u16> {
    ports
        .iter()
        .find(|(name, number)| name == port || number.to_string() == port)
        .map(|(_, number)| *number)
}
