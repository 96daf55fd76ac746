// Package sink delivers audit entries to SIEM receivers, at least once and
// in order, several sinks at once.
//
// A Sink (SyslogSink over TCP or TLS with octet-counted or LF framing,
// HTTPSink for Splunk HEC / Elasticsearch _bulk / NDJSON, FileSink with
// size rotation, MemorySink as the twin) sends a batch and returns nil only
// once the receiver acknowledged it. A Shipper drives one sink from one
// audit.Source: read after the cursor, verify the batch continues the chain
// the sink already has, send, then save the cursor (CursorStore:
// FileCursors writes DIR/NAME.cursor atomically with fsync). Failures are
// retried forever with exponential backoff capped at MaxBackoff, since
// dropping entries would break at-least-once; each shipper has its own
// goroutine, so a down receiver delays only its own sink and catches up
// from its cursor. Plain TCP acknowledges too early (a receiver that dies
// loses what sat in socket buffers), so SyslogSink implements Rewinder and
// the shipper resends the last ResendBytes of a broken connection;
// duplicates carry the same seq and hash.
//
// Service starts one shipper per enabled SinkConfig (LoadConfig reads
// HOME/config/audit.toml; see docs/AUDIT.md). Metrics exports lag, cursor,
// shipped, failures and up per sink to Prometheus.
//
// Concurrency: Shipper.Notify, Status and StatusChanged (a channel closed
// on the next status change, to wait on instead of polling), Service
// methods, MemorySink, MemoryCursors and FileCursors are safe for
// concurrent use; a Sink is used by one goroutine at a time.
package sink
