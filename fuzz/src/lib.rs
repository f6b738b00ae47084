//! The fuzz targets of the gateway, one module each, as plain functions from bytes so that
//! the AFL++ binaries (src/bin/) and the corpus replay (tests/corpus.rs) run the same code.
//! A target panics only on a bug: every oracle it checks is stated in its module.

pub mod filter;
pub mod fixtures;
pub mod odata;
pub mod pdu;
pub mod translate;

/// A fuzz target: one input, a panic on a bug.
pub type Target = fn(&[u8]);

/// Every target by the name of its corpus folder (`fuzz/corpus/<name>/`) and AFL binary.
pub const TARGETS: &[(&str, Target)] = &[
    ("pdu", pdu::run),
    ("filter", filter::run),
    ("translate", translate::run),
    ("odata", odata::run),
];

/// The input as text, or `None` (the text targets skip bytes that are not UTF-8, as the
/// gateway reads filters and OData from `&str`).
pub(crate) fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}
