package storage

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestMemoryStore(t *testing.T) {
	testStore(t, func(t *testing.T) Store { return NewInMemoryStore() })
}

func TestPebbleStore(t *testing.T) {
	testStore(t, func(t *testing.T) Store { return openPebble(t, t.TempDir()) })
}

// put and del build a batch write at version (h, idx).
func put(h uint64, idx uint32, key, value string) Entry {
	return Entry{Key: []byte(key), Value: []byte(value), Version: Version{h, idx}}
}

func del(h uint64, idx uint32, key string) Entry {
	return Entry{Key: []byte(key), Version: Version{h, idx}, Deleted: true}
}

// want is the Entry a read should return for a write.
func want(w Entry) Entry {
	if w.Deleted {
		w.Value = nil
	}
	return w
}

func commit(t *testing.T, s Store, h uint64, writes ...Entry) {
	t.Helper()
	if err := s.Commit(Batch{Height: h, AppHash: []byte(fmt.Sprintf("hash-%d", h)), Writes: writes}); err != nil {
		t.Fatalf("Commit(%d): %v", h, err)
	}
}

func get(t *testing.T, s Store, key string, h uint64) (Entry, bool) {
	t.Helper()
	e, ok, err := s.Get([]byte(key), h)
	if err != nil {
		t.Fatalf("Get(%q, %d): %v", key, h, err)
	}
	return e, ok
}

func wantGet(t *testing.T, s Store, key string, h uint64, w Entry) {
	t.Helper()
	e, ok := get(t, s, key, h)
	if !ok || !reflect.DeepEqual(e, want(w)) {
		t.Fatalf("Get(%q, %d) = %+v, %v; want %+v", key, h, e, ok, want(w))
	}
}

func wantMissing(t *testing.T, s Store, key string, h uint64) {
	t.Helper()
	if e, ok := get(t, s, key, h); ok {
		t.Fatalf("Get(%q, %d) = %+v; want not found", key, h, e)
	}
}

func scanAll(t *testing.T, s Store, prefix string, h uint64) []Entry {
	t.Helper()
	var out []Entry
	if err := s.Scan([]byte(prefix), h, func(e Entry) bool { out = append(out, e); return true }); err != nil {
		t.Fatalf("Scan(%q, %d): %v", prefix, h, err)
	}
	return out
}

func keysOf(es []Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = string(e.Key)
	}
	return out
}

// historyAll pages through key's whole history, limit entries at a time.
func historyAll(t *testing.T, s Store, key string, limit int) []Entry {
	t.Helper()
	var out []Entry
	before := Version{}
	for pages := 0; ; pages++ {
		page, err := s.History([]byte(key), before, limit)
		if err != nil {
			t.Fatalf("History(%q, %v, %d): %v", key, before, limit, err)
		}
		if pages > 10000 {
			t.Fatalf("History(%q) does not stop", key)
		}
		out = append(out, page...)
		if len(page) < limit || page[len(page)-1].Version.IsZero() {
			return out
		}
		before = page[len(page)-1].Version
	}
}

// testStore is the conformance suite every Store must pass. open returns a
// new, empty store.
func testStore(t *testing.T, open func(t *testing.T) Store) {
	t.Run("Empty", func(t *testing.T) {
		s := open(t)
		if h, hash, err := s.Last(); h != 0 || hash != nil || err != nil {
			t.Fatalf("Last() = %d, %x, %v; want 0, nil, nil", h, hash, err)
		}
		wantMissing(t, s, "a", 0)
		if es, err := s.History([]byte("a"), Version{}, 10); es != nil || err != nil {
			t.Fatalf("History = %v, %v", es, err)
		}
		if es := scanAll(t, s, "", 0); es != nil {
			t.Fatalf("Scan = %v", es)
		}
	})

	t.Run("Get", func(t *testing.T) {
		s := open(t)
		commit(t, s, 1, put(1, 0, "a", "a1"))
		commit(t, s, 2, put(2, 0, "b", "b2"))
		commit(t, s, 3, put(3, 5, "a", "a3"))
		commit(t, s, 4, del(4, 1, "a"))
		commit(t, s, 6, put(6, 0, "e", ""))
		wantGet(t, s, "a", 0, del(4, 1, "a"))
		wantGet(t, s, "a", 1, put(1, 0, "a", "a1"))
		wantGet(t, s, "a", 2, put(1, 0, "a", "a1")) // between versions
		wantGet(t, s, "a", 3, put(3, 5, "a", "a3"))
		wantGet(t, s, "a", 4, del(4, 1, "a"))
		wantGet(t, s, "a", 100, del(4, 1, "a")) // above the last commit
		wantMissing(t, s, "b", 1)               // before the first write
		wantGet(t, s, "b", 0, put(2, 0, "b", "b2"))
		wantMissing(t, s, "c", 0)
		wantMissing(t, s, "", 0)
		// An empty value is live and non-nil.
		if e, _ := get(t, s, "e", 0); e.Value == nil || len(e.Value) != 0 || e.Deleted {
			t.Fatalf("empty value read back as %+v", e)
		}
	})

	t.Run("Genesis", func(t *testing.T) {
		s := open(t)
		commit(t, s, 0, put(0, 0, "g", "genesis"))
		if h, hash, _ := s.Last(); h != 0 || string(hash) != "hash-0" {
			t.Fatalf("Last() = %d, %q", h, hash)
		}
		err := s.Commit(Batch{Height: 0})
		if !errors.Is(err, ErrHeightOrder) {
			t.Fatalf("second genesis commit: %v, want ErrHeightOrder", err)
		}
		commit(t, s, 1, put(1, 0, "g", "one"))
		wantGet(t, s, "g", 0, put(1, 0, "g", "one"))
		// The genesis version is the zero Version: it ends the history.
		if es := historyAll(t, s, "g", 1); len(es) != 2 || !es[1].Version.IsZero() {
			t.Fatalf("history = %+v", es)
		}
	})

	t.Run("FirstCommitAtAnyHeight", func(t *testing.T) {
		s := open(t)
		commit(t, s, 7, put(7, 0, "k", "v"))
		if err := s.Commit(Batch{Height: 0}); !errors.Is(err, ErrHeightOrder) {
			t.Fatalf("genesis after height 7: %v, want ErrHeightOrder", err)
		}
		wantGet(t, s, "k", 7, put(7, 0, "k", "v"))
	})

	t.Run("History", func(t *testing.T) {
		s := open(t)
		var all []Entry // oldest first
		for h := uint64(1); h <= 12; h++ {
			var ws []Entry
			for i := uint32(0); i < uint32(h%3)+1; i++ {
				w := put(h, i*2, "k", fmt.Sprintf("v%d.%d", h, i))
				if h == 5 && i == 0 {
					w = del(h, 0, "k")
				}
				ws = append(ws, w, put(h, i, "k\x00", "other"), put(h, i, "kk", "other"))
				all = append(all, want(w))
			}
			commit(t, s, h, ws...)
		}
		newest := slices.Clone(all)
		slices.Reverse(newest)
		for _, limit := range []int{1, 2, 3, 7, len(all), len(all) + 1, 1000} {
			if got := historyAll(t, s, "k", limit); !reflect.DeepEqual(got, newest) {
				t.Fatalf("limit %d: history\n%+v\nwant\n%+v", limit, got, newest)
			}
		}
		// before between versions, and before a version that exists.
		got, err := s.History([]byte("k"), Version{7, 1}, 2)
		if err != nil || len(got) != 2 || got[0].Version != (Version{7, 0}) || got[1].Version != (Version{6, 0}) {
			t.Fatalf("History(before 7.1) = %+v, %v", got, err)
		}
		got, err = s.History([]byte("k"), Version{7, 2}, 1)
		if err != nil || len(got) != 1 || got[0].Version != (Version{7, 0}) {
			t.Fatalf("History(before 7.2) = %+v, %v", got, err)
		}
		got, err = s.History([]byte("k"), Version{1, 0}, 5)
		if err != nil || got != nil {
			t.Fatalf("History(before oldest) = %+v, %v", got, err)
		}
		got, err = s.History([]byte("k"), Version{100, 0}, 0)
		if err != nil || !reflect.DeepEqual(got, newest) {
			t.Fatalf("History(before 100, default limit) = %+v, %v", got, err)
		}
	})

	t.Run("HistoryDefaultLimit", func(t *testing.T) {
		s := open(t)
		var ws []Entry
		for i := range uint32(150) {
			ws = append(ws, put(1, i, "k", "v"))
		}
		commit(t, s, 1, ws...)
		for _, limit := range []int{0, -3} {
			got, err := s.History([]byte("k"), Version{}, limit)
			if err != nil || len(got) != 100 || got[0].Version != (Version{1, 149}) {
				t.Fatalf("History(limit %d): %d entries, %v", limit, len(got), err)
			}
		}
	})

	t.Run("PrefixCollision", func(t *testing.T) {
		s := open(t)
		keys := []string{"a", "a\x00", "ab", "a\x00b", "\xff", "\xff\xff", "\x00", "a\x00\x00", "a\x01", "b"}
		var ws []Entry
		for i, k := range keys {
			ws = append(ws, put(1, uint32(i), k, "v1:"+k))
		}
		commit(t, s, 1, ws...)
		commit(t, s, 2, put(2, 0, "a", "a2"), del(2, 1, "a\x00b"))
		for _, k := range keys {
			h := historyAll(t, s, k, 100)
			for _, e := range h {
				if string(e.Key) != k {
					t.Fatalf("history of %q holds %q", k, e.Key)
				}
			}
			wantN := 1
			if k == "a" || k == "a\x00b" {
				wantN = 2
			}
			if len(h) != wantN {
				t.Fatalf("history of %q has %d versions, want %d", k, len(h), wantN)
			}
			wantGet(t, s, k, 1, put(1, uint32(slices.Index(keys, k)), k, "v1:"+k))
		}
		sorted := slices.Clone(keys)
		slices.Sort(sorted)
		live := slices.DeleteFunc(slices.Clone(sorted), func(k string) bool { return k == "a\x00b" })
		for _, p := range []string{"", "a", "a\x00", "a\x00\x00", "ab", "\xff", "\xff\xff", "\x00", "c"} {
			var wantKeys []string
			for _, k := range live {
				if strings.HasPrefix(k, p) {
					wantKeys = append(wantKeys, k)
				}
			}
			if got := keysOf(scanAll(t, s, p, 0)); !slices.Equal(got, wantKeys) {
				t.Fatalf("Scan(%q) = %q, want %q", p, got, wantKeys)
			}
		}
		if got := keysOf(scanAll(t, s, "a\x00", 1)); !slices.Equal(got, []string{"a\x00", "a\x00\x00", "a\x00b"}) {
			t.Fatalf("Scan(a\\x00, 1) = %q", got)
		}
	})

	t.Run("Scan", func(t *testing.T) {
		s := open(t)
		commit(t, s, 1, put(1, 0, "p/b", "b1"), put(1, 1, "p/a", "a1"), put(1, 2, "q/x", "x1"), put(1, 3, "p/d", "d1"))
		commit(t, s, 2, put(2, 0, "p/c", "c2"), del(2, 1, "p/b"), put(2, 2, "p/a", "a2"), put(2, 3, "p/a", "a2b"))
		commit(t, s, 3, put(3, 0, "p/b", "b3"))
		got := scanAll(t, s, "p/", 0)
		wantEs := []Entry{put(2, 3, "p/a", "a2b"), put(3, 0, "p/b", "b3"), put(2, 0, "p/c", "c2"), put(1, 3, "p/d", "d1")}
		if !reflect.DeepEqual(got, wantEs) {
			t.Fatalf("Scan latest = %+v", got)
		}
		if got := keysOf(scanAll(t, s, "p/", 2)); !slices.Equal(got, []string{"p/a", "p/c", "p/d"}) {
			t.Fatalf("Scan at 2 = %q (tombstone must be skipped)", got)
		}
		got = scanAll(t, s, "p/", 1)
		wantEs = []Entry{put(1, 1, "p/a", "a1"), put(1, 0, "p/b", "b1"), put(1, 3, "p/d", "d1")}
		if !reflect.DeepEqual(got, wantEs) {
			t.Fatalf("Scan at 1 = %+v", got)
		}
		if got := keysOf(scanAll(t, s, "", 0)); !slices.Equal(got, []string{"p/a", "p/b", "p/c", "p/d", "q/x"}) {
			t.Fatalf("Scan all = %q", got)
		}
		calls := 0
		if err := s.Scan([]byte("p/"), 0, func(Entry) bool { calls++; return calls < 2 }); err != nil || calls != 2 {
			t.Fatalf("early stop: %d calls, %v", calls, err)
		}
		// The callback may read the store.
		err := s.Scan([]byte("p/"), 0, func(e Entry) bool {
			if _, ok, err := s.Get(e.Key, 0); !ok || err != nil {
				t.Errorf("Get inside Scan: %v, %v", ok, err)
			}
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("CommitValidation", func(t *testing.T) {
		s := open(t)
		commit(t, s, 5, put(5, 0, "k", "v5"))
		before := scanAll(t, s, "", 0)
		long := strings.Repeat("x", 200)
		for _, tc := range []struct {
			name    string
			b       Batch
			wantErr error
			wantMsg string
		}{
			{"same height", Batch{Height: 5}, ErrHeightOrder, "batch height 5"},
			{"lower height", Batch{Height: 3, Writes: []Entry{put(3, 0, "k", "x")}}, ErrHeightOrder, "last committed height 5"},
			{"genesis", Batch{Height: 0}, ErrHeightOrder, "batch height 0"},
			{"wrong version height", Batch{Height: 6, Writes: []Entry{put(6, 0, "k", "x"), put(7, 0, "bad", "x")}}, ErrBadWrite, `"bad"`},
			{"old version height", Batch{Height: 6, Writes: []Entry{put(5, 1, "k", "x")}}, ErrBadWrite, "version height 5"},
			{"empty key", Batch{Height: 6, Writes: []Entry{put(6, 0, "k", "x"), put(6, 1, "", "x")}}, ErrBadWrite, "empty key"},
			{"long key", Batch{Height: 6, Writes: []Entry{put(9, 0, long, "x")}}, ErrBadWrite, "(200 bytes)"},
		} {
			err := s.Commit(tc.b)
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("%s: Commit = %v, want %v containing %q", tc.name, err, tc.wantErr, tc.wantMsg)
			}
		}
		if h, hash, _ := s.Last(); h != 5 || string(hash) != "hash-5" {
			t.Fatalf("Last after rejected commits = %d, %q", h, hash)
		}
		if after := scanAll(t, s, "", 0); !reflect.DeepEqual(after, before) {
			t.Fatalf("rejected commits changed the store: %+v", after)
		}
		wantMissing(t, s, "k", 4)
		commit(t, s, 6, put(6, 0, "k", "v6"))
	})

	t.Run("VersionsWithinBlock", func(t *testing.T) {
		s := open(t)
		commit(t, s, 1, put(1, 0, "k", "old"))
		// Several versions of k in one block, one version written twice
		// (the later wins), not in index order.
		commit(t, s, 2, put(2, 3, "k", "i3"), put(2, 1, "k", "first"), del(2, 2, "k"), put(2, 1, "k", "i1"), put(2, 0, "j", "j0"))
		wantGet(t, s, "k", 2, put(2, 3, "k", "i3"))
		wantGet(t, s, "k", 1, put(1, 0, "k", "old"))
		got := historyAll(t, s, "k", 2)
		wantEs := []Entry{put(2, 3, "k", "i3"), want(del(2, 2, "k")), put(2, 1, "k", "i1"), put(1, 0, "k", "old")}
		if !reflect.DeepEqual(got, wantEs) {
			t.Fatalf("history = %+v", got)
		}
	})

	t.Run("LastAndCopies", func(t *testing.T) {
		s := open(t)
		for h := uint64(1); h <= 3; h++ {
			commit(t, s, h)
			if got, hash, err := s.Last(); got != h || string(hash) != fmt.Sprintf("hash-%d", h) || err != nil {
				t.Fatalf("Last() = %d, %q, %v", got, hash, err)
			}
		}
		key, value, hash := []byte("k"), []byte("v"), []byte("H")
		if err := s.Commit(Batch{Height: 4, AppHash: hash, Writes: []Entry{{Key: key, Value: value, Version: Version{4, 0}}}}); err != nil {
			t.Fatal(err)
		}
		key[0], value[0], hash[0] = 'X', 'X', 'X' // caller reuses its buffers
		e, _ := get(t, s, "k", 0)
		e.Value[0], e.Key[0] = 'Y', 'Y' // and scribbles on what it got back
		wantGet(t, s, "k", 0, put(4, 0, "k", "v"))
		_, h, _ := s.Last()
		h[0] = 'Z'
		if _, h, _ := s.Last(); string(h) != "H" {
			t.Fatalf("app hash = %q", h)
		}
		// A value given with a delete is dropped.
		commit(t, s, 5, Entry{Key: []byte("k"), Value: []byte("junk"), Version: Version{5, 0}, Deleted: true})
		wantGet(t, s, "k", 0, del(5, 0, "k"))
	})

	t.Run("Prune", func(t *testing.T) {
		s := open(t)
		commit(t, s, 1, put(1, 0, "x", "x1"), put(1, 1, "y", "y1"), put(1, 2, "z", "z1"))
		commit(t, s, 2, put(2, 0, "x", "x2"), del(2, 1, "z"))
		commit(t, s, 3, put(3, 0, "x", "x3a"), put(3, 1, "x", "x3b"))
		commit(t, s, 5, put(5, 0, "x", "x5"), put(5, 1, "w", "w5"))
		if err := s.Prune(4); err != nil {
			t.Fatal(err)
		}
		for _, h := range []uint64{1, 3} {
			if _, _, err := s.Get([]byte("x"), h); !errors.Is(err, ErrPruned) {
				t.Fatalf("Get at %d after Prune(4): %v, want ErrPruned", h, err)
			}
			if err := s.Scan(nil, h, func(Entry) bool { return true }); !errors.Is(err, ErrPruned) {
				t.Fatalf("Scan at %d after Prune(4): %v, want ErrPruned", h, err)
			}
		}
		wantGet(t, s, "x", 4, put(3, 1, "x", "x3b"))
		wantGet(t, s, "x", 0, put(5, 0, "x", "x5"))
		wantGet(t, s, "y", 4, put(1, 1, "y", "y1")) // last written long before the floor
		wantGet(t, s, "y", 0, put(1, 1, "y", "y1"))
		wantGet(t, s, "z", 4, del(2, 1, "z"))
		wantMissing(t, s, "w", 4)
		if got := keysOf(historyAll(t, s, "x", 1)); len(got) != 2 {
			t.Fatalf("x history after prune has %d versions, want 2", len(got))
		}
		if got := historyAll(t, s, "x", 10); got[1].Version != (Version{3, 1}) {
			t.Fatalf("x history after prune = %+v", got)
		}
		if got := keysOf(scanAll(t, s, "", 4)); !slices.Equal(got, []string{"x", "y"}) {
			t.Fatalf("Scan at 4 = %q", got)
		}
		// The floor never goes down.
		if err := s.Prune(2); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Get([]byte("x"), 3); !errors.Is(err, ErrPruned) {
			t.Fatalf("Get at 3 after Prune(2): %v", err)
		}
		// A floor above the last commit keeps only the latest versions.
		if err := s.Prune(100); err != nil {
			t.Fatal(err)
		}
		if got := historyAll(t, s, "x", 10); len(got) != 1 || got[0].Version != (Version{5, 0}) {
			t.Fatalf("x history after Prune(100) = %+v", got)
		}
		if _, _, err := s.Get([]byte("x"), 50); !errors.Is(err, ErrPruned) {
			t.Fatalf("Get at 50 after Prune(100): %v", err)
		}
		wantGet(t, s, "z", 0, del(2, 1, "z"))
		commit(t, s, 6, put(6, 0, "x", "x6"))
		wantGet(t, s, "x", 100, put(6, 0, "x", "x6"))
		wantGet(t, s, "y", 0, put(1, 1, "y", "y1"))
	})

	t.Run("PruneManyKeys", func(t *testing.T) {
		s := open(t)
		const n = 5000 // more keys than PebbleStore deletes per pebble batch
		for h := uint64(1); h <= 3; h++ {
			var ws []Entry
			for i := range n {
				if h == 3 && i%2 == 0 {
					continue // even keys keep a version above the floor
				}
				ws = append(ws, put(h, uint32(i), fmt.Sprintf("m/%05d", i), fmt.Sprint(h)))
			}
			commit(t, s, h, ws...)
		}
		if err := s.Prune(2); err != nil {
			t.Fatal(err)
		}
		for _, i := range []int{0, 1, 2, 4095, 4096, 4097, n - 2, n - 1} {
			k := fmt.Sprintf("m/%05d", i)
			got := historyAll(t, s, k, 10)
			wantHeights := []uint64{3, 2}
			if i%2 == 0 {
				wantHeights = []uint64{2}
			}
			if len(got) != len(wantHeights) {
				t.Fatalf("%s history after prune = %+v, want heights %v", k, got, wantHeights)
			}
			for j, e := range got {
				if e.Version.Height != wantHeights[j] {
					t.Fatalf("%s history after prune = %+v, want heights %v", k, got, wantHeights)
				}
			}
		}
		if got := len(scanAll(t, s, "m/", 2)); got != n {
			t.Fatalf("Scan at the floor saw %d keys, want %d", got, n)
		}
	})

	t.Run("Close", func(t *testing.T) {
		s := open(t)
		commit(t, s, 1, put(1, 0, "k", "v"))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name string
			err  error
		}{
			{"Get", errOf3(s.Get([]byte("k"), 0))},
			{"History", errOf2(s.History([]byte("k"), Version{}, 1))},
			{"Scan", s.Scan(nil, 0, func(Entry) bool { return true })},
			{"Commit", s.Commit(Batch{Height: 2})},
			{"Last", errOf3(s.Last())},
			{"Prune", s.Prune(1)},
			{"Close", s.Close()},
		} {
			if !errors.Is(c.err, ErrClosed) {
				t.Errorf("%s after Close: %v, want ErrClosed", c.name, c.err)
			}
		}
	})

	t.Run("ConcurrentReadsSeeWholeCommits", func(t *testing.T) {
		s := open(t)
		const keys, blocks = 8, 30
		done := make(chan struct{})
		var wg sync.WaitGroup
		for r := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-done:
						return
					default:
					}
					var seen []byte
					err := s.Scan([]byte("c/"), 0, func(e Entry) bool { seen = append(seen, e.Value[0]); return true })
					if err != nil {
						t.Errorf("reader %d: %v", r, err)
						return
					}
					if len(seen) != 0 && (len(seen) != keys || bytes.Count(seen, seen[:1]) != keys) {
						t.Errorf("reader %d saw a partial commit: %v", r, seen)
						return
					}
				}
			}()
		}
		for h := uint64(1); h <= blocks; h++ {
			var ws []Entry
			for k := range keys {
				ws = append(ws, put(h, uint32(k), fmt.Sprintf("c/%d", k), string(rune('a'+h))))
			}
			commit(t, s, h, ws...)
		}
		close(done)
		wg.Wait()
	})
}

func errOf2[A any](_ A, err error) error { return err }

func errOf3[A, B any](_ A, _ B, err error) error { return err }
