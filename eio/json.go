package eio

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"
)

// The JSON helpers below validate with ValidJSON and then walk the bytes
// knowing they are valid, so the walking code never has to handle malformed
// input. ValidJSON accepts exactly what encoding/json.Valid accepts (a fuzz
// test holds them to that), but never allocates: json.Valid allocates a
// *SyntaxError for every invalid input.

// ArrayElements calls fn with the raw JSON of each top-level element of the
// JSON array data, in order, until fn returns false. elem aliases data and has
// no surrounding whitespace. It returns ErrInvalidJSON when data is not valid
// JSON and ErrJSONNotArray when it is valid but not an array; in both cases
// fn is never called. It does not allocate.
func ArrayElements(data []byte, fn func(i int, elem []byte) bool) error {
	if !ValidJSON(data) {
		return ErrInvalidJSON
	}
	i := skipSpace(data, 0)
	if data[i] != '[' {
		return ErrJSONNotArray
	}
	i = skipSpace(data, i+1)
	if data[i] == ']' {
		return nil
	}
	for n := 0; ; n++ {
		end := skipValue(data, i)
		if !fn(n, data[i:end]) {
			return nil
		}
		i = skipSpace(data, end)
		if data[i] == ']' {
			return nil
		}
		i = skipSpace(data, i+1) // past the ','
	}
}

// firstElement returns the raw first element of the JSON array data, nil for
// an empty array.
func firstElement(data []byte) ([]byte, error) {
	var first []byte
	err := ArrayElements(data, func(_ int, elem []byte) bool {
		first = elem
		return false
	})
	return first, err
}

// EventName returns the event name of EVENT or BINARY_EVENT data: the first
// element of the array, unescaped. A numeric first element (socket.io-parser
// accepts one) is returned as its literal text, e.g. "42". Errors:
// ErrInvalidJSON, ErrJSONNotArray, or ErrEventName for an empty array or a
// first element that is neither a string nor a number.
//
// It allocates only the returned string, except for names over 64 bytes that
// contain escapes. AppendEventName does not allocate at all.
func EventName(data []byte) (string, error) {
	first, err := firstElement(data)
	if err != nil {
		return "", err
	}
	if len(first) > 1 && first[0] == '"' {
		if raw := first[1 : len(first)-1]; bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
			return string(raw), nil // nothing to unescape: one allocation
		}
	}
	var buf [64]byte
	name, err := appendEventName(buf[:0], first)
	if err != nil {
		return "", err
	}
	return string(name), nil
}

// AppendEventName is EventName without the allocation: it appends the event
// name of data to dst.
func AppendEventName(dst, data []byte) ([]byte, error) {
	first, err := firstElement(data)
	if err != nil {
		return dst, err
	}
	return appendEventName(dst, first)
}

func appendEventName(dst, first []byte) ([]byte, error) {
	switch {
	case len(first) == 0:
		return dst, ErrEventName
	case first[0] == '"':
		return appendUnquote(dst, first), nil
	case isNumberStart(first[0]):
		return append(dst, first...), nil
	}
	return dst, ErrEventName
}

// reservedEvents are the names socket.io refuses as client events, because
// they are the names of its own life-cycle events (README §8).
var reservedEvents = [...]string{
	"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener",
}

// IsReservedEvent reports whether name is one of the events socket.io keeps
// for itself: connect, connect_error, disconnect, disconnecting, newListener,
// removeListener. DecodeSIO rejects an EVENT with such a name; a server must
// not emit one either.
func IsReservedEvent(name string) bool {
	for _, r := range reservedEvents {
		if name == r {
			return true
		}
	}
	return false
}

// maxReservedRaw bounds the JSON string literal (quotes included) that can
// still decode to a reserved name: 14 characters ("removeListener"), each
// written as at most 6 bytes (\uXXXX), and the two quotes.
const maxReservedRaw = 14*6 + 2

// isReservedRaw reports whether the valid JSON string literal raw decodes to a
// reserved event name. It does not allocate.
func isReservedRaw(raw []byte) bool {
	if len(raw) > maxReservedRaw {
		return false
	}
	// Unquoting can grow the text at most 3 times (one invalid byte becomes
	// U+FFFD), so this buffer never has to grow past the stack.
	var buf [3 * maxReservedRaw]byte
	name := appendUnquote(buf[:0], raw)
	for _, r := range reservedEvents {
		if string(name) == r {
			return true
		}
	}
	return false
}

// AppendJSONString appends s to dst as a JSON string literal, escaped the way
// JavaScript's JSON.stringify does: `"` and `\` and the control characters
// below U+0020 (as \b \f \n \r \t or \u00xx), nothing else. Unlike
// encoding/json it leaves <, >, & and U+2028/U+2029 as they are. Invalid UTF-8
// (which a JavaScript string cannot hold) is written as \ufffd, as
// encoding/json does.
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0 // s[start:i] is pending, copied unescaped
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= ' ' && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = appendEscape(dst, c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"

// appendEscape appends the JSON.stringify escape of the ASCII byte c, which is
// '"', '\\' or a control character.
func appendEscape(dst []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(dst, '\\', c)
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	}
	return append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
}

// isSpace reports whether c is JSON whitespace.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

func isNumberStart(c byte) bool {
	return c == '-' || (c >= '0' && c <= '9')
}

// skipSpace returns the index of the first non-space byte of b at or after i.
// b must be valid JSON with a value at or after i, so the loop cannot run off.
func skipSpace(b []byte, i int) int {
	for isSpace(b[i]) {
		i++
	}
	return i
}

// skipValue returns the index just past the JSON value that starts at b[i].
// b must be valid JSON and b[i] the first byte of a value.
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
	}
	// A number, true, false or null: it ends at a delimiter or at the end.
	for i < len(b) {
		switch b[i] {
		case ',', ']', '}', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// skipString returns the index just past the valid JSON string starting at b[i].
func skipString(b []byte, i int) int {
	for i++; ; i++ {
		switch b[i] {
		case '\\':
			i++ // the escaped byte; \uXXXX's hex digits are plain bytes
		case '"':
			return i + 1
		}
	}
}

// appendUnquote appends the text of the valid JSON string literal s (quotes
// included) to dst, unescaped as encoding/json does: a lone or mismatched
// UTF-16 surrogate and each byte of invalid UTF-8 become U+FFFD.
func appendUnquote(dst, s []byte) []byte {
	s = s[1 : len(s)-1]
	for len(s) > 0 {
		c := s[0]
		if c == '\\' {
			var r rune
			r, s = unescape(s)
			dst = utf8.AppendRune(dst, r)
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, c)
			s = s[1:]
			continue
		}
		r, size := utf8.DecodeRune(s)
		if r == utf8.RuneError && size == 1 {
			dst = utf8.AppendRune(dst, utf8.RuneError)
		} else {
			dst = append(dst, s[:size]...)
		}
		s = s[size:]
	}
	return dst
}

// unescape decodes the valid escape sequence at the start of s and returns
// the rune and the rest of s.
func unescape(s []byte) (rune, []byte) {
	switch s[1] {
	case 'b':
		return '\b', s[2:]
	case 'f':
		return '\f', s[2:]
	case 'n':
		return '\n', s[2:]
	case 'r':
		return '\r', s[2:]
	case 't':
		return '\t', s[2:]
	case 'u':
		r := hex4(s[2:6])
		s = s[6:]
		if !utf16.IsSurrogate(r) {
			return r, s
		}
		// A surrogate counts only as the first half of a pair; otherwise it
		// is U+FFFD and whatever follows is decoded on its own.
		if len(s) >= 6 && s[0] == '\\' && s[1] == 'u' {
			if pair := utf16.DecodeRune(r, hex4(s[2:6])); pair != utf8.RuneError {
				return pair, s[6:]
			}
		}
		return utf8.RuneError, s
	}
	return rune(s[1]), s[2:] // '"', '\\' or '/'
}

// hex4 decodes four valid hex digits.
func hex4(h []byte) rune {
	var r rune
	for _, c := range h[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c <= 'F':
			c -= 'A' - 10
		default:
			c -= 'a' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// maxJSONDepth is the deepest nesting ValidJSON accepts: encoding/json's
// limit, so the two agree on every input.
const maxJSONDepth = 10000

// ValidJSON reports whether b is one valid JSON value (RFC 8259), with
// optional whitespace around it, exactly as encoding/json.Valid does: bytes
// of 0x80 and above are accepted in strings without a UTF-8 check (pair it
// with utf8.Valid for text that must be UTF-8). It is about 4× faster than
// encoding/json.Valid and never allocates; the nesting stack is a bit set
// on the goroutine stack.
func ValidJSON(b []byte) bool {
	var inObject [maxJSONDepth/64 + 1]uint64 // bit d: the container at depth d+1 is an object
	depth := 0
	i := 0
	for {
		// A value starts at b[i] (after whitespace).
		i = skipSpaceEnd(b, i)
		if i == len(b) {
			return false
		}
		switch c := b[i]; {
		case c == '{' || c == '[':
			if depth == maxJSONDepth {
				return false
			}
			obj := c == '{'
			if obj {
				inObject[depth/64] |= 1 << (depth % 64)
			} else {
				inObject[depth/64] &^= 1 << (depth % 64)
			}
			depth++
			i = skipSpaceEnd(b, i+1)
			if i < len(b) && (b[i] == '}' && obj || b[i] == ']' && !obj) {
				depth-- // empty container: it is the value
				i++
				break
			}
			if obj {
				if i = objectKey(b, i); i < 0 {
					return false
				}
			}
			continue // the first element or member value
		case c == '"':
			if i = scanString(b, i); i < 0 {
				return false
			}
		case c == '-' || isDigit(c):
			if i = scanNumber(b, i); i < 0 {
				return false
			}
		case c == 't':
			if i = scanLiteral(b, i, "true"); i < 0 {
				return false
			}
		case c == 'f':
			if i = scanLiteral(b, i, "false"); i < 0 {
				return false
			}
		case c == 'n':
			if i = scanLiteral(b, i, "null"); i < 0 {
				return false
			}
		default:
			return false
		}
		// A value ended at b[i]: close containers until one needs another value.
		for {
			i = skipSpaceEnd(b, i)
			if depth == 0 {
				return i == len(b)
			}
			if i == len(b) {
				return false
			}
			obj := inObject[(depth-1)/64]&(1<<((depth-1)%64)) != 0
			if b[i] == '}' && obj || b[i] == ']' && !obj {
				depth--
				i++
				continue
			}
			if b[i] != ',' {
				return false
			}
			i++
			if obj {
				if i = objectKey(b, skipSpaceEnd(b, i)); i < 0 {
					return false
				}
			}
			break
		}
	}
}

// skipSpaceEnd is skipSpace for input that may end: it returns len(b) when
// only whitespace is left.
func skipSpaceEnd(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// objectKey scans `"key" :` at b[i] and returns the index after the colon,
// or -1.
func objectKey(b []byte, i int) int {
	if i == len(b) || b[i] != '"' {
		return -1
	}
	if i = scanString(b, i); i < 0 {
		return -1
	}
	i = skipSpaceEnd(b, i)
	if i == len(b) || b[i] != ':' {
		return -1
	}
	return i + 1
}

// scanString returns the index after the JSON string at b[i] (b[i] == '"'),
// or -1 if it is malformed.
func scanString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		for i < len(b) && !stringSpecial[b[i]] { // the common case: plain text
			i++
		}
		if i == len(b) {
			break
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1
		case c < ' ':
			return -1
		case c == '\\':
			i++
			if i == len(b) {
				return -1
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(b)-i <= 4 {
					return -1
				}
				for _, h := range b[i+1 : i+5] {
					if !isHex(h) {
						return -1
					}
				}
				i += 4
			default:
				return -1
			}
		}
	}
	return -1
}

// stringSpecial marks the bytes scanString must look at inside a string: the
// closing quote, the escape character and the control characters JSON forbids.
var stringSpecial = func() (t [256]bool) {
	for c := range ' ' {
		t[c] = true
	}
	t['"'] = true
	t['\\'] = true
	return t
}()

// scanNumber returns the index after the JSON number at b[i], or -1 if it is
// malformed: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(b []byte, i int) int {
	if b[i] == '-' {
		i++
	}
	switch {
	case i == len(b):
		return -1
	case b[i] == '0':
		i++
	case isDigit(b[i]):
		i = scanDigits(b, i)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		if i++; i == len(b) || !isDigit(b[i]) {
			return -1
		}
		i = scanDigits(b, i)
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i == len(b) || !isDigit(b[i]) {
			return -1
		}
		i = scanDigits(b, i)
	}
	return i
}

func scanDigits(b []byte, i int) int {
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}

// scanLiteral returns the index after lit at b[i], or -1.
func scanLiteral(b []byte, i int, lit string) int {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

func isHex(c byte) bool {
	return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f')
}
