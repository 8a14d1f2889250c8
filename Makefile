# notify-wss — the two commands a newcomer needs:
#   make run    build and serve (development mode: embedded broker, printed token)
#   make test   install what the tests need, then run every test with -race

GO        ?= go
BIN       := bin/notify-wss
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
SIOCLIENT := internal/sioclient
PREFIX    ?= /usr/local
DESTDIR   ?=
SYSCONFDIR ?= /etc
UNITDIR   ?= $(PREFIX)/lib/systemd/system
SYSCTLDIR ?= $(PREFIX)/lib/sysctl.d

.PHONY: all build run test check deps deps-redis deps-node deps-browser fuzz bench bench-quick install clean

all: build

# The exact build the Dockerfile runs: a static binary.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/notify-wss

run: build
	./$(BIN)

test: deps check
	$(GO) test -race -count=1 -timeout 8m ./...

# Static checks: formatting, vet and staticcheck (pinned in its own module,
# internal/tools, so its dependencies stay out of the server's build).
check:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool -modfile=internal/tools/go.mod staticcheck ./...

# Everything the tests talk to for real: redis-server, socket.io-client from
# npm (pinned by package-lock.json), and Chromium for the browser test.
deps: deps-redis deps-node deps-browser

deps-redis:
	@command -v redis-server >/dev/null 2>&1 || $(MAKE) --no-print-directory apt PKGS=redis-server

deps-node:
	@if [ ! -d $(SIOCLIENT)/node_modules ] || [ $(SIOCLIENT)/package-lock.json -nt $(SIOCLIENT)/node_modules/.package-lock.json ]; then \
		npm ci --prefix $(SIOCLIENT) --no-audit --no-fund --loglevel=error; \
	fi

deps-browser:
	@command -v chromium >/dev/null 2>&1 || $(MAKE) --no-print-directory apt PKGS=chromium

apt:
	@if [ "$$(id -u)" != 0 ]; then echo "missing $(PKGS): install it (apt-get install $(PKGS)) or run as root"; exit 1; fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(PKGS) >/dev/null

# A short run of every fuzz target (FUZZTIME each).
FUZZTIME ?= 10s
fuzz:
	@for pkg in ./eio ./engine ./internal/http1 ./bridge; do \
		for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

# The benchmark suite (bench/README.md): notify-wss, the Node.js socket.io
# reference and a bare gnet floor, interleaved; rewrites BENCHMARKS.md.
bench:
	$(GO) run ./bench/cmd/benchrun

bench-quick:
	$(GO) run ./bench/cmd/benchrun -quick

# Binary, systemd unit and sysctl drop-in under PREFIX (systemd also reads
# units and sysctl.d under /usr/local/lib); the settings file under
# SYSCONFDIR, never overwritten. Then: edit /etc/notify-wss/env;
# sysctl --system; systemctl daemon-reload; systemctl enable --now notify-wss.
install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/notify-wss
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCTLDIR)
	sed 's|^ExecStart=/usr/local/bin/notify-wss$$|ExecStart=$(PREFIX)/bin/notify-wss|' deploy/notify-wss.service >$(DESTDIR)$(UNITDIR)/notify-wss.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/notify-wss.service
	install -m 0644 deploy/sysctl.d/60-notify-wss.conf $(DESTDIR)$(SYSCTLDIR)/60-notify-wss.conf
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/notify-wss/env ]; then \
		echo "keeping $(DESTDIR)$(SYSCONFDIR)/notify-wss/env"; \
	else \
		install -D -m 0600 deploy/env.example $(DESTDIR)$(SYSCONFDIR)/notify-wss/env; \
	fi

clean:
	rm -rf bin
