/**
 * The synthetic workload: what one scrape target (a unit of a Tsuru web app) exposes. Every target exposes the
 * same metric families (runtime gauges, a Go GC summary, and per HTTP route a request counter by method and
 * status, a latency histogram by method and an in-flight gauge); the number of routes scales a target to the
 * asked series count, and a filler gauge family makes it exact. Values move every scrape the way real ones do:
 * busy counters climb, error counters mostly stand still, histogram buckets stay cumulative, a few values are
 * floats. That mix sets the bytes per sample Prometheus achieves, so it is kept deliberate.
 * Pure (no I/O): the plain exporter and the prom-client comparison both build on it.
 */

export type FamilyType = "counter" | "gauge" | "histogram" | "summary";

export interface Family {
    readonly name: string;
    readonly help: string;
    readonly type: FamilyType;
    readonly labelNames: readonly string[];
    /** One label-value tuple per child, in labelNames order. */
    readonly children: readonly (readonly string[])[];
    /** Upper bounds without +Inf (histograms). */
    readonly buckets?: readonly number[];
    /** Quantiles (summaries). */
    readonly quantiles?: readonly number[];
    /** How a child's values move each scrape. */
    readonly motion: Motion;
}

/** Each child of a family moves by one of these; "requests" children carry a mean request count per scrape. */
export type Motion =
    | { readonly kind: "requests"; readonly meanPerScrape: (child: number) => number }
    | { readonly kind: "cpu" }
    | { readonly kind: "level"; readonly base: number; readonly step: number }
    | { readonly kind: "gc" };

export const latencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;
const gcQuantiles = [0, 0.25, 0.5, 0.75, 1] as const;
const methods = ["GET", "POST"] as const;
const statuses = ["200", "400", "404", "500"] as const;
const resources = ["orders", "users", "carts", "payments", "products", "sessions", "invoices", "shipments", "reviews", "search"] as const;
const memstats = ["heap_alloc", "heap_inuse", "heap_idle", "heap_sys", "stack_inuse", "mspan_inuse", "next_gc", "sys", "heap_objects"] as const;

/** Series one child of a family contributes. */
export function seriesPerChild(family: Pick<Family, "type" | "buckets" | "quantiles">): number {
    if (family.type === "histogram") return (family.buckets?.length ?? 0) + 3; // buckets, +Inf, _sum, _count
    if (family.type === "summary") return (family.quantiles?.length ?? 0) + 2;
    return 1;
}

export function familySeries(family: Family): number {
    return family.children.length * seriesPerChild(family);
}

function route(index: number): string {
    return `/api/v${1 + (index % 3)}/${resources[index % resources.length]}/{id}/r${index}`;
}

const fixedFamilies: Family[] = [
    { name: "process_cpu_seconds_total", help: "Total user and system CPU time spent in seconds.", type: "counter", labelNames: [], children: [[]], motion: { kind: "cpu" } },
    { name: "process_resident_memory_bytes", help: "Resident memory size in bytes.", type: "gauge", labelNames: [], children: [[]], motion: { kind: "level", base: 180e6, step: 4096 } },
    { name: "process_open_fds", help: "Number of open file descriptors.", type: "gauge", labelNames: [], children: [[]], motion: { kind: "level", base: 40, step: 2 } },
    { name: "go_goroutines", help: "Number of goroutines that currently exist.", type: "gauge", labelNames: [], children: [[]], motion: { kind: "level", base: 120, step: 5 } },
    { name: "go_gc_duration_seconds", help: "A summary of the wall-time pause duration in garbage collection cycles.", type: "summary", labelNames: [], children: [[]], quantiles: gcQuantiles, motion: { kind: "gc" } },
    ...memstats.map((stat): Family => ({ name: `go_memstats_${stat}_bytes`, help: `Go memstats ${stat}.`, type: "gauge", labelNames: [], children: [[]], motion: { kind: "level", base: 60e6, step: 8192 } })),
];

/** Series of the per-route families for one route. */
export const seriesPerRoute = methods.length * statuses.length + methods.length * (latencyBuckets.length + 3) + 1;
const fixedSeries = fixedFamilies.reduce((sum, family) => sum + familySeries(family), 0);

/** The smallest target the shape can express: the runtime families alone. */
export const minimumSeriesPerTarget = fixedSeries;

/** Mean requests per scrape of route r: a few hot routes, a long tail of quiet ones. */
function routeTraffic(routeIndex: number): number {
    return 40 / (1 + routeIndex);
}

/** The metric families of one target holding exactly `seriesPerTarget` series. */
export function targetFamilies(seriesPerTarget: number): Family[] {
    if (!Number.isInteger(seriesPerTarget) || seriesPerTarget < fixedSeries) {
        throw new Error(`series per target must be a whole number of at least ${fixedSeries} (the runtime families), got ${seriesPerTarget}`);
    }
    const routes = Math.floor((seriesPerTarget - fixedSeries) / seriesPerRoute);
    const fillers = seriesPerTarget - fixedSeries - routes * seriesPerRoute;
    const routeIndexes = Array.from({ length: routes }, (_, index) => index);
    const requestChildren = routeIndexes.flatMap((r) => methods.flatMap((method) => statuses.map((status) => [method, route(r), status])));
    // Errors are rare: most of their counters stand still from one scrape to the next.
    const statusShare: Record<string, number> = { "200": 0.9, "400": 0.05, "404": 0.04, "500": 0.01 };
    const families: Family[] = [...fixedFamilies];
    if (routes > 0) {
        families.push(
            {
                name: "http_requests_total", help: "HTTP requests by method, route and status.", type: "counter",
                labelNames: ["method", "route", "status"], children: requestChildren,
                motion: { kind: "requests", meanPerScrape: (child) => routeTraffic(Math.floor(child / 8)) * (child % 8 < 4 ? 0.8 : 0.2) * statusShare[requestChildren[child][2]] },
            },
            {
                name: "http_request_duration_seconds", help: "HTTP request latency by method and route.", type: "histogram",
                labelNames: ["method", "route"], children: routeIndexes.flatMap((r) => methods.map((method) => [method, route(r)])), buckets: latencyBuckets,
                motion: { kind: "requests", meanPerScrape: (child) => routeTraffic(Math.floor(child / 2)) * (child % 2 === 0 ? 0.8 : 0.2) },
            },
            {
                name: "http_requests_in_flight", help: "HTTP requests being served.", type: "gauge",
                labelNames: ["route"], children: routeIndexes.map((r) => [route(r)]), motion: { kind: "level", base: 2, step: 1 },
            },
        );
    }
    if (fillers > 0) {
        families.push({
            name: "app_cache_entries", help: "Entries per application cache.", type: "gauge",
            labelNames: ["cache"], children: Array.from({ length: fillers }, (_, index) => [`cache-${index}`]), motion: { kind: "level", base: 5000, step: 25 },
        });
    }
    return families;
}

/** A small fast PRNG (xorshift32) so each target's value stream is reproducible and cheap. */
export function randomSource(seed: number): () => number {
    let state = (seed * 2654435761) >>> 0 || 1;
    return () => {
        state ^= state << 13;
        state >>>= 0;
        state ^= state >>> 17;
        state ^= state << 5;
        state >>>= 0;
        return state / 4294967296;
    };
}

/** A whole count near `mean` (uniform on [0, 2·mean], so rare children often add nothing). */
export function countNear(mean: number, random: () => number): number {
    return Math.floor(random() * 2 * mean + random());
}

/** Share of requests at or under each latency bucket for a route: hot routes are fast. */
export function latencyShares(routeIndex: number): number[] {
    const median = 0.02 * (1 + (routeIndex % 7));
    return latencyBuckets.map((bound) => 1 - Math.exp((-bound / median) * Math.LN2));
}

/** Mean latency in seconds matching latencyShares (an exponential distribution with that median). */
export function meanLatency(routeIndex: number): number {
    return (0.02 * (1 + (routeIndex % 7))) / Math.LN2;
}

/** Exported series counts of a workload, for the benchmark and the test to compare with Prometheus. */
export interface WorkloadShape {
    readonly targets: number;
    readonly seriesPerTarget: number;
    /** Series replaced per minute, as deploys do (0: none). */
    readonly churnPerMinute: number;
}

/** The shape serving `series` active series over `targets` targets (series per target rounded up). */
export function shapeFor(series: number, targets: number, churnPerMinute = 0): WorkloadShape {
    return { targets, seriesPerTarget: Math.max(minimumSeriesPerTarget, Math.ceil(series / targets)), churnPerMinute };
}

export function totalSeries(shape: WorkloadShape): number {
    return shape.targets * shape.seriesPerTarget;
}
