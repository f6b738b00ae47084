//! The translator: an LDAP filter, base and scope become a `PushdownPlan` of Graph
//! queries that together return a superset of the matching objects (CONTRACT §6,
//! GRAPH.md §1-§5). It never contacts Graph and never decides the final answer.

pub mod capabilities;
pub mod expr;
pub mod odata;
pub mod plan;
pub mod pushdown;
#[cfg(test)]
mod tests;

pub use plan::{
    GraphQuery, PhoneAssertion, PhoneIndexLookup, PushdownPlan, TranslateContext, explain_plan,
    plan_collection,
};
