/** The broker as Tsuru meets it: a real child process (`broker/cli.ts`) on loopback, file backend, render target by default. */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { projectRoot } from "./fixtures";
import { freePort, ManagedProcess, ProcessGroup, waitFor, waitForHttp } from "./processes";
import { TsuruBrokerClient } from "./tsuru-broker-client";

export const brokerCredentials = { username: "prometheus", password: "broker-test-password" };

export interface BrokerDirs {
    readonly root: string;
    readonly backend: string;
    readonly render: string;
    readonly settings: string;
}

export function brokerDirs(root: string, settings: Record<string, unknown>): BrokerDirs {
    const dirs = { root, backend: path.join(root, "backend"), render: path.join(root, "render"), settings: path.join(root, "settings.yaml") };
    fs.mkdirSync(dirs.backend, { recursive: true });
    fs.writeFileSync(dirs.settings, yaml.dump(settings));
    return dirs;
}

export interface RunningBroker {
    readonly process: ManagedProcess;
    readonly client: TsuruBrokerClient;
    readonly port: number;
}

export interface BrokerStartOptions {
    /** The process's name (and log file). */
    readonly name?: string;
    /** `--target` (default: render:<dirs.render>). */
    readonly target?: string;
    /** More CLI arguments. */
    readonly args?: readonly string[];
}

/** Starts the broker and waits for /healthz. */
export async function startBroker(group: ProcessGroup, dirs: BrokerDirs, options: BrokerStartOptions = {}): Promise<RunningBroker> {
    const port = await freePort();
    const started = group.start(options.name ?? "broker", process.execPath, [
        "-r", "ts-node/register/transpile-only", path.join(projectRoot, "broker", "cli.ts"),
        "--port", String(port),
        "--backend", `file://${dirs.backend}`,
        "--target", options.target ?? `render:${dirs.render}`,
        "--settings", dirs.settings,
        "--skip-checkpoints",
        ...(options.args ?? []),
    ], {
        cwd: projectRoot,
        env: { PAAS_BROKER_USERNAME: brokerCredentials.username, PAAS_BROKER_PASSWORD: brokerCredentials.password, PAAS_BROKER_BACKEND_PASSPHRASE: "broker-test-passphrase" },
    });
    await waitForHttp(`http://127.0.0.1:${port}/healthz`, { timeoutMs: 90_000, process: started });
    return { process: started, port, client: new TsuruBrokerClient(`http://127.0.0.1:${port}`, brokerCredentials.username, brokerCredentials.password) };
}

/** Polls an instance's status until it is `status`; fails at once, with the reason, when the broker reports a failure (200). */
export async function waitStatus(client: TsuruBrokerClient, name: string, status: number, timeoutMs = 120_000): Promise<void> {
    let last = "";
    const final = await waitFor(`${name} to answer status ${status}`, async () => {
        const response = await client.status(name);
        last = `${response.status} ${response.text}`;
        return response.status === status || response.status === 200 ? response : undefined;
    }, { timeoutMs, intervalMs: 250 }).catch((error) => {
        throw new Error(`${error.message}; last status: ${last}`);
    });
    assert.equal(final.status, status, `${name} failed: ${final.text}`);
}
