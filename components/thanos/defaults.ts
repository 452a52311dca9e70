/**
 * One table of defaults per Thanos component and the sidecar: resources, local disk, probes, ports and stop time.
 * Both platforms read it (Kubernetes containers, ECS container definitions), so they cannot drift apart.
 */
import { ProcessDefaults, withMemory } from "../process";
import { parseMiB } from "../units";

/** Thanos' own default ports: gRPC (StoreAPI) and HTTP (metrics, probes). */
export const thanosPorts = { grpc: 10901, http: 10902 } as const;

/**
 * How often the store gateway lists the bucket for new blocks: a flushed head is visible through Query within about
 * one scrape interval of the restart. One LIST (and the new blocks' meta.json) per interval.
 */
export const storeSyncInterval = "30s";

/** Query serves its HTTP API on Prometheus' port, so clients (Grafana) address both alike. */
export const queryHttpPort = 9090;

/** The tenants' history front (components/thanos/tenancy.ts) listens next to Prometheus (9090) in the instance's pod or task. */
const historyFrontPort = 9091;

const ready = { path: "/-/ready", periodSeconds: 10, failureThreshold: 6, timeoutSeconds: 5 };
const healthy = { path: "/-/healthy", periodSeconds: 30, failureThreshold: 6, timeoutSeconds: 5 };

export type ThanosComponentName = "sidecar" | "store" | "query" | "compactor";

export const thanosDefaults: Readonly<Record<ThanosComponentName, ProcessDefaults>> = {
    sidecar: {
        cpu: "50m",
        memory: { requestMiB: 128, limitMiB: 512 },
        httpPort: thanosPorts.http,
        grpcPort: thanosPorts.grpc,
        readiness: ready,
        liveness: { ...healthy, periodSeconds: 15 },
        startSeconds: 30,
        stopSeconds: 60,
    },
    store: {
        cpu: "250m",
        // The stack's thanos.store.memory replaces both figures.
        memory: { requestMiB: 1024, limitMiB: 1024 },
        // Index headers and caches; on ECS the task storage holds the image too (Fargate: at least 21 GiB).
        diskGiB: 30,
        httpPort: thanosPorts.http,
        grpcPort: thanosPorts.grpc,
        readiness: ready,
        liveness: healthy,
        startSeconds: 60,
        stopSeconds: 120,
    },
    query: {
        cpu: "250m",
        memory: { requestMiB: 512, limitMiB: 512 },
        httpPort: queryHttpPort,
        grpcPort: thanosPorts.grpc,
        readiness: ready,
        liveness: healthy,
        startSeconds: 60,
        stopSeconds: 120,
    },
    compactor: {
        cpu: "250m",
        // The stack's thanos.compactor.memory replaces both figures.
        memory: { requestMiB: 1024, limitMiB: 1024 },
        // Twice the largest instance's 14-day block (sources and result): 128 GiB for an xlarge (docs/plans.md).
        diskGiB: 150,
        httpPort: thanosPorts.http,
        readiness: ready,
        liveness: healthy,
        startSeconds: 60,
        stopSeconds: 120,
    },
};

/** Caddy in front of the tenants' Query: a reverse proxy with cached bcrypt checks, ~20 MB resident. */
export const historyFrontDefaults: ProcessDefaults = {
    cpu: "20m",
    memory: { requestMiB: 48, limitMiB: 128 },
    httpPort: historyFrontPort,
    readiness: { ...ready, path: "/-/healthy" },
    liveness: { ...healthy, periodSeconds: 15 },
    startSeconds: 15,
    // Finishes in-flight queries; the tenants' Query answers within its own 2m timeout.
    stopSeconds: 30,
};

/** The memory the stack sets for store and compactor: thanos.store.memory, thanos.compactor.memory. */
interface ThanosMemory {
    readonly store: { readonly memory: string };
    readonly compactor: { readonly memory: string };
}

/** The table with the memory the stack sets for store and compactor. */
export function thanosProcesses(thanos: ThanosMemory): Record<"store" | "query" | "compactor", ProcessDefaults> {
    return {
        store: withMemory(thanosDefaults.store, parseMiB(thanos.store.memory)!),
        query: thanosDefaults.query,
        compactor: withMemory(thanosDefaults.compactor, parseMiB(thanos.compactor.memory)!),
    };
}
