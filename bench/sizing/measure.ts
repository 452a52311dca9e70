/**
 * One plan measured with real processes: the workload exporter (its own process), the real Prometheus with the
 * plan's rendered flags and files, its TSDB on a tmpfs of the plan's size. Phases:
 *   warm-up  until every target has been scraped once (all series created in the head);
 *   steady   `steadySeconds` of scraping, sampled every `sampleEveryMs`; a head snapshot half-way and at the end
 *            (two block writes from the head, like head compaction) give block bytes per sample and per series;
 *   restart  SIGTERM and start again on the same TSDB: the WAL replay's peak RSS and time to ready (what a
 *            container restarted after an OOM kill goes through, since the emptyDir survives the restart).
 * Raw readings only; projection.ts derives the figures, so the margin test can re-derive them from the file.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Plan } from "../../components/plans";
import { parseDurationSeconds } from "../../components/units";
import { freePort, ManagedProcess, ProcessGroup, waitForHttp } from "../../test/support/processes";
import { metricSum } from "../../test/support/prometheus";
import type { ExporterStats } from "../workload/exporter";
import { totalSeries, WorkloadShape } from "../workload/model";
import {
    benchPrometheusArgs,
    BlockMeasurement,
    fetchText,
    query,
    queryScalar,
    snapshotHead,
    startBenchPrometheus,
    tsdbBytes,
    waitForReady,
    waitForWorkloadIngested,
    workloadJob,
    writeBenchConfig,
} from "./prometheus";
import { Tmpfs } from "./tmpfs";

export interface MeasureOptions {
    readonly plan: Plan;
    readonly shape: WorkloadShape;
    readonly steadySeconds: number;
    readonly sampleEveryMs: number;
    /** TSDB on a real tmpfs of the plan's size (root); false: a plain temp directory (the machinery test). */
    readonly tmpfs: boolean;
    readonly log?: (line: string) => void;
}

/** One reading, `seconds` after Prometheus started. Bytes unless named otherwise. */
export interface Sample {
    seconds: number;
    rss: number;
    peakRss: number;
    anon: number;
    file: number;
    shmem: number;
    goHeapInuse: number;
    goSys: number;
    headSeries: number;
    samplesAppended: number;
    /** Filesystem bytes in use by the TSDB (statfs of the tmpfs), snapshots excluded. */
    tsdbUsed: number;
    wal: number;
    headChunks: number;
    blocks: number;
    prometheusCpuSeconds: number;
    exporterCpuSeconds: number;
    exporterRss: number;
    load1: number;
}

export interface PlanMeasurement {
    plan: Plan;
    shape: WorkloadShape;
    series: number;
    flags: string[];
    startedAt: string;
    scrapeIntervalSeconds: number;
    tmpfs: boolean;
    warmupSeconds: number;
    steady: { fromSeconds: number; toSeconds: number };
    samples: Sample[];
    snapshots: BlockMeasurement[];
    scrapeDurations: { count: number; p50: number; p90: number; p99: number; max: number };
    /** workloadSeries: the workload's own series in the head (the per-target up/scrape_* series left out). */
    health: { targetsUp: number; workloadSeries: number; exceededSampleLimit: number; exceededTargetLimit: number };
    exporter: ExporterStats;
    restart: { readySeconds: number; peakRss: number; tsdbUsed: number };
}

async function readSample(prometheus: ManagedProcess, baseUrl: string, exporter: ManagedProcess, tsdbDir: string, tmpfs: Tmpfs | undefined, startedAt: number): Promise<Sample | undefined> {
    const exposition = await fetchText(`${baseUrl}/metrics`);
    const memory = prometheus.memory();
    const exporterMemory = exporter.memory();
    if (memory === undefined || exporterMemory === undefined) return undefined;
    const parts = tsdbBytes(tsdbDir);
    const metric = (name: string) => {
        const value = metricSum(exposition, name);
        if (value === undefined) throw new Error(`Prometheus' /metrics has no ${name}`);
        return value;
    };
    // Exposed per sample type only once a sample of that type has been appended.
    const appended = metricSum(exposition, "prometheus_tsdb_head_samples_appended_total") ?? 0;
    return {
        seconds: (Date.now() - startedAt) / 1000,
        ...memory,
        goHeapInuse: metric("go_memstats_heap_inuse_bytes"),
        goSys: metric("go_memstats_sys_bytes"),
        headSeries: metric("prometheus_tsdb_head_series"),
        samplesAppended: appended,
        tsdbUsed: (tmpfs ? tmpfs.usedBytes() : parts.wal + parts.headChunks + parts.blocks + parts.snapshots) - parts.snapshots,
        wal: parts.wal,
        headChunks: parts.headChunks,
        blocks: parts.blocks,
        prometheusCpuSeconds: prometheus.cpuSeconds() ?? 0,
        exporterCpuSeconds: exporter.cpuSeconds() ?? 0,
        exporterRss: exporterMemory.rss,
        load1: os.loadavg()[0],
    };
}

/** Samples in the background until stopped; a failed reading is logged once it repeats, never silently dropped. */
function startSampler(read: () => Promise<Sample | undefined>, everyMs: number, samples: Sample[], log: (line: string) => void) {
    let running = true;
    let failures = 0;
    const done = (async () => {
        while (running) {
            const started = Date.now();
            try {
                const sample = await read();
                if (sample !== undefined) samples.push(sample);
                failures = 0;
            } catch (error) {
                failures += 1;
                if (failures >= 3) throw new Error(`three readings in a row failed: ${error instanceof Error ? error.message : error}`);
                log(`reading failed (retrying): ${error instanceof Error ? error.message : error}`);
            }
            await new Promise((resolve) => setTimeout(resolve, Math.max(0, everyMs - (Date.now() - started))));
        }
    })();
    return async () => {
        running = false;
        await done;
    };
}

function quantile(sorted: readonly number[], q: number): number {
    return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

const exporterScript = path.join(__dirname, "..", "workload", "exporter.ts");

/** The workload exporter (its own process) serving the shape's targets on one port. */
export async function startWorkloadExporter(group: ProcessGroup, shape: WorkloadShape): Promise<{ exporter: ManagedProcess; exporterPort: number; exporterUrl: string }> {
    const exporterPort = await freePort();
    const exporter = group.start("exporter", process.execPath, [
        "-r", require.resolve("ts-node/register/transpile-only"), exporterScript,
        "--port", String(exporterPort), "--targets", String(shape.targets), "--series-per-target", String(shape.seriesPerTarget), "--churn", String(shape.churnPerMinute),
    ]);
    const exporterUrl = `http://127.0.0.1:${exporterPort}`;
    await waitForHttp(`${exporterUrl}/-/ready`, { timeoutMs: 60_000, process: exporter });
    return { exporter, exporterPort, exporterUrl };
}

export async function measurePlan(options: MeasureOptions): Promise<PlanMeasurement> {
    const { plan, shape } = options;
    const log = options.log ?? (() => undefined);
    const interval = parseDurationSeconds(plan.scrapeInterval);
    if (interval === undefined) throw new Error(`plan ${plan.name}: scrape interval '${plan.scrapeInterval}' is not a duration`);
    const group = new ProcessGroup();
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `paas-bench-${plan.name}-`));
    let tmpfs: Tmpfs | undefined;
    try {
        const { exporter, exporterPort, exporterUrl } = await startWorkloadExporter(group, shape);

        tmpfs = options.tmpfs ? Tmpfs.mount(plan.tmpfsMiB, `paas-tsdb-${plan.name}-`) : undefined;
        const tsdbDir = tmpfs?.dir ?? fs.mkdtempSync(path.join(workDir, "tsdb-"));
        const port = await freePort();
        const baseUrl = `http://127.0.0.1:${port}`;
        const configFile = writeBenchConfig(workDir, plan, shape, exporterPort, port);
        const flags = benchPrometheusArgs(plan, configFile, tsdbDir, port);
        log(`${plan.name}: ${totalSeries(shape)} series over ${shape.targets} targets; prometheus ${flags.join(" ")}`);

        const startedAt = Date.now();
        let prometheus = startBenchPrometheus(group, "prometheus", flags);
        await waitForReady(prometheus, baseUrl, 60_000);
        const samples: Sample[] = [];
        const stopSampler = startSampler(() => readSample(prometheus, baseUrl, exporter, tsdbDir, tmpfs, startedAt), options.sampleEveryMs, samples, log);
        let stopped = false;
        const stopSampling = async () => {
            if (!stopped) await stopSampler();
            stopped = true;
        };
        try {
            // Prometheus spreads a job's first scrapes over one interval; creating 1M series can take longer.
            await waitForWorkloadIngested(prometheus, baseUrl, shape, (3 * interval + 180) * 1000);
            const warmupSeconds = (Date.now() - startedAt) / 1000;
            log(`${plan.name}: all targets scraped after ${warmupSeconds.toFixed(0)} s; steady phase of ${options.steadySeconds} s`);
            const snapshots: BlockMeasurement[] = [];
            for (const share of [0.5, 1]) {
                const until = startedAt + (warmupSeconds + share * options.steadySeconds) * 1000;
                await new Promise((resolve) => setTimeout(resolve, Math.max(0, until - Date.now())));
                if (prometheus.hasExited) throw new Error(`prometheus exited during the steady phase; its log:\n${prometheus.logTail()}`);
                snapshots.push(await snapshotHead(baseUrl, tsdbDir, startedAt));
            }
            const steadyEnd = (Date.now() - startedAt) / 1000;
            const durations = (await query(baseUrl, `scrape_duration_seconds{job="${workloadJob}"}[${Math.ceil(steadyEnd - warmupSeconds)}s]`))
                .flatMap((series) => (series.values ?? []).map(([, value]) => Number(value)))
                .sort((a, b) => a - b);
            const exposition = await fetchText(`${baseUrl}/metrics`);
            const targetsUp = (await queryScalar(baseUrl, `count(up{job="${workloadJob}"} == 1)`)) ?? 0;
            const workloadSeries = (await queryScalar(baseUrl, `count({job="${workloadJob}", __name__!~"up|scrape_.+"})`)) ?? 0;
            const exporterStats = JSON.parse(await fetchText(`${exporterUrl}/stats`)) as ExporterStats;
            await stopSampling();

            log(`${plan.name}: restart on the same TSDB (WAL replay)`);
            await prometheus.stop("SIGTERM", 60_000);
            const restartedAt = Date.now();
            prometheus = startBenchPrometheus(group, "prometheus-restarted", flags);
            await waitForReady(prometheus, baseUrl, 300_000);
            const readySeconds = (Date.now() - restartedAt) / 1000;
            const restartPeak = prometheus.memory()?.peakRss ?? 0;
            const restartTsdb = tmpfs ? tmpfs.usedBytes() : tsdbBytes(tsdbDir).wal;
            await prometheus.stop("SIGTERM", 60_000);

            return {
                plan,
                shape,
                series: totalSeries(shape),
                flags,
                startedAt: new Date(startedAt).toISOString(),
                scrapeIntervalSeconds: interval,
                tmpfs: tmpfs !== undefined,
                warmupSeconds,
                steady: { fromSeconds: warmupSeconds, toSeconds: steadyEnd },
                samples,
                snapshots,
                scrapeDurations: { count: durations.length, p50: quantile(durations, 0.5), p90: quantile(durations, 0.9), p99: quantile(durations, 0.99), max: durations[durations.length - 1] ?? 0 },
                health: {
                    targetsUp,
                    workloadSeries,
                    exceededSampleLimit: metricSum(exposition, "prometheus_target_scrapes_exceeded_sample_limit_total") ?? 0,
                    exceededTargetLimit: metricSum(exposition, "prometheus_target_scrape_pool_exceeded_target_limit_total") ?? 0,
                },
                exporter: exporterStats,
                restart: { readySeconds, peakRss: restartPeak, tsdbUsed: restartTsdb },
            };
        } finally {
            await stopSampling();
        }
    } finally {
        await group.stopAll();
        tmpfs?.unmount();
        fs.rmSync(workDir, { recursive: true, force: true });
    }
}
