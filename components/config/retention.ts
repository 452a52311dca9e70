/**
 * The bucket's retentions per resolution, checked together. Thanos downsamples a raw block to 5m once a block
 * spans 40h, and a 5m block to 1h once it spans 10 days; the compactor refuses to start with a raw or 5m retention
 * below those spans (0 = forever). A coarser resolution kept for less time than a finer one is what the range
 * queries over long spans read: deleting it first leaves them reading the finer blocks (many times the samples)
 * or nothing past the finer retention. Thanos' compactor docs ask for downsampled retentions at least as long.
 */
import { z } from "zod";
import { parseDurationSeconds, prometheusDuration } from "../units";

/** Thanos' downsampling spans (pkg/compact/downsample: ResLevel1DownsampleRange, ResLevel2DownsampleRange). */
const downsampleSpanSeconds = { to5m: 40 * 3600, to1h: 10 * 86400 } as const;

interface Retentions {
    readonly retentionRaw: string;
    readonly retention5m: string;
    readonly retention1h: string;
}

const resolutions = [
    { key: "retentionRaw", name: "raw", downsampledAfter: downsampleSpanSeconds.to5m, into: "5m" },
    { key: "retention5m", name: "5m", downsampledAfter: downsampleSpanSeconds.to1h, into: "1h" },
    { key: "retention1h", name: "1h" },
] as const;

/** Seconds a retention keeps data; 0 (Thanos: forever) compares as the longest. */
function keptSeconds(retention: string): number {
    const seconds = parseDurationSeconds(retention)!;
    return seconds === 0 ? Infinity : seconds;
}

/** Each problem as [key, message]: the keys are those of thanos.compactor. */
export function retentionProblems(retentions: Retentions): [keyof Retentions, string][] {
    const problems: [keyof Retentions, string][] = [];
    resolutions.forEach((resolution, index) => {
        const value = retentions[resolution.key];
        if (parseDurationSeconds(value) === undefined) return;
        const kept = keptSeconds(value);
        if ("downsampledAfter" in resolution && kept < resolution.downsampledAfter) {
            const span = prometheusDuration(resolution.downsampledAfter);
            problems.push([resolution.key, `must be 0d (forever) or at least ${span}: Thanos downsamples ${resolution.name} blocks to ${resolution.into} only once a block spans ${span}, and its compactor refuses a shorter ${resolution.name} retention (got ${value})`]);
        }
        for (const finer of resolutions.slice(0, index)) {
            const finerValue = retentions[finer.key];
            if (parseDurationSeconds(finerValue) !== undefined && kept < keptSeconds(finerValue)) {
                problems.push([resolution.key, `must be at least ${finer.key} (${finerValue}${keptSeconds(finerValue) === Infinity ? ", forever" : ""}): long-range queries read the downsampled copy, which must outlive the ${finer.name} data (got ${value})`]);
            }
        }
    });
    return problems;
}

/** The compactor schema's cross-key check: each problem on its own key. */
export function checkRetentions(compactor: Retentions, context: z.RefinementCtx): void {
    for (const [key, message] of retentionProblems(compactor)) context.addIssue({ code: z.ZodIssueCode.custom, path: [key], message });
}
