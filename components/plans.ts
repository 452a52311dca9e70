import { parseDurationSeconds } from "./units";

/**
 * The plan catalog. Capacity figures are provisional: they follow Prometheus' rules of thumb (a few KiB of head
 * memory per active series, 1-2 bytes per sample on disk) and have not yet been measured by a benchmark.
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
        memoryMiB: 1024,
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
        description: "Up to ~150 targets / ~150k active series; 1Gi tmpfs, 12h local retention",
        cpu: "500m",
        memoryMiB: 2048,
        tmpfsMiB: 1024,
        retentionTime: "12h",
        retentionSizeMiB: 768,
        scrapeInterval: "30s",
        sampleLimit: 50000,
        labelLimit: 64,
        targetLimit: 150,
    },
    large: {
        name: "large",
        description: "Up to ~400 targets / ~400k active series; 2Gi tmpfs, 24h local retention",
        cpu: "1",
        memoryMiB: 4096,
        tmpfsMiB: 2048,
        retentionTime: "24h",
        retentionSizeMiB: 1536,
        scrapeInterval: "30s",
        sampleLimit: 100000,
        labelLimit: 64,
        targetLimit: 400,
    },
    xlarge: {
        name: "xlarge",
        description: "Up to ~1000 targets / ~1M active series; 4Gi tmpfs, 24h local retention",
        cpu: "2",
        memoryMiB: 8192,
        tmpfsMiB: 4096,
        retentionTime: "24h",
        retentionSizeMiB: 3072,
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
