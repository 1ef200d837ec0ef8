# syntax=docker/dockerfile:1
# trustpipe: one static binary (run, migrate, replay, gen, demo, report).
#
#   docker build -t trustpipe .
#   docker run --rm trustpipe help
#
# Build stage: module download is its own layer, so code changes do not
# re-download dependencies.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/trustpipe ./cmd/trustpipe

# Runtime stage: no shell, no package manager, non-root.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/trustpipe /usr/local/bin/trustpipe
USER nonroot:nonroot
# /metrics, /healthz, /readyz (TRUSTPIPE_HTTP_ADDR, default :9464)
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/trustpipe"]
CMD ["run"]
