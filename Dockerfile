# syntax=docker/dockerfile:1
# trustpipe: one static binary (run, migrate, replay, gen, demo, report).
#
#   docker build -t trustpipe .        (or `make image`, which stamps the version)
#   docker run --rm trustpipe help
#
# Build stage: module download is its own layer, so code changes do not
# re-download dependencies.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Version stamps for `trustpipe version` and trustpipe_build_info; the
# build context has no .git, so they come in as build arguments.
ARG VERSION=unknown
ARG COMMIT=unknown
ARG DATE=unknown
RUN CGO_ENABLED=0 go build -trimpath \
    -ldflags="-s -w -X main.version=${VERSION} -X main.commit=${COMMIT} -X main.date=${DATE}" \
    -o /out/trustpipe ./cmd/trustpipe

# Runtime stage: no shell, no package manager, non-root.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/trustpipe /usr/local/bin/trustpipe
USER nonroot:nonroot
# /metrics, /healthz, /readyz (TRUSTPIPE_HTTP_ADDR, default :9464)
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/trustpipe"]
CMD ["run"]
