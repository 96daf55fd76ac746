//go:build pebbledb

package consensus

// DefaultDBBackend is CometBFT's db_backend for new homes: this binary was built with
// `-tags pebbledb`, so cometbft-db has its Pebble backend.
const DefaultDBBackend = "pebbledb"
