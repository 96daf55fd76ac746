//go:build !pebbledb

package consensus

// DefaultDBBackend is CometBFT's db_backend for new homes. cometbft-db compiles Pebble in
// only with the `pebbledb` build tag; without it goleveldb is the backend every build has.
const DefaultDBBackend = "goleveldb"
