// Copyright (c) 2021 The Gnet Authors. All rights reserved.
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package gnet

import (
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"github.com/panjf2000/gnet/v2/pkg/errors"
	"github.com/panjf2000/gnet/v2/pkg/netpoll"
	"github.com/panjf2000/gnet/v2/pkg/queue"
	"github.com/panjf2000/gnet/v2/pkg/socket"
)

func (el *eventloop) accept0(fd int, _ netpoll.IOEvent, _ netpoll.IOFlags) error {
	for {
		nfd, sa, err := socket.Accept(fd)
		switch err {
		case nil:
		case unix.EAGAIN: // the Accept queue has been drained out, we can return now
			return nil
		case unix.EINTR:
			continue
		default:
			switch delay := el.acceptErrorDelay(fd, err); {
			case delay == 0:
				continue
			case delay > 0:
				return el.pauseAccepting(fd, delay)
			}
			el.getLogger().Errorf("Accept() failed due to error: %v", err)
			return errors.ErrAcceptSocket
		}

		remoteAddr := socket.SockaddrToTCPOrUnixAddr(sa)
		network := el.listeners[fd].network
		if opts := el.engine.opts; opts.TCPKeepAlive > 0 && network == "tcp" &&
			(runtime.GOOS != "linux" && runtime.GOOS != "freebsd" && runtime.GOOS != "dragonfly") {
			// TCP keepalive options are not inherited from the listening socket
			// on platforms other than Linux, FreeBSD, or DragonFlyBSD.
			// We therefore need to set them on the accepted socket explicitly.
			//
			// Check out https://github.com/nginx/nginx/pull/337 for details.
			if err = setKeepAlive(
				nfd,
				true,
				opts.TCPKeepAlive,
				opts.TCPKeepInterval,
				opts.TCPKeepCount); err != nil {
				el.getLogger().Errorf("failed to set TCP keepalive on fd=%d: %v", fd, err)
			}
		}

		el := el.engine.eventLoops.next(remoteAddr)
		c := newStreamConn(network, nfd, el, sa, el.listeners[fd].addr, remoteAddr)
		err = el.poller.Trigger(queue.HighPriority, el.register, c)
		if err != nil {
			el.getLogger().Errorf("failed to enqueue the accepted socket fd=%d to poller: %v", c.fd, err)
			_ = unix.Close(nfd)
			c.release()
		}
	}
}

func (el *eventloop) accept(fd int, ev netpoll.IOEvent, flags netpoll.IOFlags) error {
	network := el.listeners[fd].network
	if network == "udp" {
		return el.readUDP(fd, ev, flags)
	}

	nfd, sa, err := socket.Accept(fd)
	switch err {
	case nil:
	case unix.EINTR, unix.EAGAIN:
		return nil
	default:
		switch delay := el.acceptErrorDelay(fd, err); {
		case delay == 0:
			return nil // the listener is level-triggered: the next one comes with the next poll
		case delay > 0:
			return el.pauseAccepting(fd, delay)
		}
		el.getLogger().Errorf("Accept() failed due to error: %v", err)
		return errors.ErrAcceptSocket
	}

	remoteAddr := socket.SockaddrToTCPOrUnixAddr(sa)
	if opts := el.engine.opts; opts.TCPKeepAlive > 0 && el.listeners[fd].network == "tcp" &&
		(runtime.GOOS != "linux" && runtime.GOOS != "freebsd" && runtime.GOOS != "dragonfly") {
		// TCP keepalive options are not inherited from the listening socket
		// on platforms other than Linux, FreeBSD, or DragonFlyBSD.
		// We therefore need to set them on the accepted socket explicitly.
		//
		// Check out https://github.com/nginx/nginx/pull/337 for details.
		if err = setKeepAlive(
			nfd,
			true,
			opts.TCPKeepAlive,
			opts.TCPKeepInterval,
			opts.TCPKeepCount); err != nil {
			el.getLogger().Errorf("failed to set TCP keepalive on fd=%d: %v", fd, err)
		}
	}

	c := newStreamConn(network, nfd, el, sa, el.listeners[fd].addr, remoteAddr)
	return el.register0(c)
}

// acceptErrorDelay decides what follows a failed accept(2) on the listener fd
// (see Options.AcceptErrorHandler): 0 accept again now, more than 0 pause
// accepting on fd that long, less than 0 shut the engine down.
func (el *eventloop) acceptErrorDelay(fd int, err error) time.Duration {
	if h := el.engine.opts.AcceptErrorHandler; h != nil {
		return h(fd, err)
	}
	if err == unix.ECONNRESET || err == unix.ECONNABORTED {
		// ECONNRESET or ECONNABORTED could indicate that a socket
		// in the Accept queue was closed before we Accept()ed it.
		// It's a silly error, let's retry it.
		return 0
	}
	return -1
}

// pauseAccepting stops polling the listener fd for delay, then polls it again
// from a task on this event-loop. Polling it again reports it at once if
// connections are still queued, whether it is edge-triggered (the main reactor)
// or level-triggered (ReusePort).
func (el *eventloop) pauseAccepting(fd int, delay time.Duration) error {
	ln := el.listeners[fd]
	if err := el.poller.Delete(fd); err != nil {
		el.getLogger().Errorf("failed to stop polling listener fd=%d to pause accepting: %v", fd, err)
		return errors.ErrAcceptSocket
	}
	time.AfterFunc(delay, func() {
		if el.engine.concurrency.ctx.Err() != nil {
			return // shutting down
		}
		if err := el.poller.Trigger(queue.HighPriority, el.resumeAccepting, ln); err != nil {
			el.getLogger().Errorf("failed to enqueue resuming accepting on listener fd=%d: %v", fd, err)
			el.engine.shutdown(err)
		}
	})
	return nil
}

// resumeAccepting polls the listener again after pauseAccepting.
func (el *eventloop) resumeAccepting(a any) error {
	ln := a.(*listener)
	if el.engine.concurrency.ctx.Err() != nil {
		return nil // shutting down: the listener may be closed already
	}
	edgeTriggered := el == el.engine.ingress // as registered by activateReactors and runEventLoops
	if err := el.poller.AddRead(ln.pollAttachment, edgeTriggered); err != nil {
		el.getLogger().Errorf("failed to resume polling listener fd=%d: %v", ln.fd, err)
		el.engine.shutdown(err)
	}
	return nil
}
