// Package rooms holds room membership for one event loop: dense connection
// slots and, per room, the set of slots that are members.
//
// A Set stores up to smallCap members inline (the common case: a user's own
// room has one or two sockets) and switches to a bitset over slot numbers once
// it grows past that, so a room of 19,000 members costs 19,000 bits and a
// room of one costs no heap at all beyond the Set itself.
//
// Nothing in this package is safe for concurrent use: each event loop owns
// its own Index and Slots and touches them only from that loop.
package rooms
