package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/gobwas/ws"

	"github.com/notify-wss/notify-wss/eio"
)

// TestCompressionEndToEnd: with COMPRESSION=on, the real socket.io-client
// in Node (which offers permessage-deflate by default, as engine.io-client
// sets perMessageDeflate {threshold: 1024}) receives a large notification
// as a compressed frame, the very bytes eio.AppendDeflatedFrame makes of
// its packet, and a small one plain; a client that does not offer it, and
// a polling client, get both plain. The client's own large messages come
// compressed and are inflated. Everything is checked on the server's
// counters, which count the bytes it wrote.
func TestCompressionEndToEnd(t *testing.T) {
	rd, srv, d := env(t, "COMPRESSION=on", "COMPRESSION_MIN_BYTES=512")
	tok := userToken(t, "z1")
	connect(t, d, "deflate", srv.URL, wsOnly(tok))
	plainOpts := wsOnly(tok)
	plainOpts["perMessageDeflate"] = false
	connect(t, d, "plain", srv.URL, plainOpts)
	connect(t, d, "polling", srv.URL, map[string]any{"transports": []string{"polling"}, "auth": map[string]any{"token": tok}})

	small := `{"data":{"amount":5,"currency":"USD","fromDisplayName":"Alice Martin","fromUserId":"1042"},"id":"9f86d081884c7d65","message":"Alice Martin tipped you $5.00","type":"TIP","userId":"z1"}`
	large := `{"type":"FOLLOW","followers":[` + strings.Repeat(`{"id":"1042","displayName":"Alice Martin","avatarUrl":"https://cdn.example.com/avatars/1042.png"},`, 40) + `{}]}`
	for _, p := range []string{small, large} {
		rd.Publish(t, "user:notifications:z1", p)
	}
	for _, id := range []string{"deflate", "plain", "polling"} {
		got := d.Collect(id, "event", "notification", 2, wait)
		for i, want := range []string{small, large} {
			if !reflect.DeepEqual(decode(t, got[i].Args[0]), decode(t, json.RawMessage(want))) {
				t.Errorf("%s: notification %d differs (%d bytes)", id, i, len(got[i].Args[0]))
			}
		}
	}
	zframe, ok := eio.AppendDeflatedFrame(nil, ws.OpText, []byte(`42["notification",`+large+`,"2"]`)) // "2": its recovery offset
	if !ok {
		t.Fatal("the large notification does not compress")
	}
	t.Logf("large notification: %v bytes plain, %d compressed", frameLen(large, "2"), len(zframe))
	srv.expectMetrics(map[series]float64{
		ser("notify_wss_deliveries_total"):        6,
		ser("notify_wss_compressed_frames_total"): 1,
		ser("notify_wss_delivered_bytes_total"):   2*frameLen(small, "1") + frameLen(large, "2") + float64(len(zframe)),
		ser("notify_wss_inflated_messages_total"): 0,
	})

	// socket.io-client compresses what it sends from 1024 bytes on.
	channel := strings.Repeat("c", 1500)
	seq := d.EmitAck("deflate", "join-channel-notifications", channel)
	ack := d.WaitAck("deflate", seq, wait)
	if len(ack.Args) != 1 || !reflect.DeepEqual(decode(t, ack.Args[0]), map[string]any{"joined": "channel-notifications:" + channel}) {
		t.Fatalf("ack %v", ack)
	}
	srv.expectMetrics(map[series]float64{ser("notify_wss_inflated_messages_total"): 1})
}
