//! The manifests as trees: saphyr-parser's events (the workspace's YAML parser)
//! folded into scalars, sequences and mappings, one tree per document, with the
//! lookups the checks need.

use saphyr_parser::{Event, Parser};

/// One YAML node. Scalars stay text: the checks compare what the file says.
#[derive(Debug, Clone, PartialEq)]
pub enum Yaml {
    Scalar(String),
    Sequence(Vec<Yaml>),
    Mapping(Vec<(String, Yaml)>),
}

/// Every document of `text`, in order.
pub fn documents(text: &str) -> Vec<Yaml> {
    let events: Vec<Event<'_>> = Parser::new_from_str(text)
        .map(|e| e.map(|(event, _)| event))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("not YAML: {e}"));
    let mut stack: Vec<Yaml> = Vec::new();
    // The key of each open mapping, once read and until its value is.
    let mut keys: Vec<Option<String>> = Vec::new();
    let mut done = Vec::new();
    for event in events {
        let node = match event {
            Event::SequenceStart(..) => {
                stack.push(Yaml::Sequence(Vec::new()));
                keys.push(None);
                continue;
            }
            Event::MappingStart(..) => {
                stack.push(Yaml::Mapping(Vec::new()));
                keys.push(None);
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                keys.pop();
                stack.pop().expect("balanced events")
            }
            Event::Scalar(text, ..) => Yaml::Scalar(text.into_owned()),
            Event::Alias(_) => panic!("the manifests use no aliases"),
            _ => continue,
        };
        match (stack.last_mut(), keys.last_mut()) {
            (None, _) => done.push(node),
            (Some(Yaml::Sequence(items)), _) => items.push(node),
            (Some(Yaml::Mapping(entries)), Some(key)) => match (key.take(), node) {
                (None, Yaml::Scalar(k)) => *key = Some(k),
                (None, other) => panic!("a mapping key that is not a scalar: {other:?}"),
                (Some(k), value) => entries.push((k, value)),
            },
            _ => unreachable!("a scalar parent"),
        }
    }
    done
}

impl Yaml {
    /// The value at a path of mapping keys (`"spec.template.metadata"`); sequence
    /// items by index (`"containers.0"`).
    pub fn at(&self, path: &str) -> Option<&Yaml> {
        path.split('.').try_fold(self, |node, step| match node {
            Yaml::Mapping(entries) => entries.iter().find(|(k, _)| k == step).map(|(_, v)| v),
            Yaml::Sequence(items) => items.get(step.parse::<usize>().ok()?),
            Yaml::Scalar(_) => None,
        })
    }

    /// The scalar at `path`; panics naming the path when it is missing.
    pub fn text(&self, path: &str) -> &str {
        match self.at(path) {
            Some(Yaml::Scalar(s)) => s,
            other => panic!("{path}: expected a scalar, found {other:?}"),
        }
    }

    /// The items of the sequence at `path` (none when it is absent).
    pub fn items(&self, path: &str) -> &[Yaml] {
        match self.at(path) {
            Some(Yaml::Sequence(items)) => items,
            None => &[],
            Some(other) => panic!("{path}: expected a sequence, found {other:?}"),
        }
    }

    /// The mapping at `path` as `key -> scalar` pairs (none when it is absent).
    pub fn pairs(&self, path: &str) -> Vec<(String, String)> {
        match self.at(path) {
            Some(Yaml::Mapping(entries)) => entries
                .iter()
                .map(|(k, v)| match v {
                    Yaml::Scalar(s) => (k.clone(), s.clone()),
                    other => panic!("{path}.{k}: expected a scalar, found {other:?}"),
                })
                .collect(),
            None => Vec::new(),
            Some(other) => panic!("{path}: expected a mapping, found {other:?}"),
        }
    }
}
