# The image `fleetbench k8s render --image` refers to: the repository with its dependencies, run
# as uid 1000 (the node image's `node` user) on a read-only root filesystem (tsx and the live
# bundles write only under /tmp, an emptyDir in the rendered pods). Not built on the development
# machine (no Docker daemon there).
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts=false && npm cache clean --force
COPY bin ./bin
COPY src ./src
COPY protocols ./protocols
COPY bench/scenarios ./bench/scenarios
COPY tsconfig.json ./
USER 1000
CMD ["node", "bin/fleetbench.mjs", "--help"]
