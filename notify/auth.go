package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// user is who a token says the client is.
type user struct {
	ID          string
	DisplayName string
	ChannelID   string // empty when the token has none
}

// claims is the token payload; userId and channelId may be strings or numbers.
type claims struct {
	UserID      json.RawMessage `json:"userId"`
	DisplayName string          `json:"displayName"`
	ChannelID   json.RawMessage `json:"channelId,omitempty"`
	jwt.RegisteredClaims
}

// Why a token was refused; clients see it as connect_error's err.data.reason.
var (
	errTokenMissing   = errors.New("token missing")
	errTokenExpired   = errors.New("token expired")
	errTokenInvalid   = errors.New("invalid token")
	errTokenNoSubject = errors.New("token has no userId")
)

// verifier checks HS256 tokens. Only HS256 is accepted: no "none", no other
// algorithm, so a token signed with a public key cannot pass as HMAC.
type verifier struct {
	secret []byte
	parser *jwt.Parser
}

func newVerifier(secret string) *verifier {
	return &verifier{
		secret: []byte(secret),
		parser: jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithLeeway(5*time.Second)),
	}
}

// verify returns the user of a valid token.
func (v *verifier) verify(token string) (user, error) {
	if token == "" {
		return user{}, errTokenMissing
	}
	var c claims
	_, err := v.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return v.secret, nil })
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return user{}, errTokenExpired
	case err != nil:
		return user{}, fmt.Errorf("%w: %v", errTokenInvalid, err)
	}
	id, ok := idString(c.UserID)
	if !ok || id == "" {
		return user{}, errTokenNoSubject
	}
	ch, _ := idString(c.ChannelID)
	return user{ID: id, DisplayName: c.DisplayName, ChannelID: ch}, nil
}

// idString turns a JSON string or number into an id.
func idString(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String(), true
	}
	return "", false
}

// mint signs a token for u, valid for ttl.
func mint(secret string, u user, ttl time.Duration) (string, error) {
	c := jwt.MapClaims{"userId": u.ID, "displayName": u.DisplayName, "iat": time.Now().Unix()}
	if u.ChannelID != "" {
		c["channelId"] = u.ChannelID
	}
	if ttl > 0 {
		c["exp"] = time.Now().Add(ttl).Unix()
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(secret))
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return s, nil
}

// tokenFrom finds the client's token: the CONNECT auth payload's "token",
// then ?token=, then an Authorization: Bearer header (for clients that
// cannot set auth).
func tokenFrom(auth []byte, query func(string) string, authorization string) string {
	if len(auth) > 0 {
		var a struct {
			Token any `json:"token"`
		}
		if json.Unmarshal(auth, &a) == nil {
			switch t := a.Token.(type) {
			case string:
				if t != "" {
					return t
				}
			case float64:
				return strconv.FormatFloat(t, 'f', -1, 64)
			}
		}
	}
	if t := query("token"); t != "" {
		return t
	}
	if scheme, t, ok := strings.Cut(authorization, " "); ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(t)
	}
	return ""
}
