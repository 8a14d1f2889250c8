package main

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestVerify(t *testing.T) {
	v := newVerifier("s3cret")
	sign := func(m jwt.SigningMethod, key any, c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	hour := time.Now().Add(time.Hour).Unix()
	tests := []struct {
		name  string
		token string
		user  user
		err   error
	}{
		{"string id", sign(jwt.SigningMethodHS256, []byte("s3cret"), jwt.MapClaims{"userId": "u1", "displayName": "Ann", "channelId": "c9", "exp": hour}),
			user{"u1", "Ann", "c9"}, nil},
		{"numeric ids", sign(jwt.SigningMethodHS256, []byte("s3cret"), jwt.MapClaims{"userId": 12, "channelId": 7}), user{ID: "12", ChannelID: "7"}, nil},
		{"no exp is allowed", sign(jwt.SigningMethodHS256, []byte("s3cret"), jwt.MapClaims{"userId": "u1"}), user{ID: "u1"}, nil},
		{"missing", "", user{}, errTokenMissing},
		{"expired", sign(jwt.SigningMethodHS256, []byte("s3cret"), jwt.MapClaims{"userId": "u1", "exp": time.Now().Add(-time.Minute).Unix()}), user{}, errTokenExpired},
		{"not yet valid", sign(jwt.SigningMethodHS256, []byte("s3cret"), jwt.MapClaims{"userId": "u1", "nbf": time.Now().Add(time.Hour).Unix()}), user{}, errTokenInvalid},
		{"wrong secret", sign(jwt.SigningMethodHS256, []byte("other"), jwt.MapClaims{"userId": "u1"}), user{}, errTokenInvalid},
		{"HS512 refused", sign(jwt.SigningMethodHS512, []byte("s3cret"), jwt.MapClaims{"userId": "u1"}), user{}, errTokenInvalid},
		{"alg none", sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"userId": "u1"}), user{}, errTokenInvalid},
		{"RS256 refused", sign(jwt.SigningMethodRS256, rsaKey, jwt.MapClaims{"userId": "u1"}), user{}, errTokenInvalid},
		{"garbage", "a.b.c", user{}, errTokenInvalid},
		{"no userId", sign(jwt.SigningMethodHS256, []byte("s3cret"), jwt.MapClaims{"displayName": "x"}), user{}, errTokenNoSubject},
		{"empty userId", sign(jwt.SigningMethodHS256, []byte("s3cret"), jwt.MapClaims{"userId": ""}), user{}, errTokenNoSubject},
		{"object userId", sign(jwt.SigningMethodHS256, []byte("s3cret"), jwt.MapClaims{"userId": map[string]any{"a": 1}}), user{}, errTokenNoSubject},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := v.verify(tt.token)
			if !errors.Is(err, tt.err) || u != tt.user {
				t.Fatalf("got %+v, %v; want %+v, %v", u, err, tt.user, tt.err)
			}
		})
	}
}

func TestTokenFrom(t *testing.T) {
	query := func(q map[string]string) func(string) string { return func(k string) string { return q[k] } }
	tests := []struct {
		name, auth, authorization string
		query                     map[string]string
		want                      string
	}{
		{"auth payload", `{"token":"A"}`, "Bearer C", map[string]string{"token": "B"}, "A"},
		{"query when auth has none", `{}`, "Bearer C", map[string]string{"token": "B"}, "B"},
		{"bearer header", ``, "bearer  C ", nil, "C"},
		{"other scheme ignored", ``, "Basic C", nil, ""},
		{"non-string token ignored", `{"token":{"x":1}}`, "", nil, ""},
		{"nothing", ``, "", nil, ""},
	}
	for _, tt := range tests {
		if got := tokenFrom([]byte(tt.auth), query(tt.query), tt.authorization); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestTokenCommandRoundTrip(t *testing.T) {
	var out, errOut strings.Builder
	t.Setenv("JWT_SECRET", "s3cret")
	if code := run([]string{"token", "--user", "u1", "--channel", "c1", "--name", "John", "--ttl", "1h"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	u, err := newVerifier("s3cret").verify(strings.TrimSpace(out.String()))
	if err != nil || u != (user{"u1", "John", "c1"}) {
		t.Fatalf("minted token gives %+v, %v", u, err)
	}
}
