/**
 * The shutdown flush's figures per plan, from bench/results/flush.json (what `npm run bench:flush` measured) and
 * the sizing run's rates (bench/results/plans.json): the measured snapshot and upload of the run's head, the block a
 * full head (3h) writes, and the time its flush is projected to take against the plan's deadline. Pure but for
 * reading the results files; the docs' tables and test/unit/flush-budget.spec.ts both come from here.
 */
import * as fs from "fs";
import * as path from "path";
import { builtinPlans } from "../../components/plans";
import { parseDurationSeconds } from "../../components/units";
import { flushDeadlineSeconds, flushGracePeriodSeconds, flushRates } from "../../components/prometheus/flush";
import type { MeasurementsFile } from "./report";
import { deriveFigures, fullHeadBlockBytes, margin } from "./projection";

export interface FlushMeasurement {
    plan: string;
    series: number;
    headSeries: number;
    /** Samples in the head when the flush began (the run's minutes of scrapes). */
    headSamples: number;
    steadySeconds: number;
    /** Bytes in use on the tmpfs before the flush. */
    tsdbBytes: number;
    headBlockBytes: number;
    snapshotSeconds: number;
    uploadSeconds: number;
    flushSeconds: number;
}

export interface FlushResults {
    measuredAt: string;
    runSeconds: number;
    machine: { cpus: number; cpuModel: string; memoryGiB: number };
    measurements: FlushMeasurement[];
}

export interface FlushFigures extends FlushMeasurement {
    fullHeadBlockBytes: number;
    /** The measured snapshot scaled to the full head's bytes, plus its upload at the lower of the measured and the assumed bucket rate. */
    projectedSeconds: number;
    headroomBytes: number;
    deadlineSeconds: number;
    gracePeriodSeconds: number;
    problems: string[];
}

const mib = 2 ** 20;
const resultsDir = path.join(__dirname, "..", "results");

export function readFlushResults(file = path.join(resultsDir, "flush.json")): FlushResults {
    return JSON.parse(fs.readFileSync(file, "utf8")) as FlushResults;
}

function readSizing(file = path.join(resultsDir, "plans.json")): MeasurementsFile {
    return JSON.parse(fs.readFileSync(file, "utf8")) as MeasurementsFile;
}

/** Each measured plan's figures against the catalog and the flush budget as they are now. */
export function flushFigures(results: FlushResults, sizing: MeasurementsFile = readSizing()): FlushFigures[] {
    return results.measurements.map((measurement) => {
        const plan = builtinPlans[measurement.plan];
        const sized = sizing.measurements.find((candidate) => candidate.plan.name === measurement.plan);
        if (plan === undefined || sized === undefined) throw new Error(`plan ${measurement.plan} is not in the catalog or not in bench/results/plans.json`);
        const full = fullHeadBlockBytes(deriveFigures(sized, plan), parseDurationSeconds(plan.scrapeInterval)!);
        const measuredUploadRate = measurement.headBlockBytes / measurement.uploadSeconds;
        const uploadRate = Math.min(measuredUploadRate, flushRates.uploadMiBPerSecond * mib);
        const projectedSeconds = measurement.snapshotSeconds * Math.max(1, full / measurement.headBlockBytes) + measurement.uploadSeconds + Math.max(0, full - measurement.headBlockBytes) / uploadRate;
        const headroomBytes = (plan.tmpfsMiB - plan.retentionSizeMiB) * mib;
        const deadlineSeconds = flushDeadlineSeconds(plan);
        const problems: string[] = [];
        const measuredSnapshotRate = measurement.headBlockBytes / measurement.snapshotSeconds;
        if (flushRates.snapshotMiBPerSecond * mib > measuredSnapshotRate) problems.push(`the deadline assumes snapshots at ${flushRates.snapshotMiBPerSecond} MiB/s, this plan's ran at ${(measuredSnapshotRate / mib).toFixed(1)} MiB/s`);
        if (flushRates.uploadMiBPerSecond * mib > measuredUploadRate) problems.push(`the deadline assumes uploads at ${flushRates.uploadMiBPerSecond} MiB/s, this plan's ran at ${(measuredUploadRate / mib).toFixed(1)} MiB/s`);
        if (projectedSeconds > margin * deadlineSeconds) problems.push(`a full head's flush is projected at ${projectedSeconds.toFixed(1)} s, over ${100 * margin} % of the ${deadlineSeconds} s deadline`);
        if (full > margin * headroomBytes) problems.push(`a full head's block of ${(full / mib).toFixed(0)} MiB is over ${100 * margin} % of the ${(headroomBytes / mib).toFixed(0)} MiB the retention size leaves on the tmpfs`);
        return { ...measurement, fullHeadBlockBytes: full, projectedSeconds, headroomBytes, deadlineSeconds, gracePeriodSeconds: flushGracePeriodSeconds(plan), problems };
    });
}

/** The Markdown table of the docs (docs/plans.md and the README). */
export function flushTable(results: FlushResults, sizing?: MeasurementsFile): string {
    const rows = flushFigures(results, sizing).map((figures) => [
        figures.plan,
        figures.series.toLocaleString("en-US"),
        `${(figures.headBlockBytes / mib).toFixed(1)} MiB`,
        `${figures.snapshotSeconds.toFixed(2)} s`,
        `${figures.uploadSeconds.toFixed(2)} s`,
        `${(figures.fullHeadBlockBytes / mib).toFixed(0)} MiB`,
        `${figures.projectedSeconds.toFixed(1)} s`,
        `${figures.deadlineSeconds} s`,
        `${figures.gracePeriodSeconds} s`,
    ]);
    const header = ["plan", "series", "head block (run)", "snapshot", "upload", "full head block (3h)", "full head flush (projected)", "deadline", "grace period"];
    return [
        `| ${header.join(" | ")} |`,
        `|${header.map(() => "---").join("|")}|`,
        ...rows.map((row) => `| ${row.join(" | ")} |`),
        "",
        `Measured ${results.measuredAt.slice(0, 10)} by \`npm run bench:flush\` (${results.machine.cpus} cores, ${results.measurements[0]?.steadySeconds ?? 0} s of scrapes per plan, local S3 server); ` +
            `the full head's block from the sizing rates, its upload at the lower of the measured rate and ${flushRates.uploadMiBPerSecond} MiB/s.`,
    ].join("\n");
}

const begin = "<!-- bench:flush -->";
const end = "<!-- /bench:flush -->";

/** The text between the flush table's markers of a document. */
export function flushSection(document: string, file: string): string {
    const from = document.indexOf(begin);
    const to = document.indexOf(end);
    if (from < 0 || to < from) throw new Error(`${file} has no ${begin} ... ${end} section`);
    return document.slice(from + begin.length, to).trim();
}

/** Writes the table into docs/plans.md and README.md between their markers. */
export function updateFlushTables(results: FlushResults, root = path.join(__dirname, "..", "..")): void {
    for (const file of [path.join(root, "docs", "plans.md"), path.join(root, "README.md")]) {
        const document = fs.readFileSync(file, "utf8");
        flushSection(document, file);
        fs.writeFileSync(file, document.replace(new RegExp(`${begin}[\\s\\S]*?${end}`), `${begin}\n${flushTable(results)}\n${end}`));
    }
}
