//! Header lines in arrival order: how the request path stores the headers of every message.
//!
//! `http::HeaderMap` hashes a name on every insert and lookup and keeps an index table beside
//! its entries. For the handful of lines a request or response carries, that was a quarter of
//! the instructions Meridian spent per proxied GET (callgrind: ~6k of ~25k under load). A list
//! scanned by name does the same job in a few instructions per line (lengths differ for almost
//! every pair, so most comparisons stop there), keeps names as the peer spelled them (an
//! HTTP/1 origin's casing reaches the client unchanged, as through nginx or HAProxy), and takes
//! names and values from the received head without copying. A `HeaderMap` is built only where
//! hyper needs one: HTTP/2, request bodies, upgrades.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};

/// Lines the proxy adds to a request it forwards (X-Forwarded-For/-Proto/-Host, x-request-id):
/// a list built from a received request leaves room for them, so adding them does not reallocate.
pub const REQUEST_LINES_ADDED: usize = 4;
/// Lines the proxy adds to every response (x-request-id, x-meridian-region, x-meridian-attempts).
pub const RESPONSE_LINES_ADDED: usize = 3;

/// A header name as it arrived: raw bytes of an HTTP/1 head, or hyper's parsed name (kept as
/// is, so that handing the line back to hyper needs no second parse).
#[derive(Clone, Debug)]
pub enum LineName {
    /// Bytes of a received head, or a constant; a valid token in any case.
    Raw(Bytes),
    /// A name from a `HeaderMap` (lower case).
    Parsed(HeaderName),
}

impl std::ops::Deref for LineName {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        match self {
            LineName::Raw(b) => b,
            LineName::Parsed(n) => n.as_str().as_bytes(),
        }
    }
}

/// One header line.
#[derive(Clone, Debug)]
pub struct HeaderLine {
    /// The name as received (any case over HTTP/1, lower case from hyper).
    pub name: LineName,
    /// The value, validated.
    pub value: HeaderValue,
}

impl HeaderLine {
    /// Is this line's name `name` (compared case-insensitively)?
    #[inline]
    pub fn is(&self, name: impl AsRef<[u8]>) -> bool {
        let (own, name): (&[u8], &[u8]) = (&self.name, name.as_ref());
        own.len() == name.len() && own.eq_ignore_ascii_case(name)
    }
}

/// Header lines in order; a name may repeat.
#[derive(Clone, Debug, Default)]
pub struct HeaderList {
    /// The lines, in the order received (lines added by Meridian at the end).
    lines: Vec<HeaderLine>,
}

// === impl HeaderList ===

impl HeaderList {
    /// An empty list (no allocation until a line is added).
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty list with room for `n` lines.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            lines: Vec::with_capacity(n),
        }
    }

    /// Number of lines.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// No lines at all?
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The lines in order.
    pub fn iter(&self) -> std::slice::Iter<'_, HeaderLine> {
        self.lines.iter()
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&HeaderValue> {
        self.lines.iter().find(|l| l.is(name)).map(|l| &l.value)
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(
        &'a self,
        name: &'a str,
    ) -> impl DoubleEndedIterator<Item = &'a HeaderValue> {
        self.lines
            .iter()
            .filter(move |l| l.is(name))
            .map(|l| &l.value)
    }

    /// Is there a line named `name`?
    pub fn contains(&self, name: &str) -> bool {
        self.lines.iter().any(|l| l.is(name))
    }

    /// Adds a line at the end. `name` must be a valid header name (in lower case, for HTTP/2).
    pub fn append(&mut self, name: &'static str, value: HeaderValue) {
        self.lines.push(HeaderLine {
            name: LineName::Raw(Bytes::from_static(name.as_bytes())),
            value,
        });
    }

    /// Adds a received line at the end; `name` must already be a valid token.
    pub fn append_line(&mut self, name: Bytes, value: HeaderValue) {
        self.lines.push(HeaderLine {
            name: LineName::Raw(name),
            value,
        });
    }

    /// Sets `name` to exactly `value`: the first line of that name takes it, any others go; with
    /// none, the line is added at the end.
    pub fn insert(&mut self, name: &'static str, value: HeaderValue) {
        match self.lines.iter().position(|l| l.is(name)) {
            Some(first) => {
                self.lines[first].value = value;
                if self.lines[first + 1..].iter().any(|l| l.is(name)) {
                    let mut seen = 0usize;
                    self.lines.retain(|l| {
                        let keep = !l.is(name) || seen == 0;
                        seen += usize::from(l.is(name));
                        keep
                    });
                }
            }
            None => self.append(name, value),
        }
    }

    /// [`insert`](Self::insert) for several names, in one pass over the lines when none of
    /// them is there yet (the usual case for the headers Meridian sets on a response).
    pub fn insert_all<const N: usize>(&mut self, lines: [(&'static str, HeaderValue); N]) {
        let present = self
            .lines
            .iter()
            .any(|l| lines.iter().any(|(name, _)| l.is(name)));
        self.lines.reserve(N);
        for (name, value) in lines {
            if present {
                self.insert(name, value);
            } else {
                self.append(name, value);
            }
        }
    }

    /// Removes every line named `name`; true if there was one.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.lines.len();
        self.lines.retain(|l| !l.is(name));
        self.lines.len() != before
    }

    /// Keeps only the lines `keep` says yes to.
    pub fn retain(&mut self, keep: impl FnMut(&HeaderLine) -> bool) {
        self.lines.retain(keep);
    }

    /// Takes over a map's lines (no hashing: the map is consumed in its own order), with room
    /// for the lines the proxy adds to a request (more than it adds to a response).
    pub fn from_map(map: HeaderMap) -> Self {
        let mut lines: Vec<HeaderLine> = Vec::with_capacity(map.len() + REQUEST_LINES_ADDED);
        for (name, value) in map {
            // The iterator names a header once, then yields its further values with None.
            let name = match name {
                Some(name) => LineName::Parsed(name),
                None => match lines.last() {
                    Some(previous) => previous.name.clone(),
                    None => continue, // cannot happen: the first item always has its name
                },
            };
            lines.push(HeaderLine { name, value });
        }
        Self { lines }
    }

    /// The lines as a map, for hyper. Names were validated when received or are constants, so
    /// none is dropped in practice; one that would not parse is left out rather than sent raw.
    pub fn to_map(&self) -> HeaderMap {
        let mut map = HeaderMap::with_capacity(self.lines.len());
        for line in &self.lines {
            let name = match &line.name {
                LineName::Parsed(name) => name.clone(),
                LineName::Raw(raw) => match HeaderName::from_bytes(raw) {
                    Ok(name) => name,
                    Err(_) => continue,
                },
            };
            map.append(name, line.value.clone());
        }
        map
    }
}

impl<'a> IntoIterator for &'a HeaderList {
    type Item = &'a HeaderLine;
    type IntoIter = std::slice::Iter<'a, HeaderLine>;

    fn into_iter(self) -> Self::IntoIter {
        self.lines.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(lines: &[(&'static str, &'static str)]) -> HeaderList {
        let mut h = HeaderList::new();
        for (n, v) in lines {
            h.append_line(
                Bytes::from_static(n.as_bytes()),
                HeaderValue::from_static(v),
            );
        }
        h
    }

    #[test]
    fn lookups_ignore_case_and_keep_order() {
        let h = list(&[("Host", "api"), ("X-A", "1"), ("x-a", "2"), ("X-AB", "3")]);
        assert_eq!(h.get("host").unwrap(), "api");
        let a: Vec<_> = h.get_all("x-a").collect();
        assert_eq!(a, ["1", "2"]);
        assert!(h.contains("x-ab"));
        assert!(!h.contains("x"));
        assert_eq!(h.get("x-ab").unwrap(), "3");
    }

    #[test]
    fn insert_replaces_every_line_of_a_name_and_keeps_the_first_position() {
        let mut h = list(&[("x-a", "1"), ("b", "2"), ("X-A", "3")]);
        h.insert("x-a", HeaderValue::from_static("new"));
        let lines: Vec<_> = h
            .iter()
            .map(|l| (&l.name[..], l.value.as_bytes()))
            .collect();
        assert_eq!(lines, [(&b"x-a"[..], &b"new"[..]), (b"b", b"2")]);
        h.insert("c", HeaderValue::from_static("4"));
        assert_eq!(h.len(), 3);
        h.insert_all([
            ("c", HeaderValue::from_static("5")),
            ("d", HeaderValue::from_static("6")),
        ]);
        assert_eq!(h.len(), 4);
        assert_eq!(h.get("c").unwrap(), "5");
        assert_eq!(h.get("d").unwrap(), "6");
        assert!(h.remove("B"));
        assert!(!h.remove("b"));
        assert_eq!(h.len(), 3);
    }

    #[test]
    fn converts_to_and_from_a_map_without_losing_repeated_lines() {
        let h = list(&[("X-A", "1"), ("host", "api"), ("x-a", "2")]);
        let map = h.to_map();
        let a: Vec<_> = map.get_all("x-a").iter().collect();
        assert_eq!(a, ["1", "2"]);
        assert_eq!(map["host"], "api");
        let back = HeaderList::from_map(map);
        assert_eq!(back.len(), 3);
        let a: Vec<_> = back.get_all("x-a").collect();
        assert_eq!(a, ["1", "2"]);
    }
}
