package bridge

import (
	"slices"
	"strings"
)

// numSlots is the number of Redis Cluster hash slots.
const numSlots = 16384

// crc16Table is the CRC-16/XMODEM table (polynomial 0x1021, initial value
// 0), the checksum Redis Cluster hashes keys and shard channels with.
var crc16Table = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// crc16 returns the CRC-16/XMODEM checksum of s.
func crc16(s string) uint16 {
	var c uint16
	for i := 0; i < len(s); i++ {
		c = c<<8 ^ crc16Table[byte(c>>8)^s[i]]
	}
	return c
}

// Slot returns the Redis Cluster hash slot of a key or shard channel, as
// CLUSTER KEYSLOT computes it: CRC-16 of the key mod 16384, where only
// the hash tag is hashed when the key has one (the part between the first
// '{' and the next '}', if not empty). A sharded subscription or SPUBLISH
// of the channel goes to the master serving that slot.
func Slot(key string) int {
	if open := strings.IndexByte(key, '{'); open >= 0 {
		if n := strings.IndexByte(key[open+1:], '}'); n > 0 {
			key = key[open+1 : open+1+n]
		}
	}
	return int(crc16(key) & (numSlots - 1))
}

// slotGroups returns channels reordered so that the channels of each slot
// are adjacent, and the end of each slot's run: channels[0:ends[0]] share
// a slot, then channels[ends[0]:ends[1]], and so on. A Redis Cluster
// refuses a sharded (un)subscribe naming channels of several slots
// (CROSSSLOT), so a batch goes out as one command per run. channels is
// sorted in place; ends is appended to the given slice.
func slotGroups(channels []string, ends []int) []int {
	slices.SortStableFunc(channels, func(a, b string) int { return Slot(a) - Slot(b) })
	for i := range channels {
		if i == len(channels)-1 || Slot(channels[i+1]) != Slot(channels[i]) {
			ends = append(ends, i+1)
		}
	}
	return ends
}
