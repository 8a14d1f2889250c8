package jwtmint

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestVerifiesWithLibrary checks the hand-rolled signer against golang-jwt,
// which is what the server side uses.
func TestVerifiesWithLibrary(t *testing.T) {
	tok, err := New("s3cret", time.Hour).Mint("u42", "User 42", "c7")
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	parsed, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return []byte("s3cret"), nil },
		jwt.WithValidMethods([]string{"HS256"}))
	if err != nil || !parsed.Valid {
		t.Fatalf("token rejected: %v", err)
	}
	if claims["userId"] != "u42" || claims["channelId"] != "c7" || claims["displayName"] != "User 42" {
		t.Fatalf("claims %v", claims)
	}
	if _, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return []byte("other"), nil }); err == nil {
		t.Fatal("token verified with the wrong secret")
	}
}
