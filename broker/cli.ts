/**
 * `npm run broker -- --port P --backend file://DIR|s3://... --target render:DIR|kubernetes`: the service API
 * Tsuru calls, provisioning one Pulumi stack per instance. Credentials come from the environment only.
 */
import * as fs from "fs";
import * as path from "path";
import { Command, InvalidArgumentError } from "commander";
import * as yaml from "js-yaml";
import pino from "pino";
import { parseBrokerSettings } from "../components/broker/settings";
import { loopbackNetwork } from "../components/config/network";
import { ConfigError } from "../components/config/errors";
import type { InstanceTarget } from "../components/instance-program";
import { renderObjstoreConfig } from "../components/thanos/render";
import { InstanceEngine } from "./engine";
import { Provisioner } from "./provisioner";
import { buildServer } from "./server";
import { InstanceStore } from "./store";

export const credentialEnv = {
    username: "PAAS_BROKER_USERNAME",
    password: "PAAS_BROKER_PASSWORD",
    passphrase: "PAAS_BROKER_BACKEND_PASSPHRASE",
    objstore: "PAAS_BROKER_OBJSTORE",
} as const;

function parseTarget(value: string): InstanceTarget {
    if (value === "kubernetes") return { kind: "kubernetes" };
    const match = /^render:(.+)$/.exec(value);
    if (match) return { kind: "render", directory: path.resolve(match[1]) };
    throw new InvalidArgumentError("expected render:DIR or kubernetes");
}

function parsePositive(value: string): number {
    const number = Number(value);
    if (!Number.isInteger(number) || number < 1) throw new InvalidArgumentError("expected a positive integer");
    return number;
}

function readStructured(file: string): Record<string, unknown> {
    const text = fs.readFileSync(file, "utf8");
    return (file.endsWith(".json") ? JSON.parse(text) : yaml.load(text)) as Record<string, unknown>;
}

export function program(): Command {
    return new Command("broker")
        .description(
            "Tsuru service API for Prometheus instances: one Pulumi stack per instance through the Automation API.\n" +
            `Environment: ${credentialEnv.username}, ${credentialEnv.password} (the service's basic-auth credentials, required), ` +
            `${credentialEnv.passphrase} (the backend's secrets passphrase, required), ${credentialEnv.objstore} (objstore.yml content, instead of --objstore).`,
        )
        .option("--port <port>", "port to listen on", parsePositive, 8080)
        .option("--host <host>", "address to listen on", "127.0.0.1")
        .requiredOption("--backend <url>", "Pulumi backend of the instance stacks: file://DIR, s3://bucket?region=..., or any backend URL")
        .requiredOption("--target <target>", "where instance manifests go: render:DIR (a folder per instance) or kubernetes (kubeconfig or in-cluster)", parseTarget)
        .option("--work-dir <dir>", "the instance project dir holding each stack's config (default: DIR/workspace for file://DIR)")
        .option("--settings <file>", "platform settings (YAML/JSON): environment, region, product, namespace, replicaLabel, alertmanagers, plans, thanosNamespace, network, grafanaNamespace, poolNamespaces, poolPlans, skipAwait")
        .option("--objstore <file>", "objstore.yml of the shared Thanos bucket, mounted into each instance's sidecar")
        .option("--kubeconfig <file>", "kubeconfig for --target kubernetes (default: in-cluster or KUBECONFIG)")
        .option("--context <name>", "kubeconfig context for --target kubernetes")
        .option("--concurrency <n>", "engine runs at once", parsePositive, 4)
        .option("--skip-checkpoints", "one state write per engine run (PULUMI_SKIP_CHECKPOINTS): faster, but a crash mid-run loses that run's state", false)
        .option("--log-level <level>", "pino level: debug shows the engine's output", "info");
}

async function main(argv: string[]): Promise<void> {
    const options = program().parse(argv).opts<{
        port: number; host: string; backend: string; target: InstanceTarget; workDir?: string; settings?: string; objstore?: string;
        kubeconfig?: string; context?: string; concurrency: number; skipCheckpoints: boolean; logLevel: string;
    }>();
    const logger = pino({ level: options.logLevel, redact: ["req.headers.authorization", "password", "passphrase"] });
    const missing = [credentialEnv.username, credentialEnv.password, credentialEnv.passphrase].filter((name) => !process.env[name]);
    if (missing.length > 0) {
        logger.fatal({ missing }, `refusing to start without ${missing.join(", ")} in the environment`);
        process.exit(2);
    }
    const backendDir = /^file:\/\/(.+)$/.exec(options.backend)?.[1];
    const workDir = options.workDir ?? (backendDir ? path.join(backendDir, "workspace") : undefined);
    if (workDir === undefined) {
        logger.fatal("--work-dir is required with a non-file backend (Pulumi keeps DIY stack config in the project dir)");
        process.exit(2);
    }
    if (backendDir) fs.mkdirSync(backendDir, { recursive: true });

    let settings;
    try {
        // Without settings: the local stack's (Pulumi.local.yaml): Thanos in prometheus-local, API server and bucket on loopback.
        settings = parseBrokerSettings(options.settings ? readStructured(options.settings) : { environment: "local", region: "us-east-1", thanosNamespace: "prometheus-local", network: loopbackNetwork("grafana") });
    } catch (error) {
        logger.fatal(error instanceof ConfigError ? { problems: error.problems } : { err: error }, "invalid broker settings");
        process.exit(2);
    }
    const objstoreConfig = process.env[credentialEnv.objstore]
        ?? (options.objstore ? fs.readFileSync(options.objstore, "utf8") : undefined)
        ?? (options.target.kind === "render" ? renderObjstoreConfig({ bucket: "thanos-local", endpoint: "127.0.0.1:9000", region: "us-east-1", pathStyle: true, insecure: true }) : undefined);
    if (objstoreConfig === undefined) {
        logger.fatal(`--objstore or ${credentialEnv.objstore} is required with --target kubernetes`);
        process.exit(2);
    }
    const target: InstanceTarget = options.target.kind === "kubernetes" ? { kind: "kubernetes", kubeconfig: options.kubeconfig ? fs.readFileSync(options.kubeconfig, "utf8") : undefined, context: options.context } : options.target;

    const store = new InstanceStore(path.resolve(workDir));
    store.writeProjectFile();
    const engine = new InstanceEngine({
        workDir: store.workDir,
        backendUrl: options.backend,
        passphrase: process.env[credentialEnv.passphrase]!,
        skipCheckpoints: options.skipCheckpoints,
    });
    await engine.init();
    const provisioner = new Provisioner({ store, engine, settings, target, objstoreConfig, concurrency: options.concurrency, logger });
    await provisioner.resume();
    const server = buildServer({
        settings,
        provisioner,
        credentials: { username: process.env[credentialEnv.username]!, password: process.env[credentialEnv.password]! },
        logger,
    });
    await server.listen({ port: options.port, host: options.host });
    logger.info({ backend: options.backend.replace(/\/\/[^@/]*@/, "//***@"), target: target.kind, workDir: store.workDir, instances: store.names().length }, "broker ready");

    const shutdown = async (signal: string) => {
        logger.info({ signal, busy: provisioner.busy }, "stopping: no new engine runs; unfinished instances resume at the next start");
        provisioner.stop();
        await server.close();
        process.exit(0);
    };
    process.once("SIGTERM", () => void shutdown("SIGTERM"));
    process.once("SIGINT", () => void shutdown("SIGINT"));
}

if (require.main === module) {
    main(process.argv).catch((error) => {
        console.error(error instanceof Error ? error.message : error);
        process.exit(1);
    });
}
