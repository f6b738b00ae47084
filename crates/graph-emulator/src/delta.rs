//! The emulator's mutable directory and its delta query (GRAPH.md §10a): the objects
//! `server` serves, a journal of changes tests make at run time, and `/users/delta`,
//! `/contacts/delta` rounds with nextLink, deltaLink and `@removed`. It rejects what
//! Graph rejects on delta; HTTP and authentication stay in `server`.

use serde_json::{Map, Value, json};

use super::errors::GraphError;
use super::index::Index;
use super::odata::{self, Filter};
use super::resource::{CONTACTS, Resource, USERS};
use super::search::{self, Search};

/// Objects per delta page. Graph chooses the page size itself; about 200 users per page
/// is what people observe (GRAPH.md §10a [obs S40]).
pub const DELTA_PAGE_SIZE: usize = 200;

/// Checks a `$select` and gives the properties to return (`server::selected`).
pub type SelectCheck<'a> =
    dyn Fn(Option<&str>) -> Result<Option<Vec<&'static str>>, GraphError> + 'a;

/// The options a delta round was started with; the links carry them (GRAPH.md §10a).
#[derive(Debug, Clone)]
struct Round {
    select: Option<String>,
    ids: Option<Vec<String>>,
}

/// Where a delta link or page token points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Token {
    generation: u64,
    round: usize,
    /// Changes after this sequence number; `None` for the initial full read.
    since: Option<u64>,
    /// The last sequence number the round covers.
    upto: u64,
    offset: usize,
}

impl Token {
    fn encode(&self) -> String {
        format!(
            "{:x}.{:x}.{}.{:x}.{:x}",
            self.generation,
            self.round,
            self.since
                .map_or_else(|| "i".to_string(), |s| format!("{s:x}")),
            self.upto,
            self.offset
        )
    }

    fn decode(text: &str) -> Option<Token> {
        let parts: Vec<&str> = text.split('.').collect();
        let [generation, round, since, upto, offset] = parts.as_slice() else {
            return None;
        };
        let hex = |s: &str| u64::from_str_radix(s, 16).ok();
        Some(Token {
            generation: hex(generation)?,
            round: usize::try_from(hex(round)?).ok()?,
            since: if *since == "i" {
                None
            } else {
                Some(hex(since)?)
            },
            upto: hex(upto)?,
            offset: usize::try_from(hex(offset)?).ok()?,
        })
    }
}

/// The tenant's users and contacts as they are now, and what changed when.
#[derive(Debug, Default)]
pub struct Directory {
    /// Changed only through `upsert`/`delete`, which keep the indexes in step.
    users: Vec<Value>,
    contacts: Vec<Value>,
    user_index: Index,
    contact_index: Index,
    /// (sequence number, users?, id) of every change, oldest first.
    journal: Vec<(u64, bool, String)>,
    seq: u64,
    /// Bumped by `expire_tokens`: every earlier delta token is refused.
    generation: u64,
    rounds: Vec<Round>,
}

fn id_of(obj: &Value) -> Option<&str> {
    obj.get("id").and_then(Value::as_str)
}

impl Directory {
    pub fn new(users: Vec<Value>, contacts: Vec<Value>) -> Self {
        Directory {
            user_index: Index::build(&USERS, &users),
            contact_index: Index::build(&CONTACTS, &contacts),
            users,
            contacts,
            ..Directory::default()
        }
    }

    /// The objects satisfying `filter` and `search` (each if given), in tenant order: the
    /// index narrows to the fewer candidates of the two where it can, and `odata::matches` and
    /// `search::matches` decide on each.
    pub fn matching(
        &self,
        resource: &Resource,
        filter: Option<&Filter>,
        search: Option<&Search>,
    ) -> Vec<&Value> {
        let objects = self.objects(resource);
        let index = if resource.segment == USERS.segment {
            &self.user_index
        } else {
            &self.contact_index
        };
        let narrowed = [
            filter.and_then(|f| index.candidates(f)),
            search.and_then(|s| index.search_candidates(s)),
        ]
        .into_iter()
        .flatten()
        .min_by_key(Vec::len);
        let hit = |o: &&Value| {
            filter.is_none_or(|f| odata::matches(f, o))
                && search.is_none_or(|s| search::matches(s, o))
        };
        match narrowed {
            Some(positions) => positions
                .into_iter()
                .filter_map(|i| objects.get(i))
                .filter(hit)
                .collect(),
            None => objects.iter().filter(hit).collect(),
        }
    }

    pub fn objects(&self, resource: &Resource) -> &[Value] {
        if resource.segment == USERS.segment {
            &self.users
        } else {
            &self.contacts
        }
    }

    fn objects_mut(&mut self, users: bool) -> (&mut Vec<Value>, &mut Index) {
        if users {
            (&mut self.users, &mut self.user_index)
        } else {
            (&mut self.contacts, &mut self.contact_index)
        }
    }

    fn record(&mut self, users: bool, id: &str) {
        self.seq += 1;
        let seq = self.seq;
        self.journal.push((seq, users, id.to_string()));
    }

    /// Adds `obj` or replaces the object with its id. False when it has no id.
    pub fn upsert(&mut self, users: bool, obj: Value) -> bool {
        let Some(id) = id_of(&obj).map(str::to_string) else {
            return false;
        };
        let (list, index) = self.objects_mut(users);
        match list
            .iter()
            .position(|o| id_of(o).is_some_and(|i| i.eq_ignore_ascii_case(&id)))
        {
            Some(at) => {
                index.remove(at, &list[at]);
                index.add(at, &obj);
                list[at] = obj;
            }
            None => {
                index.add(list.len(), &obj);
                list.push(obj);
            }
        }
        self.record(users, &id);
        true
    }

    /// Deletes the object with `id`; false when there is none.
    pub fn delete(&mut self, users: bool, id: &str) -> bool {
        let (list, index) = self.objects_mut(users);
        let before = list.len();
        while let Some(at) = list
            .iter()
            .position(|o| id_of(o).is_some_and(|i| i.eq_ignore_ascii_case(id)))
        {
            index.delete(at, &list[at]);
            list.remove(at);
        }
        if list.len() == before {
            return false;
        }
        self.record(users, id);
        true
    }

    /// Makes every delta token issued so far expire (Graph: 7 days, GRAPH.md §10a).
    pub fn expire_tokens(&mut self) {
        self.generation += 1;
    }

    /// One page of a delta round: `params` are the decoded query options, `raw_path`
    /// the request path, `fields` checks a `$select` and `project` renders an object.
    pub fn delta(
        &mut self,
        resource: &'static Resource,
        base_url: &str,
        raw_path: &str,
        params: &[(String, String)],
        fields: &SelectCheck<'_>,
        project: &dyn Fn(&Value, Option<&[&'static str]>) -> Value,
    ) -> Result<Value, GraphError> {
        let mut select = None;
        let mut filter = None;
        let mut token = None;
        for (name, value) in params {
            match name.to_ascii_lowercase().as_str() {
                "$select" => select = Some(value.clone()),
                "$filter" => filter = Some(value.clone()),
                "$deltatoken" | "$skiptoken" => token = Some((name.to_ascii_lowercase(), value)),
                // GRAPH.md §10a: delta supports neither ordering nor search nor counting
                // [obs S37]; Graph picks the page size itself [?: $top undocumented].
                "$orderby" | "$search" | "$count" | "$top" | "$skip" | "$expand" => {
                    return Err(GraphError::unsupported_query("Unsupported Query."));
                }
                other if other.starts_with('$') => {
                    return Err(GraphError::bad_request(format!(
                        "Query option '{name}' is not supported by the emulator."
                    )));
                }
                _ => {}
            }
        }
        let users = resource.segment == USERS.segment;
        let token = match token {
            None => {
                fields(select.as_deref())?;
                let ids = filter.as_deref().map(parse_id_filter).transpose()?;
                self.rounds.push(Round { select, ids });
                Token {
                    generation: self.generation,
                    round: self.rounds.len() - 1,
                    since: None,
                    upto: self.seq,
                    offset: 0,
                }
            }
            Some(_) if select.is_some() || filter.is_some() => {
                // "Subsequent requests can't be modified" (GRAPH.md §10a).
                return Err(GraphError::bad_request(
                    "Query options cannot be combined with a $deltatoken or $skiptoken; use the link as returned.",
                ));
            }
            Some((kind, value))
                if kind == "$deltatoken" && value.eq_ignore_ascii_case("latest") =>
            {
                self.rounds.push(Round {
                    select: None,
                    ids: None,
                });
                let t = Token {
                    generation: self.generation,
                    round: self.rounds.len() - 1,
                    since: Some(self.seq),
                    upto: self.seq,
                    offset: 0,
                };
                return Ok(self.page(resource, base_url, raw_path, (0, Vec::new()), None, t));
            }
            Some((kind, value)) => {
                let Some(mut t) = Token::decode(value) else {
                    return Err(GraphError::directory_bad_request(
                        "The specified page token value has expired or is invalid.",
                    ));
                };
                if t.generation != self.generation || t.round >= self.rounds.len() {
                    // GRAPH.md §10a [doc S38].
                    return Err(GraphError::new(
                        axum::http::StatusCode::BAD_REQUEST,
                        "syncStateNotFound",
                        "The sync state generation is not found. The delta token is expired and data must be synchronized again.",
                    ));
                }
                if kind == "$deltatoken" {
                    // A new round of changes since the token's point, up to now.
                    t = Token {
                        since: Some(t.upto),
                        upto: self.seq,
                        offset: 0,
                        ..t
                    };
                }
                t
            }
        };
        let round = self.rounds[token.round].clone();
        let fields = fields(round.select.as_deref())?;
        let wanted = |id: &str| {
            round
                .ids
                .as_ref()
                .is_none_or(|ids| ids.iter().any(|i| i.eq_ignore_ascii_case(id)))
        };
        // Which objects the round reports, in order: `Ok` an object, `Err` a removed id.
        let objects = self.objects(resource);
        let find = |id: &str| {
            objects
                .iter()
                .find(|o| id_of(o).is_some_and(|i| i.eq_ignore_ascii_case(id)))
        };
        let items: Vec<Result<&Value, &str>> = match token.since {
            None => objects
                .iter()
                .filter(|o| id_of(o).is_some_and(wanted))
                .map(Ok)
                .collect(),
            Some(since) => {
                let mut changed: Vec<&str> = Vec::new();
                for (seq, u, id) in &self.journal {
                    if *seq > since && *seq <= token.upto && *u == users && wanted(id) {
                        changed.retain(|c| !c.eq_ignore_ascii_case(id));
                        changed.push(id);
                    }
                }
                changed.into_iter().map(|id| find(id).ok_or(id)).collect()
            }
        };
        let total = items.len();
        let page: Vec<Value> = items
            .into_iter()
            .skip(token.offset)
            .take(DELTA_PAGE_SIZE)
            .map(|item| match item {
                Ok(o) => project(o, fields.as_deref()),
                // Users go to the deleted items first ("changed"); GRAPH.md §10a.
                Err(id) => json!({
                    "id": id,
                    "@removed": {"reason": if users { "changed" } else { "deleted" }}
                }),
            })
            .collect();
        let select_text = fields.as_ref().map(|f| f.join(","));
        Ok(self.page(
            resource,
            base_url,
            raw_path,
            (total, page),
            select_text,
            token,
        ))
    }

    /// One page (`total` items in the round, `page` the ones at `token.offset`), with a
    /// nextLink or the deltaLink.
    fn page(
        &self,
        resource: &Resource,
        base_url: &str,
        raw_path: &str,
        (total, page): (usize, Vec<Value>),
        select: Option<String>,
        token: Token,
    ) -> Value {
        let end = token.offset.saturating_add(DELTA_PAGE_SIZE).min(total);
        let mut body = Map::new();
        let select = select.map_or(String::new(), |s| format!("({s})"));
        body.insert(
            "@odata.context".into(),
            Value::String(format!(
                "{base_url}/v1.0/$metadata#{}{select}",
                resource.segment
            )),
        );
        if end < total {
            let next = Token {
                offset: end,
                ..token
            };
            body.insert(
                "@odata.nextLink".into(),
                Value::String(format!("{base_url}{raw_path}?$skiptoken={}", next.encode())),
            );
        } else {
            let delta = Token {
                since: Some(token.upto),
                offset: 0,
                ..token
            };
            body.insert(
                "@odata.deltaLink".into(),
                Value::String(format!(
                    "{base_url}{raw_path}?$deltatoken={}",
                    delta.encode()
                )),
            );
        }
        body.insert("value".into(), Value::Array(page));
        Value::Object(body)
    }
}

/// `/v1.0/users/delta` or `/v1.0/contacts/delta` (also `/microsoft.graph.delta`): the
/// resource, else `None`.
pub fn delta_target(path: &str) -> Option<&'static Resource> {
    let rest = path.strip_prefix("/v1.0/")?;
    let (segment, function) = rest.split_once('/')?;
    if function != "delta" && function != "microsoft.graph.delta" {
        return None;
    }
    [&USERS, &super::resource::CONTACTS]
        .into_iter()
        .find(|r| r.segment == segment)
}

/// GRAPH.md §10a: the only `$filter` on delta is `id eq '...'`, several joined by `or`.
fn parse_id_filter(text: &str) -> Result<Vec<String>, GraphError> {
    let unsupported = || GraphError::unsupported_query("Unsupported Query.");
    let mut ids = Vec::new();
    for clause in text.split(" or ") {
        let clause = clause.trim();
        let (property, value) = clause.split_once(" eq ").ok_or_else(unsupported)?;
        if !property.trim().eq_ignore_ascii_case("id") {
            return Err(unsupported());
        }
        let value = value.trim();
        let inner = value
            .strip_prefix('\'')
            .and_then(|v| v.strip_suffix('\''))
            .ok_or_else(unsupported)?;
        ids.push(inner.replace("''", "'"));
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, phone: &str) -> Value {
        json!({"id": id, "businessPhones": [phone], "mobilePhone": null, "displayName": id})
    }

    fn directory(n: usize) -> Directory {
        Directory::new(
            (0..n)
                .map(|i| user(&format!("u{i}"), &format!("+1 425 555 {i:04}")))
                .collect(),
            Vec::new(),
        )
    }

    fn run(d: &mut Directory, params: &[(&str, &str)]) -> Result<Value, GraphError> {
        let params: Vec<(String, String)> = params
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        d.delta(
            &USERS,
            "http://e",
            "/v1.0/users/delta",
            &params,
            &|s| {
                Ok(s.map(|s| {
                    s.split(',')
                        .map(|x| if x == "id" { "id" } else { "businessPhones" })
                        .collect()
                }))
            },
            &|o, f| match f {
                Some(f) => {
                    let mut m = Map::new();
                    m.insert("id".into(), o["id"].clone());
                    for name in f {
                        m.insert(name.to_string(), o[*name].clone());
                    }
                    Value::Object(m)
                }
                None => o.clone(),
            },
        )
    }

    /// Follows a round to its deltaLink: (objects, deltaLink token).
    fn follow(d: &mut Directory, first: Value) -> (Vec<Value>, String) {
        let mut items = Vec::new();
        let mut page = first;
        loop {
            items.extend(page["value"].as_array().unwrap().iter().cloned());
            if let Some(next) = page["@odata.nextLink"].as_str() {
                let token = next.split("$skiptoken=").nth(1).unwrap().to_string();
                page = run(d, &[("$skiptoken", &token)]).unwrap();
                continue;
            }
            let link = page["@odata.deltaLink"].as_str().unwrap();
            assert!(page.get("@odata.nextLink").is_none());
            return (
                items,
                link.split("$deltatoken=").nth(1).unwrap().to_string(),
            );
        }
    }

    #[test]
    fn a_full_round_pages_then_changes_arrive_with_removals() {
        let mut d = directory(450);
        let first = run(&mut d, &[("$select", "id,businessPhones")]).unwrap();
        assert_eq!(first["value"].as_array().unwrap().len(), DELTA_PAGE_SIZE);
        assert!(first.get("@odata.deltaLink").is_none());
        let (items, token) = follow(&mut d, first);
        assert_eq!(items.len(), 450);
        assert!(items[0].get("displayName").is_none(), "only $select");

        // Nothing changed: an empty page and a new deltaLink.
        let page = run(&mut d, &[("$deltatoken", &token)]).unwrap();
        let (none, token) = follow(&mut d, page);
        assert!(none.is_empty());

        d.upsert(true, user("u7", "+48 22 585 7650"));
        d.upsert(true, user("u7", "+48 22 585 7651"));
        d.upsert(true, user("new", "+43 22 685 4471"));
        assert!(d.delete(true, "u9"));
        assert!(!d.delete(true, "nobody"));
        let page = run(&mut d, &[("$deltatoken", &token)]).unwrap();
        let (changes, token) = follow(&mut d, page);
        assert_eq!(changes.len(), 3, "{changes:?}");
        assert_eq!(changes[0]["businessPhones"][0], "+48 22 585 7651");
        assert_eq!(changes[1]["id"], "new");
        assert_eq!(
            changes[2],
            json!({"id": "u9", "@removed": {"reason": "changed"}})
        );

        // An expired token is refused as Graph refuses it.
        d.expire_tokens();
        let e = run(&mut d, &[("$deltatoken", &token)]).unwrap_err();
        assert_eq!(e.code, "syncStateNotFound");
    }

    #[test]
    fn delta_rejects_what_graph_rejects() {
        let mut d = directory(3);
        for (name, value) in [
            ("$filter", "startsWith(displayName,'u')"),
            ("$filter", "mail eq 'a@b'"),
            ("$orderby", "displayName"),
            ("$search", "\"displayName:u\""),
            ("$count", "true"),
            ("$top", "5"),
        ] {
            let e = run(&mut d, &[(name, value)]).unwrap_err();
            assert_eq!(e.code, "Request_UnsupportedQuery", "{name}={value}");
        }
        let page = run(&mut d, &[("$filter", "id eq 'u1' or id eq 'u2'")]).unwrap();
        let ids: Vec<&str> = page["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["u1", "u2"]);
        let token = page["@odata.deltaLink"]
            .as_str()
            .unwrap()
            .split('=')
            .nth(1)
            .unwrap()
            .to_string();
        let e = run(&mut d, &[("$deltatoken", &token), ("$select", "id")]).unwrap_err();
        assert_eq!(e.code, "BadRequest");
        let e = run(&mut d, &[("$deltatoken", "garbage")]).unwrap_err();
        assert_eq!(e.code, "Request_BadRequest");
        // latest: no objects, a deltaLink from now.
        let page = run(&mut d, &[("$deltatoken", "latest")]).unwrap();
        assert!(page["value"].as_array().unwrap().is_empty());
        assert!(page["@odata.deltaLink"].is_string());
        assert_eq!(
            delta_target("/v1.0/users/delta").map(|r| r.segment),
            Some("users")
        );
        assert_eq!(
            delta_target("/v1.0/contacts/microsoft.graph.delta").map(|r| r.segment),
            Some("contacts")
        );
        assert!(delta_target("/v1.0/users/x").is_none());
    }
}
