# syntax=docker/dockerfile:1
# KubeMCP operator image: multi-stage, production dependencies only, non-root, works with a
# read-only root filesystem. The runtime is the current Node.js LTS; CI smoke-tests the same major.
# The base is pinned by digest (the tag can be rebuilt). Where no registry is reachable,
# `npm run image` builds an equivalent base locally and passes it as --build-arg NODE_IMAGE=….
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
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE}
# npm and corepack are not needed at run time; removing them shrinks the image and its attack surface.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
USER 65532:65532
EXPOSE 8080 8081
# node is PID 1: kubemcp handles SIGTERM/SIGINT itself (drains, releases its Lease, exits).
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["serve"]
