package notify

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// User is who a token says the client is.
type User struct {
	ID          string
	DisplayName string
	ChannelID   string    // empty when the token has none
	Expires     time.Time // the token's exp; zero when it has none
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
func (v *verifier) verify(token string) (User, error) {
	if token == "" {
		return User{}, errTokenMissing
	}
	var c claims
	_, err := v.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return v.secret, nil })
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return User{}, errTokenExpired
	case err != nil:
		return User{}, fmt.Errorf("%w: %v", errTokenInvalid, err)
	}
	id, ok := idString(c.UserID)
	if !ok || id == "" {
		return User{}, errTokenNoSubject
	}
	ch, _ := idString(c.ChannelID)
	u := User{ID: id, DisplayName: c.DisplayName, ChannelID: ch}
	if c.ExpiresAt != nil {
		u.Expires = c.ExpiresAt.Time
	}
	return u, nil
}

// publicReason is what a client is told of a refused token: the sentinel
// reason, without a library's detail.
func publicReason(err error) string {
	for _, known := range []error{errTokenMissing, errTokenExpired, errTokenNoSubject} {
		if errors.Is(err, known) {
			return known.Error()
		}
	}
	return errTokenInvalid.Error()
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

// MintToken signs an HS256 token for u with secret, valid for ttl (no exp
// when ttl is 0); u.Expires is ignored.
func MintToken(secret string, u User, ttl time.Duration) (string, error) {
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
