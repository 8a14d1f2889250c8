# syntax=docker/dockerfile:1
#
# notify-wss: a static binary on distroless, running as a non-root user.
#
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) -t notify-wss .
#   docker run -p 8080:8080 -e REDIS_URL=redis://redis:6379 -e JWT_SECRET=… notify-wss
#
# See docs/deployment.md (file-descriptor limits and kernel tuning for many
# connections apply to the host and to `docker run --ulimit`).

FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so that a source change does not download them again.
# go.mod replaces gnet with the patched copy in third_party/gnet.
COPY go.mod go.sum ./
COPY third_party/ third_party/
RUN go mod download
COPY . .
ARG VERSION=dev
# The same build as `make build` (deploy_test.go checks that they agree).
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/notify-wss ./cmd/notify-wss

# Static binary, CA certificates (for rediss://), /etc/passwd with the
# nonroot user (uid 65532), no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/notify-wss /usr/local/bin/notify-wss
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080
USER nonroot:nonroot
EXPOSE 8080
# The binary asks its own /ready: unhealthy while Redis is unreachable.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/notify-wss", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/notify-wss"]
