// Package jwtmint signs the HS256 JWTs the load generator presents in its
// Socket.IO CONNECT packets, with the claims the servers expect (userId,
// displayName, optional channelId, exp). It is a few lines of crypto/hmac
// rather than a JWT library because the generator mints tens of thousands
// of tokens and only ever needs this one shape.
package jwtmint

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"
)

// header is the fixed, pre-encoded JOSE header {"alg":"HS256","typ":"JWT"}.
var header = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

// Claims are the token claims of one benchmark user.
type Claims struct {
	UserID      string `json:"userId"`
	DisplayName string `json:"displayName"`
	ChannelID   string `json:"channelId,omitempty"`
	IssuedAt    int64  `json:"iat"`
	ExpiresAt   int64  `json:"exp"`
}

// Minter signs tokens with one secret. It is safe for concurrent use.
type Minter struct {
	secret []byte
	ttl    time.Duration
}

// New returns a Minter for secret whose tokens expire ttl after minting.
func New(secret string, ttl time.Duration) *Minter {
	return &Minter{secret: []byte(secret), ttl: ttl}
}

// Mint returns a signed compact JWT for the user.
func (m *Minter) Mint(userID, displayName, channelID string) (string, error) {
	now := time.Now()
	body, err := json.Marshal(Claims{
		UserID: userID, DisplayName: displayName, ChannelID: channelID,
		IssuedAt: now.Unix(), ExpiresAt: now.Add(m.ttl).Unix(),
	})
	if err != nil {
		return "", fmt.Errorf("jwtmint: encode claims: %w", err)
	}
	signing := header + "." + base64.RawURLEncoding.EncodeToString(body)
	mac := hmac.New(sha256.New, m.secret)
	mac.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)), nil
}
