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
// HTTP 200 from Splunk HEC means received, not indexed, so a HEC sink
// sends on a channel and waits for indexer acknowledgement (HECAckIndexed;
// see hec.go). Such a sink is an Acknowledger: the shipper keeps several
// batches in flight, asks about their tickets together, saves the cursor
// only over the acknowledged prefix, and posts again a batch not
// acknowledged within the ack timeout.
// Service keeps each HEC sink's channel in its ChannelStore (FileCursors:
// DIR/NAME.channel). The package hectest is a HEC stand-in for tests.
//
// Service starts one shipper per enabled SinkConfig (LoadConfig reads
// HOME/config/audit.toml; see docs/AUDIT.md). Metrics, one Prometheus
// collector, exports per sink the lag (computed at scrape time from the
// source's head), the acknowledged cursor (never going back), the send
// position, shipped, failures and up.
//
// Concurrency: Shipper.Notify, Status and StatusChanged (a channel closed
// on the next status change, to wait on instead of polling), Service
// methods, MemorySink, MemoryCursors and FileCursors are safe for
// concurrent use; a Sink is used by one goroutine at a time.
package sink
