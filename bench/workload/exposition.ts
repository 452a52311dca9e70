/**
 * The plain exposition writer: the workload's targets rendered straight to the Prometheus text format (0.0.4).
 * Series names are built once and shared by all targets; each target keeps only its values (a Float64Array) and
 * moves them on every scrape. At 1M series this is several times faster than prom-client (bench/exporter-choice.ts,
 * bench/results/exporter-choice.json), which is why the benchmark's exporter uses it.
 */
import { countNear, Family, latencyShares, meanLatency, randomSource, seriesPerChild, targetFamilies, WorkloadShape } from "./model";

export const expositionContentType = "text/plain; version=0.0.4; charset=utf-8";

function labelText(names: readonly string[], values: readonly string[]): string {
    return names.map((name, index) => `${name}="${values[index]}"`).join(",");
}

/** Per series its line start without churn ("name{labels} ") and with it ("name{labels," to which the revision is added). */
interface Layout {
    readonly families: readonly Family[];
    readonly closed: readonly string[];
    readonly open: readonly string[];
    /** headers[i]: the HELP/TYPE lines written before series i, or undefined. */
    readonly headers: readonly (string | undefined)[];
    readonly series: number;
}

function layout(families: readonly Family[]): Layout {
    const closed: string[] = [];
    const open: string[] = [];
    const headers: (string | undefined)[] = [];
    for (const family of families) {
        headers[closed.length] = `# HELP ${family.name} ${family.help}\n# TYPE ${family.name} ${family.type}\n`;
        for (const child of family.children) {
            const labels = labelText(family.labelNames, child);
            const add = (name: string, extra: string) => {
                const text = [labels, extra].filter((part) => part !== "").join(",");
                closed.push(text === "" ? `${name} ` : `${name}{${text}} `);
                open.push(text === "" ? `${name}{` : `${name}{${text},`);
            };
            if (family.type === "histogram") {
                for (const bound of family.buckets ?? []) add(`${family.name}_bucket`, `le="${bound}"`);
                add(`${family.name}_bucket`, `le="+Inf"`);
                add(`${family.name}_sum`, "");
                add(`${family.name}_count`, "");
            } else if (family.type === "summary") {
                for (const quantile of family.quantiles ?? []) add(family.name, `quantile="${quantile}"`);
                add(`${family.name}_sum`, "");
                add(`${family.name}_count`, "");
            } else {
                add(family.name, "");
            }
        }
    }
    return { families, closed, open, headers, series: closed.length };
}

/** Moves a target's values one scrape forward (see model.ts for what each motion means). */
function advance(families: readonly Family[], values: Float64Array, random: () => number): void {
    let offset = 0;
    for (const family of families) {
        const width = seriesPerChild(family);
        const motion = family.motion;
        for (let child = 0; child < family.children.length; child++, offset += width) {
            switch (motion.kind) {
                case "requests": {
                    const requests = countNear(motion.meanPerScrape(child), random);
                    if (family.type !== "histogram") {
                        values[offset] += requests;
                        break;
                    }
                    // Cumulative buckets: one shared rounding keeps them monotonic.
                    const routeIndex = Math.floor(child / 2);
                    const shares = latencyShares(routeIndex);
                    const rounding = random();
                    for (let bucket = 0; bucket < shares.length; bucket++) values[offset + bucket] += Math.floor(requests * shares[bucket] + rounding);
                    values[offset + shares.length] += requests;
                    if (requests > 0) values[offset + shares.length + 1] += requests * meanLatency(routeIndex) * (0.5 + random());
                    values[offset + shares.length + 2] += requests;
                    break;
                }
                case "cpu":
                    values[offset] = Math.round((values[offset] + 0.01 * countNear(3, random)) * 100) / 100;
                    break;
                case "level":
                    if (values[offset] === 0) values[offset] = motion.base;
                    values[offset] = Math.max(0, values[offset] + motion.step * (countNear(1, random) - 1));
                    break;
                case "gc": {
                    if (random() < 0.5) break; // no collection since the last scrape
                    const quantiles = width - 2;
                    for (let q = 0; q < quantiles; q++) values[offset + q] = 1e-5 * (1 + q) * (1 + random());
                    values[offset + quantiles] += 2e-5 * (1 + random());
                    values[offset + quantiles + 1] += 1;
                    break;
                }
            }
        }
    }
}

/** All targets of a workload, with churn: every replaced target (a redeployed unit) gets a new `revision`. */
export class Workload {
    private readonly layout: Layout;
    private readonly values: Float64Array[];
    private readonly randoms: (() => number)[];
    private readonly revisions: Int32Array;
    private readonly startedAt: number;

    constructor(readonly shape: WorkloadShape, now = Date.now()) {
        this.layout = layout(targetFamilies(shape.seriesPerTarget));
        this.values = Array.from({ length: shape.targets }, () => new Float64Array(this.layout.series));
        this.randoms = Array.from({ length: shape.targets }, (_, target) => randomSource(target + 1));
        this.revisions = new Int32Array(shape.targets).fill(1);
        this.startedAt = now;
    }

    /** Series exposed per target (exactly the shape's seriesPerTarget). */
    get seriesPerTarget(): number {
        return this.layout.series;
    }

    /** Targets replaced so far: churn/min series, a whole target (all its series) at a time, round robin. */
    replacedTargets(now = Date.now()): number {
        if (this.shape.churnPerMinute <= 0) return 0;
        return Math.floor((((now - this.startedAt) / 60_000) * this.shape.churnPerMinute) / this.layout.series);
    }

    /** The target's exposition for this scrape; its values move first, so every scrape sees new values. */
    render(target: number, now = Date.now()): string {
        const values = this.values[target];
        const churn = this.shape.churnPerMinute > 0;
        if (churn) {
            const replaced = this.replacedTargets(now);
            const revision = 1 + (replaced > target ? Math.floor((replaced - target - 1) / this.shape.targets) + 1 : 0);
            if (revision !== this.revisions[target]) {
                this.revisions[target] = revision;
                values.fill(0); // a new unit starts its counters from zero
            }
        }
        advance(this.layout.families, values, this.randoms[target]);
        const { closed, open, headers } = this.layout;
        const revision = `revision="${this.revisions[target]}"} `;
        let text = "";
        for (let series = 0; series < closed.length; series++) {
            const header = headers[series];
            if (header !== undefined) text += header;
            text += churn ? `${open[series]}${revision}${values[series]}\n` : `${closed[series]}${values[series]}\n`;
        }
        return text;
    }
}
