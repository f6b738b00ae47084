//! Search request and response controls as pure logic: which controls a request carries
//! (paged results, server-side sort, virtual list view), the BER of the VLV controls, and
//! the VLV window over an already sorted result list. No I/O, no sorting, no paging state.

use bytes::BytesMut;
use ldap3_lber::common::TagClass;
use ldap3_lber::parse::Parser;
use ldap3_lber::structure::{PL, StructureTag};
use ldap3_lber::structures::{ASNTag, Enumerated, Integer, OctetString, Sequence, Tag};
use ldap3_lber::universal::Types;
use ldap3_proto::LdapResultCode;
use ldap3_proto::control::LdapControl;

use super::ber;
use crate::error::LdapError;

/// Simple paged results, request and response (RFC 2696 §2).
pub const OID_PAGED: &str = "1.2.840.113556.1.4.319";
/// Server-side sort request (RFC 2891 §1.1).
pub const OID_SORT_REQUEST: &str = "1.2.840.113556.1.4.473";
/// Server-side sort response (RFC 2891 §1.2).
pub const OID_SORT_RESPONSE: &str = "1.2.840.113556.1.4.474";
/// Virtual list view request (draft-ietf-ldapext-ldapv3-vlv-09 §6.1).
pub const OID_VLV_REQUEST: &str = "2.16.840.1.113730.3.4.9";
/// Virtual list view response (draft-ietf-ldapext-ldapv3-vlv-09 §6.2).
pub const OID_VLV_RESPONSE: &str = "2.16.840.1.113730.3.4.10";
/// ManageDsaIT (RFC 3296 §3): accepted and without effect, the gateway has no referrals.
pub const OID_MANAGE_DSA_IT: &str = "2.16.840.1.113730.3.4.2";

/// maxInt of RFC 4511 §4.1.1: every INTEGER in these controls is bounded by it.
const MAX_INT: i64 = 2_147_483_647;
/// The VLV values nest three levels deep; anything deeper is not a VLV value.
const VLV_MAX_BER_DEPTH: usize = 8;

/// One key of a server-side sort request (RFC 2891 §1.1 SortKeyList).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    pub attribute: String,
    pub ordering_rule: Option<String>,
    pub reverse: bool,
}

/// How a VLV request names its target entry (draft-ietf-ldapext-ldapv3-vlv-09 §6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VlvTarget {
    /// `byOffset [0]`: a 1-based position scaled by the client's idea of the list size.
    ByOffset { offset: u32, content_count: u32 },
    /// `greaterThanOrEqual [1]`: the first entry whose primary sort key is not less than this.
    GreaterOrEqual(Vec<u8>),
}

/// A decoded VirtualListViewRequest (draft-ietf-ldapext-ldapv3-vlv-09 §6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VlvRequest {
    pub before: u32,
    pub after: u32,
    pub target: VlvTarget,
    /// The gateway never hands out a contextID, so a received one is carried but not used.
    pub context_id: Option<Vec<u8>>,
}

/// The controls of a search request that the gateway acts on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestControls {
    /// Page size and cookie (RFC 2696 §3); honoured whatever its criticality.
    pub paged: Option<(u32, Vec<u8>)>,
    pub sort: Option<Vec<SortKey>>,
    /// ldap3_proto drops the sort control's criticality; true only when recovered from the
    /// raw message with [`critical_control_oids`].
    pub sort_critical: bool,
    pub vlv: Option<VlvRequest>,
    pub vlv_critical: bool,
}

/// Why the controls of a request cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// A critical control the gateway does not implement: unavailableCriticalExtension (12),
    /// RFC 4511 §4.1.11.
    #[error("critical control {0} is not supported")]
    UnavailableCritical(String),
    /// A control value that does not decode: protocolError (2). Carries the OID and the fault.
    #[error("malformed control {0}")]
    Malformed(String),
}

impl ControlError {
    /// The result code the operation is answered with.
    pub fn result_code(&self) -> LdapResultCode {
        match self {
            ControlError::UnavailableCritical(_) => LdapResultCode::UnavailableCriticalExtension,
            ControlError::Malformed(_) => LdapResultCode::ProtocolError,
        }
    }
}

impl From<ControlError> for LdapError {
    fn from(error: ControlError) -> Self {
        LdapError::new(error.result_code(), error.to_string())
    }
}

/// sortResult of the SortResult response (RFC 2891 §1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortResultCode {
    Success = 0,
    OperationsError = 1,
    TimeLimitExceeded = 3,
    StrongAuthRequired = 8,
    AdminLimitExceeded = 11,
    NoSuchAttribute = 16,
    InappropriateMatching = 18,
    InsufficientAccessRights = 50,
    Busy = 51,
    UnwillingToPerform = 53,
    Other = 80,
}

/// virtualListViewResult of the VLV response (draft-ietf-ldapext-ldapv3-vlv-09 §6.2). The
/// draft's list gives protocolError as 3, a typo: the values are those of RFC 4511. Active
/// Directory uses the draft's 60 and 61; OpenLDAP 2.5's sssvlv sends 76 and 77 instead
/// (its own LDAP_VLV_SSS_MISSING/LDAP_VLV_RANGE_ERROR), which its ldapsearch prints as
/// "Unknown error": the draft's values are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VlvResultCode {
    Success = 0,
    OperationsError = 1,
    ProtocolError = 2,
    TimeLimitExceeded = 3,
    AdminLimitExceeded = 11,
    InappropriateMatching = 18,
    InsufficientAccessRights = 50,
    UnwillingToPerform = 53,
    SortControlMissing = 60,
    OffsetRangeError = 61,
    Other = 80,
}

impl VlvResultCode {
    fn from_wire(value: i64) -> Option<Self> {
        use VlvResultCode::*;
        [
            Success,
            OperationsError,
            ProtocolError,
            TimeLimitExceeded,
            AdminLimitExceeded,
            InappropriateMatching,
            InsufficientAccessRights,
            UnwillingToPerform,
            SortControlMissing,
            OffsetRangeError,
            Other,
        ]
        .into_iter()
        .find(|code| *code as i64 == value)
    }
}

/// The slice of the sorted list a VLV request selects, and what the response reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VlvWindow {
    /// 0-based, inclusive.
    pub start: usize,
    /// Exclusive; `start == end` is an empty window.
    pub end: usize,
    /// 1-based; `content_count + 1` when no entry satisfies a greaterThanOrEqual target
    /// (draft §5), 0 for an offset target into an empty list (as OpenLDAP's sssvlv).
    pub target_position: u32,
    pub content_count: u32,
}

/// A search the VLV control makes the gateway refuse: the error for SearchResultDone, and
/// the VLV response control to attach to it, if any.
#[derive(Debug, Clone)]
pub struct VlvRefusal {
    pub error: LdapError,
    pub response_control: Option<LdapControl>,
}

/// Collects the search controls of a request, assuming every control whose criticality
/// ldap3_proto drops (sort, DirSync, response controls) is non-critical.
pub fn parse_request_controls(ctrls: &[LdapControl]) -> Result<RequestControls, ControlError> {
    parse_request_controls_with_critical(ctrls, &[])
}

/// Like [`parse_request_controls`], with the OIDs that the raw message marks critical
/// ([`critical_control_oids`]) supplying the criticality ldap3_proto drops.
///
/// RFC 4511 §4.1.11: an unknown critical control fails the operation with
/// unavailableCriticalExtension (12), an unknown non-critical one is ignored. A control
/// given twice is a protocolError, as OpenLDAP answers ("specified multiple times").
pub fn parse_request_controls_with_critical(
    ctrls: &[LdapControl],
    critical_oids: &[String],
) -> Result<RequestControls, ControlError> {
    let marked_critical = |oid: &str| critical_oids.iter().any(|critical| critical == oid);
    let mut parsed = RequestControls::default();
    for ctrl in ctrls {
        match ctrl {
            LdapControl::SimplePagedResults { size, cookie } => {
                if parsed.paged.is_some() {
                    return Err(given_twice(OID_PAGED));
                }
                // RFC 2696 §2: size INTEGER (0..maxInt).
                let size = u32::try_from(*size)
                    .ok()
                    .filter(|size| i64::from(*size) <= MAX_INT)
                    .ok_or_else(|| {
                        ControlError::Malformed(format!(
                            "{OID_PAGED}: page size {size} out of range"
                        ))
                    })?;
                parsed.paged = Some((size, cookie.clone()));
            }
            LdapControl::ServerSort { sort_requests } => {
                if parsed.sort.is_some() {
                    return Err(given_twice(OID_SORT_REQUEST));
                }
                parsed.sort = Some(
                    sort_requests
                        .iter()
                        .map(|key| SortKey {
                            attribute: key.attribute_name.clone(),
                            ordering_rule: key.ordering_rule.clone(),
                            reverse: key.reverse_order,
                        })
                        .collect(),
                );
                parsed.sort_critical = marked_critical(OID_SORT_REQUEST);
            }
            LdapControl::ManageDsaIT { .. } => {}
            LdapControl::Unknown {
                oid,
                criticality,
                value,
            } if oid == OID_VLV_REQUEST => {
                if parsed.vlv.is_some() {
                    return Err(given_twice(OID_VLV_REQUEST));
                }
                let value = value.as_deref().ok_or_else(|| {
                    ControlError::Malformed(format!("{OID_VLV_REQUEST}: control value is absent"))
                })?;
                parsed.vlv = Some(decode_vlv_request(value)?);
                parsed.vlv_critical = *criticality || marked_critical(OID_VLV_REQUEST);
            }
            other => {
                let (oid, critical) = unsupported_control(other);
                if critical || marked_critical(&oid) {
                    return Err(ControlError::UnavailableCritical(oid));
                }
            }
        }
    }
    Ok(parsed)
}

/// For operations other than search: every critical control is unavailable except
/// ManageDsaIT, which has no effect here (RFC 4511 §4.1.11: a control not appropriate for
/// the operation is treated like an unknown one).
pub fn check_non_search_controls(
    ctrls: &[LdapControl],
    critical_oids: &[String],
) -> Result<(), ControlError> {
    for ctrl in ctrls {
        if matches!(ctrl, LdapControl::ManageDsaIT { .. }) {
            continue;
        }
        let (oid, critical) = unsupported_control(ctrl);
        if critical || critical_oids.contains(&oid) {
            return Err(ControlError::UnavailableCritical(oid));
        }
    }
    Ok(())
}

fn given_twice(oid: &str) -> ControlError {
    ControlError::Malformed(format!("{oid}: control specified more than once"))
}

/// The OID of a control and the criticality ldap3_proto kept for it (false where it drops it).
fn unsupported_control(ctrl: &LdapControl) -> (String, bool) {
    let (oid, critical) = match ctrl {
        LdapControl::SyncRequest { criticality, .. } => ("1.3.6.1.4.1.4203.1.9.1.1", *criticality),
        LdapControl::SyncState { .. } => ("1.3.6.1.4.1.4203.1.9.1.2", false),
        LdapControl::SyncDone { .. } => ("1.3.6.1.4.1.4203.1.9.1.3", false),
        LdapControl::AdDirsync { .. } => ("1.2.840.113556.1.4.841", false),
        LdapControl::SimplePagedResults { .. } => (OID_PAGED, false),
        LdapControl::ManageDsaIT { criticality } => (OID_MANAGE_DSA_IT, *criticality),
        LdapControl::ServerSort { .. } => (OID_SORT_REQUEST, false),
        LdapControl::ServerSortResult { .. } => (OID_SORT_RESPONSE, false),
        LdapControl::PasswordPolicyRequest { criticality } => {
            ("1.3.6.1.4.1.42.2.27.8.5.1", *criticality)
        }
        LdapControl::SearchOptions { criticality, .. } => ("1.2.840.113556.1.4.1338", *criticality),
        LdapControl::ShowDeleted { criticality } => ("1.2.840.113556.1.4.417", *criticality),
        LdapControl::SdFlags { criticality, .. } => ("1.2.840.113556.1.4.801", *criticality),
        LdapControl::ExtendedDn { criticality, .. } => ("1.2.840.113556.1.4.529", *criticality),
        LdapControl::Unknown {
            oid, criticality, ..
        } => return (oid.clone(), *criticality),
    };
    (oid.to_string(), critical)
}

/// The OIDs of the controls an undecoded LDAPMessage marks critical (RFC 4511 §4.1.11:
/// `Control ::= SEQUENCE { controlType, criticality BOOLEAN DEFAULT FALSE, controlValue }`).
/// For the edge's framing codec, which sees the `StructureTag` before ldap3_proto drops the
/// flag of the paged and sort controls.
pub fn critical_control_oids(message: &StructureTag) -> Vec<String> {
    let PL::C(message_parts) = &message.payload else {
        return Vec::new();
    };
    let Some(controls) = message_parts
        .iter()
        .find(|part| part.class == TagClass::Context && part.id == 0)
    else {
        return Vec::new();
    };
    let PL::C(controls) = &controls.payload else {
        return Vec::new();
    };
    controls
        .iter()
        .filter_map(|control| {
            let PL::C(fields) = &control.payload else {
                return None;
            };
            let oid = primitive_of(fields.first()?, TagClass::Universal, Types::OctetString)?;
            let criticality = primitive_of(fields.get(1)?, TagClass::Universal, Types::Boolean)?;
            let critical = criticality.first().is_some_and(|byte| *byte != 0);
            critical.then(|| String::from_utf8_lossy(oid).into_owned())
        })
        .collect()
}

fn primitive_of(tag: &StructureTag, class: TagClass, id: Types) -> Option<&[u8]> {
    match &tag.payload {
        PL::P(bytes) if tag.class == class && tag.id == id as u64 => Some(bytes),
        _ => None,
    }
}

/// Refuses VLV searches the gateway cannot serve, as OpenLDAP's sssvlv overlay does
/// (`sssvlv_op_search`): VLV without a sort control is virtualListViewError (76) with a
/// response of sortControlMissing (60) (draft §6.1: the sort control MUST be present);
/// VLV together with paged results is unwillingToPerform (53) without a VLV response
/// (the draft §9 calls the two mechanisms alternatives, not complements).
pub fn vlv_refusal(ctrls: &RequestControls) -> Option<VlvRefusal> {
    ctrls.vlv.as_ref()?;
    if ctrls.sort.is_none() {
        return Some(VlvRefusal {
            error: LdapError::new(
                LdapResultCode::VirtualListViewError,
                "Sort control is required with VLV",
            ),
            response_control: Some(vlv_response(0, 0, VlvResultCode::SortControlMissing, None)),
        });
    }
    if ctrls.paged.is_some() {
        return Some(VlvRefusal {
            error: LdapError::new(
                LdapResultCode::UnwillingToPerform,
                "VLV incompatible with PagedResults",
            ),
            response_control: None,
        });
    }
    None
}

/// The answer to a VLV search whose window could not be computed: virtualListViewError (76)
/// with a response carrying the specific code (draft §6.2.1: it MUST NOT be success) and the
/// list size, target position 0 as OpenLDAP sends (`send_list`, range_err).
pub fn vlv_failure(code: VlvResultCode, content_count: usize) -> VlvRefusal {
    let message = match code {
        VlvResultCode::OffsetRangeError => "VLV target offset out of range",
        VlvResultCode::SortControlMissing => "Sort control is required with VLV",
        _ => "VLV request cannot be served",
    };
    VlvRefusal {
        error: LdapError::new(LdapResultCode::VirtualListViewError, message),
        response_control: Some(vlv_response(0, saturating_u32(content_count), code, None)),
    }
}

/// The paged results response: size 0 ("estimate unknown") and the cookie, empty on the last
/// page (RFC 2696 §3).
pub fn paged_response(cookie: Vec<u8>) -> LdapControl {
    LdapControl::SimplePagedResults { size: 0, cookie }
}

/// The sort response (RFC 2891 §1.2): `SortResult ::= SEQUENCE { sortResult ENUMERATED,
/// attributeType [0] AttributeDescription OPTIONAL }`, non-critical. Encoded here rather than
/// by ldap3_proto, whose `ServerSortResult` writes the attribute as a universal OCTET STRING
/// (also when absent) instead of `[0]`, which strict decoders such as JNDI reject.
pub fn sort_response(result: SortResultCode, attribute: Option<String>) -> LdapControl {
    let mut inner = vec![Tag::Enumerated(Enumerated {
        inner: result as i64,
        ..Default::default()
    })];
    if let Some(attribute) = attribute {
        inner.push(Tag::OctetString(OctetString {
            class: TagClass::Context,
            id: 0,
            inner: attribute.into_bytes(),
        }));
    }
    LdapControl::Unknown {
        oid: OID_SORT_RESPONSE.to_string(),
        criticality: false,
        value: Some(encode(Tag::Sequence(Sequence {
            inner,
            ..Default::default()
        }))),
    }
}

/// The VLV response (draft §6.2): `SEQUENCE { targetPosition INTEGER, contentCount INTEGER,
/// virtualListViewResult ENUMERATED, contextID OCTET STRING OPTIONAL }`, non-critical.
pub fn vlv_response(
    target_position: u32,
    content_count: u32,
    result: VlvResultCode,
    context_id: Option<Vec<u8>>,
) -> LdapControl {
    let mut inner = vec![
        Tag::Integer(Integer {
            inner: i64::from(target_position),
            ..Default::default()
        }),
        Tag::Integer(Integer {
            inner: i64::from(content_count),
            ..Default::default()
        }),
        Tag::Enumerated(Enumerated {
            inner: result as i64,
            ..Default::default()
        }),
    ];
    if let Some(context_id) = context_id {
        inner.push(Tag::OctetString(OctetString {
            inner: context_id,
            ..Default::default()
        }));
    }
    LdapControl::Unknown {
        oid: OID_VLV_RESPONSE.to_string(),
        criticality: false,
        value: Some(encode(Tag::Sequence(Sequence {
            inner,
            ..Default::default()
        }))),
    }
}

/// The value of a VLV request control (draft §6.1), as a client such as a test sends it.
pub fn encode_vlv_request(request: &VlvRequest) -> Vec<u8> {
    let target = match &request.target {
        VlvTarget::ByOffset {
            offset,
            content_count,
        } => Tag::Sequence(Sequence {
            class: TagClass::Context,
            id: 0,
            inner: vec![
                Tag::Integer(Integer {
                    inner: i64::from(*offset),
                    ..Default::default()
                }),
                Tag::Integer(Integer {
                    inner: i64::from(*content_count),
                    ..Default::default()
                }),
            ],
        }),
        VlvTarget::GreaterOrEqual(assertion) => Tag::OctetString(OctetString {
            class: TagClass::Context,
            id: 1,
            inner: assertion.clone(),
        }),
    };
    let mut inner = vec![
        Tag::Integer(Integer {
            inner: i64::from(request.before),
            ..Default::default()
        }),
        Tag::Integer(Integer {
            inner: i64::from(request.after),
            ..Default::default()
        }),
        target,
    ];
    if let Some(context_id) = &request.context_id {
        inner.push(Tag::OctetString(OctetString {
            inner: context_id.clone(),
            ..Default::default()
        }));
    }
    encode(Tag::Sequence(Sequence {
        inner,
        ..Default::default()
    }))
}

fn encode(tag: Tag) -> Vec<u8> {
    let mut buffer = BytesMut::new();
    // Encoding into memory cannot fail: encode_into only writes to a Vec.
    match ldap3_lber::write::encode_into(&mut buffer, tag.into_structure()) {
        Ok(()) => buffer.to_vec(),
        Err(_) => Vec::new(),
    }
}

/// Decodes the value of a VLV request control (draft §6.1):
/// `SEQUENCE { beforeCount INTEGER, afterCount INTEGER, target CHOICE { byOffset [0]
/// SEQUENCE { offset INTEGER, contentCount INTEGER }, greaterThanOrEqual [1] AssertionValue },
/// contextID OCTET STRING OPTIONAL }`. Every INTEGER must be within 0..maxInt; an offset of 0
/// decodes and is answered offsetRangeError by [`vlv_window`].
pub fn decode_vlv_request(value: &[u8]) -> Result<VlvRequest, ControlError> {
    let malformed = |what: &str| ControlError::Malformed(format!("{OID_VLV_REQUEST}: {what}"));
    let fields = decode_sequence(value).ok_or_else(|| malformed("value is not a BER SEQUENCE"))?;
    let mut fields = fields.into_iter();
    let before = fields
        .next()
        .and_then(non_negative_integer)
        .ok_or_else(|| malformed("beforeCount is not an INTEGER in 0..maxInt"))?;
    let after = fields
        .next()
        .and_then(non_negative_integer)
        .ok_or_else(|| malformed("afterCount is not an INTEGER in 0..maxInt"))?;
    let target = match fields.next() {
        Some(StructureTag {
            class: TagClass::Context,
            id: 0,
            payload: PL::C(by_offset),
        }) => {
            let mut by_offset = by_offset.into_iter();
            let offset = by_offset
                .next()
                .and_then(non_negative_integer)
                .ok_or_else(|| malformed("offset is not an INTEGER in 0..maxInt"))?;
            let content_count = by_offset
                .next()
                .and_then(non_negative_integer)
                .ok_or_else(|| malformed("contentCount is not an INTEGER in 0..maxInt"))?;
            if by_offset.next().is_some() {
                return Err(malformed("byOffset has more than two elements"));
            }
            VlvTarget::ByOffset {
                offset,
                content_count,
            }
        }
        Some(StructureTag {
            class: TagClass::Context,
            id: 1,
            payload: PL::P(assertion),
        }) => VlvTarget::GreaterOrEqual(assertion),
        _ => {
            return Err(malformed(
                "target is neither byOffset [0] nor greaterThanOrEqual [1]",
            ));
        }
    };
    let context_id = match fields.next() {
        None => None,
        Some(tag) => Some(
            primitive_of(&tag, TagClass::Universal, Types::OctetString)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| malformed("contextID is not an OCTET STRING"))?,
        ),
    };
    if fields.next().is_some() {
        return Err(malformed("trailing elements after contextID"));
    }
    Ok(VlvRequest {
        before,
        after,
        target,
        context_id,
    })
}

/// A decoded VLV response control value (draft §6.2), for clients and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VlvResponse {
    pub target_position: u32,
    pub content_count: u32,
    pub result: VlvResultCode,
    pub context_id: Option<Vec<u8>>,
}

/// Decodes the value of a VLV response control; `None` when it is not one.
pub fn decode_vlv_response(value: &[u8]) -> Option<VlvResponse> {
    let mut fields = decode_sequence(value)?.into_iter();
    let target_position = non_negative_integer(fields.next()?)?;
    let content_count = non_negative_integer(fields.next()?)?;
    let result = fields.next()?;
    let result = primitive_of(&result, TagClass::Universal, Types::Enumerated)
        .and_then(ber_integer)
        .and_then(VlvResultCode::from_wire)?;
    let context_id = match fields.next() {
        None => None,
        Some(tag) => Some(primitive_of(&tag, TagClass::Universal, Types::OctetString)?.to_vec()),
    };
    if fields.next().is_some() {
        return None;
    }
    Some(VlvResponse {
        target_position,
        content_count,
        result,
        context_id,
    })
}

/// The elements of a value that is exactly one well-formed universal SEQUENCE.
fn decode_sequence(value: &[u8]) -> Option<Vec<StructureTag>> {
    // ldap3_lber's parser keeps the decoded prefix of a constructed value whose last element
    // is cut short, so completeness is checked first.
    if element_length(value, VLV_MAX_BER_DEPTH)? != value.len() {
        return None;
    }
    let (_, tag) = Parser::new(VLV_MAX_BER_DEPTH).parse(value).ok()?;
    match tag {
        StructureTag {
            class: TagClass::Universal,
            id,
            payload: PL::C(fields),
        } if id == Types::Sequence as u64 => Some(fields),
        _ => None,
    }
}

/// The length of the one BER element at the start of `bytes` when it and everything nested
/// in it is complete with definite lengths (RFC 4511 §5.1 forbids the indefinite form).
fn element_length(bytes: &[u8], depth_left: usize) -> Option<usize> {
    let depth_left = depth_left.checked_sub(1)?;
    let &identifier = bytes.first()?;
    // High tag numbers (low bits 11111) appear in no LDAP control value.
    if identifier & 0x1f == 0x1f {
        return None;
    }
    let ber::Header::Definite {
        header: header_length,
        content: content_length,
    } = ber::header(bytes)
    else {
        return None;
    };
    let total = header_length.checked_add(content_length)?;
    let content = bytes.get(header_length..total)?;
    if identifier & 0x20 != 0 {
        let mut position = 0;
        while position < content.len() {
            position += element_length(&content[position..], depth_left)?;
        }
    }
    Some(total)
}

/// A universal INTEGER within 0..maxInt (RFC 4511 §4.1.1).
fn non_negative_integer(tag: StructureTag) -> Option<u32> {
    let value = primitive_of(&tag, TagClass::Universal, Types::Integer).and_then(ber_integer)?;
    if (0..=MAX_INT).contains(&value) {
        u32::try_from(value).ok()
    } else {
        None
    }
}

/// A BER INTEGER's two's-complement content octets (X.690 §8.3), at most 8 of them.
fn ber_integer(content: &[u8]) -> Option<i64> {
    let (&first, _) = content.split_first()?;
    if content.len() > 8 {
        return None;
    }
    let sign_fill = if first & 0x80 != 0 { 0xff } else { 0x00 };
    let mut bytes = [sign_fill; 8];
    bytes[8 - content.len()..].copy_from_slice(content);
    Some(i64::from_be_bytes(bytes))
}

fn saturating_u32(count: usize) -> u32 {
    u32::try_from(count).unwrap_or(u32::MAX)
}

/// The window a VLV request selects from a sorted list of `n` entries
/// (draft-ietf-ldapext-ldapv3-vlv-09 §5), and the targetPosition/contentCount to report.
///
/// byOffset, with Ci the offset, Cc the client's contentCount and Sc = n:
/// - Ci = Cc is the last entry (§5), also 0/0 (as OpenLDAP and Active Directory read it);
/// - Ci = 1 is the first entry (§5);
/// - Cc = 0 means "use the server's count" (§5), so Ci is the position itself, as when
///   Cc = Sc;
/// - otherwise Si = Sc * Ci / Cc rounded to the nearest integer (§5), kept within 1..Sc;
/// - offset 0 (outside `offset INTEGER (1..maxInt)`, §6.1), or an offset beyond the list
///   (Ci > Sc when Cc is 0 or Sc, Ci > Cc otherwise) is offsetRangeError (61): §6.2 "the
///   client specifies an invalid offset"; OpenLDAP's sssvlv answers the same, and it is what
///   ends `ldapsearch -E vlv=...`, which keeps raising the offset until the server refuses.
///
/// greaterThanOrEqual: `position_of_ge(assertion)` gives the 0-based index of the first entry
/// whose primary sort key is not less than the assertion (not greater, for a reversed key:
/// §6.1), or `n` if there is none; then the target position is n + 1 (§5) and the window
/// holds the last `before` entries (as OpenLDAP's `send_list`).
///
/// The window is then `before` entries before the target, the target, and `after` entries
/// after it, cut at both ends of the list (§5: "the requested range crosses the beginning or
/// end of the list"). On `Err(code)` answer with [`vlv_failure`].
///
/// Checked against slapd 2.5 with sssvlv on ten entries: the same windows and positions
/// (1/2/3/0, 0/0/0/0, 1/0/0/0, 0/3/1/500, 1/5/9/0, 2/5:zz, 1/1:s035; 0/0/11/0, 0/0/11/10
/// and 0/0/6/5 refused). Where slapd departs from the draft this follows the draft: it
/// truncates Si instead of rounding (0/0/2/3 is its entry 6, here 7), answers offset 0 with
/// a non-zero count with the first entry at position 0, reports position 0 rather than
/// n + 1 for greaterThanOrEqual over an empty list, and (below) an empty list with any
/// offset is not an error there, so `ldapsearch -E vlv=...` loops over it forever.
pub fn vlv_window(
    req: &VlvRequest,
    n: usize,
    position_of_ge: impl Fn(&[u8]) -> usize,
) -> Result<VlvWindow, VlvResultCode> {
    // §6.2: a list whose size exceeds an INTEGER is an offsetRangeError.
    let content_count = u32::try_from(n)
        .ok()
        .filter(|count| i64::from(*count) <= MAX_INT)
        .ok_or(VlvResultCode::OffsetRangeError)?;
    // `target` is the 0-based index of the target entry; `n` when there is none.
    let (target, target_position) = match &req.target {
        VlvTarget::ByOffset {
            offset,
            content_count: client_count,
        } => {
            let position = offset_position(*offset, *client_count, content_count)?;
            let target = if position == 0 {
                n
            } else {
                position as usize - 1
            };
            (target, position)
        }
        VlvTarget::GreaterOrEqual(assertion) => {
            let index = position_of_ge(assertion).min(n);
            // index <= n <= maxInt, so index + 1 fits.
            (index, saturating_u32(index.saturating_add(1)))
        }
    };
    let start = target.saturating_sub(req.before as usize);
    let end = if target >= n {
        n
    } else {
        target
            .saturating_add(req.after as usize)
            .saturating_add(1)
            .min(n)
    };
    Ok(VlvWindow {
        start,
        end,
        target_position,
        content_count,
    })
}

/// The 1-based server offset Si for a byOffset target (draft §5); 0 for an empty list.
fn offset_position(
    offset: u32,
    client_count: u32,
    server_count: u32,
) -> Result<u32, VlvResultCode> {
    if offset == 0 && client_count != 0 {
        return Err(VlvResultCode::OffsetRangeError);
    }
    if offset == client_count {
        return Ok(server_count);
    }
    if offset == 1 {
        return Ok(server_count.min(1));
    }
    if client_count == 0 || client_count == server_count {
        return if offset > server_count {
            Err(VlvResultCode::OffsetRangeError)
        } else {
            Ok(offset)
        };
    }
    if offset > client_count {
        return Err(VlvResultCode::OffsetRangeError);
    }
    // Si = Sc * Ci / Cc, rounded half up; the operands are below 2^31, so u64 cannot overflow.
    let scaled = (2 * u64::from(server_count) * u64::from(offset) + u64::from(client_count))
        / (2 * u64::from(client_count));
    let scaled = u32::try_from(scaled).unwrap_or(server_count);
    Ok(scaled.clamp(server_count.min(1), server_count))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ldap3_proto::control::ServerSortRequet;
    use proptest::prelude::*;

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    // Control values captured from OpenLDAP ldapsearch 2.5.13 against a loopback listener:
    // `ldapsearch -x -E sss=cn -E vlv=1/2/3/0`.
    const VLV_1_2_3_0: &str = "300e020101020102a006020103020100";
    // `-E sss=cn -E vlv=0/0/1/0` (with -M).
    const VLV_0_0_1_0: &str = "300e020100020100a006020101020100";
    // `-E '!vlv=0/9:Meyer'` (critical).
    const VLV_0_9_GE_MEYER: &str = "300d02010002010981054d65796572";

    fn vlv_control(value: &[u8], criticality: bool) -> LdapControl {
        LdapControl::Unknown {
            oid: OID_VLV_REQUEST.to_string(),
            criticality,
            value: Some(value.to_vec()),
        }
    }

    fn sort_on(attribute: &str) -> LdapControl {
        LdapControl::ServerSort {
            sort_requests: vec![ServerSortRequet {
                attribute_name: attribute.to_string(),
                ordering_rule: None,
                reverse_order: false,
            }],
        }
    }

    fn offset_request(before: u32, after: u32, offset: u32, content_count: u32) -> VlvRequest {
        VlvRequest {
            before,
            after,
            target: VlvTarget::ByOffset {
                offset,
                content_count,
            },
            context_id: None,
        }
    }

    fn window(req: &VlvRequest, n: usize) -> Result<VlvWindow, VlvResultCode> {
        vlv_window(req, n, |_| {
            unreachable!("offset targets never search by value")
        })
    }

    fn control_value(ctrl: &LdapControl) -> (&str, bool, &[u8]) {
        match ctrl {
            LdapControl::Unknown {
                oid,
                criticality,
                value: Some(value),
            } => (oid, *criticality, value),
            other => panic!("expected a raw control, got {other:?}"),
        }
    }

    #[test]
    fn captured_ldapsearch_vlv_values_decode_and_reencode_byte_for_byte() {
        let cases = [
            (VLV_1_2_3_0, offset_request(1, 2, 3, 0)),
            (VLV_0_0_1_0, offset_request(0, 0, 1, 0)),
            (
                VLV_0_9_GE_MEYER,
                VlvRequest {
                    before: 0,
                    after: 9,
                    target: VlvTarget::GreaterOrEqual(b"Meyer".to_vec()),
                    context_id: None,
                },
            ),
        ];
        for (captured, expected) in cases {
            let bytes = hex(captured);
            let decoded = decode_vlv_request(&bytes).unwrap();
            assert_eq!(decoded, expected, "{captured}");
            assert_eq!(encode_vlv_request(&decoded), bytes, "{captured}");
        }
    }

    #[test]
    fn context_id_and_large_counts_round_trip() {
        let request = VlvRequest {
            before: 128,
            after: 2_147_483_647,
            target: VlvTarget::ByOffset {
                offset: 255,
                content_count: 78564,
            },
            context_id: Some(vec![0, 1, 2, 0xff]),
        };
        let bytes = encode_vlv_request(&request);
        // beforeCount 128 needs a leading zero octet to stay positive (X.690 §8.3.2).
        assert_eq!(&bytes[2..7], &[0x02, 0x02, 0x00, 0x80, 0x02]);
        assert_eq!(decode_vlv_request(&bytes).unwrap(), request);
    }

    #[test]
    fn long_form_lengths_as_windows_clients_send_them_are_accepted() {
        // The 1/2/3/0 value with every length in the four-octet long form.
        let long = |tag: u8, content: &[u8]| {
            let mut out = vec![tag, 0x84];
            out.extend_from_slice(&(content.len() as u32).to_be_bytes());
            out.extend_from_slice(content);
            out
        };
        let by_offset = [long(0x02, &[3]), long(0x02, &[0])].concat();
        let value = long(
            0x30,
            &[long(0x02, &[1]), long(0x02, &[2]), long(0xa0, &by_offset)].concat(),
        );
        assert_eq!(
            decode_vlv_request(&value).unwrap(),
            offset_request(1, 2, 3, 0)
        );
    }

    #[test]
    fn malformed_vlv_values_are_protocol_errors() {
        let malformed = [
            "",                                         // empty
            "300e020101020102a006020103020100ff",       // trailing octet after the SEQUENCE
            "300e020101020102a0060201030201",           // cut short
            "300f020101020102a006020103020100",         // outer length too long
            "300e020101020102a007020103020100",         // inner length runs past its parent
            "300b020101020102a003020103",               // byOffset without contentCount
            "3006020101020102",                         // no target
            "3009020101020102820100",                   // target [2]
            "300c0201010201028101410101ff",             // contextID is a BOOLEAN
            "300e0201ff020102a006020103020100",         // beforeCount negative
            "3012020101020102a00a02010302050080000000", // contentCount above maxInt
            "310e020101020102a006020103020100",         // a SET, not a SEQUENCE
            "3080020101020102a0060201030201000000",     // indefinite length (RFC 4511 §5.1)
            "300d0400020102a006020103020100",           // beforeCount is an OCTET STRING
            "3012020101020102a00602010302010004000400", // an element after contextID
            "300b020101020102a103040141",               // greaterThanOrEqual constructed
            "3010020101020102a0080201030201000500",     // byOffset with a third element
        ];
        for value in malformed {
            let bytes = hex(value);
            let parsed = parse_request_controls(&[sort_on("cn"), vlv_control(&bytes, false)]);
            match parsed {
                Err(ref error @ ControlError::Malformed(ref what)) => {
                    assert!(what.starts_with(OID_VLV_REQUEST), "{what}");
                    assert_eq!(error.result_code(), LdapResultCode::ProtocolError);
                }
                other => panic!("{value}: expected Malformed, got {other:?}"),
            }
        }
        let absent = LdapControl::Unknown {
            oid: OID_VLV_REQUEST.to_string(),
            criticality: false,
            value: None,
        };
        assert!(matches!(
            parse_request_controls(&[absent]),
            Err(ControlError::Malformed(_))
        ));
    }

    #[test]
    fn request_controls_collect_paged_sort_and_vlv() {
        let ctrls = [
            LdapControl::SimplePagedResults {
                size: 5,
                cookie: b"abc".to_vec(),
            },
            LdapControl::ServerSort {
                sort_requests: vec![
                    ServerSortRequet {
                        attribute_name: "sn".to_string(),
                        ordering_rule: None,
                        reverse_order: false,
                    },
                    ServerSortRequet {
                        attribute_name: "givenName".to_string(),
                        ordering_rule: Some("2.5.13.3".to_string()),
                        reverse_order: true,
                    },
                ],
            },
            vlv_control(&hex(VLV_0_9_GE_MEYER), true),
            LdapControl::ManageDsaIT { criticality: true },
        ];
        let parsed = parse_request_controls(&ctrls).unwrap();
        assert_eq!(parsed.paged, Some((5, b"abc".to_vec())));
        assert_eq!(
            parsed.sort,
            Some(vec![
                SortKey {
                    attribute: "sn".to_string(),
                    ordering_rule: None,
                    reverse: false
                },
                SortKey {
                    attribute: "givenName".to_string(),
                    ordering_rule: Some("2.5.13.3".to_string()),
                    reverse: true
                },
            ])
        );
        assert!(
            !parsed.sort_critical,
            "ldap3_proto drops it; nothing recovered"
        );
        assert!(parsed.vlv_critical);
        assert_eq!(parsed.vlv.unwrap().after, 9);
        assert_eq!(
            parse_request_controls(&[]).unwrap(),
            RequestControls::default()
        );
    }

    #[test]
    fn unknown_controls_fail_only_when_critical() {
        let unknown = |criticality| LdapControl::Unknown {
            oid: "1.2.3.4".to_string(),
            criticality,
            value: None,
        };
        assert_eq!(
            parse_request_controls(&[unknown(false)]).unwrap(),
            RequestControls::default()
        );
        let error = parse_request_controls(&[unknown(true)]).unwrap_err();
        assert_eq!(
            error,
            ControlError::UnavailableCritical("1.2.3.4".to_string())
        );
        assert_eq!(
            error.result_code(),
            LdapResultCode::UnavailableCriticalExtension
        );
        let ldap_error = LdapError::from(error);
        assert_eq!(
            ldap_error.code,
            LdapResultCode::UnavailableCriticalExtension
        );
        assert!(ldap_error.message.contains("1.2.3.4"));

        // Controls ldap3_proto decodes but the gateway does not implement.
        let show_deleted = LdapControl::ShowDeleted { criticality: true };
        assert_eq!(
            parse_request_controls(&[show_deleted]),
            Err(ControlError::UnavailableCritical(
                "1.2.840.113556.1.4.417".to_string()
            ))
        );
        assert!(parse_request_controls(&[LdapControl::ShowDeleted { criticality: false }]).is_ok());
        // DirSync's criticality is dropped by ldap3_proto: known only from the raw message.
        let dirsync = LdapControl::AdDirsync {
            flags: 0,
            max_bytes: 0,
            cookie: None,
        };
        assert!(parse_request_controls(std::slice::from_ref(&dirsync)).is_ok());
        assert_eq!(
            parse_request_controls_with_critical(&[dirsync], &["1.2.840.113556.1.4.841".into()]),
            Err(ControlError::UnavailableCritical(
                "1.2.840.113556.1.4.841".to_string()
            ))
        );
    }

    #[test]
    fn sort_criticality_comes_from_the_raw_message() {
        let critical = vec![OID_SORT_REQUEST.to_string()];
        let parsed = parse_request_controls_with_critical(&[sort_on("cn")], &critical).unwrap();
        assert!(parsed.sort_critical);
        // A critical paged control is honoured, never refused.
        let paged = LdapControl::SimplePagedResults {
            size: 5,
            cookie: vec![],
        };
        let critical = vec![OID_PAGED.to_string()];
        assert!(parse_request_controls_with_critical(&[paged], &critical).is_ok());
    }

    #[test]
    fn controls_given_twice_or_out_of_range_are_protocol_errors() {
        let paged = |size| LdapControl::SimplePagedResults {
            size,
            cookie: vec![],
        };
        for ctrls in [
            vec![paged(1), paged(2)],
            vec![sort_on("cn"), sort_on("sn")],
            vec![
                vlv_control(&hex(VLV_1_2_3_0), false),
                vlv_control(&hex(VLV_1_2_3_0), false),
            ],
            vec![paged(-1)],
            vec![paged(MAX_INT + 1)],
        ] {
            assert!(
                matches!(
                    parse_request_controls(&ctrls),
                    Err(ControlError::Malformed(_))
                ),
                "{ctrls:?}"
            );
        }
        assert_eq!(
            parse_request_controls(&[paged(MAX_INT)]).unwrap().paged,
            Some((MAX_INT as u32, vec![]))
        );
    }

    #[test]
    fn non_search_operations_refuse_every_critical_control_but_manage_dsa_it() {
        let ok = [
            LdapControl::ManageDsaIT { criticality: true },
            sort_on("cn"),
            vlv_control(&hex(VLV_1_2_3_0), false),
        ];
        assert!(check_non_search_controls(&ok, &[]).is_ok());
        assert_eq!(
            check_non_search_controls(&[vlv_control(&hex(VLV_1_2_3_0), true)], &[]),
            Err(ControlError::UnavailableCritical(
                OID_VLV_REQUEST.to_string()
            ))
        );
        assert_eq!(
            check_non_search_controls(&[sort_on("cn")], &[OID_SORT_REQUEST.to_string()]),
            Err(ControlError::UnavailableCritical(
                OID_SORT_REQUEST.to_string()
            ))
        );
    }

    #[test]
    fn critical_oids_are_read_from_the_raw_ldap_message() {
        // The whole SearchRequest PDU of `ldapsearch -E '!sss=sn/-givenName:2.5.13.3'
        // -E '!vlv=0/9:Meyer'`, as captured.
        let pdu = hex(concat!(
            "3081ac0201026335041164633d6578616d706c652c64633d636f6d0a01020a010002010002010001",
            "0100870b6f626a656374436c61737330040402636ea070303f0416312e322e3834302e3131333535",
            "362e312e342e3437330101ff0422302030040402736e30180409676976656e4e616d658008322e35",
            "2e31332e338101ff302d0417322e31362e3834302e312e3131333733302e332e342e390101ff040f",
            "300d02010002010981054d65796572"
        ));
        let (_, message) = Parser::default().parse(&pdu).unwrap();
        assert_eq!(
            critical_control_oids(&message),
            vec![OID_SORT_REQUEST.to_string(), OID_VLV_REQUEST.to_string()]
        );
        // Decoded by ldap3_proto, the same message loses the sort control's flag.
        let decoded = ldap3_proto::proto::LdapMsg::try_from(message.clone()).unwrap();
        let parsed = parse_request_controls(&decoded.ctrl).unwrap();
        assert!(!parsed.sort_critical && parsed.vlv_critical);
        let recovered =
            parse_request_controls_with_critical(&decoded.ctrl, &critical_control_oids(&message))
                .unwrap();
        assert!(recovered.sort_critical);
        assert_eq!(
            recovered.sort.unwrap()[1],
            SortKey {
                attribute: "givenName".to_string(),
                ordering_rule: Some("2.5.13.3".to_string()),
                reverse: true
            }
        );

        // Non-critical controls (`-E sss=cn -E vlv=1/2/3/0`): none listed.
        let pdu = hex(concat!(
            "30818d0201026335041164633d6578616d706c652c64633d636f6d0a01020a010002010002010001",
            "0100870b6f626a656374436c61737330040402636ea05130220416312e322e3834302e3131333535",
            "362e312e342e3437330408300630040402636e302b0417322e31362e3834302e312e313137333033",
            "2e332e342e390410300e020101020102a006020103020100"
        ));
        let (_, message) = Parser::default().parse(&pdu).unwrap();
        assert!(critical_control_oids(&message).is_empty());
    }

    #[test]
    fn vlv_without_sort_or_with_paging_is_refused_as_openldap_does() {
        let vlv_only = parse_request_controls(&[vlv_control(&hex(VLV_1_2_3_0), false)]).unwrap();
        let refusal = vlv_refusal(&vlv_only).unwrap();
        assert_eq!(refusal.error.code, LdapResultCode::VirtualListViewError);
        let response = refusal.response_control.unwrap();
        let (oid, critical, value) = control_value(&response);
        assert_eq!((oid, critical), (OID_VLV_RESPONSE, false));
        assert_eq!(
            decode_vlv_response(value).unwrap().result,
            VlvResultCode::SortControlMissing
        );

        let with_paging = parse_request_controls(&[
            sort_on("cn"),
            vlv_control(&hex(VLV_1_2_3_0), false),
            LdapControl::SimplePagedResults {
                size: 5,
                cookie: vec![],
            },
        ])
        .unwrap();
        let refusal = vlv_refusal(&with_paging).unwrap();
        assert_eq!(refusal.error.code, LdapResultCode::UnwillingToPerform);
        assert!(refusal.response_control.is_none());

        let fine = parse_request_controls(&[sort_on("cn"), vlv_control(&hex(VLV_1_2_3_0), false)])
            .unwrap();
        assert!(vlv_refusal(&fine).is_none());
        assert!(vlv_refusal(&RequestControls::default()).is_none());
    }

    #[test]
    fn response_controls_have_the_rfc_shapes() {
        // RFC 2696 §3: SEQUENCE { size 0, cookie }.
        assert_eq!(
            paged_response(b"c1".to_vec()),
            LdapControl::SimplePagedResults {
                size: 0,
                cookie: b"c1".to_vec()
            }
        );
        // RFC 2891 §1.2: success without an attribute is just the ENUMERATED.
        let success = sort_response(SortResultCode::Success, None);
        assert_eq!(
            control_value(&success),
            (OID_SORT_RESPONSE, false, &hex("30030a0100")[..])
        );
        // noSuchAttribute names the attribute with the context tag [0] (0x80).
        let no_such = sort_response(SortResultCode::NoSuchAttribute, Some("foo".to_string()));
        assert_eq!(
            control_value(&no_such),
            (
                OID_SORT_RESPONSE,
                false,
                &hex("30080a0110800366 6f6f".replace(' ', "").as_str())[..]
            )
        );
        // draft §6.2: targetPosition, contentCount, ENUMERATED, [contextID].
        let vlv = vlv_response(5234, 78564, VlvResultCode::Success, None);
        assert_eq!(
            control_value(&vlv),
            (
                OID_VLV_RESPONSE,
                false,
                &hex("300c0202147202030132e40a0100")[..]
            )
        );
        let with_context = vlv_response(1, 2, VlvResultCode::OffsetRangeError, Some(vec![7]));
        let (_, _, value) = control_value(&with_context);
        assert_eq!(
            decode_vlv_response(value).unwrap(),
            VlvResponse {
                target_position: 1,
                content_count: 2,
                result: VlvResultCode::OffsetRangeError,
                context_id: Some(vec![7]),
            }
        );
    }

    #[test]
    fn response_controls_survive_the_ldap3_proto_encoder() {
        // What the session sends: the control inside an LdapMsg, through ldap3_proto's codec.
        let ctrl = vlv_response(3, 10, VlvResultCode::Success, None);
        let tag: Tag = ctrl.into();
        let mut buffer = BytesMut::new();
        ldap3_lber::write::encode_into(&mut buffer, tag.into_structure()).unwrap();
        // Decode it back rather than hand-assemble: the control value must be intact.
        let (_, parsed) = Parser::default().parse(&buffer).unwrap();
        let control = LdapControl::try_from(parsed).unwrap();
        let (oid, critical, value) = control_value(&control);
        assert_eq!((oid, critical), (OID_VLV_RESPONSE, false));
        assert_eq!(
            decode_vlv_response(value).unwrap(),
            VlvResponse {
                target_position: 3,
                content_count: 10,
                result: VlvResultCode::Success,
                context_id: None
            }
        );
    }

    #[test]
    fn offset_targets_follow_the_draft_special_cases() {
        // (before, after, offset, contentCount, n) -> (start, end, targetPosition)
        let cases = [
            // §7 example: first 20 entries.
            ((0, 19, 1, 0, 78564), Ok((0, 20, 1))),
            // §7: last 20 entries (Ci = Cc).
            ((19, 0, 78564, 78564, 78564), Ok((78544, 78564, 78564))),
            // §7: page up.
            ((0, 19, 78525, 78564, 78564), Ok((78524, 78544, 78525))),
            // §7: 68 % of the way down.
            ((9, 10, 53424, 78564, 78564), Ok((53414, 53434, 53424))),
            // ldapsearch -E vlv=1/2/3/0 on 10 entries: entries 2..5, target 3.
            ((1, 2, 3, 0, 10), Ok((1, 5, 3))),
            // Ci = 1, Cc != 1: first entry, whatever the client's count.
            ((0, 2, 1, 500, 10), Ok((0, 3, 1))),
            // Ci = Cc: last entry, whatever the scale.
            ((2, 5, 7, 7, 100), Ok((97, 100, 100))),
            // 0/0 is the last entry (OpenLDAP, Active Directory).
            ((1, 0, 0, 0, 10), Ok((8, 10, 10))),
            // Scaled: Si = 100 * 50 / 200 = 25.
            ((0, 0, 50, 200, 100), Ok((24, 25, 25))),
            // Scaled and rounded: 10 * 2 / 3 = 6.67 -> 7.
            ((0, 0, 2, 3, 10), Ok((6, 7, 7))),
            // Scaled below one rounds up to the first entry: 10 * 2 / 100 = 0.2 -> 1.
            ((0, 0, 2, 100, 10), Ok((0, 1, 1))),
            // Window cut at the beginning.
            ((5, 1, 2, 0, 10), Ok((0, 3, 2))),
            // Window cut at the end.
            ((1, 5, 9, 0, 10), Ok((7, 10, 9))),
            // Empty list: first and last exist only as position 0.
            ((3, 3, 1, 0, 0), Ok((0, 0, 0))),
            ((3, 3, 0, 0, 0), Ok((0, 0, 0))),
            // Offset 0 with a count: outside offset INTEGER (1..maxInt).
            ((0, 0, 0, 5, 10), Err(VlvResultCode::OffsetRangeError)),
            // Beyond the list with the server's count.
            ((0, 0, 11, 0, 10), Err(VlvResultCode::OffsetRangeError)),
            ((0, 0, 11, 10, 10), Err(VlvResultCode::OffsetRangeError)),
            ((0, 0, 2, 0, 0), Err(VlvResultCode::OffsetRangeError)),
            // Beyond the client's own count.
            ((0, 0, 6, 5, 10), Err(VlvResultCode::OffsetRangeError)),
        ];
        for ((before, after, offset, count, n), expected) in cases {
            let got = window(&offset_request(before, after, offset, count), n).map(|w| {
                assert_eq!(w.content_count as usize, n);
                (w.start, w.end, w.target_position)
            });
            assert_eq!(got, expected, "{before}/{after}/{offset}/{count} over {n}");
        }
    }

    #[test]
    fn windows_match_slapd_with_sssvlv_on_ten_entries() {
        // slapd 2.5.13 (sssvlv overlay, sort on sn:2.5.13.3) over sn = s01..s10, asked with
        // `ldapsearch -E sss=sn:2.5.13.3 -E vlv=...`: entries returned and vlvResult pos.
        let names: Vec<String> = (1..=10).map(|i| format!("s{i:02}")).collect();
        let position_of_ge = |assertion: &[u8]| {
            let assertion = String::from_utf8_lossy(assertion).into_owned();
            names
                .iter()
                .position(|name| *name >= assertion)
                .unwrap_or(names.len())
        };
        let ge = |before, after, value: &str| VlvRequest {
            before,
            after,
            target: VlvTarget::GreaterOrEqual(value.as_bytes().to_vec()),
            context_id: None,
        };
        let cases = [
            (offset_request(1, 2, 3, 0), Ok((1, 5, 3))),
            (offset_request(0, 0, 0, 0), Ok((9, 10, 10))),
            (offset_request(1, 0, 0, 0), Ok((8, 10, 10))),
            (offset_request(0, 3, 1, 500), Ok((0, 4, 1))),
            (offset_request(2, 1, 1, 0), Ok((0, 2, 1))),
            (offset_request(1, 5, 9, 0), Ok((7, 10, 9))),
            (
                offset_request(0, 0, 11, 0),
                Err(VlvResultCode::OffsetRangeError),
            ),
            (
                offset_request(0, 0, 11, 10),
                Err(VlvResultCode::OffsetRangeError),
            ),
            (
                offset_request(0, 0, 6, 5),
                Err(VlvResultCode::OffsetRangeError),
            ),
            (ge(2, 5, "zz"), Ok((8, 10, 11))),
            (ge(1, 1, "s035"), Ok((2, 5, 4))),
        ];
        for (request, expected) in cases {
            let got = vlv_window(&request, names.len(), position_of_ge)
                .map(|w| (w.start, w.end, w.target_position));
            assert_eq!(got, expected, "{request:?}");
        }
    }

    #[test]
    fn ldapsearch_paging_through_vlv_ends_with_an_offset_range_error() {
        // ldapsearch with stdin at EOF keeps adding afterCount to the offset and sends the
        // server's contentCount back; the loop must end.
        let n = 10;
        let mut offset = 1;
        let mut count = 0;
        let mut rounds = 0;
        while let Ok(w) = window(&offset_request(0, 3, offset, count), n) {
            count = w.content_count;
            offset += 3;
            rounds += 1;
            assert!(rounds < 100, "ldapsearch would loop forever");
        }
        assert_eq!(rounds, 4);
    }

    #[test]
    fn greater_or_equal_targets_the_first_entry_not_less() {
        let names = ["Adams", "Baker", "Meyer", "Meyer", "Smith", "Young"];
        let position_of_ge = |assertion: &[u8]| {
            let assertion = String::from_utf8_lossy(assertion).to_lowercase();
            names
                .iter()
                .position(|name| name.to_lowercase() >= assertion)
                .unwrap_or(names.len())
        };
        let ge = |before, after, value: &str| VlvRequest {
            before,
            after,
            target: VlvTarget::GreaterOrEqual(value.as_bytes().to_vec()),
            context_id: None,
        };
        let got = |req: &VlvRequest| {
            vlv_window(req, names.len(), position_of_ge)
                .map(|w| (w.start, w.end, w.target_position, w.content_count))
        };
        // First "Meyer" is index 2, position 3.
        assert_eq!(got(&ge(1, 1, "meyer")), Ok((1, 4, 3, 6)));
        // Between values: "Mz" targets "Smith".
        assert_eq!(got(&ge(0, 0, "Mz")), Ok((4, 5, 5, 6)));
        // Before everything.
        assert_eq!(got(&ge(3, 1, "A")), Ok((0, 2, 1, 6)));
        // After everything: no target, position contentCount + 1, the last `before` entries.
        assert_eq!(got(&ge(2, 5, "Zz")), Ok((4, 6, 7, 6)));
        assert_eq!(got(&ge(0, 5, "Zz")), Ok((6, 6, 7, 6)));
        // A callback answering past the end is held to n.
        assert_eq!(
            vlv_window(&ge(1, 1, "x"), 3, |_| 99).map(|w| (w.start, w.end, w.target_position)),
            Ok((2, 3, 4))
        );
        // Empty list.
        assert_eq!(
            vlv_window(&ge(1, 1, "x"), 0, |_| 0).map(|w| (w.start, w.end, w.target_position)),
            Ok((0, 0, 1))
        );
    }

    #[test]
    fn vlv_failure_reports_the_code_and_the_list_size() {
        let refusal = vlv_failure(VlvResultCode::OffsetRangeError, 42);
        assert_eq!(refusal.error.code, LdapResultCode::VirtualListViewError);
        let response = refusal.response_control.unwrap();
        let (_, _, value) = control_value(&response);
        let decoded = decode_vlv_response(value).unwrap();
        assert_eq!(
            (
                decoded.target_position,
                decoded.content_count,
                decoded.result
            ),
            (0, 42, VlvResultCode::OffsetRangeError)
        );
    }

    fn any_target() -> impl Strategy<Value = VlvTarget> {
        prop_oneof![
            (0u32..40, 0u32..40).prop_map(|(offset, content_count)| VlvTarget::ByOffset {
                offset,
                content_count
            }),
            (0u32..(MAX_INT as u32), 0u32..(MAX_INT as u32)).prop_map(|(offset, content_count)| {
                VlvTarget::ByOffset {
                    offset,
                    content_count,
                }
            }),
            proptest::collection::vec(any::<u8>(), 0..4).prop_map(VlvTarget::GreaterOrEqual),
        ]
    }

    proptest! {
        #[test]
        fn windows_stay_in_bounds_and_hold_the_target(
            before in prop_oneof![0u32..8, Just(MAX_INT as u32)],
            after in prop_oneof![0u32..8, Just(MAX_INT as u32)],
            target in any_target(),
            n in 0usize..40,
            ge_index in 0usize..50,
        ) {
            let req = VlvRequest { before, after, target: target.clone(), context_id: None };
            if let Ok(w) = vlv_window(&req, n, |_| ge_index) {
                prop_assert!(w.start <= w.end && w.end <= n);
                prop_assert!(w.end - w.start <= before as usize + after as usize + 1);
                prop_assert_eq!(w.content_count as usize, n);
                let position = w.target_position as usize;
                if (1..=n).contains(&position) {
                    // The target is inside, with as many neighbours as the list allows.
                    let target = position - 1;
                    prop_assert!(w.start <= target && target < w.end);
                    prop_assert_eq!(w.start, target.saturating_sub(before as usize));
                    prop_assert_eq!(w.end, (target + after as usize + 1).min(n));
                } else if let VlvTarget::GreaterOrEqual(_) = target {
                    prop_assert_eq!(position, n + 1);
                    prop_assert_eq!(w.end, n);
                } else {
                    prop_assert_eq!((position, w.start, w.end), (0, 0, 0));
                    prop_assert_eq!(n, 0);
                }
            } else if let VlvTarget::ByOffset { offset, content_count } = target {
                // Only offsets outside the list are refused.
                let beyond = offset > n as u32 && (content_count == 0 || content_count as usize == n)
                    || content_count != 0 && offset > content_count;
                prop_assert!(offset == 0 && content_count != 0 || beyond && offset != content_count);
            } else {
                prop_assert!(false, "greaterThanOrEqual never fails");
            }
        }

        #[test]
        fn vlv_requests_round_trip(
            before in 0u32..=(MAX_INT as u32),
            after in 0u32..=(MAX_INT as u32),
            target in any_target(),
            context_id in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..300)),
        ) {
            let request = VlvRequest { before, after, target, context_id };
            let bytes = encode_vlv_request(&request);
            prop_assert_eq!(decode_vlv_request(&bytes), Ok(request));
        }

        #[test]
        fn arbitrary_bytes_never_panic_the_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_vlv_request(&bytes);
            let _ = decode_vlv_response(&bytes);
        }

        #[test]
        fn truncated_values_are_refused(cut in 1usize..16) {
            let bytes = hex(VLV_1_2_3_0);
            prop_assert!(decode_vlv_request(&bytes[..bytes.len() - cut]).is_err());
        }
    }
}
