//! A case's public timeline a page at a time, from its newest entries to
//! its oldest. The timeline merges two sources the case service reads
//! newest first — the case's public activities and its status changes — so
//! a page reads at most one page of each, however long the case is; the
//! page token keeps where the page stopped in each. Entries added later are
//! newer than every page already read, so they never shift a token's place;
//! only a source a page took nothing from stays at `Newest` in the token,
//! and what it gains meanwhile shows at the top of the next page.

use serde::{Deserialize, Serialize};

/// Entries on one page at most. A comment is at most 20,000 characters, so
/// 50 of them fit one 4 MiB reply even in four-byte characters.
pub const PAGE_MAX: u64 = 50;
/// Text on one page at most, in bytes: a page of long entries holds fewer
/// (at least one).
pub const PAGE_BYTES: usize = 1024 * 1024;

/// Where the pages so far stopped in one source, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Edge<K> {
    /// Nothing of it shown yet: start at its newest item.
    Newest,
    /// The items before this key are left.
    Before(K),
    /// All of it shown.
    Done,
}

/// Where a page of a case's timeline stopped; the page token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineCursor {
    /// The case it was made for: another case refuses it.
    pub case: String,
    /// Public activities, by their sequence in the case.
    pub activities: Edge<i64>,
    /// Status changes, by their trail row id.
    pub changes: Edge<String>,
}

impl TimelineCursor {
    /// The first page of a case: the newest entries.
    pub fn newest(case: &str) -> Self {
        Self { case: case.to_owned(), activities: Edge::Newest, changes: Edge::Newest }
    }
}

/// An item of a source, as a page needs it.
pub trait Dated {
    type Key: Clone;
    /// When it happened, (seconds, nanos): the timeline's order.
    fn at(&self) -> (i64, i32);
    /// Its position in its source.
    fn key(&self) -> Self::Key;
    /// Its text, in bytes.
    fn size(&self) -> usize;
}

/// What one source answered from its edge: up to a page of items, newest
/// first (`items`, those the viewer may see), the key of the last item it
/// read (`last_read`, maybe one left out), and whether it has more.
pub struct Fetched<T: Dated> {
    pub from: Edge<T::Key>,
    pub items: Vec<T>,
    pub last_read: Option<T::Key>,
    pub more: bool,
}

impl<T: Dated> Fetched<T> {
    /// A source the pages so far have shown all of.
    pub fn done() -> Self {
        Self { from: Edge::Done, items: Vec::new(), last_read: None, more: false }
    }
}

/// One entry of a page, from either source.
#[derive(Debug, PartialEq, Eq)]
pub enum Item<A, C> {
    Activity(A),
    Change(C),
}

/// A page: its entries, oldest first, and where the next (older) page starts.
#[derive(Debug)]
pub struct Page<A, C> {
    pub items: Vec<Item<A, C>>,
    pub next: Option<TimelineCursor>,
}

/// Where a source stands after a page took `taken` of its items (the last
/// one taken: `last_taken`); `left`: it still has fetched items not taken.
fn edge_after<T: Dated>(fetched: &Fetched<T>, last_taken: Option<T::Key>, left: bool) -> Edge<T::Key> {
    match (left, last_taken) {
        (true, Some(key)) => Edge::Before(key),
        (true, None) => fetched.from.clone(),
        // Every item fetched was taken (or left out): on after the last read.
        (false, _) if fetched.more => match &fetched.last_read {
            Some(key) => Edge::Before(key.clone()),
            None => fetched.from.clone(),
        },
        (false, _) => Edge::Done,
    }
}

/// The next page of `case`'s timeline: the newest of both sources' items,
/// at most `limit` of them and, past the first, no more than `budget`
/// bytes of text. On equal times a status change counts as the newer (it
/// reads after the comment that came with it).
pub fn page<A, C>(case: &str, activities: Fetched<A>, changes: Fetched<C>, limit: usize, budget: usize) -> Page<A, C>
where
    A: Dated<Key = i64>,
    C: Dated<Key = String>,
{
    let (mut a, mut c) = (activities.items.iter().peekable(), changes.items.iter().peekable());
    let mut order = Vec::new();
    let mut bytes = 0usize;
    while order.len() < limit {
        let change = match (a.peek(), c.peek()) {
            (None, None) => break,
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (Some(x), Some(y)) => y.at() >= x.at(),
        };
        let size = if change { c.peek().map_or(0, |y| y.size()) } else { a.peek().map_or(0, |x| x.size()) };
        if !order.is_empty() && bytes.saturating_add(size) > budget {
            break;
        }
        bytes = bytes.saturating_add(size);
        order.push(change);
        if change {
            c.next();
        } else {
            a.next();
        }
    }
    let took_a = order.iter().filter(|change| !**change).count();
    let took_c = order.len() - took_a;
    let last_a = took_a.checked_sub(1).and_then(|i| activities.items.get(i)).map(Dated::key);
    let last_c = took_c.checked_sub(1).and_then(|i| changes.items.get(i)).map(Dated::key);
    let edge_a = edge_after(&activities, last_a, took_a < activities.items.len());
    let edge_c = edge_after(&changes, last_c, took_c < changes.items.len());
    let next = (edge_a != Edge::Done || edge_c != Edge::Done).then(|| TimelineCursor {
        case: case.to_owned(),
        activities: edge_a,
        changes: edge_c,
    });
    let (mut a, mut c) = (activities.items.into_iter(), changes.items.into_iter());
    let mut items: Vec<Item<A, C>> = order
        .into_iter()
        .filter_map(|change| if change { c.next().map(Item::Change) } else { a.next().map(Item::Activity) })
        .collect();
    items.reverse();
    Page { items, next }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Note(i64, i64, usize);
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Change(String, i64);

    impl Dated for Note {
        type Key = i64;
        fn at(&self) -> (i64, i32) {
            (self.1, 0)
        }
        fn key(&self) -> i64 {
            self.0
        }
        fn size(&self) -> usize {
            self.2
        }
    }

    impl Dated for Change {
        type Key = String;
        fn at(&self) -> (i64, i32) {
            (self.1, 0)
        }
        fn key(&self) -> String {
            self.0.clone()
        }
        fn size(&self) -> usize {
            0
        }
    }

    /// The sources as the case service would answer from `cursor`, `limit` a page.
    fn fetch(notes: &[Note], changes: &[Change], cursor: &TimelineCursor, limit: usize) -> (Fetched<Note>, Fetched<Change>) {
        let a = match &cursor.activities {
            Edge::Done => Fetched::done(),
            edge => {
                let left: Vec<Note> = notes
                    .iter()
                    .rev()
                    .filter(|n| match edge {
                        Edge::Before(s) => n.0 < *s,
                        _ => true,
                    })
                    .cloned()
                    .collect();
                let items: Vec<Note> = left.iter().take(limit).cloned().collect();
                Fetched { from: edge.clone(), last_read: items.last().map(|n| n.0), more: left.len() > limit, items }
            }
        };
        let c = match &cursor.changes {
            Edge::Done => Fetched::done(),
            edge => {
                let left: Vec<Change> = changes
                    .iter()
                    .rev()
                    .filter(|x| match edge {
                        Edge::Before(id) => x.0 < *id,
                        _ => true,
                    })
                    .cloned()
                    .collect();
                let items: Vec<Change> = left.iter().take(limit).cloned().collect();
                Fetched { from: edge.clone(), last_read: items.last().map(|x| x.0.clone()), more: left.len() > limit, items }
            }
        };
        (a, c)
    }

    #[test]
    fn the_pages_hold_every_entry_once_in_order_however_the_sources_interleave() {
        let notes: Vec<Note> = (1..=23).map(|i| Note(i, i * 10, 100)).collect();
        let changes: Vec<Change> = [15, 16, 17, 18, 95, 230, 231].iter().map(|t| Change(format!("c{t:04}"), *t)).collect();
        for (limit, budget) in [(5, usize::MAX), (1, usize::MAX), (50, usize::MAX), (10, 250)] {
            let mut cursor = TimelineCursor::newest("case");
            let mut pages: Vec<Vec<Item<Note, Change>>> = Vec::new();
            loop {
                let (a, c) = fetch(&notes, &changes, &cursor, limit);
                let page = page("case", a, c, limit, budget);
                assert!(!page.items.is_empty(), "limit {limit}: no empty pages");
                assert!(page.items.len() <= limit);
                pages.push(page.items);
                match page.next {
                    Some(next) => cursor = next,
                    None => break,
                }
            }
            let times: Vec<i64> = pages
                .into_iter()
                .rev()
                .flatten()
                .map(|item| match item {
                    Item::Activity(n) => n.1,
                    Item::Change(c) => c.1,
                })
                .collect();
            let mut expected: Vec<i64> = notes.iter().map(|n| n.1).chain(changes.iter().map(|c| c.1)).collect();
            expected.sort();
            assert_eq!(times, expected, "limit {limit}, budget {budget}");
        }
    }

    #[test]
    fn long_entries_end_a_page_early_but_one_always_fits() {
        let notes = vec![Note(1, 1, 600), Note(2, 2, 600), Note(3, 3, 5_000)];
        let (a, c) = fetch(&notes, &[], &TimelineCursor::newest("case"), 10);
        let first = page("case", a, c, 10, 1_000);
        assert_eq!(first.items, vec![Item::Activity(Note(3, 3, 5_000))]);
        let next = first.next.expect("more");
        assert_eq!(next.activities, Edge::Before(3));
        assert_eq!(next.changes, Edge::Done);
        let (a, c) = fetch(&notes, &[], &next, 10);
        let second = page("case", a, c, 10, 1_000);
        assert_eq!(second.items, vec![Item::Activity(Note(2, 2, 600))]);
    }

    #[test]
    fn an_empty_case_has_one_empty_page() {
        let (a, c) = fetch(&[], &[], &TimelineCursor::newest("case"), 10);
        let only = page::<Note, Change>("case", a, c, 10, 1_000);
        assert!(only.items.is_empty());
        assert!(only.next.is_none());
    }
}
