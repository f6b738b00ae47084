//! Value normalisation and comparison for each matching rule (RFC 4517/4518 as OpenLDAP
//! 2.5 implements them): caseIgnore, IA5, telephoneNumber, objectIdentifier, ordering.
