/**
 * The data path's stage (DESIGN.md test layer 5): a test copy of the local stack through the real engine, its
 * manifests as local pods (local-pods.ts), the bucket on a real S3 server. Shared by the data-path specs; each
 * schedules and starts the pods it needs.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import type { Stack } from "@pulumi/pulumi/automation";
import { projectName } from "../../components/config/primitives";
import type { KubernetesInstanceConfig } from "../../components/config/types";
import { queryHttpPort, thanosPorts } from "../../components/thanos/defaults";
import { EngineSandbox } from "./engine";
import { readStackConfig } from "./fixtures";
import { LocalCluster, LocalPod } from "./local-pods";
import { findManifest, mountedSecret } from "./manifests";
import { ManagedProcess, ProcessGroup, waitFor, waitForHttp } from "./processes";
import { metricSum, prometheusApi } from "./prometheus";
import { BlockListing, listBucket, LocalS3 } from "./s3";

export interface Credentials {
    readonly username: string;
    readonly password: string;
}

export function basicAuth(credentials: Credentials): RequestInit {
    return { headers: { Authorization: `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64")}` } };
}

/** Sum of a metric's samples on a /metrics page; undefined when the page does not have it. */
export async function metricValue(url: string, name: string, init: RequestInit = {}): Promise<number | undefined> {
    return metricSum(await (await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) })).text(), name);
}

export interface VectorSample {
    metric: Record<string, string>;
    value: [number, string];
}

export interface MatrixSeries {
    metric: Record<string, string>;
    values: [number, string][];
}

export const stackKey = (key: string) => `${projectName}:${key}`;

export class DataPathStage {
    readonly sandbox = new EngineSandbox();
    readonly manifestsDir = path.join(this.sandbox.root, "manifests");
    readonly group = new ProcessGroup(path.join(this.sandbox.root, "logs"));
    readonly s3 = new LocalS3(path.join(this.sandbox.root, "s3"), this.group);
    readonly config = readStackConfig("local");
    stack!: Stack;
    cluster!: LocalCluster;
    bucket!: string;
    /** Keeps the temp dir (with every process's log) for a look after a failure, of a test or of `before`. */
    failed = true;

    constructor(readonly stackName: string) {}

    /** `up` of the local stack's copy (with `edit`), the manifests read back, the S3 server serving the bucket. */
    async up(edit: (stackConfig: Record<string, any>) => void = () => {}): Promise<void> {
        await this.s3.reservePort();
        this.sandbox.copyStackFile("local", (stackConfig) => {
            stackConfig[stackKey("kubernetes")].renderYamlToDirectory = this.manifestsDir;
            stackConfig[stackKey("bucket")].endpoint = this.s3.endpoint;
            // The compactor leaves blocks younger than its consistency delay alone (30m by default): every block
            // here was uploaded seconds ago, so with the default a pass would check nothing.
            stackConfig[stackKey("thanos")] = { ...stackConfig[stackKey("thanos")], compactor: { ...stackConfig[stackKey("thanos")]?.compactor, consistencyDelay: "0s" } };
            edit(stackConfig);
        }, this.stackName);
        this.stack = await this.sandbox.open(this.stackName);
        await this.stack.setConfig(stackKey("bucketAccessKey"), { value: this.s3.accessKey, secret: true });
        await this.stack.setConfig(stackKey("bucketSecretKey"), { value: this.s3.secretKey, secret: true });
        await this.stack.up();

        this.cluster = new LocalCluster(this.manifestsDir, path.join(this.sandbox.root, "pods"), this.group);
        const objstoreSecret = mountedSecret(this.cluster.manifests, findManifest(this.cluster.manifests, "StatefulSet", "thanos-store"), "objstore");
        const objstore = Buffer.from(objstoreSecret.data["objstore.yml"], "base64").toString("utf8");
        this.bucket = (yaml.load(objstore) as { config: { bucket: string } }).config.bucket;
        await this.s3.start(this.bucket);
    }

    async stop(): Promise<void> {
        await this.group.stopAll();
        if (this.failed) console.log(`e2e: kept ${this.sandbox.root} (process logs in ${this.group.logDir})`);
        else this.sandbox.cleanup();
    }

    /** The Prometheus StatefulSets the stack rendered. */
    prometheusStatefulSets(): string[] {
        return this.cluster.manifests.filter((manifest) => manifest.kind === "StatefulSet" && manifest.metadata.labels?.["app.kubernetes.io/name"] === "prometheus").map((manifest) => manifest.metadata.name);
    }

    instanceOf(pod: LocalPod): KubernetesInstanceConfig {
        return this.config.instances.find((instance): instance is KubernetesInstanceConfig => instance.platform === "kubernetes" && pod.name.startsWith(`prometheus-${instance.name}-`))!;
    }

    /** What the sidecar (and the flush) label a pod's blocks with. */
    expectedExternalLabels(pod: LocalPod): Record<string, string> {
        const instance = this.instanceOf(pod);
        const { config } = this;
        return { environment: config.environment, region: config.region, product: config.product, tenant: instance.name, team: instance.team, [config.thanos.replicaLabel]: pod.name };
    }

    /** An instance's credentials as its pod holds them (the projected web Secret): what a bound app is given. */
    credentialsOf(pod: LocalPod): Credentials {
        return { username: this.instanceOf(pod).name, password: fs.readFileSync(path.join(pod.volumeDir("web"), "password"), "utf8") };
    }

    asTenant(pod: LocalPod): RequestInit {
        return basicAuth(this.credentialsOf(pod));
    }

    objstoreFile(pod: LocalPod): string {
        return path.join(pod.volumeDir("objstore"), "objstore.yml");
    }

    listBucket(pod: LocalPod): Promise<BlockListing[]> {
        return listBucket(this.objstoreFile(pod));
    }

    /** The store gateway, then Query, once Query sees the store and `sidecars` sidecars; returns Query's pod. */
    async startStoreAndQuery(sidecars: number): Promise<LocalPod> {
        const [store] = await this.cluster.schedule("StatefulSet", "thanos-store");
        await waitForHttp(store.url(thanosPorts.http, "/-/ready"), { timeoutMs: 60_000, process: await store.start("store") });
        const [query] = await this.cluster.schedule("Deployment", "thanos-query");
        const queryProcess = await query.start("query");
        await waitFor("Query to see every sidecar and the store", async () => {
            const stores = await prometheusApi<Record<string, { lastError: string | null }[]>>(query.url(queryHttpPort, "/api/v1/stores"));
            return Object.values(stores).flat().filter((endpoint) => endpoint.lastError === null).length === sidecars + 1 || undefined;
        }, { timeoutMs: 60_000, intervalMs: 500, process: queryProcess });
        return query;
    }

    /**
     * One pass of the compactor as a (re)started pod runs it with the rendered flags: started, waited for until
     * it completed an iteration without halting, stopped (exit 0 on SIGTERM). Returns its process, for its log.
     */
    async compactorPass(compactorPod: LocalPod, timeoutMs = 90_000): Promise<ManagedProcess> {
        const compactor = await compactorPod.start("compactor");
        const metrics = compactorPod.url(thanosPorts.http, "/metrics");
        await waitFor("a complete compactor pass (thanos_compact_iterations_total >= 1)", async () => ((await metricValue(metrics, "thanos_compact_iterations_total")) ?? 0) >= 1 || undefined, { timeoutMs, intervalMs: 500, process: compactor });
        assert.equal(await metricValue(metrics, "thanos_compact_halted"), 0, compactor.logTail());
        assert.equal(await compactor.stop(), 0, `the compactor's exit code; its log:\n${compactor.logTail()}`);
        return compactor;
    }

    /** An API call to a Query pod. */
    queryApi<T>(query: LocalPod, apiPath: string, parameters: Record<string, string>): Promise<T> {
        return prometheusApi<T>(query.url(queryHttpPort, `${apiPath}?${new URLSearchParams(parameters)}`));
    }
}
