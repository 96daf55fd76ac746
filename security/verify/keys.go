package verify

import (
	"crypto/ed25519"
	"sync"

	voied25519 "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// keyCacheSize bounds the public keys kept decompressed: about 1.5 KiB each
// (curve25519-voi's ExpandedPublicKey), so at most ~6 MiB.
const keyCacheSize = 4096

// keys holds the decompressed form of recently seen public keys. A ledger's
// txs come from far fewer keys than txs, and decompressing a key (a field
// square root) is about a quarter of a batch verification's work per
// signature. The cache only saves that work: an ExpandedPublicKey carries
// the same checks (valid encoding, small order, canonical) that verifying
// with the raw key applies, so the verdict is the same with or without it.
var keys = newKeyCache(keyCacheSize)

// keyCache is a bounded, concurrency-safe map from a 32-byte public key to
// its expanded form (nil until the key's second use); when full, the
// oldest key goes first.
type keyCache struct {
	mu    sync.Mutex
	m     map[[ed25519.PublicKeySize]byte]*voied25519.ExpandedPublicKey
	order [][ed25519.PublicKeySize]byte // ring of the keys in m, oldest at next
	next  int
}

func newKeyCache(size int) *keyCache {
	return &keyCache{
		m:     make(map[[ed25519.PublicKeySize]byte]*voied25519.ExpandedPublicKey, size),
		order: make([][ed25519.PublicKeySize]byte, 0, size),
	}
}

// expanded returns pub's expanded form when pub was seen before, or nil:
// on first sight (expanding costs more than one decompression, so a key
// used once is not worth it), and when pub is not a valid point encoding
// (then the caller verifies with the raw key, which fails the same way).
// pub must be ed25519.PublicKeySize bytes.
func (c *keyCache) expanded(pub []byte) *voied25519.ExpandedPublicKey {
	k := [ed25519.PublicKeySize]byte(pub)
	c.mu.Lock()
	x, seen := c.m[k]
	if !seen {
		c.insert(k, nil)
	}
	c.mu.Unlock()
	if x != nil || !seen {
		return x
	}
	x, err := voied25519.NewExpandedPublicKey(voied25519.PublicKey(pub))
	if err != nil {
		return nil
	}
	c.mu.Lock()
	if _, still := c.m[k]; still {
		c.m[k] = x
	}
	c.mu.Unlock()
	return x
}

// insert adds k, evicting the oldest key when full. c.mu must be held.
func (c *keyCache) insert(k [ed25519.PublicKeySize]byte, x *voied25519.ExpandedPublicKey) {
	if len(c.order) < cap(c.order) {
		c.order = append(c.order, k)
	} else {
		delete(c.m, c.order[c.next])
		c.order[c.next] = k
		c.next = (c.next + 1) % len(c.order)
	}
	c.m[k] = x
}
