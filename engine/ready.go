package engine

import "strconv"

// notReady returns why the server should not get traffic, or "".
func (s *Server) notReady() string {
	if s.draining.Load() {
		return "draining"
	}
	if s.cfg.Ready != nil {
		return s.cfg.Ready()
	}
	return ""
}

// jsonObject renders a flat object of string pairs.
func jsonObject(kv ...string) []byte {
	b := []byte{'{'}
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, kv[i])
		b = append(b, ':')
		b = strconv.AppendQuote(b, kv[i+1])
	}
	return append(b, '}')
}

// appendInt appends n in decimal.
func appendInt(dst []byte, n int) []byte { return strconv.AppendInt(dst, int64(n), 10) }
