/**
 * The benchmark's outputs: the measurements file (raw readings and the machine they came from), the table, the
 * docs page and the chart (vega-lite compiled by vega to SVG, rasterised to PNG by resvg).
 */
import * as fs from "fs";
import { Resvg } from "@resvg/resvg-js";
import * as vega from "vega";
import * as vegaLite from "vega-lite";
import { parseDurationSeconds, prometheusSize } from "../../components/units";
import type { PlanMeasurement } from "./measure";
import { builtinPlans } from "../../components/plans";
import { compactorScratchBytes, deriveFigures, largestCompactionSeconds, margin, PlanFigures } from "./projection";

export interface MachineInfo {
    cpus: number;
    cpuModel: string;
    memoryGiB: number;
    kernel: string;
    node: string;
    prometheus: string;
}

export interface LoadReading {
    /** 1-minute load average when the run began, and over its readings. */
    atStart: number;
    min: number;
    mean: number;
    max: number;
}

export interface MeasurementsFile {
    schemaVersion: 1;
    measuredAt: string;
    quick: boolean;
    runSeconds: number;
    machine: MachineInfo;
    load: LoadReading;
    /** Share of each plan's series replaced per hour (0: no churn). */
    churnPerHour: number;
    measurements: PlanMeasurement[];
    /** Plans measured again later (`--plans ... --update`), replacing their entries in `measurements`. */
    remeasured?: { measuredAt: string; plans: string[]; runSeconds: number; load: LoadReading }[];
}

const mib = (bytes: number) => bytes / 2 ** 20;
const percent = (share: number) => `${(100 * share).toFixed(0)} %`;
const compact = (count: number) => (count >= 1e6 ? `${+(count / 1e6).toFixed(2)}M` : count >= 1e3 ? `${+(count / 1e3).toFixed(1)}k` : String(count));

export function loadOf(measurements: readonly PlanMeasurement[], atStart: number): LoadReading {
    const loads = measurements.flatMap((measurement) => measurement.samples.map((sample) => sample.load1));
    return {
        atStart,
        min: Math.min(...loads),
        mean: loads.reduce((sum, load) => sum + load, 0) / loads.length,
        max: Math.max(...loads),
    };
}

export function summaryTable(figures: readonly PlanFigures[]): string {
    const rows = figures.map((f) => [
        f.plan,
        `${compact(f.series)} / ${f.targets}`,
        `${mib(f.measuredPeakRss).toFixed(0)} + ${mib(f.openChunkAllowance).toFixed(0)} MiB of ${mib(f.memoryBudget).toFixed(0)} MiB (${percent(f.rssShare)})`,
        `${mib(f.projection.totalBytes).toFixed(0)} MiB of ${mib(f.tmpfsBudget).toFixed(0)} MiB (${percent(f.tmpfsShare)})`,
        `${f.samplesPerSecond.toFixed(0)} (${f.expectedSamplesPerSecond.toFixed(0)} scraped)`,
        f.fits ? `fits (≤ ${percent(margin)})` : `does not fit: ${f.problems.join("; ")}`,
    ]);
    return [
        "| plan | advertised series / targets | peak RSS (+ open chunks) vs process memory | projected TSDB at retention vs tmpfs | samples/s ingested | verdict |",
        "|---|---|---|---|---|---|",
        ...rows.map((row) => `| ${row.join(" | ")} |`),
    ].join("\n");
}

/** The compactor's scratch per plan: what a bucket needs for its largest instance (docs/operating.md). */
export function compactorScratchTable(figures: readonly PlanFigures[]): string {
    const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;
    const rows = figures.map((f) => {
        const scratch = compactorScratchBytes(f, parseDurationSeconds(builtinPlans[f.plan].scrapeInterval)!);
        return `| ${f.plan} | ${f.series.toLocaleString("en-US")} | ${f.bytesPerSample.toFixed(2)} B | ${gib(scratch / 2)} | ${gib(scratch)} |`;
    });
    return [`| plan | series | per sample | ${largestCompactionSeconds / 86400}-day block of one instance | compactor scratch (sources + result) |`, "|---|---|---|---|---|", ...rows].join("\n");
}

export function detailTable(figures: readonly PlanFigures[]): string {
    const line = (label: string, value: (f: PlanFigures) => string) => `| ${label} | ${figures.map(value).join(" | ")} |`;
    return [
        `| | ${figures.map((f) => f.plan).join(" | ")} |`,
        `|---|${figures.map(() => "---").join("|")}|`,
        line("1-minute load average during the plan: min-max (mean)", (f) => `${f.load.min.toFixed(1)}-${f.load.max.toFixed(1)} (${f.load.mean.toFixed(1)})`),
        line("steady phase (s)", (f) => f.steadySeconds.toFixed(0)),
        line("head series", (f) => String(f.headSeries)),
        line("peak RSS scraping only, before any block write (MiB)", (f) => mib(f.scrapingPeakRss).toFixed(0)),
        line("peak RSS with the two head-to-block writes (MiB)", (f) => mib(f.steadyPeakRss).toFixed(0)),
        line("RSS growth between the block writes (MiB/min)", (f) => mib(f.rssGrowthPerMinute).toFixed(1)),
        line("peak RSS of the WAL replay after a restart (MiB)", (f) => mib(f.restartPeakRss).toFixed(0)),
        line("restart to ready (s)", (f) => f.restartReadySeconds.toFixed(1)),
        line("open-chunk allowance (MiB)", (f) => mib(f.openChunkAllowance).toFixed(0)),
        line("peak RSS checked: measured + allowance (MiB)", (f) => mib(f.peakRss).toFixed(0)),
        line("Go heap in use at the end (MiB)", (f) => mib(f.goHeapInuse).toFixed(0)),
        line("RSS per head series above the empty process (KiB)", (f) => (f.rssPerSeries / 1024).toFixed(2)),
        line("head series the 80 % memory budget still holds (churn, queries)", (f) => String(f.seriesHeadroom)),
        line("block bytes per sample", (f) => f.bytesPerSample.toFixed(2)),
        line("block bytes per chunk (framing, first sample)", (f) => f.bytesPerChunk.toFixed(1)),
        line("index bytes per series and block", (f) => f.indexBytesPerSeries.toFixed(0)),
        line("WAL growth (KiB/s)", (f) => (f.walBytesPerSecond / 1024).toFixed(1)),
        line("TSDB on the tmpfs at the end of the run (MiB)", (f) => mib(f.tsdbUsedAtEnd).toFixed(1)),
        line("projection: blocks held x one 2h block (MiB)", (f) => `${f.projection.blocks} x ${mib(f.projection.blockBytes).toFixed(0)}`),
        line("projection: WAL + head chunks over 3h + a preallocated chunk segment (MiB)", (f) => `${mib(f.projection.walBytes).toFixed(0)} + ${mib(f.projection.headChunkBytes).toFixed(0)} + ${mib(f.projection.preallocatedBytes).toFixed(0)}`),
        line("projected TSDB vs retention size", (f) => `${mib(f.projection.totalBytes).toFixed(0)} of ${prometheusSize(mib(f.retentionSizeBytes))}${f.projection.totalBytes > f.retentionSizeBytes ? " (size retention would cut the time retention short)" : ""}`),
        line("process memory and tmpfs needed at 80 % (MiB)", (f) => `${(mib(f.peakRss) / margin).toFixed(0)} + ${(mib(f.projection.totalBytes) / margin).toFixed(0)}`),
        line("scrape duration p50 / p99 / max (ms)", (f) => `${(1000 * f.scrapeP50).toFixed(0)} / ${(1000 * f.scrapeP99).toFixed(0)} / ${(1000 * f.scrapeMax).toFixed(0)}`),
        line("Prometheus CPU over the steady phase (cores)", (f) => f.prometheusCpuCores.toFixed(2)),
        line("exporter CPU (share of one core) / slowest render (ms)", (f) => `${f.exporterCpuShare.toFixed(2)} / ${(1000 * f.exporterMaxRenderSeconds).toFixed(0)}`),
    ].join("\n");
}

/** Two panels over active series: memory (peak RSS vs process memory) and TSDB bytes (projected vs tmpfs). */
export async function renderChart(figures: readonly PlanFigures[], pngFile: string): Promise<void> {
    const rows = figures.flatMap((f) => [
        { panel: "memory (MiB)", plan: f.plan, series: f.series, what: "peak RSS, measured + open chunks", MiB: mib(f.peakRss) },
        { panel: "memory (MiB)", plan: f.plan, series: f.series, what: "process memory of the plan", MiB: mib(f.memoryBudget) },
        { panel: "memory (MiB)", plan: f.plan, series: f.series, what: "80 % of the budget", MiB: margin * mib(f.memoryBudget) },
        { panel: "tmpfs (MiB)", plan: f.plan, series: f.series, what: "TSDB at retention, projected", MiB: mib(f.projection.totalBytes) },
        { panel: "tmpfs (MiB)", plan: f.plan, series: f.series, what: "TSDB at the end of the run, measured", MiB: mib(f.tsdbUsedAtEnd) },
        { panel: "tmpfs (MiB)", plan: f.plan, series: f.series, what: "tmpfs of the plan", MiB: mib(f.tmpfsBudget) },
        { panel: "tmpfs (MiB)", plan: f.plan, series: f.series, what: "retention size of the plan", MiB: mib(f.retentionSizeBytes) },
        { panel: "tmpfs (MiB)", plan: f.plan, series: f.series, what: "80 % of the budget", MiB: margin * mib(f.tmpfsBudget) },
    ]);
    const what = ["peak RSS, measured + open chunks", "TSDB at retention, projected", "TSDB at the end of the run, measured", "process memory of the plan", "tmpfs of the plan", "retention size of the plan", "80 % of the budget"];
    const panel = (title: string): vegaLite.TopLevelSpec => ({
        title,
        width: 380,
        height: 300,
        transform: [{ filter: { field: "panel", equal: title } }],
        encoding: {
            x: { field: "series", type: "quantitative", scale: { type: "log", domain: [30_000, 1_500_000] }, title: "active series (log scale)", axis: { format: "~s" } },
            y: { field: "MiB", type: "quantitative", scale: { type: "log" }, title: "MiB (log scale)" },
            color: { field: "what", type: "nominal", scale: { domain: what }, title: null },
        },
        layer: [
            { mark: { type: "line", point: true }, encoding: { strokeDash: { condition: { test: "indexof(datum.what, 'plan') >= 0 || indexof(datum.what, '80 %') >= 0", value: [5, 3] }, value: [1, 0] } } },
            { mark: { type: "text", dy: -10, fontSize: 10 }, transform: [{ filter: "indexof(datum.what, 'measured') >= 0 || indexof(datum.what, 'projected') >= 0" }], encoding: { text: { field: "plan" } } },
        ],
    } as unknown as vegaLite.TopLevelSpec);
    const spec = {
        $schema: "https://vega.github.io/schema/vega-lite/v5.json",
        data: { values: rows },
        hconcat: [panel("memory (MiB)"), panel("tmpfs (MiB)")],
        config: { background: "white", legend: { orient: "bottom", columns: 4, labelLimit: 320 } },
    } as unknown as vegaLite.TopLevelSpec;
    const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: "none" });
    const svg = await view.toSVG();
    view.finalize();
    fs.writeFileSync(pngFile, new Resvg(svg, { fitTo: { mode: "zoom", value: 2 }, font: { loadSystemFonts: true } }).render().asPng());
}

function loadText(load: LoadReading, cpus: number): string {
    return `1-minute load average ${load.atStart.toFixed(1)} at the start, ${load.min.toFixed(1)}-${load.max.toFixed(1)} (mean ${load.mean.toFixed(1)}) during the run on ${cpus} cores`;
}

export function docsPage(file: MeasurementsFile, figures: readonly PlanFigures[], chartName: string, exporterChoice: string, flushTable: string): string {
    const { machine, load } = file;
    const quiet = figures.every((f) => f.load.max <= machine.cpus);
    const steady = figures.map((f) => `${f.plan} ${(f.steadySeconds / 60).toFixed(1)} min`).join(", ");
    return `# Plans, measured

Generated by \`npm run bench:plans\` (bench/plans.ts) from \`bench/results/plans.json\`; do not edit by hand.
Measured ${file.measuredAt.slice(0, 16).replace("T", " ")} UTC on ${machine.cpus} cores (${machine.cpuModel}), ${machine.memoryGiB.toFixed(0)} GiB,
Linux ${machine.kernel}, Prometheus ${machine.prometheus}, Node ${machine.node}; the whole run took ${(file.runSeconds / 60).toFixed(1)} min.
${loadText(load, machine.cpus)}.${quiet ? "" : `
**The machine was not quiet for every plan** (the load row below; other work shared its 2 cores). RSS hardly
depends on CPU contention and is trusted. Bytes per sample do: scrapes delayed past Prometheus' 2ms timestamp
alignment tolerance leave timestamps that compress worse, so a loaded plan's TSDB projection is pessimistic (the
same per-target workload gave about 1.4 bytes per sample at a load below 2). Samples/s only shows that ingestion
kept up (the workload fixes it); scrape durations and restart times are inflated by the contention. Re-measure on
a quiet machine before trusting those.`}
${(file.remeasured ?? []).map((update) => `Re-measured ${update.measuredAt.slice(0, 16).replace("T", " ")} UTC: ${update.plans.join(", ")} (${(update.runSeconds / 60).toFixed(1)} min, ${loadText(update.load, machine.cpus)}).\n`).join("")}Churn: ${file.churnPerHour === 0 ? "none (a fixed set of series)" : `${percent(file.churnPerHour)} of the series replaced per hour`}.

${summaryTable(figures)}

A plan fits when its measured peak RSS is at most ${percent(margin)} of its process memory and its projected TSDB at
retention at most ${percent(margin)} of its tmpfs. The container's memory limit is the process memory plus the
tmpfs (tmpfs pages count against it), so both shares at ${percent(margin)} keep the container at ${percent(margin)} of its limit.
\`test/unit/plans-margin.spec.ts\` re-derives these verdicts from the measurements file against \`components/plans.ts\`.

**How the catalog follows from it** (\`components/plans.ts\`): process memory is the smallest round size that keeps
the checked peak RSS at about half of it, the 80 % margin plus room for queries, which the benchmark does not
generate; the tmpfs is a round size whose retention size (75 % of it) holds the TSDB projected to the retention
with room to spare for scrapes delayed by CPU contention (they compress worse), so size-based retention does not cut
the advertised retention short at the advertised load. The last detail row gives what 80 % alone would need.

![Peak RSS and TSDB bytes against active series, with each plan's budgets](${chartName})

## Details

${detailTable(figures)}

## Shutdown flush

Every Prometheus pod flushes its head to the bucket before it stops (\`components/prometheus/flush.sh\`, its preStop
hook). \`npm run bench:flush\` (bench/flush.ts) measures it per plan into \`bench/results/flush.json\`;
\`test/unit/flush-budget.spec.ts\` holds each plan's deadline to it.

<!-- bench:flush -->
${flushTable}
<!-- /bench:flush -->

## Compactor scratch

The compactor builds ${largestCompactionSeconds / 86400}-day blocks of each instance's deduplicated stream, with the
sources and the result on its disk at once; it compacts one instance at a time. So a bucket's compactor needs the
figure of its largest instance below, whatever the number of instances (the default \`thanos.compactor.scratch.size\`,
and on ECS \`ecs.capacity.compactorStorageGiB\`, hold an xlarge; \`test/unit/compactor-scratch.spec.ts\` checks it). Projected from the measured bytes per sample at each plan's advertised series, with no
churn; churn adds index and chunk heads per replaced series.

${compactorScratchTable(figures)}

## How it is measured

For each plan, \`bench/sizing/measure.ts\` starts, all on loopback:

- **the workload exporter** (\`bench/workload/\`) in its own process, so its CPU and memory are not Prometheus':
  the advertised targets, each a Tsuru app unit exposing series/targets series (runtime gauges, a GC summary, and
  per HTTP route a request counter by method and status, a latency histogram and an in-flight gauge), every value
  moving each scrape (busy counters climb, error counters mostly stand still, a few floats). The targets carry the
  labels the Tsuru job adds (app, process, app_version, namespace, pod, node, instance). ${exporterChoice}
- **the real Prometheus** with the flags \`prometheusArgs()\` renders for the plan (retention time and size, 2h
  blocks, lifecycle, the admin API the snapshots use), only the paths and the listen address (loopback, a free
  port) replaced and the web config left out; the prometheus.yml and rule files \`renderInstanceFiles()\`
  renders for an instance on the plan (the plan's scrape interval, sample/label/target limits, the instance
  alerts), with the workload as its scrape job, the self-scrape on the actual port and no sidecar job;
- **its TSDB on a real tmpfs** of the plan's size (\`mount -t tmpfs -o size=<tmpfs>m\`), unmounted afterwards.

Readings every few seconds: RSS and its high-water mark from \`/proc/<pid>/status\` (VmRSS, VmHWM, RssAnon,
RssFile, RssShmem), the Go heap and head series from Prometheus' \`/metrics\`
(\`go_memstats_heap_inuse_bytes\`, \`prometheus_tsdb_head_series\`), samples appended
(\`prometheus_tsdb_head_samples_appended_total\`), the tmpfs bytes in use (statfs) and the WAL, head-chunk and
block directories, CPU seconds of both processes, the load average. Scrape durations come from
\`scrape_duration_seconds\` of every workload target over the steady phase.

**Run length** (${steady}, after a warm-up until every target has been scraped once): the head's memory is set
by its series, which all exist after the first scrape of every target. The first head-to-block write (a snapshot
half-way) raises the Go heap's goal once; from then on RSS stays nearly flat (the "RSS growth between the block
writes" row), since what still grows is only each series' open chunk, which the open-chunk allowance covers up to
its full 120 samples (an hour at 30s). A longer run would not reach the two-hourly head compaction either (the
head must span 3h first), which is why the two snapshots (the same head-to-block write) run inside the steady
phase, their memory part of the peak; a restart on the same TSDB measures the WAL replay, which a container
restarted after an OOM kill goes through (the emptyDir survives a container restart). The whole run stays within
30 minutes on 2 cores.

**Projection of the TSDB to the retention**: a short run holds only the head (WAL, hardly any full head chunk, no
block), so the bytes at retention are projected from measured rates for a Prometheus beside a Thanos sidecar (2h
blocks, never compacted locally) at the moment it holds the most: retention/2h + 1 blocks (the newest written before
the oldest is deleted), each of series x (2 chunks x bytes per chunk + 240 samples x bytes per sample + index bytes
per series); the bytes per sample are the marginal block bytes between the two snapshots (the samples added
between them), the bytes per chunk what is left per chunk, the index bytes per series those of the later snapshot;
plus a WAL of 3h at the measured growth rate with its series records twice (records and checkpoint), plus 3h of
head chunks mmapped in chunks_head, plus the chunk segment every block write preallocates (fallocate, which on a
tmpfs takes real memory: Prometheus' default of 512MiB made the first snapshot on the small plan's 512Mi tmpfs fail
with "no space left on device", so the program now renders \`--storage.tsdb.max-block-chunk-segment-size\`). Size-based retention would delete blocks early when this exceeds the
retention size; the details say whether it does.

**Not measured**: queries (dashboards and rule evaluation beyond the instance alerts add memory per query), churn
beyond the figure above (each replaced series stays in the head up to 3h), native histograms, and Thanos sidecar
memory (its own container). The ${percent(1 - margin)} margin is the room for them.
`;
}
