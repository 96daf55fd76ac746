package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// table is one data file: a header line of column names, then rows, all
// tab-separated.
type table struct {
	cols []string
	rows [][]string
}

func (t *table) add(fields ...string) { t.rows = append(t.rows, fields) }

func (t *table) encode() []byte {
	var b bytes.Buffer
	b.WriteString(strings.Join(t.cols, "\t") + "\n")
	for _, r := range t.rows {
		b.WriteString(strings.Join(r, "\t") + "\n")
	}
	return b.Bytes()
}

func readTable(path string) (*table, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	t := &table{cols: strings.Split(lines[0], "\t")}
	for i, l := range lines[1:] {
		r := strings.Split(l, "\t")
		if len(r) != len(t.cols) {
			return nil, fmt.Errorf("%s:%d: %d fields, the header has %d", path, i+2, len(r), len(t.cols))
		}
		t.rows = append(t.rows, r)
	}
	return t, nil
}

// str is row r's field in column col ("" if there is no such column).
func (t *table) str(r int, col string) string {
	for i, c := range t.cols {
		if c == col {
			return t.rows[r][i]
		}
	}
	return ""
}

// num is row r's field in column col as a number (NaN if absent).
func (t *table) num(r int, col string) float64 {
	v, err := strconv.ParseFloat(t.str(r, col), 64)
	if err != nil {
		return nan
	}
	return v
}

// fmtNum formats v with prec decimals ("" for NaN).
func fmtNum(v float64, prec int) string {
	if v != v {
		return ""
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}
