# syntax=docker/dockerfile:1
# Build: docker build -t cad-sidecar --build-arg VERSION=$(git describe --always) .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/cad-sidecar ./cmd/cad-sidecar \
 && mkdir -p /out/data

# distroless/static: no shell, no package manager; runs as uid 65532 (nonroot).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/cad-sidecar /usr/local/bin/cad-sidecar
COPY --from=build --chown=65532:65532 /out/data /data
ENV CAD_SIDECAR_CONFIG=/etc/cad-sidecar/config.yaml \
    CAD_SIDECAR_DATA_DIR=/data
USER 65532:65532
VOLUME ["/data"]
# 8080: webhooks from Assist (server.listen); 9090: health, readiness, metrics (admin.listen)
EXPOSE 8080 9090
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/cad-sidecar", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/cad-sidecar"]
CMD ["run"]
