/**
 * The data path for real (DESIGN.md test layer 5): a test copy of the local stack goes through the real engine,
 * and the pods it renders run as local processes on loopback (test/support/local-pods.ts): an S3 server with the
 * bucket, every Prometheus replica with its Thanos sidecar, the store gateway, Query and the compactor, started
 * from the rendered arguments, ConfigMaps and Secrets with only paths and ports remapped.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { prometheusWebPort } from "../../components/prometheus/defaults";
import { queryHttpPort, thanosPorts } from "../../components/thanos/defaults";
import { basicAuth, DataPathStage, metricValue, stackKey, VectorSample } from "../support/data-path";
import { LocalPod, ProbeKind } from "../support/local-pods";
import { findManifest } from "../support/manifests";
import { waitFor } from "../support/processes";
import { prometheusApi } from "../support/prometheus";
import { completedBlockRange, createBlocks, openMetricsGauge } from "../support/tsdb";

const metric = "paas_e2e_backfilled";
const recordedMetric = "paas_e2e:reloaded";
const stepMs = 30_000;
/** Series "a" has the value of its sample index, "b" 1000 more. */
const knownSeries = [
    { labels: { series: "a" }, value: (index: number) => index },
    { labels: { series: "b" }, value: (index: number) => 1000 + index },
];

interface PrometheusYml {
    global: { external_labels: Record<string, string> };
    scrape_configs: { job_name: string; kubernetes_sd_configs?: unknown[] }[];
}

function count<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
    return counts;
}

describe("e2e: the data path on the files the program renders (S3 server, Prometheus HA pair, Thanos sidecar, store, query, compactor)", function () {
    this.timeout(5 * 60_000);
    const stage = new DataPathStage("e2e");
    const { sandbox, config } = stage;
    // A complete 2h block, as Prometheus would have cut it before the pods started.
    const range = completedBlockRange(Date.now(), 0);
    let prometheusPods: LocalPod[];
    let query: LocalPod;
    /** Pod name → the copy of promtool's block in the pod's TSDB. */
    const backfilled = new Map<string, string>();
    const initContainerOutput = new Map<string, string>();

    const onePerTenant = () => Object.fromEntries(config.instances.map((instance) => [instance.name, 1]));
    const replicasPerTenant = () => Object.fromEntries(config.instances.map((instance) => [instance.name, instance.replicas]));
    const instanceOf = (pod: LocalPod) => stage.instanceOf(pod);
    const expectedExternalLabels = (pod: LocalPod) => stage.expectedExternalLabels(pod);
    const credentialsOf = (pod: LocalPod) => stage.credentialsOf(pod);
    const asTenant = (pod: LocalPod) => stage.asTenant(pod);
    const readinessProbe = (pod: LocalPod) => waitFor(`${pod.name}'s Prometheus to pass its readiness probe as rendered`, async () => (await pod.probe("prometheus", "readinessProbe")) || undefined,
        { timeoutMs: 60_000, intervalMs: 500, process: pod.processes.get("prometheus") });
    /** The Prometheus config file of a pod, from its rendered --config.file (the envsubst output). */
    const configOut = (pod: LocalPod) => pod.args(pod.container("prometheus")).find((arg) => arg.startsWith("--config.file="))!.split("=")[1];
    const listBucket = (pod: LocalPod) => stage.listBucket(pod);
    const instantQuery = (expr: string, time: number, dedup: boolean) =>
        stage.queryApi<{ result: VectorSample[] }>(query, "/api/v1/query", { query: expr, time: String(time / 1000), dedup: String(dedup) }).then((data) => data.result);

    before(async () => {
        await stage.up();
        const { cluster } = stage;
        prometheusPods = [];
        for (const statefulSet of stage.prometheusStatefulSets()) prometheusPods.push(...(await cluster.schedule("StatefulSet", statefulSet)));
        const text = openMetricsGauge(metric, knownSeries, range, stepMs);
        for (const pod of prometheusPods) {
            // Into the directory the rendered --storage.tsdb.path names, before Prometheus opens it.
            const tsdb = pod.args(pod.container("prometheus")).find((arg) => arg.startsWith("--storage.tsdb.path="))!.split("=")[1];
            const blocks = await createBlocks(text, path.join(sandbox.root, "backfill", pod.name));
            assert.equal(blocks.length, 1, `promtool made ${blocks.length} blocks of one aligned 2h range`);
            backfilled.set(pod.name, path.join(tsdb, path.basename(blocks[0])));
            fs.cpSync(blocks[0], backfilled.get(pod.name)!, { recursive: true });
            await pod.runInitContainers();
            initContainerOutput.set(pod.name, fs.readFileSync(configOut(pod), "utf8"));
        }
        for (const pod of prometheusPods) {
            await pod.start("prometheus");
            await pod.start("thanos-sidecar");
            await readinessProbe(pod);
        }
        for (const pod of prometheusPods) {
            const sidecar = pod.processes.get("thanos-sidecar")!;
            await waitFor(`${pod.name}'s sidecar to upload its block`, async () => ((await metricValue(pod.url(thanosPorts.http, "/metrics"), "thanos_shipper_uploads_total")) ?? 0) >= 1 || undefined, { timeoutMs: 90_000, intervalMs: 500, process: sidecar });
        }

        // The store gateway lists the bucket at start (then every 30 s): it starts once the blocks are there.
        query = await stage.startStoreAndQuery(prometheusPods.length);
        stage.failed = false;
    });

    afterEach(function () {
        if (this.currentTest?.state === "failed") stage.failed = true;
    });

    after(() => stage.stop());

    it("the bucket holds each replica's block with the instance's external labels in meta.json (replica label = pod name)", async () => {
        const blocks = await listBucket(prometheusPods[0]);
        for (const pod of prometheusPods) {
            const uploaded = blocks.filter((block) => block.ulid === path.basename(backfilled.get(pod.name)!));
            assert.equal(uploaded.length, 1, `${pod.name}'s block is not in bucket ${stage.bucket}; it holds ${JSON.stringify(blocks.map((block) => [block.ulid, block.thanos.labels]))}`);
            const [block] = uploaded;
            assert.deepEqual(block.thanos.labels, expectedExternalLabels(pod), `external labels of ${pod.name}'s block`);
            assert.equal(block.thanos.source, "sidecar");
            assert.ok(block.minTime >= range.start && block.maxTime <= range.end, `block ${block.minTime}-${block.maxTime} is outside the backfilled range ${range.start}-${range.end}`);
        }
        assert.equal(blocks.length, prometheusPods.length, `one block per replica, found ${blocks.length}`);
    });

    it("the init container's envsubst writes each pod's own name as the replica label", () => {
        for (const pod of prometheusPods) {
            const rendered = initContainerOutput.get(pod.name)!;
            assert.doesNotMatch(rendered, /\$\(/, `${pod.name}: a $(VAR) placeholder is left`);
            const labels = (yaml.load(rendered) as PrometheusYml).global.external_labels;
            assert.deepEqual(labels, expectedExternalLabels(pod), `${pod.name}'s external labels`);
        }
    });

    it("every app job of the rendered config is loaded by the live Prometheus (discovering the units waits for the Kubernetes control-plane layer)", async () => {
        for (const pod of prometheusPods) {
            const rendered = (yaml.load(initContainerOutput.get(pod.name)!) as PrometheusYml).scrape_configs.map((job) => job.job_name);
            const appJobs = rendered.filter((job) => job.startsWith("tsuru-app-"));
            assert.deepEqual(appJobs, instanceOf(pod).apps.map((app) => `tsuru-app-${app.name}`), `${pod.name}: the rendered app jobs`);
            const loaded = yaml.load((await prometheusApi<{ yaml: string }>(pod.url(prometheusWebPort, "/api/v1/status/config"), asTenant(pod))).yaml) as PrometheusYml;
            for (const job of appJobs) {
                const found = loaded.scrape_configs.find((candidate) => candidate.job_name === job);
                assert.ok(found?.kubernetes_sd_configs?.length, `${pod.name} has not loaded ${job} with its Kubernetes discovery: ${JSON.stringify(found)}`);
            }
            // Scrape pools follow the first discovery update (throttled to 5 s).
            const pools = await waitFor(`${pod.name}'s scrape pools to include ${rendered.join(", ")}`, async () => {
                const { scrapePools } = await prometheusApi<{ scrapePools: string[] }>(pod.url(prometheusWebPort, "/api/v1/scrape_pools"), asTenant(pod));
                return rendered.every((job) => scrapePools.includes(job)) ? scrapePools : undefined;
            }, { timeoutMs: 30_000, intervalMs: 500, process: pod.processes.get("prometheus") });
            assert.deepEqual([...pools].sort(), [...rendered].sort(), `${pod.name}: scrape pools`);
            // The self-scrape jobs point at the pod's own Prometheus and sidecar (localhost in the pod); the app jobs have no target.
            const targets = await prometheusApi<{ activeTargets: { scrapePool: string; scrapeUrl: string }[] }>(pod.url(prometheusWebPort, "/api/v1/targets"), asTenant(pod));
            assert.deepEqual(targets.activeTargets.map((target) => target.scrapeUrl).sort(), [pod.url(prometheusWebPort, "/metrics"), pod.url(thanosPorts.http, "/metrics")].sort(), `${pod.name}: active targets`);
        }
    });

    it("Query serves the live self-scrape series of every replica through the sidecars, labelled with its pod name", async () => {
        const live = await waitFor("a first self-scrape of every replica (30 s scrape interval)", async () => {
            const result = await instantQuery('up{job="prometheus"}', Date.now(), false);
            return result.length === prometheusPods.length ? result : undefined;
        }, { timeoutMs: 90_000, intervalMs: 1_000 });
        assert.deepEqual(live.map((sample) => sample.metric[config.thanos.replicaLabel]).sort(), prometheusPods.map((pod) => pod.name).sort());
        assert.ok(live.every((sample) => sample.value[1] === "1"), `a self-scrape is down: ${JSON.stringify(live)}`);
    });

    it("every endpoint of a tenant's Prometheus answers 401 without credentials, with a wrong password and with another tenant's credentials; 200 with its own", async () => {
        const now = Math.floor(Date.now() / 1000);
        const reads = [
            "/api/v1/query?query=up", `/api/v1/query_range?query=up&start=${now - 300}&end=${now}&step=30`, "/federate?match[]=up", "/api/v1/series?match[]=up",
            "/api/v1/status/flags", "/metrics", "/-/healthy", "/-/ready",
        ];
        const lifecycle = ["/-/reload", "/-/quit"];
        const status = async (pod: LocalPod, urlPath: string, init: RequestInit, method = "GET") => {
            const response = await fetch(pod.url(prometheusWebPort, urlPath), { ...init, method, signal: AbortSignal.timeout(10_000) });
            await response.arrayBuffer();
            return { code: response.status, challenge: response.headers.get("www-authenticate") };
        };
        for (const pod of prometheusPods) {
            const own = credentialsOf(pod);
            const other = credentialsOf(prometheusPods.find((candidate) => instanceOf(candidate).name !== instanceOf(pod).name)!);
            const refused: [string, RequestInit][] = [
                ["no credentials", {}],
                ["a wrong password", basicAuth({ ...own, password: `${own.password}x` })],
                ["another tenant's credentials", basicAuth(other)],
                ["another tenant's password under this tenant's user", basicAuth({ ...own, password: other.password })],
            ];
            for (const [who, init] of refused) {
                for (const urlPath of reads) assert.deepEqual(await status(pod, urlPath, init), { code: 401, challenge: "Basic" }, `${pod.name}: GET ${urlPath} with ${who}`);
                for (const urlPath of lifecycle) assert.equal((await status(pod, urlPath, init, "POST")).code, 401, `${pod.name}: POST ${urlPath} with ${who}`);
            }
            for (const urlPath of reads) assert.equal((await status(pod, urlPath, basicAuth(own))).code, 200, `${pod.name}: GET ${urlPath} with its own credentials`);
            assert.equal((await status(pod, "/-/reload", basicAuth(own), "POST")).code, 200, `${pod.name}: POST /-/reload with its own credentials`);
            assert.equal(pod.processes.get("prometheus")!.hasExited, false, `${pod.name}: a refused /-/quit stopped Prometheus`);
        }
    });

    it("the probes as rendered pass (readiness authenticates through promtool and the mounted client file, no credential in the pod spec); a wrong password fails readiness and leaves Query empty with a warning", async () => {
        const kinds: ProbeKind[] = ["readinessProbe", "livenessProbe", "startupProbe"];
        for (const pod of prometheusPods) {
            for (const container of ["prometheus", "thanos-sidecar"]) {
                for (const kind of kinds) assert.equal(await pod.probe(container, kind), true, `${pod.name}/${container} ${kind}`);
            }
            const spec = JSON.stringify(pod.spec);
            assert.ok(!spec.includes(credentialsOf(pod).password), `${pod.name}: the password is in the pod spec`);
        }
        // The sidecar re-reads the password file on every request: a wrong one is a wrong password at once.
        const [pod] = prometheusPods;
        const passwordFile = path.join(pod.volumeDir("web"), "password");
        const password = fs.readFileSync(passwordFile, "utf8");
        fs.writeFileSync(passwordFile, `${password}-wrong`);
        try {
            assert.equal(await pod.probe("prometheus", "readinessProbe"), false, "readiness passed with a wrong password");
            assert.equal(await pod.probe("prometheus", "livenessProbe"), true, "liveness only checks the port: a pod is not restarted (its tmpfs lost) over credentials");
            const selector = `up{job="prometheus",${config.thanos.replicaLabel}="${pod.name}"}`;
            const answer = await (await fetch(query.url(queryHttpPort, `/api/v1/query?${new URLSearchParams({ query: selector })}`), { signal: AbortSignal.timeout(15_000) })).json() as { status: string; data: { result: unknown[] }; warnings?: string[] };
            assert.equal(answer.status, "success", "Query fails on a sidecar with wrong credentials instead of warning: the tests below rely on series, not status");
            assert.deepEqual(answer.data.result, []);
            assert.match(JSON.stringify(answer.warnings ?? []), /401/);
        } finally {
            fs.writeFileSync(passwordFile, password);
        }
        assert.equal(await pod.probe("prometheus", "readinessProbe"), true);
    });

    it("a changed config and rules file reach Prometheus through the sidecar's reloader (authenticated with the instance's credentials), with no restart; its envsubst output carries the pod's own name", async () => {
        const haInstance = config.instances.find((instance) => instance.replicas > 1)!.name;
        const statefulSets = () => prometheusPods.map((pod) => findManifest(stage.cluster.manifests, "StatefulSet", `prometheus-${instanceOf(pod).name}`).spec);
        const specsBefore = statefulSets();
        const startTimes = await Promise.all(prometheusPods.map(async (pod) => (await prometheusApi<{ startTime: string }>(pod.url(prometheusWebPort, "/api/v1/status/runtimeinfo"), asTenant(pod))).startTime));
        const lastReload = (pod: LocalPod) => metricValue(pod.url(prometheusWebPort, "/metrics"), "prometheus_config_last_reload_success_timestamp_seconds", asTenant(pod));
        const reloadedBefore = await Promise.all(prometheusPods.map(lastReload));

        // A tenant rule group for every instance and a new app for the HA one: a second `up`, as an operator runs it.
        sandbox.editStackFile("e2e", (stackConfig) => {
            for (const instance of stackConfig[stackKey("instances")]) {
                instance.rules = [...(instance.rules ?? []), { name: "e2e-reload", interval: "5s", rules: [{ record: recordedMetric, expr: "vector(1)" }] }];
                if (instance.name === haInstance) instance.apps.push({ name: "e2e-new-app", namespace: instance.apps[0].namespace });
            }
        });
        await stage.stack.up();
        stage.cluster.reloadManifests();
        assert.deepEqual(statefulSets(), specsBefore, "a StatefulSet changed, so Kubernetes would restart its pods");
        for (const pod of prometheusPods) {
            const expected = instanceOf(pod).name === haInstance ? ["config/prometheus.yml.tmpl", "rules/tenant-rules.yml"] : ["rules/tenant-rules.yml"];
            assert.deepEqual(pod.refreshVolumes().sort(), expected, `${pod.name}: the ConfigMap files that changed`);
        }

        for (const [index, pod] of prometheusPods.entries()) {
            const prometheus = pod.processes.get("prometheus")!;
            await waitFor(`${pod.name} to load the new rule group`, async () => {
                const rules = await prometheusApi<{ groups: { name: string; rules: { name: string }[] }[] }>(pod.url(prometheusWebPort, "/api/v1/rules"), asTenant(pod));
                return rules.groups.some((ruleGroup) => ruleGroup.name === "e2e-reload" && ruleGroup.rules.some((rule) => rule.name === recordedMetric)) || undefined;
            }, { timeoutMs: 60_000, intervalMs: 500, process: prometheus });
            if (instanceOf(pod).name === haInstance) {
                const loaded = await waitFor(`${pod.name} to load the new app job`, async () => {
                    const text = (await prometheusApi<{ yaml: string }>(pod.url(prometheusWebPort, "/api/v1/status/config"), asTenant(pod))).yaml;
                    return text.includes("job_name: tsuru-app-e2e-new-app") ? text : undefined;
                }, { timeoutMs: 60_000, intervalMs: 500, process: prometheus });
                assert.deepEqual((yaml.load(loaded) as PrometheusYml).global.external_labels, expectedExternalLabels(pod), `${pod.name}: external labels after the reload`);
                // Only the reloader writes the file after start: the new job proves it is its output.
                const reloaderOutput = fs.readFileSync(configOut(pod), "utf8");
                assert.match(reloaderOutput, /job_name: tsuru-app-e2e-new-app/, `${pod.name}: the reloader has not rewritten ${configOut(pod)}`);
                assert.doesNotMatch(reloaderOutput, /\$\(/, `${pod.name}: a $(VAR) placeholder is left`);
                assert.equal((yaml.load(reloaderOutput) as PrometheusYml).global.external_labels[config.thanos.replicaLabel], pod.name);
            }
            assert.equal(prometheus.hasExited, false, `${pod.name}'s Prometheus exited`);
            assert.equal((await prometheusApi<{ startTime: string }>(pod.url(prometheusWebPort, "/api/v1/status/runtimeinfo"), asTenant(pod))).startTime, startTimes[index], `${pod.name}'s Prometheus restarted`);
            assert.equal(await metricValue(pod.url(prometheusWebPort, "/metrics"), "prometheus_config_last_reload_successful", asTenant(pod)), 1);
            assert.ok((await lastReload(pod))! > reloadedBefore[index]!, `${pod.name}: prometheus_config_last_reload_success_timestamp_seconds did not move`);
        }
    });

    it("with dedup on the replica label Query returns one live series per tenant through the sidecars; without, one per replica", async () => {
        // The recorded series carries only the external labels (the self-scrape ones also differ in `instance`
        // here, where each pod's localhost port is remapped to its own).
        const now = () => Date.now();
        const withoutDedup = await waitFor(`${recordedMetric} from every replica`, async () => {
            const result = await instantQuery(recordedMetric, now(), false);
            return result.length === prometheusPods.length ? result : undefined;
        }, { timeoutMs: 60_000, intervalMs: 1_000 });
        assert.deepEqual(count(withoutDedup, (sample) => sample.metric.tenant), replicasPerTenant());
        const withDedup = await instantQuery(recordedMetric, now(), true);
        assert.deepEqual(count(withDedup, (sample) => sample.metric.tenant), onePerTenant(), `dedup=true: ${JSON.stringify(withDedup)}`);
    });

    it("Query returns the backfilled series from the store gateway once the Prometheus pods and their tmpfs are gone", async () => {
        for (const pod of prometheusPods) await pod.stop();
        assert.ok(prometheusPods.every((pod) => !fs.existsSync(backfilled.get(pod.name)!)), "a local block survived");
        const index = 60;
        const time = range.start + index * stepMs;
        const result = await waitFor("the backfilled samples from the store gateway", async () => {
            const samples = await instantQuery(metric, time, false);
            return samples.length === prometheusPods.length * knownSeries.length ? samples : undefined;
        }, { timeoutMs: 60_000, intervalMs: 1_000 });
        for (const pod of prometheusPods) {
            for (const series of knownSeries) {
                const found = result.filter((sample) => sample.metric[config.thanos.replicaLabel] === pod.name && sample.metric.series === series.labels.series);
                assert.equal(found.length, 1, `${pod.name} ${JSON.stringify(series.labels)}: ${JSON.stringify(result)}`);
                assert.equal(Number(found[0].value[1]), series.value(index), `${pod.name} ${JSON.stringify(series.labels)} at sample ${index}`);
                assert.deepEqual({ ...found[0].metric, __name__: undefined, series: undefined }, { ...expectedExternalLabels(pod), __name__: undefined, series: undefined });
            }
        }
    });

    it("with dedup on the replica label Query returns one backfilled series per tenant; without, one per replica", async () => {
        const time = range.start + 60 * stepMs;
        const expr = `${metric}{series="a"}`;
        const withDedup = await instantQuery(expr, time, true);
        assert.deepEqual(count(withDedup, (sample) => sample.metric.tenant), onePerTenant(), `dedup=true: ${JSON.stringify(withDedup)}`);
        assert.ok(withDedup.every((sample) => !(config.thanos.replicaLabel in sample.metric)), "deduplicated series keep the replica label");
        const withoutDedup = await instantQuery(expr, time, false);
        assert.deepEqual(count(withoutDedup, (sample) => sample.metric.tenant), replicasPerTenant(), `dedup=false: ${JSON.stringify(withoutDedup)}`);
    });

    it("deduplicated in the bucket (the live HA pair): the compactor with the rendered flags merges the replicas' sidecar-uploaded blocks into one copy without the replica label, halts on nothing, exits 0 when stopped; Query returns the same values", async () => {
        const time = range.start + 60 * stepMs;
        const expr = `${metric}{series="a"}`;
        const byTenant = (samples: VectorSample[]) => [...samples].sort((a, b) => a.metric.tenant.localeCompare(b.metric.tenant));
        const before = byTenant(await instantQuery(expr, time, true));
        const [compactorPod] = await stage.cluster.schedule("StatefulSet", "thanos-compactor");
        const uploaded = await listBucket(compactorPod);
        const compactor = await stage.compactorPass(compactorPod);
        assert.doesNotMatch(fs.readFileSync(compactor.logFile, "utf8"), /halting/);

        const compacted = (await listBucket(compactorPod)).filter((block) => block.thanos.source === "compactor");
        for (const instance of config.instances) {
            const own = uploaded.filter((block) => block.thanos.labels.tenant === instance.name);
            const merged = compacted.filter((block) => block.thanos.labels.tenant === instance.name);
            if (instance.replicas === 1) {
                assert.deepEqual(merged, [], `${instance.name} has one replica: nothing to merge`);
                continue;
            }
            assert.equal(merged.length, 1, `${instance.name}: one copy of its ${own.length} replicas' blocks: ${JSON.stringify(compacted)}`);
            assert.deepEqual([...merged[0].compaction.sources].sort(), own.flatMap((block) => block.compaction.sources).sort());
            assert.deepEqual(merged[0].thanos.labels, Object.fromEntries(Object.entries(own[0].thanos.labels).filter(([name]) => name !== config.thanos.replicaLabel)));
        }
        await waitFor("Query to read the merged block through the store gateway", async () => {
            const blocks = await metricValue(stage.cluster.pod("thanos-store-0").url(thanosPorts.http, "/metrics"), "thanos_bucket_store_blocks_loaded");
            return blocks === uploaded.length + compacted.length || undefined;
        }, { timeoutMs: 90_000, intervalMs: 1_000 });
        assert.deepEqual(byTenant(await instantQuery(expr, time, true)), before);
    });
});
