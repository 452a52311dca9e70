/**
 * Tsuru app units as Tsuru's Kubernetes provisioner labels them (shared/reference/tsuru-api.md §C), the status a
 * kubelet would report for them, and a small exporter standing in for each unit's /metrics on its pod IP.
 */
import * as http from "http";
import type { KubeClient } from "./control-plane";

export interface TsuruUnit {
    readonly name: string;
    readonly namespace: string;
    readonly app: string;
    readonly process: string;
    readonly node: string;
    /** A unit (default), the app's image build, or a `tsuru app run --isolated` pod. */
    readonly kind?: "unit" | "build" | "isolated-run";
    readonly port?: number;
}

/** The pod Tsuru creates for a unit (labels of provision/labels.go, container port 8888 unless the app says). */
export function tsuruUnitPod(unit: TsuruUnit): Record<string, unknown> {
    const port = unit.port ?? 8888;
    return {
        apiVersion: "v1",
        kind: "Pod",
        metadata: {
            name: unit.name,
            namespace: unit.namespace,
            labels: {
                "tsuru.io/is-tsuru": "true",
                "tsuru.io/app-name": unit.app,
                "tsuru.io/app-process": unit.process,
                "tsuru.io/app-team": "team-a",
                "tsuru.io/app-pool": "local",
                "tsuru.io/app-platform": "python",
                "tsuru.io/app-version": "3",
                "tsuru.io/is-routable": String(unit.kind === undefined || unit.kind === "unit"),
                "tsuru.io/is-build": String(unit.kind === "build"),
                "tsuru.io/is-isolated-run": String(unit.kind === "isolated-run"),
            },
        },
        spec: {
            nodeName: unit.node,
            automountServiceAccountToken: false,
            containers: [{
                name: `${unit.app}-${unit.process}`,
                image: `registry.local/tsuru/app-${unit.app}:v3`,
                env: [{ name: "PORT", value: String(port) }],
                ports: [{ name: "http-default-1", containerPort: port }],
            }],
        },
    };
}

/** Creates the unit's pod (what Tsuru does). */
export async function createUnit(client: KubeClient, unit: TsuruUnit): Promise<void> {
    await client.expect("POST", `/api/v1/namespaces/${unit.namespace}/pods`, tsuruUnitPod(unit));
}

/** Reports the pod's phase and IP the way a kubelet does (the status subresource). */
export async function setUnitStatus(client: KubeClient, unit: Pick<TsuruUnit, "name" | "namespace">, phase: "Running" | "Succeeded" | "Failed", podIP: string): Promise<void> {
    const running = phase === "Running";
    await client.expect("PATCH", `/api/v1/namespaces/${unit.namespace}/pods/${unit.name}/status`, {
        status: {
            phase,
            podIP,
            podIPs: [{ ip: podIP }],
            hostIP: podIP,
            conditions: [{ type: "Ready", status: running ? "True" : "False" }],
        },
    }, "application/merge-patch+json");
}

/**
 * A unit's /metrics on `ip:port`: a counter and, unless `contentType` is null, the text format's Content-Type
 * (many apps on a PaaS send none, which Prometheus 3 refuses without a fallback protocol).
 */
export function startUnitExporter(ip: string, port: number, contentType: string | null): Promise<http.Server> {
    const server = http.createServer((request, response) => {
        if (request.url !== "/metrics") {
            response.writeHead(404).end();
            return;
        }
        if (contentType !== null) response.setHeader("Content-Type", contentType);
        response.end("# TYPE unit_requests_total counter\nunit_requests_total 42\n");
    });
    return new Promise((resolve, reject) => {
        server.once("error", (error) => reject(new Error(`cannot listen on ${ip}:${port} for a unit's /metrics: ${error.message}`)));
        server.listen(port, ip, () => resolve(server));
    });
}

/**
 * Units run as a kubelet would run them: each pod created, then reported Running on its own loopback address
 * where an exporter serves its /metrics. The addresses come from one random 127.x.y.0/24 per suite, so parallel
 * runs on one machine do not collide on the apps' port.
 */
export class LoopbackUnits {
    private readonly subnet = `127.${100 + Math.floor(Math.random() * 100)}.${1 + Math.floor(Math.random() * 250)}`;
    private readonly servers: http.Server[] = [];
    /** Pod name → its IP. */
    readonly ipOf = new Map<string, string>();

    constructor(private readonly client: KubeClient) {}

    /** Creates the unit's pod, serves its /metrics (see startUnitExporter) and reports it Running; returns its IP. */
    async run(unit: TsuruUnit, contentType: string | null): Promise<string> {
        const ip = `${this.subnet}.${this.ipOf.size + 1}`;
        this.ipOf.set(unit.name, ip);
        this.servers.push(await startUnitExporter(ip, unit.port ?? 8888, contentType));
        await createUnit(this.client, unit);
        await setUnitStatus(this.client, unit, "Running", ip);
        return ip;
    }

    async close(): Promise<void> {
        await Promise.all(this.servers.map((server) => new Promise((resolve) => server.close(resolve))));
    }
}
