/**
 * Known data for a Prometheus TSDB before it starts: series written as OpenMetrics and turned into blocks by the
 * real `promtool tsdb create-blocks-from openmetrics`, so a sidecar has a complete block to upload at once.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { runToCompletion } from "./processes";
import { promtoolBinary } from "./tools";

/** The block range the program runs Prometheus with (--storage.tsdb.{min,max}-block-duration=2h); promtool's too. */
export const blockRangeMs = 2 * 3600_000;

export interface TimeRange {
    readonly start: number;
    /** Exclusive. */
    readonly end: number;
}

/** The newest block range, aligned as Prometheus aligns its blocks, that ended at least `minAgeMs` before `nowMs`. */
export function completedBlockRange(nowMs: number, minAgeMs: number): TimeRange {
    const end = Math.floor((nowMs - minAgeMs) / blockRangeMs) * blockRangeMs;
    return { start: end - blockRangeMs, end };
}

export interface KnownSeries {
    readonly labels: Readonly<Record<string, string>>;
    /** Value of the sample at `start + index * step`. */
    readonly value: (index: number) => number;
}

/** One gauge family with a sample of every series every `stepMs` in the range. */
export function openMetricsGauge(metric: string, series: readonly KnownSeries[], range: TimeRange, stepMs: number): string {
    const lines = [`# HELP ${metric} Backfilled by the e2e tests.`, `# TYPE ${metric} gauge`];
    for (const { labels, value } of series) {
        const labelText = Object.entries(labels).map(([name, text]) => `${name}="${text}"`).join(",");
        for (let index = 0, time = range.start; time < range.end; index++, time += stepMs) {
            lines.push(`${metric}{${labelText}} ${value(index)} ${time / 1000}`);
        }
    }
    return `${lines.join("\n")}\n# EOF\n`;
}

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** A ULID (the id of a TSDB block) whose time part is `timeMs`. */
export function ulidAt(timeMs: number): string {
    let time = "";
    for (let rest = timeMs, digit = 0; digit < 10; digit++, rest = Math.floor(rest / 32)) time = crockford[rest % 32] + time;
    return time + [...crypto.randomBytes(16)].map((byte) => crockford[byte % 32]).join("");
}

interface BlockMeta {
    ulid: string;
    minTime: number;
    maxTime: number;
    compaction: { level: number; sources: string[] };
    [key: string]: unknown;
}

export function readBlockMeta(blockDir: string): BlockMeta {
    return JSON.parse(fs.readFileSync(path.join(blockDir, "meta.json"), "utf8"));
}

/** Copies a block into `targetDir` under a new ULID: the same data as another block, as a distinct block. */
export function copyBlockAs(blockDir: string, targetDir: string): string {
    const meta = readBlockMeta(blockDir);
    const ulid = ulidAt(Date.now());
    const copy = path.join(targetDir, ulid);
    fs.cpSync(blockDir, copy, { recursive: true });
    const sources = meta.compaction.sources.map((source) => (source === meta.ulid ? ulid : source));
    fs.writeFileSync(path.join(copy, "meta.json"), JSON.stringify({ ...meta, ulid, compaction: { ...meta.compaction, sources } }, null, "\t"));
    return copy;
}

/** Runs promtool's backfill of an OpenMetrics text into `outDir`; returns the block directories it made. */
export async function createBlocks(openMetrics: string, outDir: string): Promise<string[]> {
    fs.mkdirSync(outDir, { recursive: true });
    const input = path.join(outDir, "..", `${path.basename(outDir)}.om`);
    fs.writeFileSync(input, openMetrics);
    const before = new Set(fs.readdirSync(outDir));
    await runToCompletion("promtool tsdb create-blocks-from openmetrics", promtoolBinary(), ["tsdb", "create-blocks-from", "openmetrics", input, outDir], { timeoutMs: 60_000 });
    return fs.readdirSync(outDir).filter((name) => !before.has(name) && /^[0-9A-HJKMNP-TV-Z]{26}$/.test(name)).map((name) => path.join(outDir, name));
}
