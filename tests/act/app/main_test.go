package main

import "testing"

func TestGreeting(t *testing.T) {
	if got := greeting("ci"); got != "hello from ci" {
		t.Fatalf("greeting(%q) = %q", "ci", got)
	}
}
