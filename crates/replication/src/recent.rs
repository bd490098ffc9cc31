//! A bounded memory of the latest version seen per key, for changes that leave no
//! trace in the store: deletes (so an older copy of a deleted item is refused) and
//! touches (so two touches of the same item on both nodes settle on one expiry, and
//! a touch that arrives before the item it touched is not lost).

use std::cmp::Ordering;
use std::collections::{HashMap, VecDeque};

use bytes::Bytes;

/// The latest version, with what came with it, for each of the last `limit` keys.
#[derive(Debug)]
pub(crate) struct RecentVersions<V, T = ()> {
    latest: HashMap<Bytes, (V, T)>,
    order: VecDeque<Bytes>,
    limit: usize,
}

impl<V: Ord, T> RecentVersions<V, T> {
    /// Remembers at most `limit` keys; the oldest is forgotten first.
    pub(crate) fn new(limit: usize) -> Self {
        RecentVersions {
            latest: HashMap::new(),
            order: VecDeque::new(),
            limit,
        }
    }

    /// The version remembered for `key` and what came with it, if any.
    pub(crate) fn get(&self, key: &[u8]) -> Option<&(V, T)> {
        self.latest.get(key)
    }

    /// Every key remembered with its version, oldest first.
    pub(crate) fn versions(&self) -> Vec<(Bytes, V)>
    where
        V: Clone,
    {
        self.order
            .iter()
            .filter_map(|k| self.latest.get(k).map(|(v, _)| (k.clone(), v.clone())))
            .collect()
    }

    /// Remembers `version` (and `with`) for `key` unless a newer version is already
    /// remembered. Returns how `version` compares with what was remembered: `Less`
    /// (not remembered), `Equal` (the same version again, replaced) or `Greater`
    /// (news: newer, or the key was not remembered).
    pub(crate) fn remember(&mut self, key: &Bytes, version: V, with: T) -> Ordering {
        let news = match self.latest.get_mut(key) {
            Some(seen) if seen.0 > version => return Ordering::Less,
            Some(seen) => {
                let news = version.cmp(&seen.0);
                *seen = (version, with);
                news
            }
            None => {
                self.latest.insert(key.clone(), (version, with));
                self.order.push_back(key.clone());
                Ordering::Greater
            }
        };
        while self.order.len() > self.limit {
            if let Some(old) = self.order.pop_front() {
                self.latest.remove(&old);
            }
        }
        news
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_version_of_the_last_keys() {
        let mut r = RecentVersions::new(2);
        assert_eq!(r.remember(&Bytes::from("a"), 5, 'x'), Ordering::Greater);
        assert_eq!(r.remember(&Bytes::from("a"), 3, 'y'), Ordering::Less);
        assert_eq!(r.remember(&Bytes::from("a"), 5, 'x'), Ordering::Equal);
        assert_eq!(r.get(b"a"), Some(&(5, 'x')));
        r.remember(&Bytes::from("b"), 1, 'b');
        r.remember(&Bytes::from("c"), 1, 'c');
        assert_eq!(r.get(b"a"), None);
        assert_eq!(r.get(b"b"), Some(&(1, 'b')));
        assert_eq!(r.get(b"c"), Some(&(1, 'c')));
        assert_eq!(r.versions(), [(Bytes::from("b"), 1), (Bytes::from("c"), 1)]);
    }
}
