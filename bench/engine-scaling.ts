/**
 * `npm run bench:engine [-- --tenants 10,50,100]`: wall time of `up` (create) of a local-style stack with N tenants
 * through the real engine (inline program, file backend, render target), with the file backend's checkpoint after
 * every step (the default) and with PULUMI_SKIP_CHECKPOINTS=true. Prints a table; nothing is asserted.
 */
import "../test/support/offline-toolchain"; // like the tests: this project's own build unless PAAS_TOOLCHAIN says otherwise
import * as path from "path";
import { Command } from "commander";
import { generatePassword } from "../components/prometheus/web-auth";
import { EngineSandbox } from "../test/support/engine";

interface Row {
    tenants: number;
    resources: number;
    checkpointsSeconds: number;
    skippedSeconds: number;
}

function tenantInstances(count: number) {
    return Array.from({ length: count }, (_, index) => ({
        name: `tenant-${index}`,
        plan: "small",
        team: `team-${index}`,
        apps: [{ name: `app-${index}`, namespace: "tsuru-bench" }],
    }));
}

async function timedUp(tenants: number, skipCheckpoints: boolean): Promise<{ seconds: number; resources: number }> {
    const sandbox = new EngineSandbox();
    try {
        sandbox.copyStackFile("local", (config) => {
            config["prometheus-paas:kubernetes"].renderYamlToDirectory = path.join(sandbox.root, "manifests");
            config["prometheus-paas:instances"] = tenantInstances(tenants);
            delete config["prometheus-paas:instancePasswords"];
        });
        const stack = await sandbox.open("local", undefined, skipCheckpoints ? { PULUMI_SKIP_CHECKPOINTS: "true" } : {});
        // Explicit passwords, as in the local stack: the random provider is not built here.
        await stack.setAllConfig(Object.fromEntries(tenantInstances(tenants).map((instance) =>
            [`prometheus-paas:instancePasswords.${instance.name}`, { value: generatePassword(), secret: true }])), true);
        const started = process.hrtime.bigint();
        const result = await stack.up();
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        return { seconds, resources: result.summary.resourceChanges?.create ?? 0 };
    } finally {
        sandbox.cleanup();
    }
}

async function main(argv: string[]): Promise<void> {
    const options = new Command("bench:engine")
        .option("--tenants <list>", "comma-separated tenant counts", "10,50,100")
        .parse(argv)
        .opts<{ tenants: string }>();
    const counts = options.tenants.split(",").map((value) => {
        const count = Number(value);
        if (!Number.isInteger(count) || count < 1) throw new Error(`--tenants: '${value}' is not a positive whole number`);
        return count;
    });
    const rows: Row[] = [];
    for (const tenants of counts) {
        const withCheckpoints = await timedUp(tenants, false);
        const skipped = await timedUp(tenants, true);
        rows.push({ tenants, resources: withCheckpoints.resources, checkpointsSeconds: withCheckpoints.seconds, skippedSeconds: skipped.seconds });
        process.stderr.write(`[bench] ${tenants} tenants done\n`);
    }
    console.log("| tenants | resources | up, checkpoint per step (s) | up, PULUMI_SKIP_CHECKPOINTS (s) |");
    console.log("|---:|---:|---:|---:|");
    for (const row of rows) {
        console.log(`| ${row.tenants} | ${row.resources} | ${row.checkpointsSeconds.toFixed(1)} | ${row.skippedSeconds.toFixed(1)} |`);
    }
}

main(process.argv).catch((error: Error) => {
    process.stderr.write(`[bench] ${error.stack ?? error.message}\n`);
    process.exit(1);
});
