package eio

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestArrayElements(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
	}{
		{`[]`, nil},
		{` [ ] `, nil},
		{`["a"]`, []string{`"a"`}},
		{`["notification",{"id":1,"type":"info"},"Q8KIoIN"]`, []string{`"notification"`, `{"id":1,"type":"info"}`, `"Q8KIoIN"`}},
		{`[1,-2.5e3,true,false,null]`, []string{`1`, `-2.5e3`, `true`, `false`, `null`}},
		{"[ 1 ,\n\t\"x\" ,\r[ ] , { } ]", []string{`1`, `"x"`, `[ ]`, `{ }`}},
		{`[[1,[2,[3]]],{"a":{"b":[]}}]`, []string{`[1,[2,[3]]]`, `{"a":{"b":[]}}`}},
		{`["]",",","[","{","\"","\\"]`, []string{`"]"`, `","`, `"["`, `"{"`, `"\""`, `"\\"`}},
		{`[{"k":"]}"},"\u005d"]`, []string{`{"k":"]}"}`, `"\u005d"`}},
		{`["binary-upload",{"_placeholder":true,"num":0},{"extra":{"_placeholder":true,"num":1}}]`,
			[]string{`"binary-upload"`, `{"_placeholder":true,"num":0}`, `{"extra":{"_placeholder":true,"num":1}}`}},
	} {
		var got []string
		var idx []int
		err := ArrayElements([]byte(tt.in), func(i int, elem []byte) bool {
			got = append(got, string(elem))
			idx = append(idx, i)
			return true
		})
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ArrayElements(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		for i, n := range idx {
			if i != n {
				t.Errorf("ArrayElements(%q): index %d passed as %d", tt.in, i, n)
			}
		}
	}
}

func TestArrayElementsStops(t *testing.T) {
	calls := 0
	err := ArrayElements([]byte(`[1,2,3]`), func(i int, _ []byte) bool {
		calls++
		return i < 1
	})
	if err != nil || calls != 2 {
		t.Errorf("calls = %d, err = %v; want 2, nil", calls, err)
	}
}

func TestArrayElementsErrors(t *testing.T) {
	for _, tt := range []struct {
		in  string
		err error
	}{
		{``, ErrInvalidJSON},
		{`[`, ErrInvalidJSON},
		{`[1,]`, ErrInvalidJSON},
		{`[1 2]`, ErrInvalidJSON},
		{`["a]`, ErrInvalidJSON},
		{`[1]]`, ErrInvalidJSON},
		{`[01]`, ErrInvalidJSON},
		{"[\"\x00\"]", ErrInvalidJSON},
		{`{"a":1}`, ErrJSONNotArray},
		{`"[1]"`, ErrJSONNotArray},
		{`1`, ErrJSONNotArray},
		{`null`, ErrJSONNotArray},
	} {
		called := false
		err := ArrayElements([]byte(tt.in), func(int, []byte) bool { called = true; return true })
		if err != tt.err || called {
			t.Errorf("ArrayElements(%q) = %v (fn called: %v), want %v", tt.in, err, called, tt.err)
		}
		if !errors.Is(err, ErrInvalidJSON) {
			t.Errorf("ArrayElements(%q) error %v is not ErrInvalidJSON", tt.in, err)
		}
	}
}

func TestEventName(t *testing.T) {
	for _, tt := range []struct {
		in, want string
	}{
		{`["connected",{"message":"Welcome"}]`, "connected"},
		{`[ "spaced" ]`, "spaced"},
		{`[""]`, ""},
		{`["a\"b\\c\/d"]`, `a"b\c/d`},
		{`["\b\f\n\r\t"]`, "\b\f\n\r\t"},
		{`["\u00e9\u00E9"]`, "éé"},
		{`["é✓"]`, "é✓"},
		{`["\ud83d\ude00"]`, "😀"},             // surrogate pair
		{`["\ud83d"]`, "\ufffd"},              // lone high surrogate
		{`["\ude00x"]`, "\ufffdx"},            // lone low surrogate
		{`["\ud83d\u0041"]`, "\ufffdA"},       // high surrogate, then not a low one
		{`["\ud83d\ud83d\ude00"]`, "\ufffd😀"}, // high, then a full pair
		{"[\"a\xffb\"]", "a\ufffdb"},          // invalid UTF-8, as encoding/json
		{`[42,"x"]`, "42"},
		{`[-0.5e-3]`, "-0.5e-3"},
		{`["` + strings.Repeat("\\u0041", 40) + `"]`, strings.Repeat("A", 40)}, // escapes, past the stack buffer
	} {
		got, err := EventName([]byte(tt.in))
		if err != nil || got != tt.want {
			t.Errorf("EventName(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		app, err := AppendEventName([]byte("x"), []byte(tt.in))
		if err != nil || string(app) != "x"+tt.want {
			t.Errorf("AppendEventName(%q) = %q, %v; want x%q", tt.in, app, err, tt.want)
		}
		// encoding/json agrees on every string name.
		var arr []any
		if err := json.Unmarshal([]byte(tt.in), &arr); err != nil {
			t.Fatal(err)
		}
		if s, ok := arr[0].(string); ok && s != got {
			t.Errorf("EventName(%q) = %q, encoding/json says %q", tt.in, got, s)
		}
	}
}

func TestEventNameErrors(t *testing.T) {
	for _, tt := range []struct {
		in  string
		err error
	}{
		{`[]`, ErrEventName},
		{`[{}]`, ErrEventName},
		{`[[]]`, ErrEventName},
		{`[true]`, ErrEventName},
		{`[null]`, ErrEventName},
		{`{"a":1}`, ErrJSONNotArray},
		{`["a"`, ErrInvalidJSON},
		{``, ErrInvalidJSON},
	} {
		if got, err := EventName([]byte(tt.in)); err != tt.err || got != "" {
			t.Errorf("EventName(%q) = %q, %v; want %v", tt.in, got, err, tt.err)
		}
		if got, err := AppendEventName([]byte("x"), []byte(tt.in)); err != tt.err || string(got) != "x" {
			t.Errorf("AppendEventName(%q) = %q, %v; want x, %v", tt.in, got, err, tt.err)
		}
	}
}

func TestIsReservedEvent(t *testing.T) {
	for _, name := range []string{"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"} {
		if !IsReservedEvent(name) {
			t.Errorf("IsReservedEvent(%q) = false", name)
		}
	}
	for _, name := range []string{"", "connected", "Connect", "connect ", "error", "message", "ping"} {
		if IsReservedEvent(name) {
			t.Errorf("IsReservedEvent(%q) = true", name)
		}
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, tt := range []struct {
		in, want string
	}{
		// Expected values are what node -e 'console.log(JSON.stringify(s))' prints.
		{"", `""`},
		{"RBYLSNyHx6hS08fcAAAA", `"RBYLSNyHx6hS08fcAAAA"`},
		{`a"b\c`, `"a\"b\\c"`},
		{"\b\f\n\r\t", `"\b\f\n\r\t"`},
		{"\x00\x01\x1e\x1f", `"\u0000\u0001\u001e\u001f"`},
		{"<a href=\"x\">&</a>", `"<a href=\"x\">&</a>"`}, // no HTML escaping
		{"\u2028\u2029", "\"\u2028\u2029\""},             // JSON.stringify keeps them
		{"\x7f", "\"\x7f\""},
		{"héllo ✓ 😀", `"héllo ✓ 😀"`},
		{"/path", `"/path"`}, // '/' is not escaped
		{"a\xffb", `"a\ufffdb"`},
		{"\xed\xa0\x80", `"\ufffd\ufffd\ufffd"`}, // UTF-8-encoded surrogate: invalid, one U+FFFD per byte
	} {
		got := AppendJSONString([]byte("x"), tt.in)
		if string(got) != "x"+tt.want {
			t.Errorf("AppendJSONString(%q) = %s, want x%s", tt.in, got, tt.want)
		}
		var back string
		if err := json.Unmarshal(got[1:], &back); err != nil {
			t.Errorf("AppendJSONString(%q) = %s: not JSON: %v", tt.in, got, err)
		} else if utf8.ValidString(tt.in) && back != tt.in {
			t.Errorf("AppendJSONString(%q) decodes to %q", tt.in, back)
		}
	}
}

// TestValidJSONMatchesEncodingJSON holds ValidJSON to encoding/json.Valid on
// hand-picked corners; FuzzValidJSON does the same on random input.
func TestValidJSONMatchesEncodingJSON(t *testing.T) {
	inputs := []string{
		``, ` `, `1`, `-`, `-0`, `-01`, `01`, `0.`, `0.5`, `.5`, `1e`, `1e+`, `1e+5`, `1E-5`, `1.5e3`, `-1.5E+03`, `1x`,
		`true`, `tru`, `truex`, `false`, `fals`, `null`, `nul`, `NaN`, `Infinity`,
		`""`, `"`, `"a`, `"\"`, `"\\"`, `"\/"`, `"\x"`, `"\u12"`, `"\u12g4"`, `"\u12AF"`, `"\uD83D"`, "\"\x1f\"", "\"\x7f\"", "\"\xff\"",
		`[]`, `[`, `]`, `[1`, `[1,`, `[1,]`, `[,1]`, `[1 2]`, `[1,2]`, ` [ 1 , 2 ] `, `[[]]`, `[[]`, `[]]`, `[}`,
		`{}`, `{`, `}`, `{"a"}`, `{"a":}`, `{"a":1}`, `{"a":1,}`, `{"a":1,"b":[2]}`, `{1:2}`, `{"a" : 1 }`, `{"a":1}}`, `{]`,
		`[{"a":[{"b":{}}]}]`, `[{]}`, `{"a":[}`, "[1]\n", "\t[1]\r\n", `[1] [2]`, `"a" "b"`, `{"a":1 "b":2}`,
		`["a"]x`, `[true,false,null]`, `[tru]`, "[\"\x00\"]",
	}
	for _, in := range inputs {
		if got, want := ValidJSON([]byte(in)), json.Valid([]byte(in)); got != want {
			t.Errorf("ValidJSON(%q) = %v, encoding/json.Valid says %v", in, got, want)
		}
	}
	for _, depth := range []int{maxJSONDepth - 1, maxJSONDepth, maxJSONDepth + 1} {
		for _, open := range []string{"[", `{"k":`} {
			close := map[string]string{"[": "]", `{"k":`: "}"}[open]
			in := []byte(strings.Repeat(open, depth) + "1" + strings.Repeat(close, depth))
			if got, want := ValidJSON(in), json.Valid(in); got != want {
				t.Errorf("ValidJSON at depth %d of %q = %v, encoding/json.Valid says %v", depth, open, got, want)
			}
		}
	}
}
