package types

// Query paths a node serves through ABCI Query (CometBFT's abci_query) and,
// behind the gateway, through REST. The answer to each is named beside it;
// a refusal carries a Code (CodeNotFound, CodeUnauthorized, CodeBadQuery,
// CodeInternal), never an answer to parse.
const (
	QueryGet        = "/kv/get"         // data: key; height: 0 = latest; answer: encoded KV
	QueryHistory    = "/kv/history"     // data: encoded HistoryRequest; answer: encoded History
	QueryTx         = "/tx"             // data: 32-byte tx hash; answer: encoded TxResult
	QueryParams     = "/params"         // answer: JSON ChainInfo
	QueryPolicy     = "/rbac/policy"    // answer: JSON PolicyView (signed readers)
	QueryCheck      = "/rbac/check"     // data: JSON CheckRequest; answer: JSON CheckResult
	QueryIdentity   = "/identity"       // data: an address (of an identity or any of its keys); answer: JSON IdentityView
	QueryValidators = "/gov/validators" // answer: JSON []ValidatorView
	QueryOrgs       = "/gov/orgs"       // answer: JSON OrgsView
	// QuerySigned wraps any other path in an encoded SignedQuery, so the
	// node knows who reads (QuerySignBytes is what the reader signs).
	QuerySigned = "/signed"
)

// AuditReadKey is the key whose read permission lets a reader page through
// the consensus audit log (the audit package's query paths).
const AuditReadKey = "audit/log"
