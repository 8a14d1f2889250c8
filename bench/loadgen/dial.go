package loadgen

import (
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// sockaddr converts a numeric "ip:port" into a connect address.
func sockaddr(hostport string) (*unix.SockaddrInet4, error) {
	ap, err := netip.ParseAddrPort(hostport)
	if err != nil || !ap.Addr().Is4() {
		return nil, fmt.Errorf("loadgen: target %q is not an IPv4 ip:port", hostport)
	}
	return &unix.SockaddrInet4{Addr: ap.Addr().As4(), Port: int(ap.Port())}, nil
}

// dialNonblock creates a non-blocking TCP socket bound to src and starts a
// connect to dst. The connect normally completes later (EINPROGRESS); the
// caller watches for EPOLLOUT and then reads SO_ERROR.
func dialNonblock(src [4]byte, dst *unix.SockaddrInet4) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	// With IP_BIND_ADDRESS_NO_PORT the port is chosen by connect() per
	// 4-tuple instead of reserved by bind() per address, so one source
	// address can reach several server ports with ~28K connections each.
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: src}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("bind %d.%d.%d.%d: %w", src[0], src[1], src[2], src[3], err)
	}
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	if err := unix.Connect(fd, dst); err != nil && !errors.Is(err, unix.EINPROGRESS) {
		unix.Close(fd)
		return -1, fmt.Errorf("connect: %w", err)
	}
	return fd, nil
}

// closeReset closes fd with SO_LINGER 0, so the kernel sends RST and keeps no
// TIME_WAIT entry: the next scenario can reuse the same source ports at once.
func closeReset(fd int) {
	_ = unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
	unix.Close(fd)
}
