package notify

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
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
		user  User
		err   error
	}{
		{"string id", sign(jwt.SigningMethodHS256, []byte("s3cret"), jwt.MapClaims{"userId": "u1", "displayName": "Ann", "channelId": "c9", "exp": hour}),
			User{"u1", "Ann", "c9", time.Unix(hour, 0)}, nil},
		{"numeric ids", sign(jwt.SigningMethodHS256, []byte("s3cret"), jwt.MapClaims{"userId": 12, "channelId": 7}), User{ID: "12", ChannelID: "7"}, nil},
		{"no exp is allowed", sign(jwt.SigningMethodHS256, []byte("s3cret"), jwt.MapClaims{"userId": "u1"}), User{ID: "u1"}, nil},
		{"missing", "", User{}, errTokenMissing},
		{"expired", sign(jwt.SigningMethodHS256, []byte("s3cret"), jwt.MapClaims{"userId": "u1", "exp": time.Now().Add(-time.Minute).Unix()}), User{}, errTokenExpired},
		{"not yet valid", sign(jwt.SigningMethodHS256, []byte("s3cret"), jwt.MapClaims{"userId": "u1", "nbf": time.Now().Add(time.Hour).Unix()}), User{}, errTokenInvalid},
		{"wrong secret", sign(jwt.SigningMethodHS256, []byte("other"), jwt.MapClaims{"userId": "u1"}), User{}, errTokenInvalid},
		{"HS512 refused", sign(jwt.SigningMethodHS512, []byte("s3cret"), jwt.MapClaims{"userId": "u1"}), User{}, errTokenInvalid},
		{"alg none", sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"userId": "u1"}), User{}, errTokenInvalid},
		{"RS256 refused", sign(jwt.SigningMethodRS256, rsaKey, jwt.MapClaims{"userId": "u1"}), User{}, errTokenInvalid},
		{"garbage", "a.b.c", User{}, errTokenInvalid},
		{"no userId", sign(jwt.SigningMethodHS256, []byte("s3cret"), jwt.MapClaims{"displayName": "x"}), User{}, errTokenNoSubject},
		{"empty userId", sign(jwt.SigningMethodHS256, []byte("s3cret"), jwt.MapClaims{"userId": ""}), User{}, errTokenNoSubject},
		{"object userId", sign(jwt.SigningMethodHS256, []byte("s3cret"), jwt.MapClaims{"userId": map[string]any{"a": 1}}), User{}, errTokenNoSubject},
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
