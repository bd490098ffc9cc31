//! Spreading connections evenly over worker threads. Workers that each accept on
//! their own SO_REUSEPORT socket get connections as the kernel hashes them, which
//! for a few busy clients is often lopsided: 8 benchmark connections could land 6
//! and 2, or all 8 on one thread, leaving the other core idle while that thread's
//! clients queue. memcached deals connections round robin from one listener thread;
//! here the worker that accepts a connection keeps it only if no other worker serves
//! fewer, and hands it over otherwise (once per connection: requests never hop).

use std::net::TcpStream as StdTcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;

/// One worker's place among the workers accepting on one address: its inbox of
/// connections handed over by the others, and the way to theirs.
#[derive(Debug)]
pub struct Seat {
    me: usize,
    open: Arc<[AtomicUsize]>,
    peers: Arc<[mpsc::UnboundedSender<(StdTcpStream, Counted)>]>,
    inbox: mpsc::UnboundedReceiver<(StdTcpStream, Counted)>,
}

/// Seats for `workers` workers sharing one address: give seat `i` to worker `i`'s
/// listener for it.
pub fn seats(workers: usize) -> Vec<Seat> {
    let open: Arc<[AtomicUsize]> = (0..workers).map(|_| AtomicUsize::new(0)).collect();
    let (senders, inboxes): (Vec<_>, Vec<_>) =
        (0..workers).map(|_| mpsc::unbounded_channel()).unzip();
    let peers: Arc<[_]> = senders.into();
    inboxes
        .into_iter()
        .enumerate()
        .map(|(me, inbox)| Seat {
            me,
            open: open.clone(),
            peers: peers.clone(),
            inbox,
        })
        .collect()
}

/// A connection counted against one worker until dropped.
#[derive(Debug)]
pub struct Counted {
    open: Arc<[AtomicUsize]>,
    worker: usize,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.open[self.worker].fetch_sub(1, Ordering::Relaxed);
    }
}

/// Where a connection just accepted goes.
pub(crate) enum Placed {
    /// Served here.
    Here(tokio::net::TcpStream, Counted),
    /// Handed to another worker (or, if it could not be, closed).
    Away,
}

impl Seat {
    /// Places a connection this worker accepted: here, unless another worker serves
    /// fewer connections (ties stay here, so a balanced set moves nothing).
    pub(crate) fn place(&self, stream: tokio::net::TcpStream) -> Placed {
        let count = |i: usize| self.open[i].load(Ordering::Relaxed);
        let least = (0..self.open.len())
            .min_by_key(|&i| (count(i), i != self.me))
            .unwrap_or(self.me);
        if least != self.me {
            // Counted against the receiver from now on, so the next connection
            // accepted anywhere sees it there.
            self.open[least].fetch_add(1, Ordering::Relaxed);
            let counted = Counted {
                open: self.open.clone(),
                worker: least,
            };
            let Ok(std) = stream.into_std() else {
                return Placed::Away;
            };
            return match self.peers[least].send((std, counted)) {
                Ok(()) => Placed::Away,
                // That worker has stopped (the server is draining): served here.
                Err(returned) => match tokio::net::TcpStream::from_std(returned.0 .0) {
                    Ok(stream) => Placed::Here(stream, self.count_here()),
                    Err(_) => Placed::Away,
                },
            };
        }
        Placed::Here(stream, self.count_here())
    }

    /// The next connection another worker handed here, already counted here.
    pub(crate) async fn handed_over(&mut self) -> Option<(tokio::net::TcpStream, Counted)> {
        loop {
            let (std, counted) = self.inbox.recv().await?;
            // Registering with this worker's reactor fails only if it is out of
            // resources: the connection is closed, and uncounted.
            if let Ok(stream) = tokio::net::TcpStream::from_std(std) {
                return Some((stream, counted));
            }
        }
    }

    fn count_here(&self) -> Counted {
        self.open[self.me].fetch_add(1, Ordering::Relaxed);
        Counted {
            open: self.open.clone(),
            worker: self.me,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{seats, Placed};

    async fn connected_pair(listener: &tokio::net::TcpListener) -> tokio::net::TcpStream {
        let addr = listener.local_addr().unwrap();
        let client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        // The client end is not needed: the server end is what is placed.
        drop(client);
        server
    }

    #[tokio::test]
    async fn connections_all_accepted_by_one_worker_end_up_even() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut seats = seats(2);
        let mut kept = Vec::new();
        let mut away = 0;
        for _ in 0..8 {
            match seats[0].place(connected_pair(&listener).await) {
                Placed::Here(stream, counted) => kept.push((stream, counted)),
                Placed::Away => away += 1,
            }
        }
        assert_eq!((kept.len(), away), (4, 4));
        let mut received = Vec::new();
        for _ in 0..4 {
            received.push(seats[1].handed_over().await.unwrap());
        }
        // A connection of worker 1 closes: the next one accepted goes there.
        drop(received.pop());
        match seats[0].place(connected_pair(&listener).await) {
            Placed::Away => assert!(seats[1].handed_over().await.is_some()),
            Placed::Here(..) => panic!("worker 1 served fewer and did not get it"),
        }
        // Balanced again (4 and 4): a tie stays with the worker that accepted.
        assert!(matches!(
            seats[1].place(connected_pair(&listener).await),
            Placed::Here(..)
        ));
    }
}
