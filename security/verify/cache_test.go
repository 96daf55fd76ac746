package verify

import (
	"sync"
	"testing"
)

func key(i int) [32]byte {
	var k [32]byte
	k[0], k[1], k[2] = byte(i), byte(i>>8), byte(i>>16)
	return k
}

func TestVerifyCacheBoundAndEviction(t *testing.T) {
	c := NewCache(3)
	for i := range 3 {
		c.Add(key(i))
	}
	if c.Len() != 3 || !c.Has(key(0)) || !c.Has(key(2)) {
		t.Fatalf("len %d after 3 adds", c.Len())
	}
	c.Add(key(3)) // evicts 0, the oldest
	if c.Len() != 3 || c.Has(key(0)) || !c.Has(key(1)) || !c.Has(key(3)) {
		t.Fatal("oldest not evicted")
	}
	c.Add(key(1)) // refresh: 2 is now the oldest
	c.Add(key(4))
	if c.Has(key(2)) || !c.Has(key(1)) || !c.Has(key(4)) {
		t.Fatal("re-added key was evicted instead of the oldest")
	}
	c.Remove(key(1))
	c.Remove(key(99)) // absent: no-op
	if c.Has(key(1)) || c.Len() != 2 {
		t.Fatalf("after remove: len %d", c.Len())
	}
	c.Add(key(5)) // room for it: nothing evicted
	if c.Len() != 3 || !c.Has(key(3)) || !c.Has(key(4)) || !c.Has(key(5)) {
		t.Fatal("eviction despite free room")
	}
	for i := 10; i < 1000; i++ {
		c.Add(key(i))
		if c.Len() > 3 {
			t.Fatalf("len %d exceeds bound", c.Len())
		}
	}
	if !c.Has(key(999)) || !c.Has(key(997)) || c.Has(key(996)) {
		t.Fatal("did not keep the newest three")
	}
}

func TestVerifyCacheDisabled(t *testing.T) {
	for _, c := range []*Cache{nil, NewCache(0), NewCache(-5)} {
		c.Add(key(1))
		if c.Has(key(1)) || c.Len() != 0 {
			t.Fatal("disabled cache kept a key")
		}
		c.Remove(key(1))
	}
}

func TestVerifyCacheConcurrent(t *testing.T) {
	c := NewCache(100)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				k := key(g*10000 + i)
				c.Add(k)
				c.Has(k)
				if i%3 == 0 {
					c.Remove(k)
				}
			}
		})
	}
	wg.Wait()
	if c.Len() > 100 {
		t.Fatalf("len %d exceeds bound", c.Len())
	}
}
