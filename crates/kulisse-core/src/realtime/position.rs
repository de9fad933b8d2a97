//! Where a client is in the stream of events: written as each event's SSE `id`, so a
//! browser's `EventSource` sends it back as `Last-Event-ID` when it reconnects, and kept
//! for a client whose stream dropped, so its reconnect can pick up from there.

use std::fmt;

/// A point in this node's sequence of change sets: after change set `set` (all of it), or
/// after one message of it.
///
/// Change sets are numbered in publish (commit) order on each node. One change set can
/// make several messages for one client (a batch of records, several subscriptions on the
/// same records); `index` tells them apart, and is the same whenever the messages are
/// made again for the same subscriptions, since it derives from the record's place in the
/// change set and the subscription's place in the client's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// The change set's number.
    pub set: u64,
    /// The message within the set, or [`Position::WHOLE`] once the whole set is behind.
    pub index: u64,
}

impl Position {
    /// `index` once the whole set is behind.
    pub const WHOLE: u64 = u64::MAX;

    /// After all of change set `set`.
    pub fn through(set: u64) -> Position {
        Position {
            set,
            index: Self::WHOLE,
        }
    }

    /// The message for the subscription at `subscription` in the client's list about the
    /// record change at `change` in change set `set`.
    pub(crate) fn message(set: u64, change: usize, subscription: usize) -> Position {
        Position {
            set,
            index: change as u64 * super::service::MAX_SUBSCRIPTIONS as u64 + subscription as u64,
        }
    }

    /// Whether a message at `self` is already behind a client at `at`.
    pub(crate) fn is_behind(self, at: Position) -> bool {
        self <= at
    }

    /// Reads an event id, `<clientId>`, `<clientId>:<set>` or `<clientId>:<set>.<index>`:
    /// the client id and the position it names (none when only the connect event came).
    pub fn parse_event_id(id: &str) -> Option<(&str, Option<Position>)> {
        let (client, at) = match id.split_once(':') {
            None => return Some((id.trim(), None)),
            Some(parts) => parts,
        };
        let position = match at.split_once('.') {
            None => Position::through(at.parse().ok()?),
            Some((set, index)) => Position {
                set: set.parse().ok()?,
                index: index.parse().ok()?,
            },
        };
        Some((client, Some(position)))
    }
}

/// The id part after `<clientId>:` (`<set>` or `<set>.<index>`).
impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.index == Self::WHOLE {
            write!(f, "{}", self.set)
        } else {
            write!(f, "{}.{}", self.set, self.index)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_round_trip_and_order_messages_within_a_set() {
        let m = Position::message(7, 2, 3);
        assert_eq!(m.to_string(), "7.2003");
        assert_eq!(
            Position::parse_event_id("abc:7.2003"),
            Some(("abc", Some(m)))
        );
        assert_eq!(
            Position::parse_event_id("abc:7"),
            Some(("abc", Some(Position::through(7))))
        );
        assert_eq!(Position::parse_event_id("abc"), Some(("abc", None)));
        assert_eq!(Position::parse_event_id("abc:x"), None);
        assert!(Position::message(7, 0, 999) < Position::message(7, 1, 0));
        assert!(Position::message(7, 5, 5).is_behind(Position::through(7)));
        assert!(!Position::message(8, 0, 0).is_behind(Position::through(7)));
    }
}
