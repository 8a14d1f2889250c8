package eio

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func TestNextRecord(t *testing.T) {
	for _, tt := range []struct {
		name     string
		body     string
		recs     []string
		trailing bool // the body ends with a separator: the last call returns ok == false
	}{
		{name: "one packet", body: "6", recs: []string{"6"}},
		{name: "c §6 noop and close", body: "6\x1e1", recs: []string{"6", "1"}},
		{
			name: "a §1 CONNECT reply and event",
			body: "40{\"sid\":\"6OCCUP9kJALW9bTsAAAA\"}\x1e42[\"connected\",{}]",
			recs: []string{`40{"sid":"6OCCUP9kJALW9bTsAAAA"}`, `42["connected",{}]`},
		},
		{name: "c §2 event and event with ack", body: "42[\"a\"]\x1e420[\"b\"]", recs: []string{`42["a"]`, `420["b"]`}},
		{name: "i §3 binary event then its attachment", body: "451-[\"b\",{\"_placeholder\":true,\"num\":0}]\x1ebAQIDBA==",
			recs: []string{`451-["b",{"_placeholder":true,"num":0}]`, "bAQIDBA=="}},
		{name: "empty record in the middle", body: "2\x1e\x1e3", recs: []string{"2", "", "3"}},
		{name: "only a separator", body: "\x1e", recs: []string{""}, trailing: true},
		{name: "trailing separator", body: "2\x1e", recs: []string{"2"}, trailing: true},
		{name: "leading separator", body: "\x1e2", recs: []string{"", "2"}},
	} {
		var got []string
		trailing := false
		for rest := []byte(tt.body); ; {
			rec, next, ok := NextRecord(rest)
			if !ok {
				trailing = true
				break
			}
			got = append(got, string(rec))
			if next == nil {
				break
			}
			rest = next
		}
		if !reflect.DeepEqual(got, tt.recs) || trailing != tt.trailing {
			t.Errorf("%s: records %q trailing=%v, want %q trailing=%v", tt.name, got, trailing, tt.recs, tt.trailing)
		}
		// AppendRecord rebuilds every body that has no empty record.
		if bytes.Contains([]byte(tt.body), []byte{RecordSeparator, RecordSeparator}) || tt.trailing || tt.body[0] == RecordSeparator {
			continue
		}
		var body []byte
		for _, r := range got {
			body = AppendRecord(body, []byte(r))
		}
		if string(body) != tt.body {
			t.Errorf("%s: AppendRecord rebuilt %q", tt.name, body)
		}
	}
}

func TestNextRecordEmpty(t *testing.T) {
	for _, body := range [][]byte{nil, {}} {
		rec, rest, ok := NextRecord(body)
		if ok || rec != nil || rest != nil {
			t.Errorf("NextRecord(%#v) = %q, %q, %v", body, rec, rest, ok)
		}
	}
	// The last record leaves a nil rest; a trailing separator an empty, non-nil one.
	if _, rest, _ := NextRecord([]byte("2")); rest != nil {
		t.Errorf("rest after the last record = %#v, want nil", rest)
	}
	if _, rest, _ := NextRecord([]byte("2\x1e")); rest == nil || len(rest) != 0 {
		t.Errorf("rest after a trailing separator = %#v, want empty non-nil", rest)
	}
}

func TestAppendRecord(t *testing.T) {
	var body []byte
	body = AppendRecord(body, []byte("6"))
	body = AppendRecord(body, []byte("1"))
	if string(body) != "6\x1e1" {
		t.Errorf("got %q", body)
	}
}

func TestBase64Message(t *testing.T) {
	for _, tt := range []struct {
		rec string
		bin []byte
	}{
		{rec: "bAQIDBA==", bin: []byte{1, 2, 3, 4}},             // i §3, server to client
		{rec: "b3q2+7w==", bin: []byte{0xde, 0xad, 0xbe, 0xef}}, // i §3, client to server
		{rec: "baGk=", bin: []byte("hi")},
		{rec: "bAA==", bin: []byte{0}},
		{rec: "b", bin: []byte{}},
		{rec: "b//79", bin: []byte{0xff, 0xfe, 0xfd}},
	} {
		if !IsBase64Message([]byte(tt.rec)) {
			t.Errorf("IsBase64Message(%q) = false", tt.rec)
		}
		got, err := DecodeBase64Message([]byte("x"), []byte(tt.rec))
		if err != nil || !bytes.Equal(got, append([]byte("x"), tt.bin...)) {
			t.Errorf("DecodeBase64Message(%q) = %v, %v; want x+%v", tt.rec, got, err, tt.bin)
		}
		if back := AppendBase64Message(nil, tt.bin); string(back) != tt.rec {
			t.Errorf("AppendBase64Message(%v) = %q, want %q", tt.bin, back, tt.rec)
		}
	}
}

func TestBase64MessageErrors(t *testing.T) {
	for _, rec := range []string{
		"",
		"4",             // not a binary record
		"AQIDBA==",      // no "b"
		"bAQIDBA",       // padding missing
		"bAQIDBA=",      // padding short
		"bAQ-DBA==",     // URL alphabet
		"bAQIDBA==\x1e", // separator left in
		"b=",
	} {
		dst := []byte("keep")
		got, err := DecodeBase64Message(dst, []byte(rec))
		if !errors.Is(err, ErrBase64) || !errors.Is(err, ErrInvalidPacket) {
			t.Errorf("DecodeBase64Message(%q) error %v, want ErrBase64", rec, err)
		}
		if string(got) != "keep" {
			t.Errorf("DecodeBase64Message(%q) changed dst to %q", rec, got)
		}
	}
	if IsBase64Message(nil) || IsBase64Message([]byte("42")) {
		t.Error("IsBase64Message true for a non-binary record")
	}
}
