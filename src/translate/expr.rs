//! The OData `$filter` and `$search` expressions a plan sends, and how they render as
//! un-encoded text with the advanced-query needs they imply (GRAPH.md §1, §2, §4).
//! Owns syntax only; whether an expression is implied by an LDAP filter is `pushdown`'s.

use super::capabilities::{FilterOp, Support};
use super::odata::{search_clause, string_literal};

/// GRAPH.md §4: more than 15 `or` children or `in` values need the advanced parameters.
pub const MAX_DEFAULT_OR_CHILDREN: usize = 15;
/// GRAPH.md §4: an `eq` value longer than 120 characters needs the advanced parameters.
pub const MAX_DEFAULT_LITERAL_CHARS: usize = 120;

/// A phone spelling variant: which LDAP assertion it serves and how likely it is (0 first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantTag {
    /// The LDAP filter item, e.g. `(telephoneNumber=+14255550100)`.
    pub label: String,
    /// Rank by likelihood; the raw assertion is 0.
    pub rank: u32,
}

/// One comparison on one Graph property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    pub property: String,
    pub op: FilterOp,
    /// The property is a string collection: render through `any`.
    pub collection_any: bool,
    /// The un-quoted value.
    pub value: String,
    /// Default or Advanced (never `No`: pushdown does not build unsupported clauses).
    pub support: Support,
    /// Whether `eq` siblings on this property may merge into `in (...)`.
    pub in_support: Support,
    /// Set on phone spelling variants, which packing may leave out (least likely first).
    pub variant: Option<VariantTag>,
}

/// A `$filter` boolean expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Cmp(Comparison),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

/// A `$search` expression (GRAPH.md §2): quoted `"property:text"` clauses, AND/OR outside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchExpr {
    Term { property: String, value: String },
    And(Vec<SearchExpr>),
    Or(Vec<SearchExpr>),
}

/// Rendered text and whether it needs the advanced parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    pub advanced: bool,
}

impl Expr {
    /// `And` that flattens nested `And`s and unwraps a single child.
    pub fn and(children: Vec<Expr>) -> Expr {
        let mut flat = Vec::new();
        for c in children {
            match c {
                Expr::And(inner) => flat.extend(inner),
                other => flat.push(other),
            }
        }
        if flat.len() == 1 {
            flat.remove(0)
        } else {
            Expr::And(flat)
        }
    }

    /// `Or` that flattens nested `Or`s, keeps one of identical children (two text items'
    /// `startsWith(p,' ')`, an object the phone index finds through two sources) and unwraps a single child.
    pub fn or(children: Vec<Expr>) -> Expr {
        let mut flat: Vec<Expr> = Vec::new();
        let mut add = |e: Expr| {
            if !flat.contains(&e) {
                flat.push(e);
            }
        };
        for c in children {
            match c {
                Expr::Or(inner) => inner.into_iter().for_each(&mut add),
                other => add(other),
            }
        }
        if flat.len() == 1 {
            flat.remove(0)
        } else {
            Expr::Or(flat)
        }
    }

    /// Renders the expression; `eq` siblings on one property under an `or` become `in`.
    pub fn render(&self) -> Rendered {
        let mut advanced = false;
        let text = self.render_into(&mut advanced, false);
        Rendered { text, advanced }
    }

    /// Every comparison, depth first.
    pub fn comparisons(&self) -> Vec<&Comparison> {
        match self {
            Expr::Cmp(c) => vec![c],
            Expr::And(v) | Expr::Or(v) => v.iter().flat_map(|e| e.comparisons()).collect(),
        }
    }

    fn render_into(&self, advanced: &mut bool, nested: bool) -> String {
        match self {
            Expr::Cmp(c) => render_comparison(c, advanced),
            Expr::And(children) => {
                let parts: Vec<String> = children
                    .iter()
                    .map(|c| c.render_into(advanced, true))
                    .collect();
                wrap(parts.join(" and "), nested && children.len() > 1)
            }
            Expr::Or(children) => {
                let parts = render_or_children(children, advanced);
                if parts.len() > MAX_DEFAULT_OR_CHILDREN {
                    *advanced = true;
                }
                wrap(parts.join(" or "), nested && parts.len() > 1)
            }
        }
    }
}

fn wrap(text: String, parens: bool) -> String {
    if parens { format!("({text})") } else { text }
}

/// Groups `eq` comparisons on the same property into `in (...)` where `in` is supported
/// (GRAPH.md §1: `in` works by default wherever `eq` does), keeping first-seen order.
fn render_or_children(children: &[Expr], advanced: &mut bool) -> Vec<String> {
    let mut parts: Vec<String> = Vec::new();
    let mut groups: Vec<(String, Vec<&Comparison>)> = Vec::new();
    let mut order: Vec<Result<usize, usize>> = Vec::new(); // Ok(group) or Err(child)
    for (i, child) in children.iter().enumerate() {
        match child {
            Expr::Cmp(c)
                if c.op == FilterOp::Eq && !c.collection_any && c.in_support != Support::No =>
            {
                if let Some(g) = groups.iter().position(|(p, _)| *p == c.property) {
                    groups[g].1.push(c);
                } else {
                    groups.push((c.property.clone(), vec![c]));
                    order.push(Ok(groups.len() - 1));
                }
            }
            _ => order.push(Err(i)),
        }
    }
    for slot in order {
        match slot {
            Ok(g) => {
                let (property, members) = &groups[g];
                if members.len() == 1 {
                    parts.push(render_comparison(members[0], advanced));
                    continue;
                }
                let mut values = Vec::new();
                for m in members {
                    note_literal(m, advanced);
                    if m.in_support == Support::Advanced {
                        *advanced = true;
                    }
                    values.push(string_literal(&m.value));
                }
                if members.len() > MAX_DEFAULT_OR_CHILDREN {
                    *advanced = true;
                }
                parts.push(format!("{property} in ({})", values.join(",")));
            }
            Err(i) => parts.push(children[i].render_into(advanced, true)),
        }
    }
    parts
}

fn note_literal(c: &Comparison, advanced: &mut bool) {
    if c.support == Support::Advanced || c.value.chars().count() > MAX_DEFAULT_LITERAL_CHARS {
        *advanced = true;
    }
}

fn render_comparison(c: &Comparison, advanced: &mut bool) -> String {
    note_literal(c, advanced);
    let lit = string_literal(&c.value);
    let p = &c.property;
    match (c.op, c.collection_any) {
        (FilterOp::EqBoolean, _) => format!("{p} eq {}", c.value),
        (FilterOp::StartsWith, false) => format!("startsWith({p},{lit})"),
        (FilterOp::StartsWith, true) => format!("{p}/any(p:startsWith(p,{lit}))"),
        (_, false) => format!("{p} eq {lit}"),
        (_, true) => format!("{p}/any(p:p eq {lit})"),
    }
}

impl SearchExpr {
    /// `And` that flattens and unwraps.
    pub fn and(children: Vec<SearchExpr>) -> SearchExpr {
        Self::combine(children, true)
    }

    /// `Or` that flattens and unwraps.
    pub fn or(children: Vec<SearchExpr>) -> SearchExpr {
        Self::combine(children, false)
    }

    fn combine(children: Vec<SearchExpr>, is_and: bool) -> SearchExpr {
        let mut flat = Vec::new();
        for c in children {
            match c {
                SearchExpr::And(inner) if is_and => flat.extend(inner),
                SearchExpr::Or(inner) if !is_and => flat.extend(inner),
                other => flat.push(other),
            }
        }
        if flat.len() == 1 {
            flat.remove(0)
        } else if is_and {
            SearchExpr::And(flat)
        } else {
            SearchExpr::Or(flat)
        }
    }

    /// `"displayName:jo" AND ("surname:a" OR "surname:b")`.
    pub fn render(&self) -> String {
        self.render_nested(false)
    }

    fn render_nested(&self, nested: bool) -> String {
        match self {
            SearchExpr::Term { property, value } => search_clause(property, value),
            SearchExpr::And(v) => wrap(
                v.iter()
                    .map(|c| c.render_nested(true))
                    .collect::<Vec<_>>()
                    .join(" AND "),
                nested,
            ),
            SearchExpr::Or(v) => wrap(
                v.iter()
                    .map(|c| c.render_nested(true))
                    .collect::<Vec<_>>()
                    .join(" OR "),
                nested,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eq(p: &str, v: &str) -> Expr {
        Expr::Cmp(Comparison {
            property: p.into(),
            op: FilterOp::Eq,
            collection_any: false,
            value: v.into(),
            support: Support::Default,
            in_support: Support::Default,
            variant: None,
        })
    }

    #[test]
    fn eq_siblings_merge_into_in() {
        let e = Expr::or(vec![
            eq("mail", "a"),
            eq("jobTitle", "x"),
            eq("mail", "b'c"),
        ]);
        let r = e.render();
        assert_eq!(r.text, "mail in ('a','b''c') or jobTitle eq 'x'");
        assert!(!r.advanced);
    }

    #[test]
    fn sixteen_in_values_need_advanced() {
        let e = Expr::or((0..16).map(|i| eq("mail", &i.to_string())).collect());
        assert!(e.render().advanced);
        let e = Expr::or((0..15).map(|i| eq("mail", &i.to_string())).collect());
        assert!(!e.render().advanced);
    }

    #[test]
    fn nesting_is_parenthesised() {
        let e = Expr::and(vec![
            eq("a", "1"),
            Expr::or(vec![eq("b", "2"), eq("c", "3")]),
        ]);
        assert_eq!(e.render().text, "a eq '1' and (b eq '2' or c eq '3')");
        let long = "x".repeat(121);
        assert!(eq("a", &long).render().advanced);
    }

    #[test]
    fn search_renders_with_escapes() {
        let s = SearchExpr::and(vec![
            SearchExpr::Term {
                property: "displayName".into(),
                value: "a\"b\\".into(),
            },
            SearchExpr::or(vec![
                SearchExpr::Term {
                    property: "surname".into(),
                    value: "x".into(),
                },
                SearchExpr::Term {
                    property: "givenName".into(),
                    value: "y".into(),
                },
            ]),
        ]);
        assert_eq!(
            s.render(),
            r#""displayName:a\"b\\" AND ("surname:x" OR "givenName:y")"#
        );
    }
}
