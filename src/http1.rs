//! HTTP/1.1 wire pieces both sides share: header lines into a `HeaderList` without copying,
//! and comma-separated token lists.

use crate::header_list::HeaderList;
use bytes::Bytes;
use http::HeaderValue;

/// Most header lines accepted in a head (hyper's default).
pub const MAX_HEADERS: usize = 100;

/// Where one header line sits in a head: name start, name end, value start, value end, as
/// offsets into the head (u16: heads handled this way are at most 64 KiB).
pub type Span = [u16; 4];

/// Records where each parsed header lies in the buffer that starts at `base`. Returns how many.
pub fn spans_of(base: &[u8], headers: &[httparse::Header<'_>], spans: &mut [Span]) -> usize {
    let base = base.as_ptr() as usize;
    for (span, h) in spans.iter_mut().zip(headers) {
        // Offsets below 64 KiB (callers bound the head), hence below u16::MAX.
        let name = (h.name.as_ptr() as usize - base) as u16;
        let value = (h.value.as_ptr() as usize - base) as u16;
        *span = [
            name,
            name + h.name.len() as u16,
            value,
            value + h.value.len() as u16,
        ];
    }
    headers.len().min(spans.len())
}

/// The headers at `spans` of `head`, as a list with room for `spare` more. Names and values
/// are slices of `head`: no copy per header. None if a value is not one HTTP allows (httparse
/// has already checked that names are tokens).
pub fn header_list(head: &Bytes, spans: &[Span], spare: usize) -> Option<HeaderList> {
    let mut headers = HeaderList::with_capacity(spans.len() + spare);
    for &[ns, ne, vs, ve] in spans {
        let (ns, ne, vs, ve) = (ns as usize, ne as usize, vs as usize, ve as usize);
        let value = HeaderValue::from_maybe_shared(head.slice(vs..ve)).ok()?;
        headers.append_line(head.slice(ns..ne), value);
    }
    Some(headers)
}

/// Does a comma-separated header value list `token` (case-insensitively)?
pub fn has_token(value: &HeaderValue, token: &str) -> bool {
    value
        .as_bytes()
        .split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}
