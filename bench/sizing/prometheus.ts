/**
 * The benchmark's Prometheus: started with the flags the program renders for the plan (prometheusArgs) and the
 * prometheus.yml and rule files the program renders for an instance (renderInstanceFiles), with the workload as
 * the instance's only scrape job; plus the readings the benchmark takes from it (its /metrics, the query API,
 * the TSDB directory, block snapshots).
 */
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { toolBinary } from "../../automation/tools";
import type { InstanceConfig } from "../../components/config/types";
import { Plan } from "../../components/plans";
import { planLimits, prometheusArgs, renderInstanceFiles, ScrapeConfig, selfScrapeJobs } from "../../components/prometheus/render";
import { ManagedProcess, ProcessGroup, waitFor, waitForHttp } from "../../test/support/processes";
import { prometheusApi } from "../../test/support/prometheus";
import { WorkloadShape } from "../workload/model";

export const workloadJob = "workload";

/** The web config is left out of a sizing run: authentication sizes nothing, and the harness reads the API plainly. */
const benchWebConfigFile = "/bench/no-web-config.yml";

/**
 * The rendered flags for the plan, with the paths and the listen address of this run: loopback on a free port
 * instead of the pod's 0.0.0.0:9090, and no web config. Everything that sizes the TSDB (retention, block durations) is untouched.
 */
export function benchPrometheusArgs(plan: Plan, configFile: string, tsdbPath: string, port: number): string[] {
    const rendered = prometheusArgs({ configFile, tsdbPath, plan, webConfigFile: benchWebConfigFile }).filter((arg) => arg !== `--web.config.file=${benchWebConfigFile}`);
    const listen = rendered.findIndex((arg) => arg.startsWith("--web.listen-address="));
    if (listen < 0) throw new Error(`the rendered Prometheus flags have no --web.listen-address to point at loopback: ${rendered.join(" ")}`);
    return [...rendered.slice(0, listen), `--web.listen-address=127.0.0.1:${port}`, ...rendered.slice(listen + 1)];
}

/**
 * The workload as scraped targets with the labels the Tsuru app job gives each unit (app, process, app_version,
 * namespace, pod, node, and the pod IP as instance), all on the exporter's one port, one path per target.
 */
export function workloadScrapeJob(plan: Plan, shape: WorkloadShape, exporterPort: number): ScrapeConfig {
    const unitsPerApp = 10;
    return {
        job_name: workloadJob,
        ...planLimits(plan),
        static_configs: Array.from({ length: shape.targets }, (_, target) => {
            const app = `app-${String(Math.floor(target / unitsPerApp)).padStart(3, "0")}`;
            const process = target % 3 === 2 ? "worker" : "web";
            return {
                targets: [`127.0.0.1:${exporterPort}`],
                labels: {
                    __metrics_path__: `/targets/${target}/metrics`,
                    instance: `10.${Math.floor(target / 250) % 256}.${target % 250}.${1 + (target % 200)}:8888`,
                    app,
                    process,
                    app_version: String(1 + (target % 17)),
                    namespace: `tsuru-pool-${target % 4}`,
                    pod: `${app}-${process}-${(0x5d8f7c9b4 + target * 7919).toString(36).slice(-9)}-${(target * 104729).toString(36).slice(-5).padStart(5, "x")}`,
                    node: `node-${target % 40}`,
                },
            };
        }),
    };
}

/** The instance the benchmark renders files for: one tenant on the plan, no apps (the workload job stands in). */
export function benchInstance(plan: Plan): InstanceConfig {
    return { name: "bench", team: "bench", plan, platform: "kubernetes", replicas: 1, apps: [], jobs: [], externalLabels: {}, rules: [] };
}

const benchWebAuth = { username: "bench", passwordFile: "/bench/no-password" };

/**
 * prometheus.yml and rule files as the program renders them, the self-scrape pointed at this run's port without
 * credentials (the run has no web config) and the sidecar's job dropped (no sidecar runs here).
 */
export function writeBenchConfig(dir: string, plan: Plan, shape: WorkloadShape, exporterPort: number, prometheusPort: number): string {
    const ruleDir = path.join(dir, "rules");
    const files = renderInstanceFiles({
        instance: benchInstance(plan),
        labels: { environment: "bench", region: "local", product: "tsuru", replicaLabel: "prometheus_replica" },
        alertmanagers: [],
        replicaValue: "bench-0",
        scrapeJobs: [workloadScrapeJob(plan, shape, exporterPort)],
        ruleDir,
        webAuth: benchWebAuth,
    });
    const config = yaml.load(files.prometheusYml) as { scrape_configs: ScrapeConfig[] };
    const [self, sidecar] = selfScrapeJobs(benchWebAuth).map((job) => job.job_name);
    config.scrape_configs = config.scrape_configs
        .filter((job) => job.job_name !== sidecar)
        .map((job) => {
            if (job.job_name !== self) return job;
            const { basic_auth: _credentials, ...plain } = job;
            return { ...plain, static_configs: [{ targets: [`127.0.0.1:${prometheusPort}`] }] };
        });
    fs.mkdirSync(ruleDir, { recursive: true });
    for (const [name, text] of Object.entries(files.ruleFiles)) fs.writeFileSync(path.join(ruleDir, name), text);
    const configFile = path.join(dir, "prometheus.yml");
    fs.writeFileSync(configFile, yaml.dump(config, { lineWidth: -1, noRefs: true }));
    return configFile;
}

export function startBenchPrometheus(group: ProcessGroup, name: string, args: readonly string[]): ManagedProcess {
    return group.start(name, toolBinary("prometheus"), args);
}

export async function waitForReady(prometheus: ManagedProcess, baseUrl: string, timeoutMs: number): Promise<void> {
    await waitForHttp(`${baseUrl}/-/ready`, { timeoutMs, intervalMs: 250, process: prometheus });
}

export async function fetchText(url: string, init?: RequestInit, timeoutMs = 30_000): Promise<string> {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    const text = await response.text();
    if (!response.ok) throw new Error(`${init?.method ?? "GET"} ${url}: ${response.status} ${text.slice(0, 300)}`);
    return text;
}

interface QueryResult {
    metric: Record<string, string>;
    value?: [number, string];
    values?: [number, string][];
}

/** An instant query through the HTTP API. */
export async function query(baseUrl: string, promql: string): Promise<QueryResult[]> {
    return (await prometheusApi<{ result: QueryResult[] }>(`${baseUrl}/api/v1/query?query=${encodeURIComponent(promql)}`, {}, 30_000)).result;
}

/** The single value of a query that returns one series (e.g. a sum or count); undefined when empty. */
export async function queryScalar(baseUrl: string, promql: string): Promise<number | undefined> {
    const [first] = await query(baseUrl, promql);
    return first?.value === undefined ? undefined : Number(first.value[1]);
}

/** Waits until every workload target has been scraped and its series are in the head. */
export async function waitForWorkloadIngested(prometheus: ManagedProcess, baseUrl: string, shape: WorkloadShape, timeoutMs: number): Promise<void> {
    const series = shape.targets * shape.seriesPerTarget;
    await waitFor(`all ${shape.targets} targets scraped with ${series} series`, async () => {
        const scraped = await queryScalar(baseUrl, `sum(scrape_samples_scraped{job="${workloadJob}"}) and count(up{job="${workloadJob}"} == 1) == ${shape.targets}`);
        return scraped !== undefined && scraped >= series ? true : undefined;
    }, { timeoutMs, intervalMs: 1_000, process: prometheus });
}

/** Bytes of the TSDB's parts, from its directory (blocks are the ULID-named directories). */
export interface TsdbBytes {
    wal: number;
    headChunks: number;
    blocks: number;
    snapshots: number;
}

function treeBytes(dir: string): number {
    if (!fs.existsSync(dir)) return 0;
    let total = 0;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        total += entry.isDirectory() ? treeBytes(full) : fs.statSync(full).size;
    }
    return total;
}

export function tsdbBytes(tsdbDir: string): TsdbBytes {
    const blocks = fs.readdirSync(tsdbDir, { withFileTypes: true })
        .filter((entry) => entry.isDirectory() && /^[0-9A-HJKMNP-TV-Z]{26}$/.test(entry.name))
        .reduce((sum, entry) => sum + treeBytes(path.join(tsdbDir, entry.name)), 0);
    return {
        wal: treeBytes(path.join(tsdbDir, "wal")),
        headChunks: treeBytes(path.join(tsdbDir, "chunks_head")),
        blocks,
        snapshots: treeBytes(path.join(tsdbDir, "snapshots")),
    };
}

/** What a block written from the head holds (its meta.json stats) and its bytes. */
export interface BlockMeasurement {
    samples: number;
    series: number;
    chunks: number;
    chunkBytes: number;
    indexBytes: number;
    /** When the snapshot began (seconds since Prometheus started) and how long it took (it writes the whole head). */
    atSeconds: number;
    seconds: number;
}

/**
 * Writes the head as a block (POST /api/v1/admin/tsdb/snapshot, the same head-to-block write as the two-hourly
 * head compaction), measures it from its files and deletes it so it does not count as TSDB use.
 */
export async function snapshotHead(baseUrl: string, tsdbDir: string, prometheusStartedAt: number): Promise<BlockMeasurement> {
    const started = Date.now();
    // Writing a 1M-series head takes minutes on two busy cores.
    const snapshot = await prometheusApi<{ name: string }>(`${baseUrl}/api/v1/admin/tsdb/snapshot`, { method: "POST" }, 600_000);
    const seconds = (Date.now() - started) / 1000;
    const snapshotDir = path.join(tsdbDir, "snapshots", snapshot.name);
    try {
        const blocks = fs.readdirSync(snapshotDir);
        if (blocks.length !== 1) throw new Error(`snapshot ${snapshotDir} holds ${blocks.length} blocks, expected the head's one`);
        const blockDir = path.join(snapshotDir, blocks[0]);
        const meta = JSON.parse(fs.readFileSync(path.join(blockDir, "meta.json"), "utf8")) as { stats: { numSamples: number; numSeries: number; numChunks: number } };
        return {
            samples: meta.stats.numSamples,
            series: meta.stats.numSeries,
            chunks: meta.stats.numChunks,
            chunkBytes: treeBytes(path.join(blockDir, "chunks")),
            indexBytes: fs.statSync(path.join(blockDir, "index")).size,
            atSeconds: (started - prometheusStartedAt) / 1000,
            seconds,
        };
    } finally {
        fs.rmSync(snapshotDir, { recursive: true, force: true });
    }
}
