# syntax=docker/dockerfile:1
# KubeMCP operator image. The runtime is the current Node.js LTS; CI smoke-tests the same major.
#
# The final image is FROM scratch, distroless in the strict sense: the Node.js binary (stripped of
# its symbol tables), the shared libraries `ldd` says it loads, the CA bundle, passwd/group with the
# non-root user, and the Debian package records of those libraries under /var/lib/dpkg/status.d so
# image scanners report their versions. No shell, no package manager, no npm. Sizes and the choice
# against a slim or distroless Node base: docs/image.md.
#
# The base the build stages start from is pinned by digest (the tag can be rebuilt). Where no
# registry is reachable, `npm run image` builds an equivalent base locally and passes it as
# --build-arg NODE_IMAGE=….
ARG NODE_IMAGE=node:26.10.0-trixie-slim@sha256:ec7758ee051e457b468b32bde57b0879010b325bb9862718e9615225ce4aaae1

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only, without what nothing loads at run time: type declarations and
# source maps (licence files stay).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force \
 && find node_modules -type f \( -name '*.d.ts' -o -name '*.d.cts' -o -name '*.d.mts' \
      -o -name '*.d.ts.map' -o -name '*.js.map' -o -name '*.cjs.map' -o -name '*.mjs.map' \) -delete

FROM ${NODE_IMAGE} AS runtime
# binutils (strip) is used in this stage only; its version does not reach the image.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends binutils \
 && rm -rf /var/lib/apt/lists/*
COPY scripts/image-rootfs.sh /usr/local/sbin/image-rootfs
# --build-arg KEEP_NODE_SYMBOLS=1 keeps node's symbol tables (for perf or a debugger; +32 MiB).
ARG KEEP_NODE_SYMBOLS=
RUN /usr/local/sbin/image-rootfs /rootfs

FROM scratch
COPY --from=runtime /rootfs/ /
ENV PATH=/usr/local/bin NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
USER 65532:65532
EXPOSE 8080 8081
# node is PID 1: kubemcp handles SIGTERM/SIGINT itself (drains, releases its Lease, exits).
ENTRYPOINT ["/usr/local/bin/node", "dist/cli/main.js"]
CMD ["serve"]
