//! Connections by index, the index being the connection's epoll token (or, for
//! io_uring, an operation's user data): a freed slot is reused so indexes stay small
//! and lookups are one bounds check.

pub(crate) struct Slots<T> {
    items: Vec<Option<T>>,
    free: Vec<usize>,
}

impl<T> Slots<T> {
    pub(crate) fn new() -> Self {
        Slots {
            items: Vec::new(),
            free: Vec::new(),
        }
    }

    /// The index the next `insert` will use.
    pub(crate) fn vacant(&self) -> usize {
        self.free.last().copied().unwrap_or(self.items.len())
    }

    pub(crate) fn insert(&mut self, item: T) -> usize {
        match self.free.pop() {
            Some(i) => {
                self.items[i] = Some(item);
                i
            }
            None => {
                self.items.push(Some(item));
                self.items.len() - 1
            }
        }
    }

    pub(crate) fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.items.get_mut(i).and_then(Option::as_mut)
    }

    pub(crate) fn remove(&mut self, i: usize) {
        self.take(i);
    }

    /// Removes the item at `i` and hands it back.
    pub(crate) fn take(&mut self, i: usize) -> Option<T> {
        let item = self.items.get_mut(i)?.take()?;
        self.free.push(i);
        Some(item)
    }
}
