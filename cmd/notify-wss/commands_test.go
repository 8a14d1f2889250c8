package main

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestTokenCommandRoundTrip(t *testing.T) {
	var out, errOut strings.Builder
	t.Setenv("JWT_SECRET", "s3cret")
	if code := run([]string{"token", "--user", "u1", "--channel", "c1", "--name", "John", "--ttl", "1h"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	c := jwt.MapClaims{}
	_, err := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"})).ParseWithClaims(strings.TrimSpace(out.String()), c,
		func(*jwt.Token) (any, error) { return []byte("s3cret"), nil })
	if err != nil || c["userId"] != "u1" || c["channelId"] != "c1" || c["displayName"] != "John" {
		t.Fatalf("minted token gives %v, %v", c, err)
	}
	exp, err := c.GetExpirationTime()
	if err != nil || exp == nil || time.Until(exp.Time) < 59*time.Minute || time.Until(exp.Time) > time.Hour {
		t.Fatalf("exp %v, %v; want an hour from now", exp, err)
	}
}
