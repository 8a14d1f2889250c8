// Package bridge turns Redis pub/sub notifications into ready-to-write
// Socket.IO frames.
//
// # Channels and rooms
//
// The bridge PSUBSCRIBEs user:notifications:* and channel:notifications:*
// and SUBSCRIBEs notifications:all. RoomFor maps each channel to its room:
//
//	user:notifications:{userId}       → user-notifications:{userId}      (KindUser)
//	channel:notifications:{channelId} → channel-notifications:{channelId} (KindChannel)
//	notifications:all                 → global-notifications              (KindGlobal)
//
// Messages with an empty id are dropped (Stats.Dropped); payloads that are not
// valid JSON are logged with a 64-byte preview and dropped (Stats.Invalid)
// without disturbing the messages after them.
//
// That is the default, SubscribePattern. With SubscribeDynamic
// (Config.Subscribe) the bridge SUBSCRIBEs notifications:all and, instead of
// the patterns, each user's or channel's channel (ChannelFor) while its room
// has a member on this server: the engine reports a room's first member and
// its last one leaving (RoomDemand), and the channel is unsubscribed
// UnsubscribeGrace after that. Commands carry up to 500 channels and go out
// at most every 10 ms (demand.go). WhenSubscribed tells the application when
// a room's subscription is confirmed, so that it greets a client (and acks a
// join) only once every later notification will reach it. After a
// reconnect every wanted room is subscribed again, and Connected stays false
// until Redis confirmed them all.
//
// SubscribeSharded follows the rooms the same way with Redis 7 sharded
// pub/sub (SSUBSCRIBE, SUNSUBSCRIBE; publishers SPUBLISH), notifications:all
// being one more room, always wanted. On a cluster (sharded.go) the bridge
// holds one subscriber link per master, each with its own demand; a room
// goes to the link of its channel's slot (Slot), batches are split per
// slot, and rooms follow their slot when it moves to another master. The
// emitter's channels stay classic (PSUBSCRIBE EmitterPattern).
//
// # One frame per message
//
// Each valid message becomes one Message: a pooled buffer holding exactly one
// complete server WebSocket frame (FIN, text, unmasked; 2/4/10-byte header)
// whose payload is the Engine.IO+Socket.IO packet
//
//	42["notification",<payload>]
//
// with the payload embedded byte for byte, never re-encoded. The engine
// writes Frame() to every WebSocket member and Packet() (the same bytes
// without the header) to long-polling members, from as many event loops as it
// likes, and the reference count returns the buffer to the pool after the
// last loop is done:
//
//	deliver := func(m *bridge.Message) {
//		loops := shardsWithMembers(m.Room)
//		if len(loops) == 0 {
//			m.Release()
//			return
//		}
//		m.Retain(int32(len(loops) - 1)) // one reference per loop
//		for _, l := range loops {
//			l.enqueue(m) // the loop calls m.Release() after writing
//		}
//	}
//
// # Connection life cycle
//
// Run owns one goroutine that reads the subscription (go-redis PubSub,
// RESP2, one fresh PubSub per connection attempt) and calls Deliver in Redis
// order, plus a watcher goroutine per connection that PINGs it every
// HealthInterval, drops it when silent, and closes it when ctx ends (the
// connections of a session are recorded by a go-redis dial hook, in every
// mode, so that closing them unblocks go-redis' reads).
// Connected is true between the last (P)SUBSCRIBE confirmation and the first
// error on that connection. On error Run waits MinBackoff doubling to
// MaxBackoff (jittered into [d/2, d]; reset after a successful subscription)
// and subscribes again; Stats.Reconnects counts the re-established
// subscriptions. Messages published while disconnected are lost: Redis
// pub/sub does not queue.
//
// # Standalone, sentinel, cluster
//
// Config.Mode says how Config.URL reaches Redis, always in go-redis' own URL
// syntax and through go-redis' own clients (NewClient gives publishers the
// same):
//
//	ModeStandalone  redis://[:pw@]host:6379[/db]                     redis.Client
//	ModeSentinel    redis://[:pw@]s1:26379?master_name=M&addr=s2:26379 redis.FailoverClient
//	ModeCluster     redis://[:pw@]n1:7000?addr=n2:7001&addr=n3:7002    redis.ClusterClient
//
// In sentinel mode the subscription is on the master the sentinels name;
// when it dies the session fails, and the next one is dialled through the
// sentinels to whichever master they name by then. A master demoted while
// still up is left within masterCheckInterval (followMaster). In cluster
// mode the subscription is on a random node: classic PUBLISH is broadcast
// over the cluster bus, so one PSUBSCRIBE anywhere sees every channel.
//
// # The streams input
//
// With Config.Input = InputStreams the bridge reads Redis Streams instead of
// subscribing (streams.go). Publishers XADD {channel, payload} to the
// channel's partition, notifications:{p} with p = CRC-32 (IEEE) of the
// channel name mod Partitions (StreamKey, PublishStream), so a room's
// notifications stay in order in one stream. Every bridge reads every
// partition with XREAD BLOCK from the last id it read (no consumer group:
// fan-out), one XREAD over all partitions on a standalone or sentinel
// master, one blocking reader per partition in a cluster (each key is its
// own slot, and multi-slot commands are refused). After any error a
// reader's next session resumes from those ids, so an entry added
// meanwhile is read as long as it is still in the stream; Connected is
// true while every reader is positioned and reading. At the first start
// each partition begins at its last entry; with Config.Backfill it first
// hands over the entries of the last Backfill up to there with
// Position.Backfill set (recovery history: the Sequencer keeps them, nothing
// delivers them). Every few seconds each bridge trims the partitions it read
// from with XTRIM MINID ~ (StreamsConfig.Retention).
//
// StartEmbedded runs an in-process miniredis broker for dev mode.
package bridge
