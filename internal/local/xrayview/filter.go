package xrayview

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// A Filter selects traces by their annotations, in the shape of the X-Ray
// console's filter expressions (https://docs.aws.amazon.com/xray/latest/devguide/xray-console-filters.html):
//
//	annotation.path = "/hello"
//	annotation.ColdStart = true AND annotation.Service != "http"
//	annotation.count >= 3 OR (annotation.path BEGINSWITH "/a" AND annotation.ok = false)
//
// A comparison holds when any value the trace recorded for the key satisfies
// it (X-Ray indexes every segment's annotations under the trace); a trace
// without the key matches no comparison on it, != included. Strings compare
// with =, !=, CONTAINS, BEGINSWITH and ENDSWITH; numbers with =, !=, <, <=,
// >, >=; booleans with = and !=. AND binds tighter than OR. Only annotations
// are supported: anything else is a parse error, never a silent match.
type Filter struct {
	expr filterExpr // nil matches every trace
}

// ParseFilter parses a filter expression strictly; the empty expression
// matches every trace. The error says what was expected where.
func ParseFilter(s string) (*Filter, error) {
	p := &filterParser{src: s}
	p.next()
	if p.tok.kind == tokEOF {
		return &Filter{}, nil
	}
	e, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		return nil, p.errorf("unexpected %s after a complete expression", p.tok)
	}
	return &Filter{expr: e}, nil
}

// Match reports whether a trace with these annotations (key → every value
// recorded) passes the filter.
func (f *Filter) Match(annotations map[string][]any) bool {
	return f == nil || f.expr == nil || f.expr.match(annotations)
}

type filterExpr interface {
	match(map[string][]any) bool
}

type andExpr struct{ l, r filterExpr }
type orExpr struct{ l, r filterExpr }

func (e andExpr) match(a map[string][]any) bool { return e.l.match(a) && e.r.match(a) }
func (e orExpr) match(a map[string][]any) bool  { return e.l.match(a) || e.r.match(a) }

// comparison is annotation.<key> <op> <value>.
type comparison struct {
	key   string
	op    string
	value any // string, float64 or bool
}

func (c comparison) match(a map[string][]any) bool {
	for _, v := range a[c.key] {
		if c.holds(v) {
			return true
		}
	}
	return false
}

func (c comparison) holds(v any) bool {
	switch want := c.value.(type) {
	case string:
		got, ok := v.(string)
		if !ok {
			return false
		}
		switch c.op {
		case "=":
			return got == want
		case "!=":
			return got != want
		case "CONTAINS":
			return strings.Contains(got, want)
		case "BEGINSWITH":
			return strings.HasPrefix(got, want)
		case "ENDSWITH":
			return strings.HasSuffix(got, want)
		}
	case float64:
		got, ok := v.(float64)
		if !ok {
			return false
		}
		switch c.op {
		case "=":
			return got == want
		case "!=":
			return got != want
		case "<":
			return got < want
		case "<=":
			return got <= want
		case ">":
			return got > want
		case ">=":
			return got >= want
		}
	case bool:
		got, ok := v.(bool)
		if !ok {
			return false
		}
		switch c.op {
		case "=":
			return got == want
		case "!=":
			return got != want
		}
	}
	return false
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokWord
	tokString
	tokNumber
	tokOp
	tokLParen
	tokRParen
)

type token struct {
	kind tokKind
	text string // the word, the operator, the number's digits, the string's value
	pos  int    // byte offset in the expression, for errors
}

func (t token) String() string {
	switch t.kind {
	case tokEOF:
		return "end of expression"
	case tokString:
		return strconv.Quote(t.text)
	}
	return fmt.Sprintf("%q", t.text)
}

type filterParser struct {
	src string
	off int
	tok token
	err error // a lexical error, reported by the parser at the token
}

func (p *filterParser) errorf(format string, args ...any) error {
	return fmt.Errorf("filter: at column %d: %s", p.tok.pos+1, fmt.Sprintf(format, args...))
}

// next scans the following token into p.tok.
func (p *filterParser) next() {
	for p.off < len(p.src) && unicode.IsSpace(rune(p.src[p.off])) {
		p.off++
	}
	start := p.off
	if p.off >= len(p.src) {
		p.tok = token{kind: tokEOF, pos: start}
		return
	}
	c := p.src[p.off]
	switch {
	case c == '(':
		p.off++
		p.tok = token{kind: tokLParen, text: "(", pos: start}
	case c == ')':
		p.off++
		p.tok = token{kind: tokRParen, text: ")", pos: start}
	case c == '"':
		p.scanString(start)
	case strings.ContainsRune("=!<>&|", rune(c)):
		for _, op := range []string{"!=", "<=", ">=", "&&", "||", "=", "<", ">"} {
			if strings.HasPrefix(p.src[p.off:], op) {
				p.off += len(op)
				p.tok = token{kind: tokOp, text: op, pos: start}
				return
			}
		}
		p.off++
		p.tok = token{kind: tokOp, text: string(c), pos: start} // a lone ! & or |, refused by the parser
	case c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9'):
		for p.off < len(p.src) && strings.ContainsRune("0123456789.eE+-", rune(p.src[p.off])) {
			p.off++
		}
		p.tok = token{kind: tokNumber, text: p.src[start:p.off], pos: start}
	default:
		for p.off < len(p.src) && isWordByte(p.src[p.off]) {
			p.off++
		}
		if p.off == start { // a byte no token starts with
			p.off++
		}
		p.tok = token{kind: tokWord, text: p.src[start:p.off], pos: start}
	}
}

func isWordByte(c byte) bool {
	return c == '_' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// scanString reads a double-quoted string with backslash escapes of \" and \\.
func (p *filterParser) scanString(start int) {
	var b strings.Builder
	p.off++ // the opening quote
	for p.off < len(p.src) {
		c := p.src[p.off]
		switch {
		case c == '"':
			p.off++
			p.tok = token{kind: tokString, text: b.String(), pos: start}
			return
		case c == '\\' && p.off+1 < len(p.src) && (p.src[p.off+1] == '"' || p.src[p.off+1] == '\\'):
			b.WriteByte(p.src[p.off+1])
			p.off += 2
		default:
			b.WriteByte(c)
			p.off++
		}
	}
	p.tok = token{kind: tokString, pos: start}
	p.err = fmt.Errorf("filter: at column %d: unterminated string", start+1)
}

func (p *filterParser) keyword(words ...string) bool {
	if p.tok.kind == tokOp {
		return p.tok.text == words[len(words)-1]
	}
	if p.tok.kind != tokWord {
		return false
	}
	for _, w := range words[:len(words)-1] {
		if strings.EqualFold(p.tok.text, w) {
			return true
		}
	}
	return false
}

func (p *filterParser) parseOr() (filterExpr, error) {
	l, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for p.keyword("OR", "||") {
		p.next()
		r, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		l = orExpr{l, r}
	}
	return l, nil
}

func (p *filterParser) parseAnd() (filterExpr, error) {
	l, err := p.parseTerm()
	if err != nil {
		return nil, err
	}
	for p.keyword("AND", "&&") {
		p.next()
		r, err := p.parseTerm()
		if err != nil {
			return nil, err
		}
		l = andExpr{l, r}
	}
	return l, nil
}

// validKey is an annotation key as X-Ray indexes it: letters, digits and
// underscores.
func validKey(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range k {
		if !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

var stringOps = map[string]bool{"=": true, "!=": true, "CONTAINS": true, "BEGINSWITH": true, "ENDSWITH": true}
var numberOps = map[string]bool{"=": true, "!=": true, "<": true, "<=": true, ">": true, ">=": true}

func (p *filterParser) parseTerm() (filterExpr, error) {
	if p.err != nil {
		return nil, p.err
	}
	if p.tok.kind == tokLParen {
		p.next()
		e, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tokRParen {
			return nil, p.errorf("expected ) but found %s", p.tok)
		}
		p.next()
		return e, nil
	}
	if p.tok.kind != tokWord || !strings.HasPrefix(p.tok.text, "annotation.") {
		return nil, p.errorf(`expected annotation.<key> but found %s (only annotation filters are supported here)`, p.tok)
	}
	key := strings.TrimPrefix(p.tok.text, "annotation.")
	if !validKey(key) {
		return nil, p.errorf("annotation key %q: keys are letters, digits and underscores", key)
	}
	p.next()
	if p.err != nil {
		return nil, p.err
	}
	op := p.tok.text
	if p.tok.kind == tokWord {
		op = strings.ToUpper(op)
	}
	if !stringOps[op] && !numberOps[op] {
		return nil, p.errorf("expected an operator (= != < <= > >= CONTAINS BEGINSWITH ENDSWITH) after annotation.%s but found %s", key, p.tok)
	}
	p.next()
	if p.err != nil {
		return nil, p.err
	}
	c := comparison{key: key, op: op}
	switch {
	case p.tok.kind == tokString:
		if !stringOps[op] {
			return nil, p.errorf("operator %s does not compare strings", op)
		}
		c.value = p.tok.text
	case p.tok.kind == tokNumber:
		n, err := strconv.ParseFloat(p.tok.text, 64)
		if err != nil {
			return nil, p.errorf("%s is not a number", p.tok)
		}
		if !numberOps[op] {
			return nil, p.errorf("operator %s does not compare numbers", op)
		}
		c.value = n
	case p.tok.kind == tokWord && (p.tok.text == "true" || p.tok.text == "false"):
		if op != "=" && op != "!=" {
			return nil, p.errorf("operator %s does not compare booleans", op)
		}
		c.value = p.tok.text == "true"
	default:
		return nil, p.errorf(`expected a value ("string", number, true or false) but found %s`, p.tok)
	}
	p.next()
	return c, nil
}
