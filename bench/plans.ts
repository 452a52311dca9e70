/**
 * `npm run bench:plans [-- --quick] [--plans small,large] [--churn-per-hour 0.1]`: every plan of the catalog
 * measured with the real Prometheus on a real tmpfs (bench/sizing/measure.ts), one after the other so they do not
 * share the CPU. Prints the table; the full run writes bench/results/plans.json, docs/plans.md and
 * docs/plans.png, the quick run (one plan, under 3 minutes) the same files into a temp directory. Needs root
 * (tmpfs mounts). Runs about 25 minutes in full. `--plans xlarge --update` re-measures plans into the existing
 * file; `--report-only <plans.json>` only rewrites the docs of a run.
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
import { flushTable, readFlushResults } from "./sizing/flush-report";
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
        .option("--update", "with --plans: measure those plans again and replace them in the results dir's plans.json")
        .option("--report-only <plans.json>", "measure nothing: write the table, docs page and chart of an earlier run")
        .parse(argv)
        .opts<{ quick?: boolean; plans?: string; steadyMinutes?: string; churnPerHour: string; results?: string; docs?: string; update?: boolean; reportOnly?: string }>();
    if (options.reportOnly !== undefined) {
        await report(JSON.parse(fs.readFileSync(options.reportOnly, "utf8")) as MeasurementsFile, options.docs ?? path.join(__dirname, "..", "docs"));
        return;
    }
    if (options.update && (options.plans === undefined || options.quick)) throw new Error("--update needs --plans and a full (not --quick) run");
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
    const fileOf = (): MeasurementsFile => ({
        schemaVersion: 1,
        measuredAt: new Date(started).toISOString(),
        quick: options.quick === true,
        runSeconds: (Date.now() - started) / 1000,
        machine,
        load: loadOf(measurements, loadAtStart),
        churnPerHour,
        measurements,
    });
    // Each finished plan is kept in a partial file, so a failure late in the run loses only the plan it was on.
    fs.mkdirSync(resultsDir, { recursive: true });
    const partialFile = path.join(resultsDir, "plans.partial.json");
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
        fs.writeFileSync(partialFile, `${JSON.stringify(fileOf(), null, 1)}\n`);
        console.error(`[bench] ${name} done after ${((Date.now() - started) / 60_000).toFixed(1)} min; load average ${os.loadavg()[0].toFixed(2)}`);
    }
    const resultsFile = path.join(resultsDir, "plans.json");
    let file = fileOf();
    if (options.update) {
        const base = JSON.parse(fs.readFileSync(resultsFile, "utf8")) as MeasurementsFile;
        file = {
            ...base,
            measurements: base.measurements.map((old) => measurements.find((fresh) => fresh.plan.name === old.plan.name) ?? old),
            remeasured: [...(base.remeasured ?? []), { measuredAt: file.measuredAt, plans: names, runSeconds: file.runSeconds, load: file.load }],
        };
    }
    fs.writeFileSync(resultsFile, `${JSON.stringify(file, null, 1)}\n`);
    fs.rmSync(partialFile);
    await report(file, docsDir);
    console.log(`wrote ${resultsFile}`);
}

/** The table, docs page and chart of a measurements file, against the catalog as it is now. */
async function report(file: MeasurementsFile, docsDir: string): Promise<void> {
    const figures = file.measurements.map((measurement) => deriveFigures(measurement));
    fs.mkdirSync(docsDir, { recursive: true });
    await renderChart(figures, path.join(docsDir, "plans.png"));
    fs.writeFileSync(path.join(docsDir, "plans.md"), docsPage(file, figures, "plans.png", exporterChoiceText(path.join(__dirname, "results", "exporter-choice.json")), flushTable(readFlushResults(), file)));
    console.log(summaryTable(figures));
    console.log();
    console.log(detailTable(figures));
    console.log(`\nrun ${(file.runSeconds / 60).toFixed(1)} min; load average (1 min) ${file.load.min.toFixed(2)}-${file.load.max.toFixed(2)}, mean ${file.load.mean.toFixed(2)}`);
    console.log(`wrote ${path.join(docsDir, "plans.md")}, ${path.join(docsDir, "plans.png")}`);
}

main(process.argv).then(
    () => process.exit(0),
    (error) => {
        console.error(error instanceof Error ? error.stack : error);
        process.exit(1);
    },
);
