/**
 * The plan catalog. Capacity figures are measured: `npm run bench:plans` runs the real Prometheus with each plan's
 * flags at its advertised load on a real tmpfs (docs/plans.md). Process memory keeps the measured peak RSS at
 * about half of it (the 80 % margin plus room for queries), the tmpfs keeps the TSDB projected to the retention
 * within the retention size; test/unit/plans-margin.spec.ts holds every plan to the measurements file.
 */
export interface Plan {
    readonly name: string;
    readonly description: string;
    /** CPU request of the Prometheus container (Kubernetes quantity); the limit is twice it. */
    readonly cpu: string;
    /** Memory for the Prometheus process itself, in MiB (head block, queries, WAL replay). */
    readonly memoryMiB: number;
    /** Size of the in-memory TSDB volume, in MiB; it counts against the container's memory limit. */
    readonly tmpfsMiB: number;
    /** Local retention by time (Prometheus duration); Thanos keeps the long-term copy. */
    readonly retentionTime: string;
    /** Local retention by size, in MiB: must leave headroom below tmpfsMiB for WAL and compaction. */
    readonly retentionSizeMiB: number;
    readonly scrapeInterval: string;
    readonly sampleLimit: number;
    readonly labelLimit: number;
    readonly targetLimit: number;
}

/** Retention size may use at most this share of the tmpfs volume; the rest is WAL, head chunks, compaction. */
export const retentionShareOfTmpfs = 0.75;

/** Local retention must hold at least three 2h blocks so the sidecar can upload before deletion. */
export const minimumRetentionSeconds = 6 * 3600;

export const builtinPlans: Readonly<Record<string, Plan>> = {
    small: {
        name: "small",
        description: "Up to ~50 targets / ~50k active series; 512Mi tmpfs, 12h local retention",
        cpu: "250m",
        memoryMiB: 512,
        tmpfsMiB: 512,
        retentionTime: "12h",
        retentionSizeMiB: 384,
        scrapeInterval: "30s",
        sampleLimit: 20000,
        labelLimit: 64,
        targetLimit: 50,
    },
    medium: {
        name: "medium",
        description: "Up to ~150 targets / ~150k active series; 1536Mi tmpfs, 12h local retention",
        cpu: "500m",
        memoryMiB: 1024,
        tmpfsMiB: 1536,
        retentionTime: "12h",
        retentionSizeMiB: 1152,
        scrapeInterval: "30s",
        sampleLimit: 50000,
        labelLimit: 64,
        targetLimit: 150,
    },
    large: {
        name: "large",
        description: "Up to ~400 targets / ~400k active series; 4Gi tmpfs, 12h local retention",
        cpu: "1",
        memoryMiB: 2048,
        tmpfsMiB: 4096,
        retentionTime: "12h",
        retentionSizeMiB: 3072,
        scrapeInterval: "30s",
        sampleLimit: 100000,
        labelLimit: 64,
        targetLimit: 400,
    },
    xlarge: {
        name: "xlarge",
        description: "Up to ~1000 targets / ~1M active series; 12Gi tmpfs, 12h local retention",
        cpu: "2",
        memoryMiB: 5120,
        tmpfsMiB: 12288,
        retentionTime: "12h",
        retentionSizeMiB: 9216,
        scrapeInterval: "30s",
        sampleLimit: 200000,
        labelLimit: 64,
        targetLimit: 1000,
    },
};

/** The Prometheus container's memory limit: the process budget plus the tmpfs it fills. */
export function prometheusMemoryLimitMiB(plan: Plan): number {
    return plan.memoryMiB + plan.tmpfsMiB;
}
