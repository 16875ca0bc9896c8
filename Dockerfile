# syntax=docker/dockerfile:1
# Build stage: dev dependencies, TypeScript compile, then drop dev dependencies.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

# Run stage: production dependencies and the compiled broker only, as a non-root user.
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    BROKER_CONFIG=/etc/login-broker/broker.yaml \
    BROKER_HEALTH_URL=http://127.0.0.1:4000/healthz
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY providers ./providers
# The operator mounts the configuration here (see docker-compose.yml and config/broker.example.yaml).
VOLUME ["/etc/login-broker"]
USER node
EXPOSE 4000
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.BROKER_HEALTH_URL).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
CMD ["node", "dist/main.js"]
