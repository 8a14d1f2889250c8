package loadgen

import "testing"

func TestTrailingString(t *testing.T) {
	for _, c := range []struct {
		packet, want string
		ok           bool
	}{
		{`42["notification",{"a":1},"3f.1-0"]`, "3f.1-0", true},
		{`42["connected",{"userId":"u1"},"k2"]`, "k2", true},
		{`42["notification",{"a":"x"}]`, "", false},
		{`42["notification","just a string"]`, "just a string", true},
		{`42["x"]`, "", false},
		{`]`, "", false},
	} {
		got, ok := trailingString([]byte(c.packet))
		if ok != c.ok || string(got) != c.want {
			t.Errorf("%s: %q %v, want %q %v", c.packet, got, ok, c.want, c.ok)
		}
	}
}

func TestJSONString(t *testing.T) {
	p := []byte(`40{"sid":"abc","pid":"xyz"}`)
	if got := jsonString(p, `"sid":"`); string(got) != "abc" {
		t.Errorf("sid %q", got)
	}
	if got := jsonString(p, `"pid":"`); string(got) != "xyz" {
		t.Errorf("pid %q", got)
	}
	if got := jsonString([]byte(`40{"sid":"abc"}`), `"pid":"`); got != nil {
		t.Errorf("pid of a reply without one: %q", got)
	}
}
