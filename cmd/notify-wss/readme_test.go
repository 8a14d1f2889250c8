package main

import (
	"os"
	"strings"
	"testing"
)

// The README's configuration table must list every setting with its real
// default, so the documentation cannot drift from the code.
func TestREADMEListsEverySetting(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, s := range settings {
		def := "`" + s.def + "`"
		if s.def == "" {
			def = "(empty)"
		}
		row := "| `" + s.env + "` | `-" + s.flag + "` | " + def + " |"
		if !strings.Contains(readme, row) {
			t.Errorf("README has no row starting %q", row)
		}
	}
}
