//! The emulator's OData `$filter`: a parser, a checker that rejects what Graph rejects
//! (GRAPH.md §1, §3, §4, §6), and an evaluator over JSON objects (case-insensitive, GRAPH.md §5).
//! It does no I/O and knows nothing of HTTP beyond the `GraphError` it returns.

use super::errors::GraphError;
use super::resource::{PropertyCaps, Resource, Support, ValueKind};
use serde_json::Value;

/// Graph's default-mode limit on OR children and `in` items (GRAPH.md §4, [obs S18], [doc S12]).
pub const MAX_OR_CHILDREN: usize = 15;
/// Graph's default-mode limit on the length of an `eq` value (GRAPH.md §4, [doc S12]).
pub const MAX_EQ_VALUE_CHARS: usize = 120;

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Text(String),
    Boolean(bool),
    Null,
    Integer(i64),
    Guid(String),
}

impl Literal {
    fn edm_type(&self) -> &'static str {
        match self {
            Literal::Text(_) => "Edm.String",
            Literal::Boolean(_) => "Edm.Boolean",
            Literal::Null => "null",
            Literal::Integer(_) => "Edm.Int32",
            Literal::Guid(_) => "Edm.Guid",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Ge,
    Le,
    Gt,
    Lt,
}

impl CompareOp {
    fn keyword(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Ge => "ge",
            CompareOp::Le => "le",
            CompareOp::Gt => "gt",
            CompareOp::Lt => "lt",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StringFunction {
    StartsWith,
    EndsWith,
    Contains,
}

/// The left side of a clause: a property path or a lambda's range variable.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Property(String),
    Variable,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Or(Vec<Filter>),
    And(Vec<Filter>),
    Not(Box<Filter>),
    Compare {
        target: Target,
        op: CompareOp,
        value: Literal,
    },
    In {
        target: Target,
        values: Vec<Literal>,
    },
    Function {
        function: StringFunction,
        target: Target,
        value: Literal,
    },
    /// `coll/any(v: body)`; `body` is `None` for `coll/any()`.
    Any {
        collection: String,
        body: Option<Box<Filter>>,
    },
    /// `coll/all(...)`: parsed so that it can be refused like Graph does (GRAPH.md §1).
    All {
        collection: String,
    },
    /// `coll/$count eq N`.
    Count {
        collection: String,
        op: CompareOp,
        value: Literal,
    },
}

// ---------------------------------------------------------------- lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Int(i64),
    Guid(String),
    LParen,
    RParen,
    Comma,
    Colon,
    Slash,
    End,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    pos: usize,
}

fn is_guid_at(chars: &[char], start: usize) -> bool {
    const GROUPS: [usize; 5] = [8, 4, 4, 4, 12];
    let mut i = start;
    for (n, len) in GROUPS.iter().enumerate() {
        for _ in 0..*len {
            match chars.get(i) {
                Some(c) if c.is_ascii_hexdigit() => i += 1,
                _ => return false,
            }
        }
        if n < 4 {
            if chars.get(i) != Some(&'-') {
                return false;
            }
            i += 1;
        }
    }
    !chars
        .get(i)
        .is_some_and(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
}

fn lex(text: &str) -> Result<Vec<Token>, usize> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let pos = i;
        match c {
            ' ' | '\t' => {
                i += 1;
                continue;
            }
            '(' => tokens.push(Token {
                tok: Tok::LParen,
                pos,
            }),
            ')' => tokens.push(Token {
                tok: Tok::RParen,
                pos,
            }),
            ',' => tokens.push(Token {
                tok: Tok::Comma,
                pos,
            }),
            ':' => tokens.push(Token {
                tok: Tok::Colon,
                pos,
            }),
            '/' => tokens.push(Token {
                tok: Tok::Slash,
                pos,
            }),
            '\'' => {
                // OData string literal: a quote inside is doubled (GRAPH.md §5).
                let mut value = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(pos),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            value.push('\'');
                            i += 2;
                        }
                        Some('\'') => break,
                        Some(ch) => {
                            value.push(*ch);
                            i += 1;
                        }
                    }
                }
                tokens.push(Token {
                    tok: Tok::Str(value),
                    pos,
                });
            }
            _ if c.is_ascii_hexdigit() && is_guid_at(&chars, i) => {
                let guid: String = chars[i..i + 36].iter().collect();
                tokens.push(Token {
                    tok: Tok::Guid(guid),
                    pos,
                });
                i += 36;
                continue;
            }
            _ if c.is_ascii_digit()
                || (c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())) =>
            {
                let mut end = i + 1;
                while chars.get(end).is_some_and(|d| d.is_ascii_digit()) {
                    end += 1;
                }
                if chars
                    .get(end)
                    .is_some_and(|d| d.is_alphanumeric() || *d == '_')
                {
                    return Err(end);
                }
                let digits: String = chars[i..end].iter().collect();
                let value = digits.parse::<i64>().map_err(|_| pos)?;
                tokens.push(Token {
                    tok: Tok::Int(value),
                    pos,
                });
                i = end;
                continue;
            }
            _ if c.is_alphabetic() || c == '_' || c == '$' => {
                let mut end = i + 1;
                while chars
                    .get(end)
                    .is_some_and(|d| d.is_alphanumeric() || *d == '_' || *d == '.')
                {
                    end += 1;
                }
                tokens.push(Token {
                    tok: Tok::Ident(chars[i..end].iter().collect()),
                    pos,
                });
                i = end;
                continue;
            }
            _ => return Err(pos),
        }
        i += 1;
    }
    tokens.push(Token {
        tok: Tok::End,
        pos: chars.len(),
    });
    Ok(tokens)
}

// ---------------------------------------------------------------- parser

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    /// The range variable of the lambda being parsed, if any.
    variable: Option<String>,
    /// Current nesting of parentheses and `not`, bounded by `MAX_NESTING`.
    depth: usize,
}

/// Nesting limit of the emulator's recursive-descent parsers; deeper input is a syntax error
/// instead of a stack overflow (the 2,048-character URL allows about a thousand levels).
pub const MAX_NESTING: usize = 64;

type ParseResult<T> = Result<T, usize>;

impl Parser {
    fn peek(&self) -> &Tok {
        self.tokens.get(self.at).map_or(&Tok::End, |t| &t.tok)
    }

    fn peek_at(&self, offset: usize) -> &Tok {
        self.tokens
            .get(self.at + offset)
            .map_or(&Tok::End, |t| &t.tok)
    }

    fn pos(&self) -> usize {
        self.tokens
            .get(self.at)
            .or_else(|| self.tokens.last())
            .map_or(0, |t| t.pos)
    }

    fn next(&mut self) -> Tok {
        let tok = self.peek().clone();
        self.at += 1;
        tok
    }

    fn expect(&mut self, want: &Tok) -> ParseResult<()> {
        if self.peek() == want {
            self.at += 1;
            Ok(())
        } else {
            Err(self.pos())
        }
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Tok::Ident(w) if w.eq_ignore_ascii_case(word))
    }

    fn or_expr(&mut self) -> ParseResult<Filter> {
        let mut children = vec![self.and_expr()?];
        while self.keyword("or") {
            self.at += 1;
            children.push(self.and_expr()?);
        }
        Ok(flatten(children, true))
    }

    fn and_expr(&mut self) -> ParseResult<Filter> {
        let mut children = vec![self.unary()?];
        while self.keyword("and") {
            self.at += 1;
            children.push(self.unary()?);
        }
        Ok(flatten(children, false))
    }

    fn unary(&mut self) -> ParseResult<Filter> {
        if self.depth >= MAX_NESTING {
            return Err(self.pos());
        }
        self.depth += 1;
        let result = if self.keyword("not") && !matches!(self.peek_at(1), Tok::Slash) {
            self.at += 1;
            self.unary().map(|inner| Filter::Not(Box::new(inner)))
        } else {
            self.primary()
        };
        self.depth -= 1;
        result
    }

    fn primary(&mut self) -> ParseResult<Filter> {
        match self.peek().clone() {
            Tok::LParen => {
                self.at += 1;
                let inner = self.or_expr()?;
                self.expect(&Tok::RParen)?;
                Ok(inner)
            }
            Tok::Ident(name) if matches!(self.peek_at(1), Tok::LParen) => self.function_call(&name),
            Tok::Ident(_) => self.clause(),
            _ => Err(self.pos()),
        }
    }

    fn function_call(&mut self, name: &str) -> ParseResult<Filter> {
        // Graph accepts `startswith` as well as `startsWith` (function names are case-insensitive).
        let function = match name.to_ascii_lowercase().as_str() {
            "startswith" => StringFunction::StartsWith,
            "endswith" => StringFunction::EndsWith,
            "contains" => StringFunction::Contains,
            _ => return Err(self.pos()),
        };
        self.at += 2;
        let target = self.target()?;
        self.expect(&Tok::Comma)?;
        let value = self.literal()?;
        self.expect(&Tok::RParen)?;
        Ok(Filter::Function {
            function,
            target,
            value,
        })
    }

    fn target(&mut self) -> ParseResult<Target> {
        let Tok::Ident(name) = self.next() else {
            self.at -= 1;
            return Err(self.pos());
        };
        if self.variable.as_deref() == Some(name.as_str()) {
            // `p/number` on a complex collection: the member is part of the variable's value.
            while matches!(self.peek(), Tok::Slash) && matches!(self.peek_at(1), Tok::Ident(_)) {
                self.at += 2;
            }
            return Ok(Target::Variable);
        }
        let mut path = name;
        while matches!(self.peek(), Tok::Slash)
            && matches!(self.peek_at(1), Tok::Ident(s) if !s.starts_with('$') && !is_lambda(s))
        {
            self.at += 1;
            if let Tok::Ident(segment) = self.next() {
                path.push('/');
                path.push_str(&segment);
            }
        }
        Ok(Target::Property(path))
    }

    fn clause(&mut self) -> ParseResult<Filter> {
        let target = self.target()?;
        if matches!(self.peek(), Tok::Slash) {
            let Target::Property(collection) = target else {
                return Err(self.pos());
            };
            self.at += 1;
            return match self.next() {
                Tok::Ident(word) if word.eq_ignore_ascii_case("any") => {
                    self.lambda_body(collection)
                }
                Tok::Ident(word) if word.eq_ignore_ascii_case("all") => {
                    self.lambda_body(collection.clone())?;
                    Ok(Filter::All { collection })
                }
                Tok::Ident(word) if word == "$count" => {
                    let op = self.compare_op()?;
                    let value = self.literal()?;
                    Ok(Filter::Count {
                        collection,
                        op,
                        value,
                    })
                }
                _ => {
                    self.at -= 1;
                    Err(self.pos())
                }
            };
        }
        if self.keyword("in") {
            self.at += 1;
            self.expect(&Tok::LParen)?;
            let mut values = vec![self.literal()?];
            while matches!(self.peek(), Tok::Comma) {
                self.at += 1;
                values.push(self.literal()?);
            }
            self.expect(&Tok::RParen)?;
            return Ok(Filter::In { target, values });
        }
        let op = self.compare_op()?;
        let value = self.literal()?;
        Ok(Filter::Compare { target, op, value })
    }

    fn lambda_body(&mut self, collection: String) -> ParseResult<Filter> {
        self.expect(&Tok::LParen)?;
        if matches!(self.peek(), Tok::RParen) {
            self.at += 1;
            return Ok(Filter::Any {
                collection,
                body: None,
            });
        }
        let Tok::Ident(variable) = self.next() else {
            self.at -= 1;
            return Err(self.pos());
        };
        self.expect(&Tok::Colon)?;
        let outer = self.variable.replace(variable);
        let body = self.or_expr();
        self.variable = outer;
        let body = body?;
        self.expect(&Tok::RParen)?;
        Ok(Filter::Any {
            collection,
            body: Some(Box::new(body)),
        })
    }

    fn compare_op(&mut self) -> ParseResult<CompareOp> {
        let op = match self.peek() {
            Tok::Ident(w) => match w.to_ascii_lowercase().as_str() {
                "eq" => CompareOp::Eq,
                "ne" => CompareOp::Ne,
                "ge" => CompareOp::Ge,
                "le" => CompareOp::Le,
                "gt" => CompareOp::Gt,
                "lt" => CompareOp::Lt,
                _ => return Err(self.pos()),
            },
            _ => return Err(self.pos()),
        };
        self.at += 1;
        Ok(op)
    }

    fn literal(&mut self) -> ParseResult<Literal> {
        let literal = match self.peek() {
            Tok::Str(s) => Literal::Text(s.clone()),
            Tok::Int(n) => Literal::Integer(*n),
            Tok::Guid(g) => Literal::Guid(g.clone()),
            Tok::Ident(w) if w == "true" => Literal::Boolean(true),
            Tok::Ident(w) if w == "false" => Literal::Boolean(false),
            Tok::Ident(w) if w == "null" => Literal::Null,
            _ => return Err(self.pos()),
        };
        self.at += 1;
        Ok(literal)
    }
}

fn is_lambda(word: &str) -> bool {
    word.eq_ignore_ascii_case("any") || word.eq_ignore_ascii_case("all")
}

fn flatten(mut children: Vec<Filter>, or: bool) -> Filter {
    if children.len() == 1
        && let Some(only) = children.pop()
    {
        return only;
    }
    let mut flat = Vec::with_capacity(children.len());
    for child in children {
        match (child, or) {
            (Filter::Or(inner), true) => flat.extend(inner),
            (Filter::And(inner), false) => flat.extend(inner),
            (other, _) => flat.push(other),
        }
    }
    if or {
        Filter::Or(flat)
    } else {
        Filter::And(flat)
    }
}

/// Parses a decoded `$filter` value. Syntax errors carry Graph's message with the character
/// position of the offending token (GRAPH.md §6, [obs S15]).
pub fn parse(text: &str) -> Result<Filter, GraphError> {
    let tokens = lex(text).map_err(|pos| GraphError::filter_syntax(pos, text))?;
    let mut parser = Parser {
        tokens,
        at: 0,
        variable: None,
        depth: 0,
    };
    let filter = parser
        .or_expr()
        .map_err(|pos| GraphError::filter_syntax(pos, text))?;
    if !matches!(parser.peek(), Tok::End) {
        return Err(GraphError::filter_syntax(parser.pos(), text));
    }
    Ok(filter)
}

// ---------------------------------------------------------------- checker

/// One clause's requirement, with the error Graph gives when it is not met.
struct Requirement {
    support: Support,
    error: GraphError,
}

struct Checker<'a> {
    resource: &'a Resource,
    requirements: Vec<Requirement>,
    long_values: Vec<String>,
    max_or_children: usize,
}

impl Checker<'_> {
    fn resolve(&self, name: &str) -> Result<&'static PropertyCaps, GraphError> {
        if let Some(caps) = self.resource.caps(name) {
            return Ok(caps);
        }
        match self.resource.property(name) {
            Some(known) => Err(GraphError::unsupported_clause(known, self.resource.entity)),
            None => Err(GraphError::unknown_property(name, self.resource.type_name)),
        }
    }

    fn require_property(&mut self, support: Support, caps: &PropertyCaps) {
        self.requirements.push(Requirement {
            support,
            error: GraphError::unsupported_clause(caps.name, self.resource.entity),
        });
    }

    fn require_operator(&mut self, support: Support, caps: &PropertyCaps, operator: &str) {
        let error = if support == Support::Unsupported {
            GraphError::unsupported_clause(caps.name, self.resource.entity)
        } else {
            GraphError::needs_advanced_parameters(operator)
        };
        self.requirements.push(Requirement { support, error });
    }

    fn type_check(&self, caps: &PropertyCaps, op: &str, value: &Literal) -> Result<(), GraphError> {
        let fits = matches!(
            (caps.kind, value),
            (_, Literal::Null)
                | (
                    ValueKind::Text | ValueKind::TextCollection,
                    Literal::Text(_)
                )
                | (ValueKind::Boolean, Literal::Boolean(_))
        );
        if fits {
            return Ok(());
        }
        let property_type = match caps.kind {
            ValueKind::Boolean => "Edm.Boolean",
            _ => "Edm.String",
        };
        // Graph answers `accountEnabled eq 'true'` with "Invalid filter clause" (GRAPH.md §1, [obs S15]).
        Err(GraphError::bad_request(format!(
            "Invalid filter clause: A binary operator with incompatible types was detected. \
             Found operand types '{property_type}' and '{}' for operator kind '{op}'.",
            value.edm_type()
        )))
    }

    fn note_eq_value(&mut self, value: &Literal) {
        if let Literal::Text(text) = value
            && text.chars().count() > MAX_EQ_VALUE_CHARS
        {
            self.long_values.push(text.clone());
        }
    }

    /// Walks the filter. `negated` marks clauses under `not`, which always needs the
    /// advanced parameters (GRAPH.md §1 general rules).
    fn walk(
        &mut self,
        filter: &Filter,
        lambda: Option<&'static PropertyCaps>,
        negated: bool,
    ) -> Result<(), GraphError> {
        match filter {
            Filter::Or(children) => {
                let count: usize = children
                    .iter()
                    .map(|c| match c {
                        Filter::In { values, .. } => values.len(),
                        _ => 1,
                    })
                    .sum();
                self.max_or_children = self.max_or_children.max(count);
                for child in children {
                    self.walk(child, lambda, negated)?;
                }
            }
            Filter::And(children) => {
                for child in children {
                    self.walk(child, lambda, negated)?;
                }
            }
            Filter::Not(inner) => self.walk(inner, lambda, true)?,
            Filter::Compare { target, op, value } => {
                let caps = self.target_caps(target, lambda)?;
                self.type_check(caps, op_kind(*op), value)?;
                if lambda.is_none() && caps.kind == ValueKind::TextCollection {
                    self.require_property(Support::Unsupported, caps);
                    return Ok(());
                }
                match (op, value) {
                    (CompareOp::Eq, Literal::Null) => self.require_property(caps.eq_null, caps),
                    (CompareOp::Ne, Literal::Null) => {
                        let support = caps.eq_null.max(Support::Advanced);
                        self.require_operator(support, caps, "ne");
                    }
                    (CompareOp::Eq, _) => {
                        self.note_eq_value(value);
                        self.require_property(caps.eq, caps);
                    }
                    (CompareOp::Ne, _) if lambda.is_none() => {
                        let support = caps.eq.max(Support::Advanced);
                        self.require_operator(support, caps, "ne");
                    }
                    (CompareOp::Ge | CompareOp::Le, _) => {
                        self.require_operator(caps.ordering, caps, op.keyword())
                    }
                    _ => self.require_property(Support::Unsupported, caps),
                }
                if negated {
                    self.require_not(caps, lambda);
                }
            }
            Filter::In { target, values } => {
                let caps = self.target_caps(target, lambda)?;
                for value in values {
                    self.type_check(caps, "In", value)?;
                    self.note_eq_value(value);
                }
                self.max_or_children = self.max_or_children.max(values.len());
                if lambda.is_none() && caps.kind == ValueKind::TextCollection {
                    self.require_property(Support::Unsupported, caps);
                } else {
                    self.require_property(caps.is_in, caps);
                }
                if negated {
                    self.require_not(caps, lambda);
                }
            }
            Filter::Function {
                function,
                target,
                value,
            } => {
                if *function == StringFunction::Contains {
                    // GRAPH.md §6, [obs S21].
                    return Err(GraphError::unsupported_query(
                        "Unsupported property filter clause operator 'Contains'.",
                    ));
                }
                let caps = self.target_caps(target, lambda)?;
                if !matches!(value, Literal::Text(_)) {
                    return Err(GraphError::bad_request(format!(
                        "Invalid filter clause: No function signature for the function with name \
                         '{}' matches the specified arguments.",
                        function_name(*function)
                    )));
                }
                if lambda.is_none() && caps.kind == ValueKind::TextCollection {
                    self.require_property(Support::Unsupported, caps);
                    return Ok(());
                }
                match function {
                    StringFunction::StartsWith => self.require_property(caps.starts_with, caps),
                    _ => self.require_operator(caps.ends_with, caps, "endsWith"),
                }
                if negated {
                    self.require_not(caps, lambda);
                }
            }
            Filter::Any { collection, body } => {
                if lambda.is_some() {
                    return Err(GraphError::unsupported_query(
                        "Nested lambda expressions are not supported.",
                    ));
                }
                let caps = self.resolve(collection)?;
                if caps.kind != ValueKind::TextCollection {
                    return Err(GraphError::bad_request(format!(
                        "Invalid filter clause: The Any/All query expression can only be applied to \
                         a collection; '{}' is not one.",
                        caps.name
                    )));
                }
                match body {
                    Some(body) => self.walk(body, Some(caps), false)?,
                    None => self.require_property(Support::Unsupported, caps),
                }
                if negated {
                    self.require_operator(caps.eq.max(Support::Advanced), caps, "not");
                }
            }
            Filter::All { collection } => {
                // The `all` lambda isn't supported by any property (GRAPH.md §1, [doc S5]).
                let caps = self.resolve(collection)?;
                self.require_property(Support::Unsupported, caps);
            }
            Filter::Count {
                collection,
                op,
                value,
            } => {
                let caps = self.resolve(collection)?;
                let supported = caps.kind == ValueKind::TextCollection
                    && *op == CompareOp::Eq
                    && matches!(value, Literal::Integer(_));
                if supported {
                    self.require_operator(caps.eq_null, caps, "$count");
                } else {
                    self.require_property(Support::Unsupported, caps);
                }
            }
        }
        Ok(())
    }

    fn require_not(&mut self, caps: &PropertyCaps, lambda: Option<&'static PropertyCaps>) {
        match lambda {
            // Negation inside a lambda (`any(p: not …)`) is not indexed.
            Some(_) => self.require_property(Support::Unsupported, caps),
            None => self.require_operator(caps.eq.max(Support::Advanced), caps, "not"),
        }
    }

    fn target_caps(
        &self,
        target: &Target,
        lambda: Option<&'static PropertyCaps>,
    ) -> Result<&'static PropertyCaps, GraphError> {
        match (target, lambda) {
            (Target::Variable, Some(caps)) => Ok(caps),
            (Target::Property(name), None) => self.resolve(name),
            (Target::Property(name), Some(_)) => {
                let caps = self.resolve(name)?;
                Err(GraphError::unsupported_clause(
                    caps.name,
                    self.resource.entity,
                ))
            }
            (Target::Variable, None) => Err(GraphError::bad_request("Invalid filter clause")),
        }
    }
}

fn op_kind(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Eq => "Equal",
        CompareOp::Ne => "NotEqual",
        CompareOp::Ge => "GreaterThanOrEqual",
        CompareOp::Le => "LessThanOrEqual",
        CompareOp::Gt => "GreaterThan",
        CompareOp::Lt => "LessThan",
    }
}

fn function_name(function: StringFunction) -> &'static str {
    match function {
        StringFunction::StartsWith => "startswith",
        StringFunction::EndsWith => "endswith",
        StringFunction::Contains => "contains",
    }
}

/// Rejects what Graph rejects: unknown or unindexed property/operator pairs, advanced-only
/// clauses without the advanced parameters, and the default-mode limits (GRAPH.md §4, §6).
pub fn check(filter: &Filter, resource: &Resource, advanced: bool) -> Result<(), GraphError> {
    let mut checker = Checker {
        resource,
        requirements: Vec::new(),
        long_values: Vec::new(),
        max_or_children: 0,
    };
    checker.walk(filter, None, false)?;
    if let Some(refused) = checker
        .requirements
        .iter()
        .find(|r| r.support == Support::Unsupported)
    {
        return Err(refused.error.clone());
    }
    if advanced {
        return Ok(());
    }
    if let Some(refused) = checker
        .requirements
        .iter()
        .find(|r| r.support == Support::Advanced)
    {
        return Err(refused.error.clone());
    }
    if checker.max_or_children > MAX_OR_CHILDREN {
        // Wording observed in 2019 (GRAPH.md §4, [obs S18]).
        return Err(GraphError::unsupported_query(format!(
            "Too many child clauses specified in search filter expression containing 'OR' operators: {}. Max allowed: {MAX_OR_CHILDREN}.",
            checker.max_or_children
        )));
    }
    if let Some(long) = checker.long_values.first() {
        return Err(GraphError::unsupported_query(format!(
            "The value of a filter clause exceeds the maximum allowed length of {MAX_EQ_VALUE_CHARS} characters: '{long}'."
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------- evaluator

/// Reads a property, exact spelling first, then case-insensitively.
pub fn property<'v>(object: &'v Value, name: &str) -> Option<&'v Value> {
    let map = object.as_object()?;
    map.get(name).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// The case folding of every string comparison (GRAPH.md §5); `index` keys use it too.
pub(crate) fn fold(text: &str) -> String {
    text.to_lowercase()
}

fn compare(value: Option<&Value>, op: CompareOp, literal: &Literal) -> bool {
    let value = value.filter(|v| !v.is_null());
    match literal {
        Literal::Null => match op {
            CompareOp::Eq => value.is_none(),
            CompareOp::Ne => value.is_some(),
            _ => false,
        },
        Literal::Text(want) => {
            let Some(have) = value.and_then(Value::as_str) else {
                return op == CompareOp::Ne;
            };
            let (have, want) = (fold(have), fold(want));
            match op {
                CompareOp::Eq => have == want,
                CompareOp::Ne => have != want,
                CompareOp::Ge => have >= want,
                CompareOp::Le => have <= want,
                CompareOp::Gt => have > want,
                CompareOp::Lt => have < want,
            }
        }
        Literal::Boolean(want) => match (value.and_then(Value::as_bool), op) {
            (Some(have), CompareOp::Eq) => have == *want,
            (Some(have), CompareOp::Ne) => have != *want,
            (None, CompareOp::Ne) => true,
            _ => false,
        },
        Literal::Integer(_) | Literal::Guid(_) => false,
    }
}

fn string_function(value: Option<&Value>, function: StringFunction, literal: &Literal) -> bool {
    let (Some(have), Literal::Text(want)) = (value.and_then(Value::as_str), literal) else {
        return false;
    };
    let (have, want) = (fold(have), fold(want));
    match function {
        StringFunction::StartsWith => have.starts_with(&want),
        StringFunction::EndsWith => have.ends_with(&want),
        StringFunction::Contains => have.contains(&want),
    }
}

fn evaluate(filter: &Filter, object: &Value, variable: Option<&Value>) -> bool {
    let read = |target: &Target| match target {
        Target::Property(name) => property(object, name),
        Target::Variable => variable,
    };
    match filter {
        Filter::Or(children) => children.iter().any(|c| evaluate(c, object, variable)),
        Filter::And(children) => children.iter().all(|c| evaluate(c, object, variable)),
        Filter::Not(inner) => !evaluate(inner, object, variable),
        Filter::Compare { target, op, value } => compare(read(target), *op, value),
        Filter::In { target, values } => {
            let have = read(target);
            values.iter().any(|v| compare(have, CompareOp::Eq, v))
        }
        Filter::Function {
            function,
            target,
            value,
        } => string_function(read(target), *function, value),
        Filter::Any { collection, body } => {
            let items = property(object, collection)
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default();
            match body {
                Some(body) => items.iter().any(|item| evaluate(body, object, Some(item))),
                None => !items.is_empty(),
            }
        }
        Filter::All { .. } => false,
        Filter::Count {
            collection,
            op,
            value,
        } => {
            let len = property(object, collection)
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            match (value, i64::try_from(len)) {
                (Literal::Integer(n), Ok(len)) => match op {
                    CompareOp::Eq => len == *n,
                    CompareOp::Ne => len != *n,
                    CompareOp::Ge => len >= *n,
                    CompareOp::Le => len <= *n,
                    CompareOp::Gt => len > *n,
                    CompareOp::Lt => len < *n,
                },
                _ => false,
            }
        }
    }
}

/// Whether a directory object satisfies a (checked) filter.
pub fn matches(filter: &Filter, object: &Value) -> bool {
    evaluate(filter, object, None)
}

#[cfg(test)]
mod tests {
    use super::super::resource::{CONTACTS, USERS};
    use super::*;
    use serde_json::json;

    fn checked(text: &str, advanced: bool) -> Result<Filter, GraphError> {
        let filter = parse(text)?;
        check(&filter, &USERS, advanced)?;
        Ok(filter)
    }

    fn message(text: &str, advanced: bool) -> String {
        match checked(text, advanced) {
            Ok(_) => panic!("{text} was accepted"),
            Err(e) => format!("{} {}", e.code, e.message),
        }
    }

    #[test]
    fn parses_quotes_functions_and_lambdas() {
        let f = parse("displayName eq 'O''Brien' and startswith(mail,'a')").unwrap();
        assert_eq!(
            f,
            Filter::And(vec![
                Filter::Compare {
                    target: Target::Property("displayName".into()),
                    op: CompareOp::Eq,
                    value: Literal::Text("O'Brien".into()),
                },
                Filter::Function {
                    function: StringFunction::StartsWith,
                    target: Target::Property("mail".into()),
                    value: Literal::Text("a".into()),
                },
            ])
        );
        let f = parse("businessPhones/any(p:startsWith(p,'+1 425'))").unwrap();
        assert!(
            matches!(f, Filter::Any { ref collection, body: Some(_) } if collection == "businessPhones")
        );
        let f = parse("id in (5b0ef1a4-0000-4000-8000-000000000001, 'x')").unwrap();
        assert!(
            matches!(f, Filter::In { ref values, .. } if values[0] == Literal::Guid("5b0ef1a4-0000-4000-8000-000000000001".into()))
        );
        assert!(parse("not(accountEnabled eq true) or (a eq null)").is_ok());
        assert!(parse("otherMails/$count eq 0").is_ok());
    }

    #[test]
    fn syntax_errors_report_the_position() {
        for (text, pos) in [
            ("displayName eq 'x", 15),
            ("displayName eq 'x' and", 22),
            ("displayName eq", 14),
            ("displayName = 'x'", 12),
            ("(displayName eq 'x'", 19),
            ("displayName eq 'x')", 18),
            ("'x' eq displayName", 0),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.code, "BadRequest");
            assert_eq!(
                e.message,
                format!("Invalid filter clause: Syntax error at position {pos} in '{text}'."),
                "{text}"
            );
        }
    }

    #[test]
    fn default_and_advanced_clauses() {
        assert!(checked("displayName eq 'a' or startsWith(givenName,'b')", false).is_ok());
        assert!(checked("accountEnabled eq true and userType eq 'Member'", false).is_ok());
        assert!(checked("startsWith(department,'Sal')", false).is_ok());
        let m = message("endsWith(mail,'@example.com')", false);
        assert!(m.starts_with("Request_UnsupportedQuery Operator 'endsWith' is not supported because the required parameters might be missing."), "{m}");
        assert!(checked("endsWith(mail,'@example.com')", true).is_ok());
        assert_eq!(
            message("companyName eq 'Contoso'", false),
            "Request_UnsupportedQuery Unsupported or invalid query filter clause specified for property 'companyName' of resource 'User'."
        );
        assert!(checked("companyName eq 'Contoso'", true).is_ok());
        assert!(
            message("businessPhones/any(p:p eq '+1 425 555 0100')", false)
                .contains("'businessPhones'")
        );
        assert!(checked("businessPhones/any(p:p eq '+1 425 555 0100')", true).is_ok());
        assert!(message("displayName ne 'x'", false).contains("Operator 'ne'"));
        assert!(message("not(displayName eq 'x')", false).contains("Operator 'not'"));
        assert!(message("displayName ge 'm'", false).contains("Operator 'ge'"));
        assert!(checked("displayName ge 'm'", true).is_ok());
        assert!(checked("otherMails/any(p:startsWith(p,'x'))", false).is_ok());
        assert!(message("otherMails/$count eq 0", false).contains("Operator '$count'"));
    }

    #[test]
    fn unsupported_clauses_even_with_advanced() {
        for (text, prop) in [
            ("startsWith(state,'W')", "state"),
            ("startsWith(employeeId,'1')", "employeeId"),
            ("startsWith(preferredLanguage,'en')", "preferredLanguage"),
            ("endsWith(displayName,'x')", "displayName"),
            ("userPrincipalName eq null", "userPrincipalName"),
            ("displayName gt 'a'", "displayName"),
            ("businessPhones eq 'x'", "businessPhones"),
            ("businessPhones/all(p:p eq 'x')", "businessPhones"),
            ("createdDateTime eq null", "createdDateTime"),
        ] {
            let e = checked(text, true).unwrap_err();
            assert_eq!(
                e.message,
                format!(
                    "Unsupported or invalid query filter clause specified for property '{prop}' of resource 'User'."
                ),
                "{text}"
            );
        }
        let e = parse("phones/any(p:p/number eq 'x')").and_then(|f| check(&f, &CONTACTS, true));
        assert!(
            e.unwrap_err()
                .message
                .contains("'phones' of resource 'OrgContact'")
        );
        let e = parse("startswith(companyName,'F')").and_then(|f| check(&f, &CONTACTS, false));
        assert!(
            e.unwrap_err()
                .message
                .contains("'companyName' of resource 'OrgContact'")
        );
    }

    #[test]
    fn hard_errors() {
        assert_eq!(
            message("contains(displayName,'mit')", true),
            "Request_UnsupportedQuery Unsupported property filter clause operator 'Contains'."
        );
        let m = message("accountEnabled eq 'true'", false);
        assert!(m.starts_with("BadRequest Invalid filter clause"), "{m}");
        let m = message("displayName eq true", false);
        assert!(m.starts_with("BadRequest Invalid filter clause"), "{m}");
        let m = message("nickName eq 'x'", false);
        assert_eq!(
            m,
            "BadRequest Could not find a property named 'nickName' on type 'microsoft.graph.user'."
        );
    }

    #[test]
    fn default_mode_limits() {
        let ors: Vec<String> = (0..16).map(|i| format!("mail eq 'u{i}@x'")).collect();
        let text = ors.join(" or ");
        assert_eq!(
            message(&text, false),
            "Request_UnsupportedQuery Too many child clauses specified in search filter expression containing 'OR' operators: 16. Max allowed: 15."
        );
        assert!(checked(&text, true).is_ok());
        assert!(checked(&ors[..15].join(" or "), false).is_ok());
        let items: Vec<String> = (0..16).map(|i| format!("'u{i}'")).collect();
        let text = format!("mail in ({})", items.join(","));
        assert!(message(&text, false).contains("Max allowed: 15."));
        let long = "x".repeat(121);
        assert!(message(&format!("displayName eq '{long}'"), false).contains("120"));
        assert!(checked(&format!("displayName eq '{}'", "x".repeat(120)), false).is_ok());
        assert!(checked(&format!("displayName eq '{long}'"), true).is_ok());
    }

    #[test]
    fn deep_nesting_is_a_syntax_error() {
        let deep = format!("{}displayName eq 'x'{}", "(".repeat(1000), ")".repeat(1000));
        assert_eq!(parse(&deep).unwrap_err().code, "BadRequest");
        let nots = format!("{}displayName eq 'x'", "not ".repeat(1000));
        assert!(parse(&nots).is_err());
        let fine = format!("{}displayName eq 'x'{}", "(".repeat(20), ")".repeat(20));
        assert!(parse(&fine).is_ok());
    }

    proptest::proptest! {
        #[test]
        fn string_literals_round_trip(value in "\\PC{0,40}") {
            let text = format!("displayName eq '{}'", value.replace('\'', "''"));
            let parsed = parse(&text).unwrap();
            proptest::prop_assert_eq!(parsed, Filter::Compare {
                target: Target::Property("displayName".into()),
                op: CompareOp::Eq,
                value: Literal::Text(value),
            });
        }

        #[test]
        fn parser_never_panics(text in "[a-zA-Z()' ,:/$0-9-]{0,80}") {
            if let Ok(filter) = parse(&text) {
                let _ = check(&filter, &USERS, true);
                let _ = matches(&filter, &json!({"displayName": "x"}));
            }
        }
    }

    #[test]
    fn evaluation_compares_the_stored_string_untrimmed_and_unnormalised() {
        // Graph compares the stored text case-insensitively and nothing more (GRAPH.md §5):
        // no trimming, no space folding, no Unicode normalisation.
        let user = json!({
            "displayName": "  John  Smith ", "surname": " Meyer ", "givenName": "Zoe\u{308}"
        });
        let yes = |t: &str| {
            let f = checked(t, false).unwrap();
            matches(&f, &user)
        };
        assert!(yes("startsWith(displayName,' ')"));
        assert!(yes("startsWith(surname,' ')"));
        assert!(!yes("displayName eq 'John Smith'"));
        assert!(!yes("startsWith(displayName,'John')"));
        assert!(!yes("surname eq 'Meyer'"));
        assert!(yes("surname eq ' MEYER '"));
        assert!(!yes("givenName eq 'Zo\u{eb}'"));
        assert!(yes("startsWith(givenName,'ZOE\u{308}')"));
        assert!(yes("givenName in ('Zo\u{eb}','zoe\u{308}')"));
    }

    #[test]
    fn evaluation_is_case_insensitive() {
        let user = json!({
            "displayName": "Megan Bowen", "mail": "Megan.Bowen@example.com", "accountEnabled": true,
            "businessPhones": ["+1 425 555 0100"], "otherMails": [], "surname": null
        });
        let yes = |t: &str| matches(&parse(t).unwrap(), &user);
        assert!(yes("displayName eq 'megan bowen'"));
        assert!(yes("startswith(mail,'MEGAN.')"));
        assert!(yes("endsWith(mail,'@EXAMPLE.com')"));
        assert!(yes("accountEnabled eq true"));
        assert!(!yes("accountEnabled eq false"));
        assert!(yes("businessPhones/any(p:p eq '+1 425 555 0100')"));
        assert!(!yes("businessPhones/any(p:startsWith(p,'+49'))"));
        assert!(yes("otherMails/$count eq 0"));
        assert!(yes("surname eq null and givenName eq null"));
        assert!(yes(
            "displayName ge 'MEGAN' and displayName le 'megan bowen'"
        ));
        assert!(yes("displayName in ('x', 'MEGAN BOWEN')"));
        assert!(yes("not(displayName eq 'x')"));
        assert!(!yes("displayName ne 'Megan Bowen'"));
    }
}
