/**
 * The real Prometheus (built by scripts/setup-tools.sh) started on loopback with a given prometheus.yml, and what
 * runs it "in cluster" against the test control plane.
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { toolBinary } from "../../automation/tools";
import { replicaPlaceholder } from "../../components/prometheus/kubernetes-spec";
import type { ControlPlane } from "./control-plane";
import { freePort, ManagedProcess, ProcessGroup, waitFor, waitForHttp } from "./processes";

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

/** The `data` of an HTTP API answer of Prometheus or Thanos Query; fails naming the URL on an error status. */
export async function prometheusApi<T>(url: string, init: RequestInit = {}, timeoutMs = 15_000): Promise<T> {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    const text = await response.text();
    let body: { status?: string; data?: T; error?: string };
    try {
        body = JSON.parse(text);
    } catch {
        throw new Error(`${init.method ?? "GET"} ${url}: HTTP ${response.status}: ${text.slice(0, 300)}`);
    }
    if (body.status !== "success") throw new Error(`${init.method ?? "GET"} ${url}: HTTP ${response.status}: ${body.error ?? text.slice(0, 300)}`);
    return body.data as T;
}

/** Sums every sample of `name` (a metric name, or a name with its full label set) in a text exposition. */
export function metricSum(exposition: string, name: string): number | undefined {
    let sum: number | undefined;
    for (const line of exposition.split("\n")) {
        if (!line.startsWith(name)) continue;
        const rest = line.slice(name.length);
        if (rest[0] !== " " && rest[0] !== "{") continue;
        const value = Number(rest.slice(rest[0] === "{" ? rest.lastIndexOf("}") + 1 : 0).trim().split(" ")[0]);
        sum = (sum ?? 0) + value;
    }
    return sum;
}

export class RunningPrometheus {
    constructor(readonly url: string, readonly process: ManagedProcess, readonly configFile: string) {}

    /** Replaces prometheus.yml and reloads it, as the Thanos sidecar's reloader does; fails if Prometheus refuses it. */
    async reload(prometheusYml: string): Promise<void> {
        fs.writeFileSync(this.configFile, prometheusYml);
        const response = await fetch(`${this.url}/-/reload`, { method: "POST", signal: AbortSignal.timeout(30_000) });
        if (!response.ok) throw new Error(`reloading ${this.process.name} failed: ${response.status} ${await response.text()}`);
    }

    private api<T>(apiPath: string): Promise<T> {
        return prometheusApi<T>(`${this.url}${apiPath}`);
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

/** The active targets of the Tsuru app jobs (`tsuru-app-*`). */
export async function appTargets(prometheus: RunningPrometheus): Promise<ActiveTarget[]> {
    return (await prometheus.targets()).activeTargets.filter((target) => target.scrapePool.startsWith("tsuru-app-"));
}

/** Waits until the app jobs' targets are exactly these pods (and all `health`); the timeout names what was there instead. */
export function waitForAppTargets(prometheus: RunningPrometheus, pods: readonly string[], health?: "up"): Promise<ActiveTarget[]> {
    const expected = [...pods].sort().join(", ");
    return waitFor(`targets ${expected}${health ? " (up)" : ""}`, async () => {
        const targets = await appTargets(prometheus);
        const seen = targets.map((target) => `${target.labels.pod}:${target.health}${target.lastError ? ` (${target.lastError})` : ""}`).sort().join(", ");
        const matches = targets.map((target) => target.labels.pod).sort().join(", ") === expected && (!health || targets.every((target) => target.health === health));
        if (!matches) throw new Error(`targets now: [${seen}]`);
        return targets;
    }, { timeoutMs: 60_000, intervalMs: 500, process: prometheus.process });
}

/**
 * A pod gets the API server's address from KUBERNETES_SERVICE_HOST/PORT and its ServiceAccount's token and CA from
 * a fixed path, which one machine cannot give two Prometheus processes: each discovery gets the same three
 * settings explicitly. Selection and relabelling stay exactly as rendered.
 */
export function connectDiscovery(prometheusYml: string, server: string, tokenFile: string, caFile: string): string {
    const document = yaml.load(prometheusYml) as { scrape_configs: { kubernetes_sd_configs?: Record<string, unknown>[] }[] };
    for (const job of document.scrape_configs) {
        for (const discovery of job.kubernetes_sd_configs ?? []) {
            if (discovery.api_server !== undefined) throw new Error("the rendered config names an api_server: it must rely on the in-cluster connection");
            Object.assign(discovery, { api_server: server, authorization: { credentials_file: tokenFile }, tls_config: { ca_file: caFile } });
        }
    }
    return yaml.dump(document, { lineWidth: -1 });
}

export interface InClusterConfigSource {
    /** Namespace and name of the instance's config ConfigMap. */
    readonly namespace: string;
    readonly configMap: string;
    /** The pod whose name the init container writes into the replica label. */
    readonly podName: string;
    /** The ServiceAccount token the pod would have mounted. */
    readonly token: string;
    /** Where the token file goes. */
    readonly dir: string;
}

/** An instance's prometheus.yml as the API server holds it, substituted as the pod's init container does, its discovery connected with the token. */
export async function inClusterPrometheusYml(controlPlane: ControlPlane, source: InClusterConfigSource): Promise<string> {
    const tokenFile = path.join(source.dir, `token-${createHash("sha256").update(source.token).digest("hex").slice(0, 12)}`);
    fs.writeFileSync(tokenFile, source.token, { mode: 0o600 });
    const configMap = await controlPlane.admin.expect("GET", `/api/v1/namespaces/${source.namespace}/configmaps/${source.configMap}`);
    const prometheusYml = (configMap.data["prometheus.yml.tmpl"] as string).split(replicaPlaceholder).join(source.podName);
    return connectDiscovery(prometheusYml, controlPlane.server, tokenFile, controlPlane.caFile);
}
