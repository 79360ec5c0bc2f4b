# syntax=docker/dockerfile:1
# cad-sidecar image: a static binary on an empty (scratch) base, non-root, data in /data.
#
#   docker build -t cad-sidecar --build-arg VERSION=$(git describe --always --dirty) .
#   (or: SIDECAR_VERSION=$(git describe --always --dirty) docker compose build)
#
# Base image. Only the build stage pulls one (the final stage is FROM scratch: nothing
# to pin, nothing to patch), and it is named in full — registry/namespace/name:tag — so
# that no registry search order (podman's unqualified-search-registries) picks it.
#
# Pin it by digest for reproducible builds: set BUILD_IMAGE to "name:tag@sha256:<digest>";
# the tag says what it is, the digest what is used (a tag moves, a digest does not). The
# digest is the registry's digest of the tag's manifest list (all platforms), as printed by
#   docker buildx imagetools inspect docker.io/library/golang:1.26.8-bookworm   ("Digest:")
#   skopeo inspect --format '{{.Digest}}' docker://docker.io/library/golang:1.26.8-bookworm
#   crane digest docker.io/library/golang:1.26.8-bookworm
# scripts/pin-base-image does this and rewrites the ARG line below; run it when go.mod's
# Go version changes or Debian publishes a fix, and commit the change. The line carries
# the tag alone only where no registry could be reached to resolve it (the build then
# uses what the tag points at that day).
ARG BUILD_IMAGE=docker.io/library/golang:1.26.8-bookworm

FROM ${BUILD_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# /out is the final image's content besides the binary: an empty /data for the volume,
# the CA roots for HTTPS to the CAD and Assist, and passwd/group naming uid 65532.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/cad-sidecar ./cmd/cad-sidecar \
 && mkdir -p /out/data /out/etc/ssl/certs \
 && cp /etc/ssl/certs/ca-certificates.crt /out/etc/ssl/certs/ \
 && printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/data:/sbin/nologin\n' > /out/etc/passwd \
 && printf 'root:x:0:\nnonroot:x:65532:\n' > /out/etc/group

# scratch: no shell, no package manager; the sidecar runs as uid/gid 65532.
FROM scratch
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="cad-sidecar" \
      org.opencontainers.image.description="Links CAD incidents to Assist calls and writes Assist's notes into the CAD" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="https://github.com/cad-sidecar/cad-sidecar" \
      org.opencontainers.image.documentation="https://github.com/cad-sidecar/cad-sidecar#install" \
      org.opencontainers.image.base.name="scratch"
COPY --from=build /out/etc/ /etc/
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
