# The broker's image (components/broker/deployment.ts runs it): Node 20, the pinned Pulumi CLI and the Kubernetes
# provider plugin, the compiled project. Build: docker build -t <registry>/prometheus-paas-broker:<version> .
# Pin the result by tag or digest in the stack's `broker.image` (never :latest).
FROM node:20.20.2-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json index.ts ./
COPY components ./components
COPY automation ./automation
COPY broker ./broker
RUN npx tsc -p . --noEmit false --sourceMap false --outDir /out \
    && cp components/versions.json components/envsubst.awk /out/components/ \
    && cp components/prometheus/flush.sh /out/components/prometheus/ \
    && npm prune --omit=dev

FROM node:20.20.2-bookworm-slim
ARG PULUMI_VERSION=3.248.0
ARG KUBERNETES_PLUGIN_VERSION=4.24.1
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && curl -fsSL "https://get.pulumi.com/releases/sdk/pulumi-v${PULUMI_VERSION}-linux-x64.tar.gz" | tar -xz -C /opt \
    && mkdir -p /tmp/plugin \
    && curl -fsSL "https://api.pulumi.com/releases/plugins/pulumi-resource-kubernetes-v${KUBERNETES_PLUGIN_VERSION}-linux-amd64.tar.gz" | tar -xz -C /tmp/plugin \
    && PULUMI_HOME=/opt/pulumi-home /opt/pulumi/pulumi plugin install resource kubernetes "${KUBERNETES_PLUGIN_VERSION}" --file /tmp/plugin/pulumi-resource-kubernetes \
    && rm -rf /tmp/plugin && apt-get purge -y curl && rm -rf /var/lib/apt/lists/*
# The broker drives the user's toolchain (automation/toolchain.ts): the `pulumi` on PATH, of at least 3.188.0, with
# PULUMI_HOME as set here. The image bakes the plugin in and turns downloads off (its root filesystem is read-only);
# the Deployment mounts a writable emptyDir over PULUMI_HOME's workspaces/.
ENV PATH="/opt/pulumi:/app/node_modules/@pulumi/pulumi:${PATH}" \
    PULUMI_HOME=/opt/pulumi-home \
    PULUMI_SKIP_UPDATE_CHECK=true \
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true \
    NODE_ENV=production
WORKDIR /app
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /out ./
COPY package.json ./
USER 65534:65534
EXPOSE 8080
ENTRYPOINT ["node", "broker/cli.js"]
