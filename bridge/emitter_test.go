package bridge

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/notify-wss/notify-wss/internal/redistest"
)

// emitterFixture is one line of testdata/emitter.jsonl: what the real
// @socket.io/redis-emitter published (gen-emitter.js), and the packet a
// Node socket.io server would have written for it.
type emitterFixture struct {
	Name, Channel, Msg, Node string
	Rooms, Except            []string
}

func loadEmitterFixtures(t testing.TB) []emitterFixture {
	t.Helper()
	f, err := os.Open("testdata/emitter.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []emitterFixture
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var fx emitterFixture
		if err := json.Unmarshal(sc.Bytes(), &fx); err != nil {
			t.Fatal(err)
		}
		out = append(out, fx)
	}
	if len(out) == 0 {
		t.Fatal("no fixtures")
	}
	return out
}

func (fx emitterFixture) bytes(t testing.TB) []byte {
	b, err := hex.DecodeString(fx.Msg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// refusedFixtures are the fixtures the bridge must refuse, and why.
var refusedFixtures = map[string]RefuseReason{
	"binary":         RefuseBinary,
	"binary nested":  RefuseBinary,
	"namespace":      RefuseNamespace,
	"namespace room": RefuseNamespace,
}

func serviceRooms(rooms []string) []string {
	var out []string
	for _, r := range rooms {
		if serviceRoom([]byte(r)) {
			out = append(out, r)
		}
	}
	return out
}

// TestDecodeEmitterMatchesNode: every emit of the real emitter becomes
// the very packet Node's socket.io writes for it, byte for byte, with its
// rooms and except rooms (the service's only), or is refused for the
// reason expected.
func TestDecodeEmitterMatchesNode(t *testing.T) {
	d := newEmitterDecoder()
	for _, fx := range loadEmitterFixtures(t) {
		t.Run(fx.Name, func(t *testing.T) {
			e, err := d.decode(fx.Channel, fx.bytes(t))
			if want, refused := refusedFixtures[fx.Name]; refused {
				var r *refusal
				if !errors.As(err, &r) || r.reason != want {
					t.Fatalf("got %v, want a refusal for %v", err, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if string(e.packet) != fx.Node {
				t.Fatalf("packet\n got %s\nwant %s", e.packet, fx.Node)
			}
			if want := serviceRooms(fx.Rooms); !slices.Equal(e.rooms, want) {
				t.Fatalf("rooms %q, want %q", e.rooms, want)
			}
			if want := serviceRooms(fx.Except); !slices.Equal(e.except, want) {
				t.Fatalf("except %q, want %q", e.except, want)
			}
			if e.namedRooms != (len(fx.Rooms) > 0) {
				t.Fatalf("namedRooms %v with rooms %q", e.namedRooms, fx.Rooms)
			}
			if e.uid != "emitter" {
				t.Fatalf("uid %q", e.uid)
			}
		})
	}
}

// mp encodes v with msgpack, for hand-made messages.
func mp(t testing.TB, v any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// emitMsg builds [uid, packet, opts] from ordered key/value lists.
func emitMsg(t testing.TB, packet, opts []kv) []byte {
	t.Helper()
	enc := func(kvs []kv) []byte {
		out := []byte{0xde, byte(len(kvs) >> 8), byte(len(kvs))}
		for _, p := range kvs {
			out = append(out, mp(t, p.k)...)
			out = append(out, p.v...)
		}
		return out
	}
	b := append([]byte{0x93}, mp(t, "emitter")...)
	b = append(b, enc(packet)...)
	if opts == nil {
		return append(b, 0xc0)
	}
	return append(b, enc(opts)...)
}

type kv struct {
	k string
	v []byte
}

func TestDecodeEmitterEdges(t *testing.T) {
	data := func(t testing.TB, v ...any) kv { return kv{"data", mp(t, v)} }
	typ := func(n int) kv { return kv{"type", []byte{byte(n)}} }
	nsp := func(t testing.TB, s string) kv { return kv{"nsp", mp(t, s)} }
	big := strings.Repeat("é", 40000) // str32
	deep := []byte{}
	for range 200 {
		deep = append(deep, 0x91)
	}
	deep = append(deep, 0x01)
	tests := []struct {
		name   string
		msg    func(t testing.TB) []byte
		packet string // "" when refused
		refuse RefuseReason
	}{
		{"nil opts: everyone, no nsp: /", func(t testing.TB) []byte {
			return emitMsg(t, []kv{typ(2), data(t, "e", 1)}, nil)
		}, `42["e",1]`, 0},
		{"str32, uint64, float32", func(t testing.TB) []byte {
			return emitMsg(t, []kv{data(t, "e", big, uint64(1)<<63, float32(0.5)), typ(2), nsp(t, "/")}, nil)
		}, `42["e","` + big + `",9223372036854776000,0.5]`, 0},
		{"volatile and compress false/true, unknown flag unset", func(t testing.TB) []byte {
			return emitMsg(t, []kv{typ(2), data(t, "e")}, []kv{{"flags", mp(t, map[string]any{"volatile": true})}, {"flags", mp(t, map[string]any{"broadcast": false})}})
		}, `42["e"]`, 0},
		{"unknown flag", func(t testing.TB) []byte {
			return emitMsg(t, []kv{typ(2), data(t, "e")}, []kv{{"flags", mp(t, map[string]any{"timeout": 5000})}})
		}, "", RefuseFlags},
		{"ack id", func(t testing.TB) []byte {
			return emitMsg(t, []kv{typ(2), data(t, "e"), {"id", []byte{7}}}, nil)
		}, "", RefuseFlags},
		{"BINARY_EVENT", func(t testing.TB) []byte {
			return emitMsg(t, []kv{typ(5), data(t, "e")}, nil)
		}, "", RefuseBinary},
		{"binary room name", func(t testing.TB) []byte {
			return emitMsg(t, []kv{typ(2), data(t, "e")}, []kv{{"rooms", mp(t, [][]byte{[]byte("x")})}})
		}, "", RefuseBinary},
		{"other ext", func(t testing.TB) []byte {
			return emitMsg(t, []kv{typ(2), {"data", []byte{0x92, 0xa1, 'e', 0xd4, 0x05, 0x00}}}, nil)
		}, "", RefuseBinary},
		{"CONNECT packet", func(t testing.TB) []byte { return emitMsg(t, []kv{typ(0), data(t, "e")}, nil) }, "", RefuseMalformed},
		{"nsp in packet", func(t testing.TB) []byte { return emitMsg(t, []kv{typ(2), data(t, "e"), nsp(t, "/chat")}, nil) }, "", RefuseNamespace},
		{"no data", func(t testing.TB) []byte { return emitMsg(t, []kv{typ(2)}, nil) }, "", RefuseMalformed},
		{"empty data", func(t testing.TB) []byte { return emitMsg(t, []kv{typ(2), data(t)}, nil) }, "", RefuseMalformed},
		{"event name not a string", func(t testing.TB) []byte { return emitMsg(t, []kv{typ(2), data(t, 1, 2)}, nil) }, "", RefuseMalformed},
		{"data not an array", func(t testing.TB) []byte { return emitMsg(t, []kv{typ(2), {"data", mp(t, "e")}}, nil) }, "", RefuseMalformed},
		{"too deep", func(t testing.TB) []byte {
			return emitMsg(t, []kv{typ(2), {"data", append([]byte{0x92, 0xa1, 'e'}, deep...)}}, nil)
		}, "", RefuseMalformed},
		{"invalid UTF-8", func(t testing.TB) []byte {
			return emitMsg(t, []kv{typ(2), {"data", []byte{0x92, 0xa1, 'e', 0xa2, 0xed, 0xa0}}}, nil)
		}, "", RefuseMalformed},
		{"integer key", func(t testing.TB) []byte {
			return emitMsg(t, []kv{typ(2), {"data", []byte{0x92, 0xa1, 'e', 0x81, 0x01, 0x02}}}, nil)
		}, "", RefuseMalformed},
		{"truncated", func(t testing.TB) []byte {
			b := emitMsg(t, []kv{typ(2), data(t, "e", "abcdef")}, nil)
			return b[:len(b)-4]
		}, "", RefuseMalformed},
		{"trailing bytes", func(t testing.TB) []byte {
			return append(emitMsg(t, []kv{typ(2), data(t, "e")}, nil), 0x01)
		}, "", RefuseMalformed},
		{"huge announced array", func(t testing.TB) []byte {
			return emitMsg(t, []kv{typ(2), {"data", []byte{0xdd, 0xff, 0xff, 0xff, 0xff}}}, nil)
		}, "", RefuseMalformed},
		{"not an array", func(t testing.TB) []byte { return mp(t, map[string]any{"a": 1}) }, "", RefuseMalformed},
		{"empty", func(t testing.TB) []byte { return nil }, "", RefuseMalformed},
	}
	d := newEmitterDecoder()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := d.decode(EmitterChannel, tt.msg(t))
			if tt.packet != "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if string(e.packet) != tt.packet {
					t.Fatalf("packet\n got %.200s\nwant %.200s", e.packet, tt.packet)
				}
				return
			}
			var r *refusal
			if !errors.As(err, &r) || r.reason != tt.refuse {
				t.Fatalf("got %v (packet %.100s), want a refusal for %v", err, e.packet, tt.refuse)
			}
		})
	}
	// Another namespace's channel is refused before decoding.
	if _, err := d.decode("socket.io#/admin#room#", nil); err == nil || !strings.Contains(err.Error(), `"/admin"`) {
		t.Fatalf("another namespace's channel: %v", err)
	}
}

func TestAppendJSONNumber(t *testing.T) {
	for _, tt := range []struct {
		f    float64
		want string
	}{
		{0.1, "0.1"}, {-1.25, "-1.25"}, {1e21, "1e+21"}, {1e20, "100000000000000000000"},
		{1e-7, "1e-7"}, {1.5e-7, "1.5e-7"}, {0.000001, "0.000001"}, {5e-324, "5e-324"},
		{1.7976931348623157e308, "1.7976931348623157e+308"}, {123.456, "123.456"},
	} {
		if got := string(appendJSONNumber(nil, tt.f)); got != tt.want {
			t.Errorf("%v: got %s, want %s", tt.f, got, tt.want)
		}
	}
}

// FuzzDecodeEmitter: no input makes the decoder panic, and whatever it
// accepts is one valid UTF-8 JSON array after "42", whose first element
// is a string, for the service's rooms only.
func FuzzDecodeEmitter(f *testing.F) {
	for _, fx := range loadEmitterFixtures(f) {
		f.Add(fx.Channel, fx.bytes(f))
	}
	d := newEmitterDecoder()
	f.Fuzz(func(t *testing.T, channel string, msg []byte) {
		e, err := d.decode(channel, msg)
		if err != nil {
			var r *refusal
			if !errors.As(err, &r) {
				t.Fatalf("error is not a refusal: %v", err)
			}
			return
		}
		p := e.packet
		if len(p) < 4 || string(p[:3]) != `42[` || p[3] != '"' || !utf8.Valid(p) || !json.Valid(p[2:]) {
			t.Fatalf("accepted %x as %q", msg, p)
		}
		for _, r := range append(slices.Clone(e.rooms), e.except...) {
			if !serviceRoom([]byte(r)) {
				t.Fatalf("room %q kept", r)
			}
		}
	})
}

// TestDynamicEmitterRoomChannels: in dynamic mode with the emitter, a
// room's emitter channel is subscribed and unsubscribed with its
// notification channel, the room is live only once both are confirmed,
// and both come back after a Redis restart before the bridge is
// connected.
func TestDynamicEmitterRoomChannels(t *testing.T) {
	const rooms = 600 // more than one batch: 1200 channels
	srv := redistest.Start(t)
	admin := newAdmin(t, srv)
	h := startBridge(t, Config{URL: srv.URL, Subscribe: SubscribeDynamic, Emitter: true, UnsubscribeGrace: 50 * time.Millisecond})
	h.waitReady(t)
	if n := admin.numsub(EmitterChannel); n != 1 {
		t.Fatalf("%s has %d subscribers, want 1", EmitterChannel, n)
	}
	names := make([]string, rooms)
	for i := range names {
		names[i] = userRoom(i)
		h.b.RoomDemand(names[i], true)
	}
	waitLive(t, h.b, names...)
	if n := admin.channels(); n != 2*rooms+2 {
		t.Fatalf("PUBSUB CHANNELS: %d, want %d", n, 2*rooms+2)
	}
	for _, i := range []int{0, rooms - 1} {
		if admin.numsub(userChannel(i)) != 1 || admin.numsub(EmitterRoomChannel(userRoom(i))) != 1 {
			t.Fatalf("room %d: channels not both subscribed", i)
		}
	}

	srv.Stop()
	srv.Restart()
	eventually(t, "the subscription restored", func() bool { return h.b.Stats().Reconnects == 1 && h.b.Connected() })
	if n := admin.channels(); n != 2*rooms+2 {
		t.Fatalf("connected with %d channels subscribed, want %d", n, 2*rooms+2)
	}

	// An emit to one room, on its room channel, is delivered as an emit.
	var fx emitterFixture
	for _, f := range loadEmitterFixtures(t) {
		if f.Name == "to user" {
			fx = f
		}
	}
	h.b.RoomDemand("user-notifications:42", true)
	waitLive(t, h.b, "user-notifications:42")
	if n := srv.Publish(t, fx.Channel, string(fx.bytes(t))); n != 1 {
		t.Fatalf("emit on %s reached %d subscribers", fx.Channel, n)
	}
	if g := h.next(t); g.kind != KindEmitter || string(g.packet) != fx.Node {
		t.Fatalf("delivered %v %s", g.kind, g.packet)
	}

	// Unwanted: both channels go after the grace.
	h.b.RoomDemand(names[0], false)
	eventually(t, "room 0's channels unsubscribed", func() bool {
		return admin.numsub(userChannel(0)) == 0 && admin.numsub(EmitterRoomChannel(names[0])) == 0
	})
}

// TestShardedEmitterByPattern: in sharded mode on a cluster the emitter's
// channels stay classic: one PSUBSCRIBE of EmitterPattern, on the first
// master's link only, receives an emit PUBLISHed on any node (classic
// pub/sub crosses the cluster bus), while the rooms are SSUBSCRIBEd.
func TestShardedEmitterByPattern(t *testing.T) {
	c := redistest.StartCluster(t)
	h := startBridge(t, Config{Mode: ModeCluster, URL: c.URL, Subscribe: SubscribeSharded, Emitter: true})
	h.waitReady(t)
	h.b.RoomDemand("user-notifications:42", true)
	waitLive(t, h.b, "user-notifications:42", GlobalRoom)
	ctx := context.Background()
	patterns := 0
	for _, n := range c.Nodes {
		cl := redis.NewClient(&redis.Options{Addr: n.Addr, Protocol: 2})
		p, err := cl.PubSubNumPat(ctx).Result()
		_ = cl.Close()
		if err != nil {
			t.Fatal(err)
		}
		patterns += int(p)
	}
	if patterns != 1 {
		t.Fatalf("%d pattern subscriptions over the cluster, want 1 (%s)", patterns, EmitterPattern)
	}
	var fx emitterFixture
	for _, f := range loadEmitterFixtures(t) {
		if f.Name == "to user" {
			fx = f
		}
	}
	for _, n := range c.Nodes {
		n.Publish(t, fx.Channel, string(fx.bytes(t)))
		if g := h.next(t); g.kind != KindEmitter || string(g.packet) != fx.Node {
			t.Fatalf("emit on %s: delivered %v %s", n.Addr, g.kind, g.packet)
		}
	}
	stopPromptly(t, h)
}
