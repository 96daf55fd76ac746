package storage

import (
	"errors"
	"fmt"
	"testing"
)

func TestPruneStepMemory(t *testing.T) {
	testPruneStep(t, NewInMemoryStore(), 1)
}

func TestPruneStepPebble(t *testing.T) {
	testPruneStep(t, openPebble(t, t.TempDir()), 5)
}

// testPruneStep: PruneStep with a small limit leaves, after every step,
// exactly what Prune would for reads at or above the floor, answers
// ErrPruned below it, needs more than one step on Pebble, starts a second
// pass when the floor rises during a pass, and ends with every key holding
// the versions Prune keeps (the keep prefix all of them).
func testPruneStep(t *testing.T, s Store, minSteps int) {
	const keys, heights = 20, 8
	for h := uint64(1); h <= heights; h++ {
		var ws []Entry
		for k := range keys {
			ws = append(ws, put(h, uint32(k), fmt.Sprintf("k%02d", k), fmt.Sprintf("v%d", h)))
		}
		ws = append(ws, put(h, keys, "h", fmt.Sprintf("h%d", h)))
		commit(t, s, h, ws...)
	}
	check := func(floor uint64) {
		t.Helper()
		for k := range keys {
			key := fmt.Sprintf("k%02d", k)
			for h := floor; h <= heights; h++ {
				wantGet(t, s, key, h, put(h, uint32(k), key, fmt.Sprintf("v%d", h)))
			}
			if _, _, err := s.Get([]byte(key), floor-1); !errors.Is(err, ErrPruned) {
				t.Fatalf("%s at %d below the floor %d: %v, want ErrPruned", key, floor-1, floor, err)
			}
		}
	}
	steps := 0
	step := func(floor uint64) bool {
		t.Helper()
		done, err := s.PruneStep(floor, 4, []byte("h"))
		if err != nil {
			t.Fatal(err)
		}
		if f, _ := s.Floor(); f != floor {
			t.Fatalf("Floor after PruneStep(%d) = %d", floor, f)
		}
		steps++
		check(floor)
		return done
	}
	step(3)
	for !step(5) { // the floor rises during the pass
		if steps > 100 {
			t.Fatal("PruneStep never finishes")
		}
	}
	if steps < minSteps {
		t.Fatalf("%d steps for %d keys at 4 a step", steps, keys)
	}
	for k := range keys {
		key := fmt.Sprintf("k%02d", k)
		if got := historyAll(t, s, key, 20); len(got) != heights-5+1 {
			t.Fatalf("%s keeps %d versions after the passes, want %d", key, len(got), heights-5+1)
		}
	}
	if got := historyAll(t, s, "h", 20); len(got) != heights {
		t.Fatalf("the keep prefix lost versions: %d of %d", len(got), heights)
	}
	if done, err := s.PruneStep(5, 4); !done || err != nil {
		t.Fatalf("PruneStep at the same floor after a complete pass: %v, %v", done, err)
	}
}
