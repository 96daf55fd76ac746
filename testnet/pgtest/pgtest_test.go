package pgtest_test

import (
	"testing"

	"github.com/dstt/dstt/testnet/pgtest"
)

// Two clusters side by side are independent servers that take writes.
func TestStartTwoClusters(t *testing.T) {
	a, b := pgtest.Start(t), pgtest.Start(t)
	if a.Port == b.Port {
		t.Fatalf("both clusters on port %d", a.Port)
	}
	for i, c := range []*pgtest.Cluster{a, b} {
		db := c.Open("postgres")
		if _, err := db.Exec(`CREATE TABLE t (v int)`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`INSERT INTO t VALUES ($1)`, i); err != nil {
			t.Fatal(err)
		}
	}
	var v int
	if err := b.Open("postgres").QueryRow(`SELECT v FROM t`).Scan(&v); err != nil || v != 1 {
		t.Fatalf("cluster b holds %d (%v), want 1", v, err)
	}
}
