# syntax=docker/dockerfile:1
# One image per function, from the self-contained bundle `npm run build` writes to
# dist/<function>/ (index.mjs plus its lazily loaded chunks and source maps; no node_modules).
# Build, e.g.:
#   npm ci && npm run build
#   docker build --build-arg FUNCTION=enrich-pod -t ghcr.io/kubeincident/enrich-pod:0.1.0 .
# Distroless: no shell or package manager to exploit, and the "nonroot" variant runs as UID
# 65532, which the Knative Services' securityContext (runAsNonRoot, runAsUser) expects.
# Pin the base by digest in CI (`@sha256:...`) for reproducible images.
FROM gcr.io/distroless/nodejs24-debian12:nonroot

# Required: alert-ingest | k8s-event-ingest | enrich-pod | enrich-node | dispatch-slack.
ARG FUNCTION

WORKDIR /app
# The whole directory: the bundle is split into chunks that index.mjs imports on demand.
# Owned by root (mode from the build context), so the runtime user cannot rewrite its own
# code; the Services also mount the root filesystem read-only.
COPY --chown=0:0 dist/${FUNCTION}/ /app/
# Fails the build when FUNCTION is missing or not built: without it the COPY above would
# silently take all of dist/ and the image would start the wrong (or no) function.
COPY --chown=0:0 dist/${FUNCTION}/index.mjs /app/index.mjs

# The heap sized for a 256Mi container, and malloc kept from holding on to freed memory (the
# Knative Services set these too, k8s-event-ingest with a smaller young generation; see there
# for why).
ENV NODE_ENV=production \
    PORT=8080 \
    FUNCTION_NAME=${FUNCTION} \
    NODE_OPTIONS="--max-old-space-size=96 --max-semi-space-size=4" \
    GLIBC_TUNABLES="glibc.malloc.arena_max=2:glibc.malloc.trim_threshold=1048576"
EXPOSE 8080
USER 65532:65532

# The distroless entrypoint is the node binary itself, so CMD is just the script.
CMD ["/app/index.mjs"]
