package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"
)

var errToken = errors.New("floor: invalid token")

// verifyToken checks an HS256 compact JWT and returns its userId.
func verifyToken(secret, tok []byte) (string, error) {
	i := bytes.IndexByte(tok, '.')
	j := bytes.LastIndexByte(tok, '.')
	if i < 0 || j <= i {
		return "", errToken
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(tok[:j])
	var want [sha256.Size]byte
	sig := make([]byte, base64.RawURLEncoding.DecodedLen(len(tok)-j-1))
	n, err := base64.RawURLEncoding.Decode(sig, tok[j+1:])
	if err != nil || !hmac.Equal(sig[:n], mac.Sum(want[:0])) {
		return "", errToken
	}
	body := make([]byte, base64.RawURLEncoding.DecodedLen(j-i-1))
	if n, err = base64.RawURLEncoding.Decode(body, tok[i+1:j]); err != nil {
		return "", errToken
	}
	var c struct {
		UserID string `json:"userId"`
		Exp    int64  `json:"exp"`
	}
	if err := json.Unmarshal(body[:n], &c); err != nil || c.UserID == "" {
		return "", errToken
	}
	if c.Exp != 0 && c.Exp < time.Now().Unix() {
		return "", errToken
	}
	return c.UserID, nil
}
