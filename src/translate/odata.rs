//! OData literal quoting and URL encoding for `$filter` and `$search` (GRAPH.md §5).
