/**
 * Broker latency (a benchmark, not a test): create → accepted (HTTP 201) and create → up (status 204) for 1 and
 * 20 concurrent instances, through the real broker process and engine (file backend, render target).
 *   npm run bench:broker [-- --sizes 1,20 --concurrency 4]
 */
import "../test/support/offline-toolchain"; // like the tests: this project's own build unless PAAS_TOOLCHAIN says otherwise
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { brokerDirs, startBroker } from "../test/support/broker-process";
import { ProcessGroup } from "../test/support/processes";

function percentile(values: number[], p: number): number {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function argument(name: string, fallback: string): string {
    const index = process.argv.indexOf(`--${name}`);
    return index >= 0 ? process.argv[index + 1] : fallback;
}

async function measure(size: number, concurrency: number) {
    const group = new ProcessGroup();
    const dirs = brokerDirs(fs.mkdtempSync(path.join(os.tmpdir(), "paas-bench-broker-")), { environment: "bench", region: "us-east-1" });
    try {
        const extra = ["--concurrency", String(concurrency)];
        const broker = await startBroker(group, dirs, { args: extra });

        const names = Array.from({ length: size }, (_, index) => `bench-${index}`);
        const started = Date.now();
        const accepted = await Promise.all(names.map(async (name) => {
            const begin = performance.now();
            const response = await broker.client.create({ name, team: "bench", plan: "small" });
            if (response.status !== 201) throw new Error(`${name}: ${response.status} ${response.text}`);
            return { name, acceptMs: performance.now() - begin, sentAt: Date.now() };
        }));
        const upMs = new Map<string, number>();
        const deadline = Date.now() + 20 * 60_000;
        while (upMs.size < names.length) {
            if (Date.now() > deadline) throw new Error("timed out waiting for instances to come up");
            await Promise.all(accepted.filter((entry) => !upMs.has(entry.name)).map(async (entry) => {
                const status = await broker.client.status(entry.name);
                if (status.status === 204) upMs.set(entry.name, Date.now() - entry.sentAt);
                else if (status.status === 200) throw new Error(`${entry.name} failed: ${status.text}`);
            }));
            await new Promise((resolve) => setTimeout(resolve, 100));
        }
        const engineMs = [...fs.readFileSync(broker.process.logFile, "utf8").matchAll(/"durationMs":(\d+).*"instance up"/g)].map((match) => Number(match[1]));
        return {
            size,
            acceptP50: percentile(accepted.map((entry) => entry.acceptMs), 50),
            acceptP99: percentile(accepted.map((entry) => entry.acceptMs), 99),
            upP50: percentile([...upMs.values()], 50),
            upP99: percentile([...upMs.values()], 99),
            allUpMs: Date.now() - started,
            engineP50: percentile(engineMs, 50),
        };
    } finally {
        await group.stopAll();
        fs.rmSync(dirs.root, { recursive: true, force: true });
    }
}

async function main() {
    const sizes = argument("sizes", "1,20").split(",").map(Number);
    const concurrency = Number(argument("concurrency", "4"));
    const rows = [];
    for (const size of sizes) rows.push(await measure(size, concurrency));
    const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    console.log(`\nbroker: ${os.cpus().length} cores, engine concurrency ${concurrency}, PULUMI_SKIP_CHECKPOINTS, render target, file backend\n`);
    console.log("| instances | create → 201 p50 | p99 | create → up p50 | p99 | all up | one engine run (p50) |");
    console.log("|---:|---:|---:|---:|---:|---:|---:|");
    for (const row of rows) {
        console.log(`| ${row.size} | ${row.acceptP50.toFixed(1)} ms | ${row.acceptP99.toFixed(1)} ms | ${seconds(row.upP50)} | ${seconds(row.upP99)} | ${seconds(row.allUpMs)} | ${seconds(row.engineP50)} |`);
    }
}

main().catch((error) => {
    console.error(error);
    process.exit(1);
});
