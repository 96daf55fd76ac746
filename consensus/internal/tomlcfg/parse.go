// Package tomlcfg reads CometBFT's config.toml into a *config.Config without viper.
//
// CometBFT's own command line decodes config.toml with viper + mapstructure. Neither is in
// dstt's module graph, so this package implements the part of TOML v1.0 that config.toml
// uses, and decodes it by the `mapstructure` struct tags with viper's weak typing (a quoted
// number into an int field, "a,b" into a []string field, "100ms" into a time.Duration).
//
// Supported: comments, bare/quoted/dotted keys, [tables], [[arrays of tables]], basic and
// literal strings (single line), integers (decimal, 0x, 0o, 0b, underscores), floats,
// booleans, arrays (multi-line, trailing comma) and inline tables. Not supported (an error,
// never a silent misread): multi-line strings, dates and times, inf/nan.
package tomlcfg

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrSyntax marks a config file that is not TOML this package understands.
var ErrSyntax = errors.New("tomlcfg: syntax error")

// Parse decodes TOML text into nested maps: tables are map[string]any, arrays []any,
// strings string, integers int64, floats float64, booleans bool.
func Parse(data []byte) (map[string]any, error) {
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("%w: file is not valid UTF-8", ErrSyntax)
	}
	p := &parser{src: string(data), line: 1}
	root := map[string]any{}
	if err := p.document(root); err != nil {
		return nil, err
	}
	return root, nil
}

type parser struct {
	src  string
	pos  int
	line int
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w at line %d: %s", ErrSyntax, p.line, fmt.Sprintf(format, args...))
}

func (p *parser) eof() bool { return p.pos >= len(p.src) }

func (p *parser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.src[p.pos]
}

func (p *parser) advance() {
	if p.src[p.pos] == '\n' {
		p.line++
	}
	p.pos++
}

// skipSpace skips blanks on the current line.
func (p *parser) skipSpace() {
	for !p.eof() && (p.peek() == ' ' || p.peek() == '\t') {
		p.advance()
	}
}

// skipComment skips a comment up to (not including) the newline.
func (p *parser) skipComment() {
	if p.peek() != '#' {
		return
	}
	for !p.eof() && p.peek() != '\n' {
		p.advance()
	}
}

// skipAll skips blanks, newlines and comments (inside arrays, between statements).
func (p *parser) skipAll() {
	for !p.eof() {
		switch p.peek() {
		case ' ', '\t', '\r', '\n':
			p.advance()
		case '#':
			p.skipComment()
		default:
			return
		}
	}
}

// endOfLine requires only blanks and a comment before the next newline or EOF.
func (p *parser) endOfLine() error {
	p.skipSpace()
	p.skipComment()
	if p.eof() {
		return nil
	}
	if p.peek() == '\r' {
		p.advance()
	}
	if p.eof() || p.peek() == '\n' {
		return nil
	}
	return p.errorf("unexpected %q after value", p.peek())
}

func (p *parser) document(root map[string]any) error {
	current := root
	// Tables defined by a [header]; a second header for the same table is an error.
	defined := map[string]bool{}
	for {
		p.skipAll()
		if p.eof() {
			return nil
		}
		if p.peek() == '[' {
			t, err := p.header(root, defined)
			if err != nil {
				return err
			}
			current = t
		} else if err := p.keyValue(current); err != nil {
			return err
		}
		if err := p.endOfLine(); err != nil {
			return err
		}
	}
}

// header parses [a.b] or [[a.b]] and returns the table that the following keys fill.
func (p *parser) header(root map[string]any, defined map[string]bool) (map[string]any, error) {
	p.advance() // '['
	array := p.peek() == '['
	if array {
		p.advance()
	}
	p.skipSpace()
	keys, err := p.key()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	closing := "]"
	if array {
		closing = "]]"
	}
	if !strings.HasPrefix(p.src[p.pos:], closing) {
		return nil, p.errorf("expected %q to close table header", closing)
	}
	for range closing {
		p.advance()
	}

	parent, err := p.walk(root, keys[:len(keys)-1])
	if err != nil {
		return nil, err
	}
	last := keys[len(keys)-1]
	if array {
		existing, ok := parent[last]
		if !ok {
			existing = []any{}
		}
		list, ok := existing.([]any)
		if !ok {
			return nil, p.errorf("%q is not an array of tables", strings.Join(keys, "."))
		}
		t := map[string]any{}
		parent[last] = append(list, t)
		return t, nil
	}
	name := strings.Join(keys, "\x00")
	if defined[name] {
		return nil, p.errorf("table [%s] defined twice", strings.Join(keys, "."))
	}
	defined[name] = true
	return p.walk(parent, []string{last})
}

// walk descends through keys, creating tables as needed; for an array of tables it
// descends into the last element, as TOML specifies.
func (p *parser) walk(t map[string]any, keys []string) (map[string]any, error) {
	for _, k := range keys {
		v, ok := t[k]
		if !ok {
			next := map[string]any{}
			t[k] = next
			t = next
			continue
		}
		switch v := v.(type) {
		case map[string]any:
			t = v
		case []any:
			if len(v) == 0 {
				return nil, p.errorf("%q is an empty array, not a table", k)
			}
			last, ok := v[len(v)-1].(map[string]any)
			if !ok {
				return nil, p.errorf("%q is an array of values, not of tables", k)
			}
			t = last
		default:
			return nil, p.errorf("%q is a value, not a table", k)
		}
	}
	return t, nil
}

// keyValue parses `key = value` into t.
func (p *parser) keyValue(t map[string]any) error {
	keys, err := p.key()
	if err != nil {
		return err
	}
	p.skipSpace()
	if p.peek() != '=' {
		return p.errorf("expected '=' after key %q", strings.Join(keys, "."))
	}
	p.advance()
	p.skipSpace()
	v, err := p.value()
	if err != nil {
		return err
	}
	parent, err := p.walk(t, keys[:len(keys)-1])
	if err != nil {
		return err
	}
	last := keys[len(keys)-1]
	if _, dup := parent[last]; dup {
		return p.errorf("key %q set twice", strings.Join(keys, "."))
	}
	parent[last] = v
	return nil
}

// key parses a possibly dotted key.
func (p *parser) key() ([]string, error) {
	var keys []string
	for {
		p.skipSpace()
		var k string
		switch c := p.peek(); {
		case c == '"':
			s, err := p.basicString()
			if err != nil {
				return nil, err
			}
			k = s
		case c == '\'':
			s, err := p.literalString()
			if err != nil {
				return nil, err
			}
			k = s
		default:
			start := p.pos
			for !p.eof() && isBareKeyChar(p.peek()) {
				p.advance()
			}
			if p.pos == start {
				return nil, p.errorf("expected a key, found %q", p.peek())
			}
			k = p.src[start:p.pos]
		}
		keys = append(keys, k)
		p.skipSpace()
		if p.peek() != '.' {
			return keys, nil
		}
		p.advance()
	}
}

func isBareKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

func (p *parser) value() (any, error) {
	switch c := p.peek(); {
	case c == '"':
		if strings.HasPrefix(p.src[p.pos:], `"""`) {
			return nil, p.errorf("multi-line strings are not supported")
		}
		return p.basicString()
	case c == '\'':
		if strings.HasPrefix(p.src[p.pos:], `'''`) {
			return nil, p.errorf("multi-line strings are not supported")
		}
		return p.literalString()
	case c == '[':
		return p.array()
	case c == '{':
		return p.inlineTable()
	case c == 't' || c == 'f':
		return p.boolean()
	default:
		return p.number()
	}
}

func (p *parser) basicString() (string, error) {
	p.advance() // opening quote
	var b strings.Builder
	for {
		if p.eof() || p.peek() == '\n' {
			return "", p.errorf("unterminated string")
		}
		c := p.peek()
		p.advance()
		switch c {
		case '"':
			return b.String(), nil
		case '\\':
			if err := p.escape(&b); err != nil {
				return "", err
			}
		default:
			b.WriteByte(c)
		}
	}
}

// escape decodes one escape sequence. Besides TOML's escapes it accepts \' and \/,
// which CometBFT's template emits for paths through text/template's `js` function.
func (p *parser) escape(b *strings.Builder) error {
	if p.eof() {
		return p.errorf("unterminated escape")
	}
	c := p.peek()
	p.advance()
	switch c {
	case 'b':
		b.WriteByte('\b')
	case 't':
		b.WriteByte('\t')
	case 'n':
		b.WriteByte('\n')
	case 'f':
		b.WriteByte('\f')
	case 'r':
		b.WriteByte('\r')
	case '"', '\\', '\'', '/':
		b.WriteByte(c)
	case 'u', 'U':
		n := 4
		if c == 'U' {
			n = 8
		}
		if p.pos+n > len(p.src) {
			return p.errorf("short unicode escape")
		}
		r, err := strconv.ParseUint(p.src[p.pos:p.pos+n], 16, 32)
		if err != nil || !utf8.ValidRune(rune(r)) {
			return p.errorf("bad unicode escape %q", p.src[p.pos:p.pos+n])
		}
		p.pos += n
		b.WriteRune(rune(r))
	default:
		return p.errorf("unknown escape \\%c", c)
	}
	return nil
}

func (p *parser) literalString() (string, error) {
	p.advance() // opening quote
	start := p.pos
	for !p.eof() && p.peek() != '\'' {
		if p.peek() == '\n' {
			return "", p.errorf("unterminated string")
		}
		p.advance()
	}
	if p.eof() {
		return "", p.errorf("unterminated string")
	}
	s := p.src[start:p.pos]
	p.advance()
	return s, nil
}

func (p *parser) array() ([]any, error) {
	p.advance() // '['
	list := []any{}
	for {
		p.skipAll()
		if p.peek() == ']' {
			p.advance()
			return list, nil
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		list = append(list, v)
		p.skipAll()
		switch p.peek() {
		case ',':
			p.advance()
		case ']':
		default:
			return nil, p.errorf("expected ',' or ']' in array, found %q", p.peek())
		}
	}
}

func (p *parser) inlineTable() (map[string]any, error) {
	p.advance() // '{'
	t := map[string]any{}
	p.skipSpace()
	if p.peek() == '}' {
		p.advance()
		return t, nil
	}
	for {
		p.skipSpace()
		if err := p.keyValue(t); err != nil {
			return nil, err
		}
		p.skipSpace()
		switch p.peek() {
		case ',':
			p.advance()
		case '}':
			p.advance()
			return t, nil
		default:
			return nil, p.errorf("expected ',' or '}' in inline table, found %q", p.peek())
		}
	}
}

func (p *parser) boolean() (bool, error) {
	for _, w := range []string{"true", "false"} {
		if strings.HasPrefix(p.src[p.pos:], w) {
			p.pos += len(w)
			return w == "true", nil
		}
	}
	return false, p.errorf("expected a value")
}

// number parses an integer or a float.
func (p *parser) number() (any, error) {
	start := p.pos
	for !p.eof() && strings.IndexByte("+-0123456789abcdefABCDEFxob_.", p.peek()) >= 0 {
		p.advance()
	}
	tok := p.src[start:p.pos]
	if tok == "" {
		return nil, p.errorf("expected a value, found %q", p.peek())
	}
	if p.peek() == ':' || p.peek() == 'T' || p.peek() == 'Z' {
		return nil, p.errorf("dates and times are not supported")
	}
	if strings.Contains(tok, "__") || strings.HasPrefix(tok, "_") || strings.HasSuffix(tok, "_") {
		return nil, p.errorf("bad number %q", tok)
	}
	clean := strings.ReplaceAll(tok, "_", "")
	// strconv with base 0 understands 0x/0o/0b; it would also read a leading 0 as octal,
	// which TOML forbids, so reject leading zeros on decimals.
	digits := strings.TrimLeft(clean, "+-")
	isPrefixed := len(digits) > 1 && digits[0] == '0' && strings.ContainsRune("xob", rune(digits[1]))
	if !isPrefixed && !strings.ContainsAny(digits, ".eE") {
		if len(digits) > 1 && digits[0] == '0' {
			return nil, p.errorf("leading zero in %q", tok)
		}
		n, err := strconv.ParseInt(clean, 10, 64)
		if err != nil {
			return nil, p.errorf("bad integer %q", tok)
		}
		return n, nil
	}
	if isPrefixed {
		if clean != digits {
			return nil, p.errorf("sign on prefixed integer %q", tok)
		}
		n, err := strconv.ParseInt(clean, 0, 64)
		if err != nil {
			return nil, p.errorf("bad integer %q", tok)
		}
		return n, nil
	}
	f, err := strconv.ParseFloat(clean, 64)
	if err != nil {
		return nil, p.errorf("bad float %q", tok)
	}
	return f, nil
}
