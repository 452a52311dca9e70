/**
 * The workload exporter, run as its own process so its CPU and memory are never counted as Prometheus':
 *   node -r ts-node/register/transpile-only bench/workload/exporter.ts --port P --targets T --series-per-target S [--churn C]
 * serves target i at GET /targets/<i>/metrics (loopback only), its own counters at GET /stats (JSON) and
 * GET /-/ready once built. Every scrape moves the target's values first (bench/workload/exposition.ts).
 */
import * as http from "http";
import { Command } from "commander";
import { expositionContentType, Workload } from "./exposition";

/** What the exporter did, so the benchmark can show it was never the bottleneck. */
export interface ExporterStats {
    readonly targets: number;
    readonly seriesPerTarget: number;
    readonly series: number;
    readonly churnPerMinute: number;
    readonly replacedTargets: number;
    readonly scrapes: number;
    /** Wall seconds spent rendering, summed over scrapes, and the slowest single render. */
    readonly renderSeconds: number;
    readonly maxRenderSeconds: number;
    readonly bytesServed: number;
}

/** Reads a whole number option, naming it when it is not one. */
function wholeNumber(name: string, minimum: number): (value: string) => number {
    return (value) => {
        const parsed = Number(value);
        if (!Number.isInteger(parsed) || parsed < minimum) throw new Error(`--${name}: expected a whole number >= ${minimum}, got '${value}'`);
        return parsed;
    };
}

function main(argv: string[]): void {
    const options = new Command("workload-exporter")
        .requiredOption("--port <n>", "port on 127.0.0.1", wholeNumber("port", 1))
        .requiredOption("--targets <n>", "targets served", wholeNumber("targets", 1))
        .requiredOption("--series-per-target <n>", "series each target exposes", wholeNumber("series-per-target", 1))
        .option("--churn <n>", "series replaced per minute (whole targets at a time)", wholeNumber("churn", 0), 0)
        .parse(argv)
        .opts<{ port: number; targets: number; seriesPerTarget: number; churn: number }>();
    const workload = new Workload({ targets: options.targets, seriesPerTarget: options.seriesPerTarget, churnPerMinute: options.churn });
    let scrapes = 0;
    let renderSeconds = 0;
    let maxRenderSeconds = 0;
    let bytesServed = 0;
    const stats = (): ExporterStats => ({
        targets: options.targets,
        seriesPerTarget: workload.seriesPerTarget,
        series: options.targets * workload.seriesPerTarget,
        churnPerMinute: options.churn,
        replacedTargets: workload.replacedTargets(),
        scrapes,
        renderSeconds,
        maxRenderSeconds,
        bytesServed,
    });
    const server = http.createServer((request, response) => {
        const match = /^\/targets\/(\d+)\/metrics$/.exec(request.url ?? "");
        if (match !== null && Number(match[1]) < options.targets) {
            const started = process.hrtime.bigint();
            const body = workload.render(Number(match[1]));
            const seconds = Number(process.hrtime.bigint() - started) / 1e9;
            scrapes += 1;
            renderSeconds += seconds;
            maxRenderSeconds = Math.max(maxRenderSeconds, seconds);
            bytesServed += body.length;
            response.writeHead(200, { "Content-Type": expositionContentType }).end(body);
        } else if (request.url === "/stats") {
            response.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(stats()));
        } else if (request.url === "/-/ready") {
            response.end("ready\n");
        } else {
            response.writeHead(404).end(`no such target: ${request.url} (targets 0-${options.targets - 1})\n`);
        }
    });
    server.keepAliveTimeout = 120_000;
    server.listen(options.port, "127.0.0.1", () => {
        console.log(`workload exporter: ${options.targets} targets x ${workload.seriesPerTarget} series (churn ${options.churn}/min) on 127.0.0.1:${options.port}`);
    });
    for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(0));
}

main(process.argv);
