/**
 * `npm run bench:flush [-- --quick] [--plans small,large] [--steady-minutes 2]`: the shutdown flush of every plan at
 * its advertised series count, measured with the real tools: the workload exporter, the real Prometheus with the
 * plan's flags and files on a real tmpfs of the plan's size (bench/sizing), a local S3 server, and the very
 * flush.sh the pods run (busybox sh), its snapshot and upload timed by the script itself. A short run holds minutes
 * of samples, not the 3h a head can span: the full head's block is projected from the sizing rates
 * (bench/results/plans.json), and the deadline must cover it (test/unit/flush-budget.spec.ts).
 * The full run writes bench/results/flush.json and the tables in docs/plans.md and the README; the quick run (small
 * plan, 30 s steady) only prints; --report-only rewrites the tables from the results file. Needs root (tmpfs).
 */
import "../test/support/processes"; // first: its exit handler kills the processes before tmpfs.ts unmounts
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Command } from "commander";
import { toolBinary } from "../automation/tools";
import { envsubstAwkFile } from "../components/envsubst";
import { builtinPlans, Plan } from "../components/plans";
import { flushDeadlineSeconds, flushScriptFile, renderUploadLabels } from "../components/prometheus/flush";
import { instanceExternalLabels } from "../components/prometheus/render";
import { busyboxBin } from "../test/support/local-pods";
import { freePort, ProcessGroup, runCommand } from "../test/support/processes";
import { LocalS3 } from "../test/support/s3";
import { advertisedLoad } from "./sizing/catalog";
import { startWorkloadExporter } from "./sizing/measure";
import { benchInstance, benchPrometheusArgs, queryScalar, startBenchPrometheus, waitForReady, waitForWorkloadIngested, writeBenchConfig } from "./sizing/prometheus";
import { flushTable, FlushMeasurement, FlushResults, readFlushResults, updateFlushTables } from "./sizing/flush-report";
import { Tmpfs } from "./sizing/tmpfs";
import { shapeFor } from "./workload/model";

/** One field of a flush.sh log line (`key=value`), as a number. */
function field(output: string, message: string, key: string): number {
    const line = output.split("\n").find((candidate) => candidate.includes(`msg="${message}"`));
    const value = line === undefined ? undefined : new RegExp(`\\b${key}=([0-9.]+)`).exec(line)?.[1];
    if (value === undefined) throw new Error(`flush.sh printed no ${key} on its "${message}" line:\n${output}`);
    return Number(value);
}

async function measureFlush(plan: Plan, steadySeconds: number, log: (line: string) => void): Promise<FlushMeasurement> {
    const load = advertisedLoad(plan);
    const shape = shapeFor(load.series, load.targets, 0);
    const group = new ProcessGroup();
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `paas-bench-flush-${plan.name}-`));
    let tmpfs: Tmpfs | undefined;
    try {
        const s3 = new LocalS3(path.join(workDir, "s3"), group);
        await s3.start("bench-flush");
        const objstoreFile = path.join(workDir, "objstore.yml");
        fs.writeFileSync(objstoreFile, s3.objstoreYml("bench-flush"));

        const { exporterPort } = await startWorkloadExporter(group, shape);
        tmpfs = Tmpfs.mount(plan.tmpfsMiB, `paas-flush-${plan.name}-`);
        const port = await freePort();
        const baseUrl = `http://127.0.0.1:${port}`;
        const prometheus = startBenchPrometheus(group, "prometheus", benchPrometheusArgs(plan, writeBenchConfig(workDir, plan, shape, exporterPort, port), tmpfs.dir, port));
        await waitForReady(prometheus, baseUrl, 60_000);
        await waitForWorkloadIngested(prometheus, baseUrl, shape, 600_000);
        log(`${plan.name}: ${load.series} series ingested; ${steadySeconds} s of scrapes before the flush`);
        await new Promise((resolve) => setTimeout(resolve, steadySeconds * 1000));

        const headSeries = (await queryScalar(baseUrl, "prometheus_tsdb_head_series"))!;
        const headSamples = (await queryScalar(baseUrl, "sum(prometheus_tsdb_head_samples_appended_total)"))!;
        const tsdbBytes = tmpfs.usedBytes();
        const labelsFile = path.join(workDir, "upload-labels");
        fs.writeFileSync(labelsFile, renderUploadLabels(instanceExternalLabels({ environment: "bench", region: "local", product: "bench", replicaLabel: "prometheus_replica" }, benchInstance(plan), "$(POD_NAME)")));
        const passwordFile = path.join(workDir, "password");
        fs.writeFileSync(passwordFile, "unused-without-a-web-config");
        const bin = await busyboxBin(path.join(workDir, "bin"));
        const flush = await runCommand(path.join(bin, "sh"), [
            flushScriptFile, `--url=${baseUrl}`, "--user=bench", `--password-file=${passwordFile}`, `--tsdb=${tmpfs.dir}`, `--objstore=${objstoreFile}`,
            `--thanos=${toolBinary("thanos")}`, `--labels=${labelsFile}`, `--envsubst=${envsubstAwkFile}`, `--deadline=${10 * flushDeadlineSeconds(plan)}`,
        ], { env: { PATH: bin, POD_NAME: `prometheus-bench-${plan.name}-0` }, inheritEnv: false, timeoutMs: 20 * flushDeadlineSeconds(plan) * 1000 });
        if (flush.code !== 0) throw new Error(`${plan.name}: flush.sh failed (code ${flush.code}):\n${flush.stdout}${flush.stderr}`);
        log(`${plan.name}: ${flush.stdout.trim().replace(/\n/g, " | ")}`);
        return {
            plan: plan.name,
            series: load.series,
            headSeries,
            headSamples,
            steadySeconds,
            tsdbBytes,
            headBlockBytes: field(flush.stdout, "snapshot taken", "head_block_kib") * 1024,
            snapshotSeconds: field(flush.stdout, "snapshot taken", "seconds"),
            uploadSeconds: field(flush.stdout, "flushed", "upload_seconds"),
            flushSeconds: field(flush.stdout, "flushed", "seconds"),
        };
    } finally {
        await group.stopAll();
        tmpfs?.unmount();
        fs.rmSync(workDir, { recursive: true, force: true });
    }
}

async function main(argv: string[]): Promise<void> {
    const options = new Command("bench:flush")
        .option("--quick", "the small plan, 30 s of scrapes, printed only")
        .option("--plans <names>", "comma-separated plans (default: all)")
        .option("--steady-minutes <n>", "scrapes before the flush, per plan", "2")
        .option("--report-only", "measure nothing: rewrite the tables from bench/results/flush.json (after a budget change)")
        .parse(argv)
        .opts<{ quick?: boolean; plans?: string; steadyMinutes: string; reportOnly?: boolean }>();
    if (options.reportOnly) {
        updateFlushTables(readFlushResults());
        console.log(flushTable(readFlushResults()));
        return;
    }
    const names = options.plans?.split(",") ?? (options.quick ? ["small"] : Object.keys(builtinPlans));
    for (const name of names) if (!(name in builtinPlans)) throw new Error(`--plans: unknown plan '${name}'; allowed: ${Object.keys(builtinPlans).join(", ")}`);
    const steadySeconds = options.quick ? 30 : 60 * Number(options.steadyMinutes);
    const started = Date.now();
    const measurements: FlushMeasurement[] = [];
    for (const name of names) measurements.push(await measureFlush(builtinPlans[name], steadySeconds, (line) => console.error(`[bench] ${line}`)));
    const results: FlushResults = {
        measuredAt: new Date(started).toISOString(),
        runSeconds: (Date.now() - started) / 1000,
        machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? "unknown", memoryGiB: os.totalmem() / 2 ** 30 },
        measurements,
    };
    console.log(flushTable(results));
    if (options.quick || options.plans !== undefined) return;
    const resultsFile = path.join(__dirname, "results", "flush.json");
    fs.writeFileSync(resultsFile, `${JSON.stringify(results, null, 1)}\n`);
    updateFlushTables(results);
    console.log(`wrote ${resultsFile}, the tables in docs/plans.md and README.md`);
}

main(process.argv).then(
    () => process.exit(0),
    (error) => {
        console.error(error instanceof Error ? error.stack : error);
        process.exit(1);
    },
);
