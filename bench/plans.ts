/**
 * `npm run bench:plans [-- --quick] [--plans small,large] [--churn-per-hour 0.1]`: every plan of the catalog
 * measured with the real Prometheus on a real tmpfs (bench/sizing/measure.ts), one after the other so they do not
 * share the CPU. Prints the table; the full run writes bench/results/plans.json, docs/plans.md and
 * docs/plans.png, the quick run (one plan, under 3 minutes) the same files into a temp directory. Needs root
 * (tmpfs mounts). Runs about 25 minutes in full.
 */
import "../test/support/processes"; // first: its exit handler kills the processes before tmpfs.ts unmounts
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Command } from "commander";
import { toolBinary } from "../automation/tools";
import { builtinPlans } from "../components/plans";
import { advertisedLoad } from "./sizing/catalog";
import { measurePlan, PlanMeasurement } from "./sizing/measure";
import { deriveFigures } from "./sizing/projection";
import { detailTable, docsPage, loadOf, MachineInfo, MeasurementsFile, renderChart, summaryTable } from "./sizing/report";
import { shapeFor } from "./workload/model";

/** Steady minutes per plan in the full run: bigger heads get longer, and the whole run stays within 30 minutes. */
const steadyMinutes: Record<string, number> = { small: 4, medium: 4, large: 5, xlarge: 6 };
const quickSteadyMinutes = 1.5;

function machineInfo(): MachineInfo {
    const version = execFileSync(toolBinary("prometheus"), ["--version"], { encoding: "utf8" });
    return {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? "unknown",
        memoryGiB: os.totalmem() / 2 ** 30,
        kernel: os.release(),
        node: process.versions.node,
        prometheus: /version ([^ ]+)/.exec(version)?.[1] ?? version.split("\n")[0],
    };
}

function exporterChoiceText(file: string): string {
    if (!fs.existsSync(file)) return "";
    const choice = JSON.parse(fs.readFileSync(file, "utf8")) as { faster: string; results: { writer: string; series: number; roundSeconds: number }[] };
    const rounds = choice.results.map((result) => `${result.writer} ${result.roundSeconds.toFixed(2)} s`).join(", ");
    return `It uses the ${choice.faster} writer: moving and rendering all ${choice.results[0].series} series once took ${rounds} (\`npm run bench:exporter\`, bench/results/exporter-choice.json).`;
}

async function main(argv: string[]): Promise<void> {
    const options = new Command("bench:plans")
        .option("--quick", `one plan (small unless --plans), ${quickSteadyMinutes} min steady: under 3 minutes`)
        .option("--plans <names>", "comma-separated plans to measure (default: all)")
        .option("--steady-minutes <n>", "steady phase per plan, overriding the defaults")
        .option("--churn-per-hour <share>", "share of each plan's series replaced per hour (e.g. 0.1)", "0")
        .option("--results <dir>", "where plans.json goes (default bench/results; quick: a temp dir)")
        .option("--docs <dir>", "where plans.md and plans.png go (default docs; quick: the results dir)")
        .parse(argv)
        .opts<{ quick?: boolean; plans?: string; steadyMinutes?: string; churnPerHour: string; results?: string; docs?: string }>();
    const names = options.plans?.split(",") ?? (options.quick ? ["small"] : Object.keys(builtinPlans));
    for (const name of names) if (!(name in builtinPlans)) throw new Error(`--plans: unknown plan '${name}'; allowed: ${Object.keys(builtinPlans).join(", ")}`);
    const churnPerHour = Number(options.churnPerHour);
    if (!(churnPerHour >= 0)) throw new Error(`--churn-per-hour: expected a share >= 0, got '${options.churnPerHour}'`);
    const resultsDir = options.results ?? (options.quick ? fs.mkdtempSync(path.join(os.tmpdir(), "bench-plans-quick-")) : path.join(__dirname, "results"));
    const docsDir = options.docs ?? (options.quick ? resultsDir : path.join(__dirname, "..", "docs"));

    const machine = machineInfo();
    const loadAtStart = os.loadavg()[0];
    console.error(`[bench] ${machine.cpus} cores, load average ${os.loadavg().map((load) => load.toFixed(2)).join(" ")}; plans ${names.join(", ")}`);
    const started = Date.now();
    const measurements: PlanMeasurement[] = [];
    for (const name of names) {
        const plan = builtinPlans[name];
        const load = advertisedLoad(plan);
        const steadySeconds = 60 * Number(options.steadyMinutes ?? (options.quick ? quickSteadyMinutes : steadyMinutes[name] ?? 5));
        const measurement = await measurePlan({
            plan,
            shape: shapeFor(load.series, load.targets, Math.round((churnPerHour * load.series) / 60)),
            steadySeconds,
            sampleEveryMs: options.quick ? 2_000 : 5_000,
            tmpfs: true,
            log: (line) => console.error(`[bench] ${line}`),
        });
        measurements.push(measurement);
        console.error(`[bench] ${name} done after ${((Date.now() - started) / 60_000).toFixed(1)} min; load average ${os.loadavg()[0].toFixed(2)}`);
    }
    const file: MeasurementsFile = {
        schemaVersion: 1,
        measuredAt: new Date(started).toISOString(),
        quick: options.quick === true,
        runSeconds: (Date.now() - started) / 1000,
        machine,
        load: loadOf(measurements, loadAtStart),
        churnPerHour,
        measurements,
    };
    const figures = measurements.map((measurement) => deriveFigures(measurement));
    fs.mkdirSync(resultsDir, { recursive: true });
    fs.mkdirSync(docsDir, { recursive: true });
    fs.writeFileSync(path.join(resultsDir, "plans.json"), `${JSON.stringify(file, null, 1)}\n`);
    await renderChart(figures, path.join(docsDir, "plans.png"));
    fs.writeFileSync(path.join(docsDir, "plans.md"), docsPage(file, figures, "plans.png", exporterChoiceText(path.join(__dirname, "results", "exporter-choice.json"))));
    console.log(summaryTable(figures));
    console.log();
    console.log(detailTable(figures));
    console.log(`\nrun ${(file.runSeconds / 60).toFixed(1)} min; load average (1 min) ${file.load.min.toFixed(2)}-${file.load.max.toFixed(2)}, mean ${file.load.mean.toFixed(2)}`);
    console.log(`wrote ${path.join(resultsDir, "plans.json")}, ${path.join(docsDir, "plans.md")}, ${path.join(docsDir, "plans.png")}`);
}

main(process.argv).then(
    () => process.exit(0),
    (error) => {
        console.error(error instanceof Error ? error.stack : error);
        process.exit(1);
    },
);
