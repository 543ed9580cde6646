# syntax=docker/dockerfile:1
# hubserve's images, from one file (docs/deploy.md):
#   docker build -t hubserve .                                  CPU (Debian slim: onnxruntime-node needs glibc)
#   docker build --build-arg VARIANT=cuda -t hubserve:cuda .    NVIDIA GPUs (CUDA 12, cuDNN 9)
#   docker build --target lambda -t hubserve:lambda .           AWS Lambda (deploy/lambda/template.yaml)
# Models are baked in with --build-arg MODELS=sentiment=Xenova/distilbert-base-uncased-finetuned-sst-2-english
# (comma-separated, as HUBSERVE_MODELS) and --build-arg DTYPE=q8; the image then serves them offline.
# Private or gated models: --secret id=hf_token,env=HF_TOKEN (a build secret, never in a layer).

ARG VARIANT=cpu
ARG NODE_IMAGE=node:20-bookworm-slim
ARG CUDA_IMAGE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu22.04
ARG LAMBDA_IMAGE=public.ecr.aws/lambda/nodejs:20

# Compiled server and production dependencies, installed as the README does: with npm 11 (the node
# image bundles npm 10, which ignores package.json's allowScripts and would run onnxruntime-node's
# download of CUDA libraries the CPU build does not need).
FROM ${NODE_IMAGE} AS build-cpu
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm install -g npm@11 --no-audit --no-fund && npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# The same, plus onnxruntime-node's CUDA 12 execution provider, from its install script run directly
# (the README's GPU command).
FROM build-cpu AS build-cuda
RUN ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js

FROM build-${VARIANT} AS app

# Models baked with `hubserve pull` into the Hugging Face cache, and the config that serves them.
FROM build-cpu AS models
ARG MODELS=""
ARG DTYPE=fp32
ENV HF_HOME=/var/cache/hubserve
COPY bin ./bin
COPY docker/bake.sh ./docker/
RUN ln -s /app/bin/hubserve.js /usr/local/bin/hubserve && mkdir -p "$HF_HOME"
RUN --mount=type=secret,id=hf_token,env=HF_TOKEN sh docker/bake.sh /etc/hubserve/hubserve.yaml

# AWS Lambda: the handler of src/serverless, the models read-only from the image, offline.
FROM ${LAMBDA_IMAGE} AS lambda
ENV NODE_ENV=production \
    HF_HOME=/opt/hubserve/cache \
    HF_HUB_OFFLINE=1 \
    HUBSERVE_CONFIG=/etc/hubserve/hubserve.yaml
COPY --from=app /app/node_modules ./node_modules
COPY --from=app /app/dist ./dist
COPY package.json ./
COPY public ./public
COPY --from=models /var/cache/hubserve /opt/hubserve/cache
COPY --from=models /etc/hubserve /etc/hubserve
CMD ["dist/serverless/lambda.handler"]

FROM ${NODE_IMAGE} AS base-cpu

# Node.js on NVIDIA's CUDA runtime, and a user with the uid of the node image's.
FROM ${CUDA_IMAGE} AS base-cuda
COPY --from=build-cpu /usr/local/bin/node /usr/local/bin/node
RUN useradd --uid 1000 --user-group --create-home hubserve

# The server (the default target). Non-root, listening on 8080 on every interface: API keys
# (HUBSERVE_API_KEYS) are required to start, or HUBSERVE_INSECURE=1 on a private network.
FROM base-${VARIANT} AS runtime
ARG MODELS=""
ENV NODE_ENV=production \
    HF_HOME=/var/cache/hubserve \
    HF_HUB_OFFLINE=${MODELS:+1} \
    HUBSERVE_CONFIG=${MODELS:+/etc/hubserve/hubserve.yaml} \
    HUBSERVE_HOST=0.0.0.0 \
    HUBSERVE_PORT=8080
WORKDIR /app
COPY --from=app /app/node_modules ./node_modules
COPY --from=app /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY public ./public
COPY --from=models /etc/hubserve /etc/hubserve
# The cache is the user's: a volume mounted there (compose, Kubernetes) can be filled at run time.
COPY --from=models --chown=1000:1000 /var/cache/hubserve /var/cache/hubserve
RUN ln -s /app/bin/hubserve.js /usr/local/bin/hubserve
USER 1000:1000
EXPOSE 8080
# Ready, not only alive: models loaded and warm (a model that failed to load shows as unhealthy).
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
    CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.HUBSERVE_PORT}/ready`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["hubserve"]
CMD ["serve"]
