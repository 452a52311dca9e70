/** The broker as Tsuru meets it: a real child process (`broker/cli.ts`) on loopback, file backend, render target. */
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { projectRoot } from "./fixtures";
import { freePort, ManagedProcess, ProcessGroup, waitForHttp } from "./processes";
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

/** Starts the broker and waits for /healthz; `extraArgs` go to the CLI. */
export async function startBroker(group: ProcessGroup, dirs: BrokerDirs, name = "broker", extraArgs: string[] = []): Promise<RunningBroker> {
    const port = await freePort();
    const started = group.start(name, process.execPath, [
        "-r", "ts-node/register/transpile-only", path.join(projectRoot, "broker", "cli.ts"),
        "--port", String(port),
        "--backend", `file://${dirs.backend}`,
        "--target", `render:${dirs.render}`,
        "--settings", dirs.settings,
        "--skip-checkpoints",
        ...extraArgs,
    ], {
        cwd: projectRoot,
        env: { PAAS_BROKER_USERNAME: brokerCredentials.username, PAAS_BROKER_PASSWORD: brokerCredentials.password, PAAS_BROKER_BACKEND_PASSPHRASE: "broker-test-passphrase" },
    });
    await waitForHttp(`http://127.0.0.1:${port}/healthz`, { timeoutMs: 90_000, process: started });
    return { process: started, port, client: new TsuruBrokerClient(`http://127.0.0.1:${port}`, brokerCredentials.username, brokerCredentials.password) };
}
