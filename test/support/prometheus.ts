/** The real Prometheus (built by scripts/setup-tools.sh) started on loopback with a given prometheus.yml. */
import * as fs from "fs";
import * as path from "path";
import { toolBinary } from "../../automation/tools";
import { freePort, ManagedProcess, ProcessGroup, waitForHttp } from "./processes";

export interface ActiveTarget {
    readonly labels: Record<string, string>;
    readonly discoveredLabels: Record<string, string>;
    readonly scrapePool: string;
    readonly health: "up" | "down" | "unknown";
    readonly lastError: string;
}

export interface TargetsAnswer {
    readonly activeTargets: ActiveTarget[];
    readonly droppedTargets: { discoveredLabels: Record<string, string> }[];
}

export class RunningPrometheus {
    constructor(readonly url: string, readonly process: ManagedProcess, readonly configFile: string) {}

    /** Replaces prometheus.yml and reloads it, as the Thanos sidecar's reloader does; fails if Prometheus refuses it. */
    async reload(prometheusYml: string): Promise<void> {
        fs.writeFileSync(this.configFile, prometheusYml);
        const response = await fetch(`${this.url}/-/reload`, { method: "POST", signal: AbortSignal.timeout(30_000) });
        if (!response.ok) throw new Error(`reloading ${this.process.name} failed: ${response.status} ${await response.text()}`);
    }

    private async api<T>(apiPath: string): Promise<T> {
        const response = await fetch(`${this.url}${apiPath}`, { signal: AbortSignal.timeout(10_000) });
        const body = (await response.json()) as { status: string; data: T; error?: string };
        if (body.status !== "success") throw new Error(`${apiPath}: ${body.error ?? response.status}`);
        return body.data;
    }

    targets(): Promise<TargetsAnswer> {
        return this.api("/api/v1/targets");
    }

    /** An instant query's series: labels and value. */
    async query(expression: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
        return (await this.api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(`/api/v1/query?query=${encodeURIComponent(expression)}`)).result;
    }
}

/** Starts Prometheus in `group` with `prometheusYml`; resolves once /-/ready answers (bounded, quoting its log). */
export async function startPrometheus(group: ProcessGroup, name: string, prometheusYml: string, timeoutMs = 30_000): Promise<RunningPrometheus> {
    const dir = fs.mkdtempSync(path.join(group.logDir, `${name}-`));
    const configFile = path.join(dir, "prometheus.yml");
    fs.writeFileSync(configFile, prometheusYml);
    const port = await freePort();
    const started = group.start(name, toolBinary("prometheus"), [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${path.join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--web.enable-lifecycle",
    ]);
    const url = `http://127.0.0.1:${port}`;
    await waitForHttp(`${url}/-/ready`, { timeoutMs, process: started });
    return new RunningPrometheus(url, started, configFile);
}
