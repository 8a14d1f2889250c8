package eio

import (
	"compress/flate"
	"errors"
	"io"
	"sync"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
)

// permessage-deflate (RFC 7692) without context takeover in either
// direction: every message is compressed, and inflated, on its own, so a
// compressed server frame is the same bytes for every connection and
// neither side keeps a compressor or an inflater per connection. The
// compressors and inflaters here are pooled.

// rsv1 is the "Per-Message Compressed" bit of a frame's first byte.
const rsv1 = 0x40

// DeflateLevel is the flate level AppendDeflatedFrame compresses with:
// BestSpeed, the cheapest, since a notification is compressed once per
// broadcast but on the delivery path; on JSON notifications a higher level
// saves a few percent more bytes for several times the CPU (BENCHMARKS.md).
const DeflateLevel = flate.BestSpeed

// deflateTail is the empty stored block a sync flush ends with; RFC 7692
// §7.2.1 strips it from a compressed message, §7.2.2 appends it back.
var deflateTail = [4]byte{0x00, 0x00, 0xff, 0xff}

// inflateSuffix is what Inflate reads after a message: deflateTail, then an
// empty final stored block, so that a message the sender ended with a sync
// flush (the usual) ends the stream cleanly, and a truncated one does not.
var inflateSuffix = [9]byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

var (
	// ErrInflateTooLarge is returned by Inflate when the message inflates
	// to more than the limit (close 1009).
	ErrInflateTooLarge = errors.New("eio: inflated message over the size limit")
	// ErrInflateData is returned by Inflate when the message is not valid
	// DEFLATE data (close 1007).
	ErrInflateData = errors.New("eio: invalid compressed message")
)

// sliceWriter appends to b: the destination of a pooled flate.Writer.
type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

type deflater struct {
	out sliceWriter
	fw  *flate.Writer
}

var deflaters = sync.Pool{New: func() any {
	d := new(deflater)
	d.fw, _ = flate.NewWriter(&d.out, DeflateLevel) // the level is valid: no error
	return d
}}

// AppendDeflatedFrame appends to dst a final, unmasked frame with opcode op
// (text or binary) and RSV1 set, whose payload is payload compressed as
// one permessage-deflate message without context takeover. ok is false,
// and dst is returned unchanged, when compressing does not make the frame
// smaller than the plain one: the caller then sends the plain frame, as
// RFC 7692 allows for any message. It does not allocate once dst has room
// and the pool is warm. Safe from any goroutine.
func AppendDeflatedFrame(dst []byte, op ws.OpCode, payload []byte) (_ []byte, ok bool) {
	start := len(dst)
	plain := FrameHeaderSize(len(payload)) + len(payload)
	// The compressed payload goes after room for the longest header; the
	// header is written, and the payload moved up to it, once its length
	// is known.
	d := deflaters.Get().(*deflater)
	d.out.b = append(dst, make([]byte, MaxServerHeaderSize)...)
	d.fw.Reset(&d.out)
	_, _ = d.fw.Write(payload) // a sliceWriter does not fail
	_ = d.fw.Flush()
	b := d.out.b
	d.out.b = nil
	deflaters.Put(d)

	body := b[start+MaxServerHeaderSize:]
	if len(body) >= len(deflateTail) && [4]byte(body[len(body)-4:]) == deflateTail {
		body = body[:len(body)-4]
	}
	n := len(body)
	hs := FrameHeaderSize(n)
	if hs+n >= plain {
		return b[:start], false
	}
	PutFrameHeader(b[start:], op, n)
	b[start] |= rsv1
	copy(b[start+hs:], body)
	return b[:start+hs+n], true
}

// flateSource feeds an inflater: a message, then inflateSuffix. It is an
// io.ByteReader, so flate reads it without a bufio.Reader of its own.
type flateSource struct {
	msg []byte
	pos int // in msg, then len(msg)+ in inflateSuffix
}

func (s *flateSource) ReadByte() (byte, error) {
	switch {
	case s.pos < len(s.msg):
		s.pos++
		return s.msg[s.pos-1], nil
	case s.pos < len(s.msg)+len(inflateSuffix):
		s.pos++
		return inflateSuffix[s.pos-1-len(s.msg)], nil
	}
	return 0, io.EOF
}

func (s *flateSource) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c, err := s.ReadByte()
		if err != nil {
			if n == 0 {
				return 0, err
			}
			break
		}
		p[n] = c
		n++
	}
	return n, nil
}

type inflater struct {
	src flateSource
	fr  io.ReadCloser
}

var inflaters = sync.Pool{New: func() any {
	f := new(inflater)
	f.fr = flate.NewReader(&f.src)
	return f
}}

// inflateChunk is how much Inflate grows dst by at a time.
const inflateChunk = 4 << 10

// Inflate appends to dst the permessage-deflate message msg (a compressed
// frame's payload, or the payloads of a compressed fragmented message
// joined, unmasked) inflated, and returns the extended slice. A message
// that inflates to more than limit bytes gives ErrInflateTooLarge, and
// data that is not DEFLATE ErrInflateData; neither panics, whatever msg
// holds. An empty msg is the empty message. Inflaters are pooled: there is no per-connection state, as the
// client agreed to client_no_context_takeover. Safe from any goroutine.
func Inflate(dst, msg []byte, limit int) ([]byte, error) {
	if len(msg) == 0 {
		return dst, nil // no DEFLATE block at all: read as the empty message
	}
	f := inflaters.Get().(*inflater)
	defer inflaters.Put(f)
	f.src = flateSource{msg: msg}
	if err := f.fr.(flate.Resetter).Reset(&f.src, nil); err != nil {
		return dst, ErrInflateData
	}
	start := len(dst)
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, make([]byte, inflateChunk)...)[:len(dst)]
		}
		room := min(cap(dst), start+limit+1) // one byte over the limit shows it is exceeded
		n, err := f.fr.Read(dst[len(dst):room])
		dst = dst[:len(dst)+n]
		switch {
		case len(dst)-start > limit:
			return dst[:start], ErrInflateTooLarge
		case err == io.EOF:
			return dst, nil
		case err != nil:
			return dst[:start], ErrInflateData
		}
	}
}

// DeflateExtension is the Sec-WebSocket-Extensions value a server answers
// an accepted permessage-deflate offer with: neither side keeps context
// between messages, so one compressed frame serves every connection and no
// connection holds a compressor or an inflater. (A server may include both
// parameters whether or not the client offered them, RFC 7692 §7.1.1.)
const DeflateExtension = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"

// AcceptDeflate reports whether the Sec-WebSocket-Extensions field values
// hold a permessage-deflate offer this server can accept with
// DeflateExtension. Offers are looked at in order and the first acceptable
// one wins (RFC 7692 §5); an offer is declined when its parameters are
// malformed, repeated or unknown, or when it asks for
// server_max_window_bits below 15: Go's compressor always uses the full
// 32 KiB window. Any client_max_window_bits is fine: the inflater reads
// every window size. A malformed field declines everything in it.
func AcceptDeflate(fields ...[]byte) bool {
	var opts [4]httphead.Option
	for _, f := range fields {
		list, ok := httphead.ParseOptions(f, opts[:0])
		if !ok {
			continue
		}
		for _, opt := range list {
			if string(opt.Name) != wsflate.ExtensionName {
				continue
			}
			var p wsflate.Parameters
			if err := p.Parse(opt); err != nil {
				continue
			}
			if p.ServerMaxWindowBits.Defined() && p.ServerMaxWindowBits < maxWindowBits {
				continue
			}
			return true
		}
	}
	return false
}

// maxWindowBits is the LZ77 window of Go's compressor: 2^15 bytes.
const maxWindowBits = 15
