// Package format renders audit entries in the formats SIEM tools ingest:
// ArcSight CEF, IBM QRadar LEEF 2.0, RFC 5424 syslog with structured data,
// Elastic Common Schema JSON, OCSF JSON and Splunk HEC JSON, plus dstt's
// native JSON (which round-trips and so can be verified) and a text line.
//
// New(name, Options) returns a Formatter; Append adds one record without
// a trailing newline (framing is the sink's job). Formatters hold no state
// and are safe for concurrent use; Append never fails: every string is
// escaped by the rules of its format (see each formatter's comment and
// docs/SIEM-FORMATS.md, which maps every field) and invalid UTF-8 becomes
// U+FFFD where a format requires UTF-8. Syslog wraps any formatter's
// records in an RFC 5424 header. Who acted (user, client address, node) is
// decided once, in partiesOf, for every format.
//
// Libraries evaluated, none used at run time: github.com/pcktdmp/cef (its
// README calls it a loose implementation; extensions come from a Go map, so
// their order is not fixed, and field limits are not enforced); no Go LEEF
// package worth depending on was found; github.com/leodido/go-syslog/v4's
// rfc5424 builder keeps structured data in maps (parameter order not ours to
// fix, an allocation per field), so RFC 5424 is written by hand and that
// library's strict parser checks it in tests; log/syslog has neither RFC 5424
// nor structured data. ECS, OCSF and HEC are JSON documents written from
// structs with encoding/json, without HTML escaping. The tests check ECS
// documents against the field table of Elastic's @elastic/ecs package and
// OCSF events against the OCSF schema files (testdata/ocsf-schema-*), for
// every entry kind; escaping is table-tested against the specifications'
// examples, and golden files pin every format's output.
package format
