package types

// Events a node emits for each committed tx (CometBFT event types and their
// attribute keys). A subscriber filters on them, e.g. "dstt_write.key='a/b'".
const (
	EventTx         = "dstt_tx" // one per signed tx: EventAttrSigner, EventAttrCode
	EventAttrSigner = "signer"  // the tx's identity
	EventAttrCode   = "code"    // Code.Name() of the result

	EventWrite       = "dstt_write" // one per key written: EventAttrKey, EventAttrVersion, EventAttrOp
	EventAttrKey     = "key"
	EventAttrVersion = "version" // Version.Text()
	EventAttrOp      = "op"      // EventOpPut or EventOpDelete
	EventOpPut       = "put"
	EventOpDelete    = "delete"
)
