package bridge

import (
	"fmt"

	"github.com/alicebob/miniredis/v2"
)

// StartEmbedded starts an in-process Redis-protocol broker (miniredis)
// listening on addr ("127.0.0.1:0" for any free port), for dev mode without a
// Redis server. It returns the broker's redis:// URL for Config.URL and a
// function that stops it. The broker keeps nothing on disk and supports the
// SUBSCRIBE/PSUBSCRIBE/PUBLISH/PING subset the bridge uses; redis-cli can
// PUBLISH to it. Not for production: single process, no persistence.
func StartEmbedded(addr string) (url string, stop func(), err error) {
	m, err := startEmbedded(addr)
	if err != nil {
		return "", nil, err
	}
	return embeddedURL(m), m.Close, nil
}

// startEmbedded starts the broker of StartEmbedded and returns it.
func startEmbedded(addr string) (*miniredis.Miniredis, error) {
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr(addr); err != nil {
		return nil, fmt.Errorf("bridge: start embedded broker on %s: %w", addr, err)
	}
	return m, nil
}

// embeddedURL is the Config.URL of an embedded broker.
func embeddedURL(m *miniredis.Miniredis) string { return "redis://" + m.Addr() }
