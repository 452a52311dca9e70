import { parseDurationSeconds } from "./units";

/**
 * The plan catalog. Capacity figures are measured: `npm run bench:plans` runs the real Prometheus with each plan's
 * flags at its advertised load on a real tmpfs (docs/plans.md). Process memory keeps the measured peak RSS at
 * about half of it (the 80 % margin plus room for queries), the tmpfs keeps the TSDB projected to the retention
 * within the retention size; test/unit/plans-margin.spec.ts holds every plan to the measurements file.
 */
export interface Plan {
    readonly name: string;
    readonly description: string;
    /** CPU request of the Prometheus container (Kubernetes quantity; ECS CPU units of the same share); no CPU limit. */
    readonly cpu: string;
    /**
     * Memory of the Prometheus process, in MiB (head block, queries, WAL replay): the same on every platform.
     * Where the TSDB is in memory the container's limit adds the tmpfs (prometheusMemoryLimitMiB).
     */
    readonly memoryMiB: number;
    /**
     * Size of the TSDB volume, in MiB. On Kubernetes it is a tmpfs (emptyDir medium Memory) and counts against the
     * container's memory; on ECS the TSDB is on task storage and this only bounds the retention size.
     */
    readonly tmpfsMiB: number;
    /** Local retention by time (Prometheus duration); Thanos keeps the long-term copy. */
    readonly retentionTime: string;
    /** Local retention by size, in MiB: must leave headroom below tmpfsMiB for WAL and compaction. */
    readonly retentionSizeMiB: number;
    /** How often every target is scraped (and rules evaluated); Prometheus duration, at least minimumScrapeIntervalSeconds. */
    readonly scrapeInterval: string;
    /** How long a scrape may take; at most the interval. Absent: derived from the interval (scrapeTimeout). */
    readonly scrapeTimeout?: string;
    readonly sampleLimit: number;
    readonly labelLimit: number;
    readonly targetLimit: number;
}

/** Retention size may use at most this share of the tmpfs volume; the rest is WAL, head chunks, compaction. */
export const retentionShareOfTmpfs = 0.75;

/** Shorter intervals multiply the samples (and the tmpfs they fill) without telling more; Prometheus' own examples use 5s at least. */
export const minimumScrapeIntervalSeconds = 5;

/** Prometheus' default scrape timeout, used whenever the interval allows it. */
const defaultScrapeTimeoutSeconds = 10;

/** The plan's scrape timeout: its own, else Prometheus' 10s default capped at the interval (Prometheus refuses a timeout above it). */
export function scrapeTimeout(plan: Pick<Plan, "scrapeInterval" | "scrapeTimeout">): string {
    if (plan.scrapeTimeout !== undefined) return plan.scrapeTimeout;
    return parseDurationSeconds(plan.scrapeInterval)! < defaultScrapeTimeoutSeconds ? plan.scrapeInterval : `${defaultScrapeTimeoutSeconds}s`;
}

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

/** Where a platform keeps the TSDB: in memory (Kubernetes tmpfs) or on disk (ECS task storage; NFS is never used). */
export type TsdbMedium = "memory" | "disk";

/** The Prometheus container's memory limit: the process memory, plus the tmpfs when the TSDB lives in memory. */
export function prometheusMemoryLimitMiB(plan: Plan, tsdb: TsdbMedium): number {
    return plan.memoryMiB + (tsdb === "memory" ? plan.tmpfsMiB : 0);
}
