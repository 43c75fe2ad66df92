# syntax=docker/dockerfile:1
# One image per function, from the self-contained bundle `npm run build` writes to
# dist/<function>/ (index.cjs, main.cjs and its code cache, source maps, and for the enrichers
# the Kubernetes client's file; no node_modules). Build, e.g.:
#   npm ci && npm run build
#   docker build --build-arg FUNCTION=enrich-pod -t ghcr.io/kubeincident/enrich-pod:0.1.0 .
# Distroless: no shell or package manager to exploit, and the "nonroot" variant runs as UID
# 65532, which the Knative Services' securityContext (runAsNonRoot, runAsUser) expects.
# Pin the base by digest in CI (`@sha256:...`) for reproducible images.
# The code cache main.cjs starts from (lib/platform/runtime/bundle-entry.cjs) is checked against the Node
# that reads it: `npm run build` trained one with the build machine's Node, and this stage trains
# it again with the image's own, as the image's user, so that the image does not start from a
# cache its Node rejects (it would still start, compiling from source, and say so in its ready line).
FROM gcr.io/distroless/nodejs24-debian12:nonroot AS train
# Required: alert-ingest | k8s-event-ingest | enrich-pod | enrich-node | dispatch-slack | run-workflows.
ARG FUNCTION
WORKDIR /app
COPY --chown=65532:65532 dist/${FUNCTION}/ /app/
# Fails the build when FUNCTION is missing or not built: without it the COPY above would
# silently take all of dist/ and the image would start the wrong (or no) function.
COPY --chown=65532:65532 dist/${FUNCTION}/index.cjs /app/index.cjs
USER 65532:65532
# The training run (scripts/build.ts): the function starts with its defaults (no Redis, Slack or
# cluster; a sink that is never called), writes main.cjs.cache once ready, and exits.
ENV KUBEINCIDENT_CODE_CACHE=write PORT=0 HOST=127.0.0.1 K_SINK=http://127.0.0.1:9/
RUN ["/nodejs/bin/node", "/app/index.cjs"]

FROM gcr.io/distroless/nodejs24-debian12:nonroot
ARG FUNCTION
WORKDIR /app
# Owned by root, so the runtime user cannot rewrite its own code or cache; the Services also
# mount the root filesystem read-only.
COPY --from=train --chown=0:0 /app/ /app/

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
CMD ["/app/index.cjs"]
