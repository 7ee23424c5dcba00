# MinisPod control plane. Multi-stage: install (npm ci + prisma generate), compile, drop dev deps.
# Build: docker build -t <registry>/minispod-control-plane:<tag> .
# Runs `node --heap-growing-percent=20 --max-semi-space-size=8 --no-allocation-site-pretenuring --liftoff-only dist/index.js` as the non-root user 1000 (the image's `node` user), port 3000 —
# the same user, port and entry as k8s/deployment.yaml (test/deploy/manifests.test.ts checks).

FROM node:20-bookworm-slim AS build
WORKDIR /app
ENV NODE_ENV=development
# Dependencies first (cached while package*.json and the Prisma schema are unchanged);
# `npm ci` runs postinstall = prisma generate into src/generated.
# The workspace's package.json too: npm ci links the workspace package (a devDependency).
COPY package.json package-lock.json prisma.config.ts ./
COPY packages/kube-emulator/package.json ./packages/kube-emulator/
COPY prisma ./prisma
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The emulator's source gives tsc the types of local mode's dynamic import; dist/ gets none of it, and
# the prune drops the devDependency's link, so the runtime stage (which copies no packages/) has no emulator.
COPY packages ./packages
# The generated Prisma client (src/generated) is compiled into dist/ with the rest.
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim AS runtime
WORKDIR /app
# MALLOC_ARENA_MAX=2: glibc gives each of the process's threads (V8's compiler and GC helpers, libuv's
# pool) a malloc arena of its own, and keeps what they freed; two arenas in all held 10-19 MB less RSS
# under bench:api with the 10,000-instance fleet, at the same CPU per request (bench/RESULTS.md).
# MALLOC_MMAP_THRESHOLD_=131072: glibc's default threshold rises after a large block is freed (up to
# 32 MB), so later large buffers stay in the heap and the heap's top is kept; fixed at 128 KB they are
# mapped and unmapped. Peak RSS under bench:api's loops 184-212 MB (median 207) against 212-215 (median
# 213.5) in alternated runs, the same CPU per request (bench/RESULTS.md).
ENV NODE_ENV=production \
    PORT=3000 \
    DATA_DIR=/tmp/minispod \
    MALLOC_ARENA_MAX=2 \
    MALLOC_MMAP_THRESHOLD_=131072
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The migrator reads prisma/migrations next to dist/ (dist/platform/db/../../../prisma/migrations).
COPY --from=build /app/prisma/migrations ./prisma/migrations
USER 1000:1000
EXPOSE 3000
# --heap-growing-percent=20: V8 collects the old generation at 1.2x what the last collection left, so a
# health sweep's garbage does not pile up before a major GC: peak RSS with a 10,000-instance fleet
# 681 -> 440 MB at 50 %, then 187-211 -> 180-184 MB at 20 %, at the same throughput and sweep times
# (bench/RESULTS.md).
# --max-semi-space-size=8: a young generation of 2 x 8 MB instead of up to 2 x 16 MB: -20 to -30 MB RSS
# under load at the same CPU per request (4 MB cost ~20% more CPU on the list; bench/RESULTS.md).
# --no-allocation-site-pretenuring: V8 decides at start-up (module loading, the informers' first lists)
# to allocate some sites' objects straight in the old generation; requests then allocate there too,
# their young objects are held by those dead old ones until a major GC, and get promoted. Without it
# the instance list ran 3,192-3,690 instead of 2,750-2,953 req/s, p99 26-30 instead of 38-43 ms, no
# major GC during the read loads, and the same RSS (bench/RESULTS.md).
# --liftoff-only: WebAssembly (Prisma's query compiler) stays on V8's baseline compiler. Otherwise V8
# also compiles it with its optimising compiler, whose code and working memory stay resident. Prisma
# runs the compiler once per query shape, so it is not on any hot path: 20 MB less RSS at start, 9-16 MB
# less at the peak of bench:api's loops, the same CPU per provisioning (bench/RESULTS.md).
# The same argv as k8s/deployment.yaml and `npm run start:prod` (test/deploy/manifests.test.ts checks).
CMD ["node", "--heap-growing-percent=20", "--max-semi-space-size=8", "--no-allocation-site-pretenuring", "--liftoff-only", "dist/index.js"]
