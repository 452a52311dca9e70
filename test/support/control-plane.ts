/**
 * A real Kubernetes control plane for the tests: Debian's etcd and the kube-apiserver built by
 * scripts/setup-tools.sh, on loopback, with a throw-away data dir, a generated CA, serving and admin client
 * certificates and service-account signing key, and an admin kubeconfig. No controller manager, scheduler or
 * kubelet: what they would do (pod status, the `default` ServiceAccount) the tests do through the API.
 */
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as https from "https";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { toolBinary, setupHint } from "../../automation/tools";
import { freePort, ProcessGroup, waitFor } from "./processes";

export interface ApiResponse<T = any> {
    readonly status: number;
    readonly body: T;
}

/** A Kubernetes API client for one identity (admin client certificate, or a bearer token). */
export class KubeClient {
    constructor(
        readonly server: string,
        private readonly tls: { ca: string; cert?: string; key?: string },
        private readonly token?: string,
    ) {}

    request<T = any>(method: string, apiPath: string, body?: unknown, contentType = "application/json"): Promise<ApiResponse<T>> {
        const payload = body === undefined ? undefined : JSON.stringify(body);
        const headers: Record<string, string> = { Accept: "application/json" };
        if (payload !== undefined) headers["Content-Type"] = contentType;
        if (this.token) headers.Authorization = `Bearer ${this.token}`;
        return new Promise((resolve, reject) => {
            const request = https.request(`${this.server}${apiPath}`, { method, headers, ...this.tls, timeout: 15_000 }, (response) => {
                const chunks: Buffer[] = [];
                response.on("data", (chunk: Buffer) => chunks.push(chunk));
                response.on("end", () => {
                    const text = Buffer.concat(chunks).toString("utf8");
                    let parsed: unknown = text;
                    try {
                        parsed = JSON.parse(text);
                    } catch {
                        // /readyz and friends answer plain text
                    }
                    resolve({ status: response.statusCode ?? 0, body: parsed as T });
                });
            });
            request.on("timeout", () => request.destroy(new Error(`${method} ${apiPath}: no answer in 15 s`)));
            request.on("error", reject);
            request.end(payload);
        });
    }

    /** Like request, but throws (quoting the API server) unless the status is 2xx. */
    async expect<T = any>(method: string, apiPath: string, body?: unknown, contentType?: string): Promise<T> {
        const response = await this.request<T>(method, apiPath, body, contentType);
        if (response.status < 200 || response.status > 299) {
            throw new Error(`${method} ${apiPath}: ${response.status} ${JSON.stringify(response.body)}`);
        }
        return response.body;
    }

    /**
     * A server-side apply dry run with strict field validation: unknown or duplicate fields are errors. The
     * provider applies with validation "Warn" and discards the warnings, so an object can be accepted while the API
     * server silently drops part of it.
     */
    async dryRunApplyStrict(object: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } }): Promise<ApiResponse> {
        const objectPath = await this.objectPath(object.apiVersion, object.kind, object.metadata.name, object.metadata.namespace);
        return this.request("PATCH", `${objectPath}?dryRun=All&fieldManager=paas-strict-check&fieldValidation=Strict&force=true`, object, "application/apply-patch+yaml");
    }

    private readonly plurals = new Map<string, Promise<Map<string, { plural: string; namespaced: boolean }>>>();

    /** The REST path of an object, its resource name taken from the API server's discovery. */
    async objectPath(apiVersion: string, kind: string, name: string, namespace?: string): Promise<string> {
        const base = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
        if (!this.plurals.has(base)) {
            this.plurals.set(base, this.expect("GET", base).then((list: { resources: { name: string; kind: string; namespaced: boolean }[] }) =>
                new Map(list.resources.filter((resource) => !resource.name.includes("/")).map((resource) => [resource.kind, { plural: resource.name, namespaced: resource.namespaced }]))));
        }
        const resource = (await this.plurals.get(base)!).get(kind);
        if (resource === undefined) throw new Error(`the API server serves no kind ${kind} in ${apiVersion}`);
        return `${base}${resource.namespaced ? `/namespaces/${namespace}` : ""}/${resource.plural}/${name}`;
    }
}

export interface ControlPlane {
    /** https://127.0.0.1:<port> */
    readonly server: string;
    /** An admin kubeconfig (client certificate in group system:masters). */
    readonly kubeconfigPath: string;
    /** The CA that signed the API server's serving certificate. */
    readonly caFile: string;
    /** From starting etcd to the API server's /readyz answering 200. */
    readonly startupMs: number;
    readonly admin: KubeClient;
    /** A client authenticated with `token` (no client certificate). */
    client(token: string): KubeClient;
    /** A token of a ServiceAccount from the TokenRequest API, as the kubelet would mount it. */
    serviceAccountToken(namespace: string, name: string): Promise<string>;
    /** Creates a namespace with its `default` ServiceAccount (the controller manager's job; pods need it). */
    createNamespace(name: string): Promise<void>;
    stop(): Promise<void>;
}

function openssl(args: string[], cwd: string): void {
    try {
        execFileSync("openssl", args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    } catch (error: any) {
        if (error.code === "ENOENT") throw new Error(`openssl is not on PATH: install it (apt-get install -y openssl) to run the control-plane tests`);
        throw new Error(`openssl ${args.join(" ")} failed: ${error.stderr?.toString() ?? error.message}`);
    }
}

/** CA, serving certificate (127.0.0.1, localhost, kubernetes.default.svc), admin client certificate, SA key. */
function writePki(dir: string): void {
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    openssl(["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=paas-test-ca"], dir);
    const signed = (name: string, subject: string, extensions: string[]) =>
        openssl(["req", "-x509", ...ec, "-keyout", `${name}.key`, "-out", `${name}.crt`, "-days", "2", "-subj", subject,
            "-CA", "ca.crt", "-CAkey", "ca.key", ...extensions.flatMap((extension) => ["-addext", extension])], dir);
    signed("apiserver", "/CN=kube-apiserver", [
        "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc",
        "extendedKeyUsage=serverAuth", "basicConstraints=critical,CA:FALSE",
    ]);
    signed("admin", "/O=system:masters/CN=paas-test-admin", ["extendedKeyUsage=clientAuth", "basicConstraints=critical,CA:FALSE"]);
    const { privateKey, publicKey } = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    fs.writeFileSync(path.join(dir, "sa.key"), privateKey.export({ type: "pkcs8", format: "pem" }));
    fs.writeFileSync(path.join(dir, "sa.pub"), publicKey.export({ type: "spki", format: "pem" }));
}

function etcdBinary(): string {
    for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
        const candidate = path.join(dir, "etcd");
        if (dir && fs.existsSync(candidate)) return candidate;
    }
    throw new Error(`etcd is not on PATH: ${setupHint} (it installs Debian's etcd-server)`);
}

export interface ControlPlaneOptions {
    /** Startup bound: etcd and the API server ready within this (default 60 s). */
    readonly timeoutMs?: number;
}

/** Starts etcd and kube-apiserver; on any failure everything started is stopped and the error quotes the logs. */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
    const timeoutMs = options.timeoutMs ?? 60_000;
    const apiserverBinary = toolBinary("kube-apiserver");
    const etcd = etcdBinary();
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "paas-control-plane-"));
    const pki = path.join(root, "pki");
    fs.mkdirSync(pki);
    // Logs outside root: kept when startup fails.
    const processes = new ProcessGroup();
    const started = Date.now();
    try {
        writePki(pki);
        const [etcdClientPort, etcdPeerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
        const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
        const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;
        const etcdProcess = processes.start("etcd", etcd, [
            "--name=test", `--data-dir=${path.join(root, "etcd")}`,
            `--listen-client-urls=${etcdUrl}`, `--advertise-client-urls=${etcdUrl}`,
            `--listen-peer-urls=${peerUrl}`, `--initial-advertise-peer-urls=${peerUrl}`, `--initial-cluster=test=${peerUrl}`,
            "--log-level=warn",
        ]);
        const deadline = started + timeoutMs;
        await waitFor("etcd to report healthy", async () => {
            const response = await fetch(`${etcdUrl}/health`, { signal: AbortSignal.timeout(2_000) });
            return response.ok && (await response.json() as { health: string }).health === "true" ? true : undefined;
        }, { timeoutMs: deadline - Date.now(), process: etcdProcess });

        const file = (name: string) => path.join(pki, name);
        const apiserver = processes.start("kube-apiserver", apiserverBinary, [
            `--etcd-servers=${etcdUrl}`,
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", `--secure-port=${apiPort}`,
            `--cert-dir=${path.join(root, "apiserver-certs")}`,
            `--tls-cert-file=${file("apiserver.crt")}`, `--tls-private-key-file=${file("apiserver.key")}`,
            `--client-ca-file=${file("ca.crt")}`,
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            `--service-account-key-file=${file("sa.pub")}`, `--service-account-signing-key-file=${file("sa.key")}`,
            "--service-cluster-ip-range=10.96.0.0/16",
            "--authorization-mode=RBAC",
            // The `kubernetes` Service's endpoints would need a non-loopback address; nothing here uses them.
            "--endpoint-reconciler-type=none",
            // No garbage collector runs: foreground deletes (the provider's default) must not wait for it.
            "--enable-garbage-collector=false",
            "--profiling=false",
        ]);
        const server = `https://127.0.0.1:${apiPort}`;
        const tls = { ca: fs.readFileSync(file("ca.crt"), "utf8"), cert: fs.readFileSync(file("admin.crt"), "utf8"), key: fs.readFileSync(file("admin.key"), "utf8") };
        const admin = new KubeClient(server, tls);
        await waitFor("kube-apiserver /readyz", async () => ((await admin.request("GET", "/readyz")).status === 200 ? true : undefined), {
            timeoutMs: Math.max(deadline - Date.now(), 0),
            intervalMs: 250,
            process: apiserver,
        });
        const startupMs = Date.now() - started;

        const kubeconfigPath = path.join(root, "admin.kubeconfig");
        const base64 = (text: string) => Buffer.from(text).toString("base64");
        fs.writeFileSync(kubeconfigPath, yaml.dump({
            apiVersion: "v1",
            kind: "Config",
            clusters: [{ name: "test", cluster: { server, "certificate-authority-data": base64(tls.ca) } }],
            users: [{ name: "admin", user: { "client-certificate-data": base64(tls.cert), "client-key-data": base64(tls.key) } }],
            contexts: [{ name: "test", context: { cluster: "test", user: "admin" } }],
            "current-context": "test",
        }));

        return {
            server,
            kubeconfigPath,
            caFile: file("ca.crt"),
            startupMs,
            admin,
            client: (token) => new KubeClient(server, { ca: tls.ca }, token),
            async serviceAccountToken(namespace, name) {
                const review = await admin.expect("POST", `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, {
                    apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 3600 },
                });
                return review.status.token as string;
            },
            async createNamespace(name) {
                await admin.expect("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name } });
                await admin.expect("POST", `/api/v1/namespaces/${name}/serviceaccounts`, { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "default" } });
            },
            async stop() {
                await processes.stopAll();
                fs.rmSync(root, { recursive: true, force: true });
                fs.rmSync(processes.logDir, { recursive: true, force: true });
            },
        };
    } catch (error) {
        await processes.stopAll();
        fs.rmSync(root, { recursive: true, force: true });
        throw new Error(`the test control plane did not start within ${timeoutMs} ms: ${error instanceof Error ? error.message : error}\n(logs of etcd and kube-apiserver in ${processes.logDir})`);
    }
}
