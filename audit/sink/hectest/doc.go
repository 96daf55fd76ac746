// Package hectest is a stand-in for Splunk's HTTP Event Collector with
// indexer acknowledgement, for tests: no Splunk is installable here.
//
// Server checks the protocol as Splunk documents it and answers as HEC
// does. POST /services/collector/event (or /services/collector) with
// "Authorization: Splunk TOKEN" and a body of concatenated JSON events,
// each with "event", a numeric "time" and string-only "fields". With
// acknowledgement on (the default) every request needs a channel, a GUID
// in the X-Splunk-Request-Channel header or the channel query parameter;
// the answer carries an ackId, numbered per channel from 0. POST
// /services/collector/ack {"acks":[IDS]} on the same channel answers
// {"acks":{"ID":BOOL}}; an ackId answered true is forgotten (asked again,
// false). With acknowledgement off, answers carry no ackId and the ack
// endpoint answers 400 code 14.
//
// A Script decides each request's fate: indexed (acknowledged after some
// queries) or lost (never indexed, never acknowledged). Indexed returns
// what was indexed, duplicates included. Safe for concurrent use.
package hectest
