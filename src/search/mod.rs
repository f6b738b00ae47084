//! Search execution: runs a pushdown plan through the Graph client, maps and re-checks
//! entries, orders them, applies limits and paging controls.
