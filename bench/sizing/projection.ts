/**
 * From a plan's raw readings (measure.ts) to its figures and verdict. Pure, so the margin test derives the same
 * figures from the committed measurements file against the plan catalog as it is now.
 *
 * Memory: the peak RSS is the kernel's high-water mark (VmHWM) of Prometheus over the whole run, the first scrape
 * of every series, two head-to-block writes, and the WAL replay of a restart, whichever is highest, plus what the
 * run is too short to see: each series' open chunk starts as a 128-byte buffer (chunkenc.NewXORChunk) and doubles
 * to 256 bytes once it holds more (about half-way through its 120 samples), the heap growing by the Go GC's
 * factor (Prometheus' GOGC of 75). That total is checked against the plan's process memory; the tmpfs has its
 * own share of the container's limit (limit = process memory + tmpfs on Kubernetes), so both at 80 % keep the
 * container at 80 % of its limit.
 *
 * TSDB: a short run only holds the head (WAL, no full head chunks, no 2h block), so the bytes at the plan's
 * retention are projected from measured rates, for a Prometheus beside a Thanos sidecar (2h blocks, never
 * compacted locally) at the moment it holds the most:
 *   blocks      retention / 2h + 1 blocks (the newest is written before the oldest is deleted), each
 *               series x (chunks x bytes per chunk + samples x bytes per sample) + series x index bytes;
 *               bytes per sample and per chunk from two snapshots of the head (the marginal bytes of the samples
 *               added between them, and what is left per chunk), index bytes per series from the later one;
 *   WAL         the head spans up to 3h before it is compacted: 3h at the measured WAL growth rate, plus the
 *               series records written at the first scrape, twice (the records and their checkpoint);
 *   head chunks 3h of full chunks mmapped in chunks_head: the block chunk bytes plus 24 bytes of header per chunk;
 *   preallocation the chunk segment a block write preallocates (--storage.tsdb.max-block-chunk-segment-size of the
 *               measured flags, Prometheus' 512MiB without it).
 */
import { builtinPlans, Plan } from "../../components/plans";
import { parseDurationSeconds, parseMiB } from "../../components/units";
import type { PlanMeasurement } from "./measure";

/** Every figure must stay at or below this share of its budget. */
export const margin = 0.8;

const blockSeconds = 2 * 3600;
const headSpanSeconds = 3 * 3600;
const samplesPerChunk = 120;
const headChunkHeaderBytes = 24; // series ref, mint, maxt: 8 bytes each, before the block chunk's own framing
const chunkRefIndexBytes = 16; // an extra chunk's entry in a series' index record (three varints), at most
const openChunkInitialBytes = 128; // chunkenc.chunkAllocationSize
const goHeapGrowth = 1.75; // Prometheus' default GOGC of 75: the heap may reach 1.75x the live bytes

export interface TsdbProjection {
    blocks: number;
    blockBytes: number;
    walBytes: number;
    headChunkBytes: number;
    preallocatedBytes: number;
    totalBytes: number;
}

/** The chunk segment size a block write preallocates with these flags (Prometheus units are base 2). */
export function chunkSegmentBytes(flags: readonly string[]): number {
    const flag = flags.find((arg) => arg.startsWith("--storage.tsdb.max-block-chunk-segment-size="));
    if (flag === undefined) return 512 * 2 ** 20;
    const size = parseMiB(flag.split("=")[1].replace(/B$/, "i"));
    if (size === undefined) throw new Error(`cannot read the size in ${flag}`);
    return size * 2 ** 20;
}

export interface PlanFigures {
    plan: string;
    series: number;
    targets: number;
    headSeries: number;
    steadySeconds: number;
    /** Measured peak plus the open-chunk allowance: what is checked against the process memory. */
    peakRss: number;
    measuredPeakRss: number;
    openChunkAllowance: number;
    /** High-water mark before the first head snapshot: ingestion alone. */
    scrapingPeakRss: number;
    steadyPeakRss: number;
    restartPeakRss: number;
    restartReadySeconds: number;
    /** RSS slope once settled (one interval after the first head-to-block write, to the end), bytes per minute. */
    rssGrowthPerMinute: number;
    /** Peak RSS above the RSS of the empty Prometheus, per head series. */
    rssPerSeries: number;
    /** Head series the 80 % budget still has room for beyond the advertised load (churn, queries). */
    seriesHeadroom: number;
    goHeapInuse: number;
    samplesPerSecond: number;
    expectedSamplesPerSecond: number;
    bytesPerSample: number;
    bytesPerChunk: number;
    indexBytesPerSeries: number;
    walBytesPerSecond: number;
    tsdbUsedAtEnd: number;
    projection: TsdbProjection;
    memoryBudget: number;
    tmpfsBudget: number;
    retentionSizeBytes: number;
    rssShare: number;
    tmpfsShare: number;
    scrapeP50: number;
    scrapeP99: number;
    scrapeMax: number;
    /** Prometheus' CPU over the steady phase (block writes included), in cores. */
    prometheusCpuCores: number;
    exporterCpuShare: number;
    exporterMaxRenderSeconds: number;
    /** 1-minute load average over the plan's readings. */
    load: { min: number; max: number; mean: number };
    problems: string[];
    fits: boolean;
}

const mib = 2 ** 20;

function seconds(duration: string, what: string): number {
    const value = parseDurationSeconds(duration);
    if (value === undefined) throw new Error(`${what}: '${duration}' is not a Prometheus duration`);
    return value;
}

/** Least-squares slope of y over x. */
function slope(points: readonly [number, number][]): number {
    const n = points.length;
    if (n < 2) return 0;
    const meanX = points.reduce((sum, [x]) => sum + x, 0) / n;
    const meanY = points.reduce((sum, [, y]) => sum + y, 0) / n;
    const covariance = points.reduce((sum, [x, y]) => sum + (x - meanX) * (y - meanY), 0);
    const variance = points.reduce((sum, [x]) => sum + (x - meanX) ** 2, 0);
    return variance === 0 ? 0 : covariance / variance;
}

/** Block, WAL and head-chunk bytes at the most the plan's retention makes the TSDB hold (see the file comment). */
export function projectTsdb(measurement: PlanMeasurement, retentionSeconds: number, rates: { bytesPerSample: number; bytesPerChunk: number; indexBytesPerSeries: number; walBytesPerSecond: number; walSeriesBytes: number }): TsdbProjection {
    const series = measurement.snapshots[measurement.snapshots.length - 1].series;
    const interval = measurement.scrapeIntervalSeconds;
    const blockSamples = blockSeconds / interval;
    const blockChunks = Math.ceil(blockSamples / samplesPerChunk);
    const measuredChunksPerSeries = measurement.snapshots[measurement.snapshots.length - 1].chunks / series;
    const indexPerSeries = rates.indexBytesPerSeries + Math.max(0, blockChunks - measuredChunksPerSeries) * chunkRefIndexBytes;
    const blockBytes = series * (blockChunks * rates.bytesPerChunk + blockSamples * rates.bytesPerSample + indexPerSeries);
    const blocks = Math.ceil(retentionSeconds / blockSeconds) + 1;
    const headSamples = headSpanSeconds / interval;
    const headChunks = Math.ceil(headSamples / samplesPerChunk);
    const headChunkBytes = series * (headChunks * (rates.bytesPerChunk + headChunkHeaderBytes) + headSamples * rates.bytesPerSample);
    const walBytes = 2 * rates.walSeriesBytes + headSpanSeconds * rates.walBytesPerSecond;
    const preallocatedBytes = chunkSegmentBytes(measurement.flags);
    return { blocks, blockBytes, walBytes, headChunkBytes, preallocatedBytes, totalBytes: blocks * blockBytes + walBytes + headChunkBytes + preallocatedBytes };
}

type BlockRates = Pick<PlanFigures, "series" | "bytesPerSample" | "bytesPerChunk" | "indexBytesPerSeries">;

/** One block spanning `spanSeconds` of every series, with the rates the plan's run measured. */
export function blockBytesOver(figures: BlockRates, scrapeIntervalSeconds: number, spanSeconds: number): number {
    const samples = spanSeconds / scrapeIntervalSeconds;
    const chunks = Math.ceil(samples / samplesPerChunk);
    const indexPerSeries = figures.indexBytesPerSeries + (chunks - 1) * chunkRefIndexBytes;
    return figures.series * (chunks * figures.bytesPerChunk + samples * figures.bytesPerSample + indexPerSeries);
}

/**
 * The block a snapshot writes from a full head: 3h of samples, the most a head spans before Prometheus cuts it,
 * with the rates the plan's run measured (its series, bytes per sample and chunk, index bytes per series).
 */
export function fullHeadBlockBytes(figures: BlockRates, scrapeIntervalSeconds: number): number {
    return blockBytesOver(figures, scrapeIntervalSeconds, headSpanSeconds);
}

/** Thanos' largest compaction level: the compactor builds 14-day blocks of each instance's (deduplicated) stream. */
export const largestCompactionSeconds = 14 * 86400;

/**
 * The compactor's scratch for one instance: its sources (a 14-day range of smaller blocks) and the block built from
 * them, both on disk at once (Thanos' compactor docs: twice two weeks of the largest stream). Groups are compacted
 * one at a time (--compact.concurrency=1), so a bucket needs this for its largest instance, not for the sum.
 */
export function compactorScratchBytes(figures: BlockRates, scrapeIntervalSeconds: number): number {
    return 2 * blockBytesOver(figures, scrapeIntervalSeconds, largestCompactionSeconds);
}

/** The plan's figures from its readings, against `plan` (the catalog's current entry by default). */
export function deriveFigures(measurement: PlanMeasurement, plan: Plan = builtinPlans[measurement.plan.name] ?? measurement.plan): PlanFigures {
    const { samples, steady } = measurement;
    const steadySamples = samples.filter((sample) => sample.seconds >= steady.fromSeconds && sample.seconds <= steady.toSeconds);
    if (steadySamples.length < 3) throw new Error(`${plan.name}: only ${steadySamples.length} readings in the steady phase`);
    const first = steadySamples[0];
    const last = steadySamples[steadySamples.length - 1];
    const elapsed = last.seconds - first.seconds;

    const [earlier, later] = measurement.snapshots;
    if (later === undefined || later.samples <= earlier.samples) throw new Error(`${plan.name}: the two head snapshots do not hold a growing number of samples`);
    const bytesPerSample = (later.chunkBytes - earlier.chunkBytes) / (later.samples - earlier.samples);
    const bytesPerChunk = Math.max(0, (later.chunkBytes - bytesPerSample * later.samples) / later.chunks);
    const walBytesPerSecond = slope(steadySamples.map((sample) => [sample.seconds, sample.wal]));
    const walSeriesBytes = Math.max(0, first.wal - walBytesPerSecond * (first.seconds - measurement.warmupSeconds));
    const rates = { bytesPerSample, bytesPerChunk, indexBytesPerSeries: later.indexBytes / later.series, walBytesPerSecond, walSeriesBytes };
    const projection = projectTsdb(measurement, seconds(plan.retentionTime, `plan ${plan.name} retention`), rates);

    const steadyPeakRss = Math.max(...samples.map((sample) => sample.peakRss));
    const settledFrom = earlier.atSeconds + earlier.seconds + measurement.scrapeIntervalSeconds;
    const settled = steadySamples.filter((sample) => sample.seconds >= settledFrom && sample.seconds < later.atSeconds);
    const scrapingPeakRss = Math.max(0, ...samples.filter((sample) => sample.seconds < earlier.atSeconds).map((sample) => sample.peakRss));
    const measuredPeakRss = Math.max(steadyPeakRss, measurement.restart.peakRss);
    const openChunksGrown = later.chunkBytes / later.chunks >= openChunkInitialBytes;
    const openChunkAllowance = openChunksGrown ? 0 : later.series * openChunkInitialBytes * goHeapGrowth;
    const peakRss = measuredPeakRss + openChunkAllowance;
    const rssPerSeries = (peakRss - samples[0].rss) / last.headSeries;
    const memoryBudget = plan.memoryMiB * mib;
    const tmpfsBudget = plan.tmpfsMiB * mib;
    const samplesPerSecond = (last.samplesAppended - first.samplesAppended) / elapsed;
    // Every workload series plus the 5 series Prometheus records per target (up, scrape_*) each interval.
    const expectedSamplesPerSecond = (measurement.series + 5 * measurement.shape.targets) / measurement.scrapeIntervalSeconds;
    const exporterCpuShare = (last.exporterCpuSeconds - first.exporterCpuSeconds) / elapsed;

    const problems: string[] = [];
    const rssShare = peakRss / memoryBudget;
    const tmpfsShare = projection.totalBytes / tmpfsBudget;
    if (rssShare > margin) problems.push(`peak RSS with open chunks ${(peakRss / mib).toFixed(0)} MiB is ${(100 * rssShare).toFixed(0)} % of the ${plan.memoryMiB} MiB process memory (at most ${100 * margin} %)`);
    if (tmpfsShare > margin) problems.push(`projected TSDB ${(projection.totalBytes / mib).toFixed(0)} MiB is ${(100 * tmpfsShare).toFixed(0)} % of the ${plan.tmpfsMiB} MiB tmpfs (at most ${100 * margin} %)`);
    if (projection.totalBytes > plan.retentionSizeMiB * mib) {
        problems.push(`projected TSDB ${(projection.totalBytes / mib).toFixed(0)} MiB exceeds the ${plan.retentionSizeMiB} MiB retention size: blocks would go before the ${plan.retentionTime} retention`);
    }
    if (measurement.health.targetsUp !== measurement.shape.targets) problems.push(`${measurement.health.targetsUp} of ${measurement.shape.targets} targets up`);
    if (measurement.shape.churnPerMinute === 0 && measurement.health.workloadSeries !== measurement.series) {
        problems.push(`the head holds ${measurement.health.workloadSeries} workload series, the exporter serves ${measurement.series}`);
    }
    if (measurement.health.exceededSampleLimit > 0 || measurement.health.exceededTargetLimit > 0) problems.push("scrapes hit the plan's sample or target limit");
    if (samplesPerSecond < 0.95 * expectedSamplesPerSecond) problems.push(`ingests ${samplesPerSecond.toFixed(0)} samples/s of the ${expectedSamplesPerSecond.toFixed(0)} scraped: Prometheus does not keep up`);

    return {
        plan: plan.name,
        series: measurement.series,
        targets: measurement.shape.targets,
        headSeries: last.headSeries,
        steadySeconds: steady.toSeconds - steady.fromSeconds,
        peakRss,
        measuredPeakRss,
        openChunkAllowance,
        scrapingPeakRss,
        steadyPeakRss,
        restartPeakRss: measurement.restart.peakRss,
        restartReadySeconds: measurement.restart.readySeconds,
        rssGrowthPerMinute: 60 * slope(settled.map((sample) => [sample.seconds, sample.rss])),
        rssPerSeries,
        seriesHeadroom: Math.max(0, Math.floor((margin * memoryBudget - peakRss) / rssPerSeries)),
        goHeapInuse: last.goHeapInuse,
        samplesPerSecond,
        expectedSamplesPerSecond,
        bytesPerSample,
        bytesPerChunk,
        indexBytesPerSeries: rates.indexBytesPerSeries,
        walBytesPerSecond,
        tsdbUsedAtEnd: last.tsdbUsed,
        projection,
        memoryBudget,
        tmpfsBudget,
        retentionSizeBytes: plan.retentionSizeMiB * mib,
        rssShare,
        tmpfsShare,
        scrapeP50: measurement.scrapeDurations.p50,
        scrapeP99: measurement.scrapeDurations.p99,
        scrapeMax: measurement.scrapeDurations.max,
        prometheusCpuCores: (last.prometheusCpuSeconds - first.prometheusCpuSeconds) / elapsed,
        exporterCpuShare,
        exporterMaxRenderSeconds: measurement.exporter.maxRenderSeconds,
        load: {
            min: Math.min(...samples.map((sample) => sample.load1)),
            max: Math.max(...samples.map((sample) => sample.load1)),
            mean: samples.reduce((sum, sample) => sum + sample.load1, 0) / samples.length,
        },
        problems,
        fits: problems.length === 0,
    };
}
