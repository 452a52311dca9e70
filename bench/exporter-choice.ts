/**
 * `npm run bench:exporter [-- --series 1000000 --targets 1000]`: which exposition writer the workload exporter uses.
 * Both serve the same families (bench/workload/model.ts) over the same targets; each round moves every value and
 * renders every target once (one scrape interval of work). prom-client moves values the way an instrumented
 * app does (inc, set, observe per request) and renders with Registry.metrics(); the plain writer
 * (bench/workload/exposition.ts) renders from a value array. Each runs in its own Node process so their heaps
 * do not mix. Prints a table and writes bench/results/exporter-choice.json.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Command } from "commander";
import * as client from "prom-client";
import { Workload } from "./workload/exposition";
import { countNear, Family, meanLatency, randomSource, shapeFor, targetFamilies, totalSeries, WorkloadShape } from "./workload/model";

type Writer = "plain" | "prom-client";

interface WriterResult {
    writer: Writer;
    series: number;
    targets: number;
    setupSeconds: number;
    /** Per round (every target moved and rendered once): median wall seconds. */
    roundSeconds: number;
    bytesPerRound: number;
    rssMiB: number;
}

/** The same families in prom-client: one Registry per target, values moved with inc/set/observe. */
function promClientTargets(shape: WorkloadShape): { registries: client.Registry[]; advance: (target: number) => void } {
    const families = targetFamilies(shape.seriesPerTarget);
    const registries: client.Registry[] = [];
    const movers: (() => void)[] = [];
    for (let target = 0; target < shape.targets; target++) {
        const registry = new client.Registry();
        const random = randomSource(target + 1);
        const moves = families.map((family) => promClientFamily(family, registry, random));
        registries.push(registry);
        movers.push(() => moves.forEach((move) => move()));
    }
    return { registries, advance: (target) => movers[target]() };
}

function promClientFamily(family: Family, registry: client.Registry, random: () => number): () => void {
    const common = { name: family.name, help: family.help, labelNames: [...family.labelNames], registers: [registry] };
    const labels = family.children.map((child) => Object.fromEntries(family.labelNames.map((name, index) => [name, child[index]])));
    const motion = family.motion;
    switch (family.type) {
        case "counter": {
            const counter = new client.Counter(common);
            return () => labels.forEach((set, child) => {
                const amount = motion.kind === "requests" ? countNear(motion.meanPerScrape(child), random) : 0.01 * countNear(3, random);
                counter.inc(set, amount);
            });
        }
        case "gauge": {
            const gauge = new client.Gauge(common);
            return () => labels.forEach((set) => gauge.inc(set, motion.kind === "level" ? motion.step * (countNear(1, random) - 1) : 0));
        }
        case "histogram": {
            const histogram = new client.Histogram({ ...common, buckets: [...(family.buckets ?? [])] });
            return () => labels.forEach((set, child) => {
                if (motion.kind !== "requests") return;
                const routeIndex = Math.floor(child / 2);
                const requests = countNear(motion.meanPerScrape(child), random);
                // Exponential latencies, the distribution the plain writer's bucket shares follow.
                for (let request = 0; request < requests; request++) histogram.observe(set, -Math.log(1 - random()) * meanLatency(routeIndex));
            });
        }
        case "summary": {
            const summary = new client.Summary({ ...common, percentiles: [...(family.quantiles ?? [])] });
            return () => labels.forEach((set) => {
                if (random() < 0.5) summary.observe(set, 1e-5 * (1 + random()));
            });
        }
    }
}

async function measure(writer: Writer, shape: WorkloadShape, rounds: number): Promise<WriterResult> {
    const setupStarted = process.hrtime.bigint();
    let round: () => Promise<number>;
    if (writer === "plain") {
        const workload = new Workload(shape);
        round = async () => {
            let bytes = 0;
            for (let target = 0; target < shape.targets; target++) bytes += workload.render(target).length;
            return bytes;
        };
    } else {
        const { registries, advance } = promClientTargets(shape);
        round = async () => {
            let bytes = 0;
            for (let target = 0; target < shape.targets; target++) {
                advance(target);
                bytes += (await registries[target].metrics()).length;
            }
            return bytes;
        };
    }
    const setupSeconds = Number(process.hrtime.bigint() - setupStarted) / 1e9;
    const times: number[] = [];
    let bytesPerRound = 0;
    for (let index = 0; index < rounds; index++) {
        const started = process.hrtime.bigint();
        bytesPerRound = await round();
        times.push(Number(process.hrtime.bigint() - started) / 1e9);
    }
    times.sort((a, b) => a - b);
    return {
        writer,
        series: totalSeries(shape),
        targets: shape.targets,
        setupSeconds,
        roundSeconds: times[Math.floor(times.length / 2)],
        bytesPerRound,
        rssMiB: process.memoryUsage().rss / 2 ** 20,
    };
}

async function main(argv: string[]): Promise<void> {
    const options = new Command("bench:exporter")
        .option("--series <n>", "active series in total", "1000000")
        .option("--targets <n>", "targets the series are spread over", "1000")
        .option("--rounds <n>", "rounds per writer (the median is reported)", "3")
        .option("--writer <name>", "measure one writer in this process (used internally)")
        .option("--out <file>", "results file", path.join(__dirname, "results", "exporter-choice.json"))
        .parse(argv)
        .opts<{ series: string; targets: string; rounds: string; writer?: Writer; out: string }>();
    const shape = shapeFor(Number(options.series), Number(options.targets));
    const rounds = Number(options.rounds);
    if (options.writer !== undefined) {
        process.stdout.write(JSON.stringify(await measure(options.writer, shape, rounds)));
        return;
    }
    const results = (["plain", "prom-client"] as const).map((writer) => {
        const output = execFileSync(process.execPath, [...process.execArgv, __filename, "--writer", writer, "--series", options.series, "--targets", options.targets, "--rounds", options.rounds], {
            encoding: "utf8",
            maxBuffer: 1 << 20,
        });
        return JSON.parse(output) as WriterResult;
    });
    const [plain, promClient] = results;
    const faster = plain.roundSeconds <= promClient.roundSeconds ? plain : promClient;
    console.log(`| writer | series / targets | setup (s) | one round: every target moved and rendered (s) | text per round (MB) | RSS (MiB) |`);
    console.log(`|---|---|---|---|---|---|`);
    for (const result of results) {
        console.log(`| ${result.writer} | ${result.series} / ${result.targets} | ${result.setupSeconds.toFixed(2)} | ${result.roundSeconds.toFixed(2)} | ${(result.bytesPerRound / 1e6).toFixed(1)} | ${result.rssMiB.toFixed(0)} |`);
    }
    console.log(`faster: ${faster.writer} (${(Math.max(plain.roundSeconds, promClient.roundSeconds) / Math.min(plain.roundSeconds, promClient.roundSeconds)).toFixed(1)}x)`);
    fs.mkdirSync(path.dirname(options.out), { recursive: true });
    fs.writeFileSync(options.out, `${JSON.stringify({ measuredAt: new Date().toISOString(), machine: { cpus: os.cpus().length, loadAverage: os.loadavg() }, faster: faster.writer, results }, null, 2)}\n`);
}

main(process.argv).catch((error) => {
    console.error(error instanceof Error ? error.stack : error);
    process.exit(1);
});
