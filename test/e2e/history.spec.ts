/**
 * History in the bucket through the real Thanos, run as the program renders it (DESIGN.md test layer 5): blocks
 * made by promtool and uploaded with an instance's external labels, as its sidecar or its shutdown flush ships
 * them; the store gateway, Query and the compactor started from the rendered manifests of a test copy of the
 * local stack with a short raw retention (2d; 5m and 1h 30d) and no delete delay.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { queryHttpPort, thanosPorts } from "../../components/thanos/defaults";
import { DataPathStage, MatrixSeries, metricValue, stackKey } from "../support/data-path";
import type { LocalPod } from "../support/local-pods";
import { findManifest } from "../support/manifests";
import { freePort, ManagedProcess, runToCompletion, waitFor, waitForHttp } from "../support/processes";
import { prometheusApi } from "../support/prometheus";
import type { BlockListing } from "../support/s3";
import { blockRangeMs, completedBlockRange, createBlocks, KnownSeries, openMetricsGauge, TimeRange } from "../support/tsdb";
import { toolBinary } from "../support/tools";

const hourMs = 3600_000;
const minuteMs = 60_000;
/** The 2d compaction level: Thanos compacts blocks into ranges aligned on multiples of it. */
const twoDaysMs = 48 * hourMs;
/** The largest compaction level (14d), aligned the same way. */
const twoWeeksMs = 14 * 24 * hourMs;
const historyMetric = "paas_e2e_history";
const pairMetric = "paas_e2e_ha_pair";
/** Gauges whose value is the minute of the sample: a downsampled point is the average of its 5m window. */
const minuteSeries: KnownSeries[] = [
    { labels: { series: "a" }, value: (index) => index },
    { labels: { series: "b" }, value: (index) => 100_000 + index },
];

describe("e2e: history in the bucket (promtool blocks, S3 server, Thanos store, Query and compactor as rendered)", function () {
    this.timeout(10 * 60_000);
    const stage = new DataPathStage("history");
    const { config, sandbox } = stage;
    let query: LocalPod;
    let compactorPod: LocalPod;
    /** Query with the rendered flags but one: no --query.auto-downsampling. */
    let control: { process: ManagedProcess; url: string };
    /** Where Grafana's Thanos datasource points: the Query Service's port. */
    let datasourcePort: number;

    const bucket = () => stage.listBucket(compactorPod);
    const labelFlags = (labels: Record<string, string>) => Object.entries(labels).map(([name, value]) => `--label=${name}="${value}"`);
    const upload = (dir: string, labels: Record<string, string>) =>
        runToCompletion("thanos tools bucket upload-blocks", toolBinary("thanos"), ["tools", "bucket", "upload-blocks", `--objstore.config-file=${stage.objstoreFile(compactorPod)}`, `--path=${dir}`, ...labelFlags(labels)], { timeoutMs: 60_000 });
    const compactorPass = () => stage.compactorPass(compactorPod, 120_000);
    const markedForDeletion = (block: BlockListing) => fs.existsSync(path.join(stage.s3.dir, stage.bucket, block.ulid, "deletion-mark.json"));
    /**
     * The store gateway serves what the bucket holds (it lists it every 30 s; it skips marked blocks at once here),
     * and both Queries know its time range (they refresh it every few seconds and skip a store outside a query's).
     */
    const storeInSync = () => waitFor("the store gateway to load the bucket's blocks, and both Queries to see its time range", async () => {
        const blocks = (await bucket()).filter((block) => !markedForDeletion(block));
        const loaded = await metricValue(stage.cluster.pod("thanos-store-0").url(thanosPorts.http, "/metrics"), "thanos_bucket_store_blocks_loaded");
        if (loaded !== blocks.length) return undefined;
        const minTime = Math.min(...blocks.map((block) => block.minTime));
        const maxTime = Math.max(...blocks.map((block) => block.maxTime));
        for (const url of [renderedQueryUrl(), control.url]) {
            const stores = await prometheusApi<{ store?: { minTime: number; maxTime: number }[] }>(`${url}/api/v1/stores`);
            if (!(stores.store ?? []).some((store) => store.minTime <= minTime && store.maxTime >= maxTime)) return undefined;
        }
        return true;
    }, { timeoutMs: 90_000, intervalMs: 1_000 });
    /** A range query as Grafana's datasource sends it: POST, form-encoded, no max_source_resolution. */
    const grafanaRangeQuery = async (baseUrl: string, expr: string, range: TimeRange, stepSeconds: number, dedup = true): Promise<MatrixSeries[]> => {
        const response = await fetch(`${baseUrl}/api/v1/query_range`, {
            method: "POST",
            headers: { "Content-Type": "application/x-www-form-urlencoded" },
            body: new URLSearchParams({ query: expr, start: String(range.start / 1000), end: String(range.end / 1000), step: String(stepSeconds), dedup: String(dedup) }),
            signal: AbortSignal.timeout(30_000),
        });
        const body = await response.json() as { status: string; data: { result: MatrixSeries[] }; error?: string; warnings?: string[] };
        assert.equal(body.status, "success", `${baseUrl}: ${JSON.stringify(body)}`);
        // A partial response (a store reading a block already deleted) is empty with a warning: not an answer.
        assert.deepEqual(body.warnings ?? [], [], `${baseUrl}: a partial response`);
        return body.data.result;
    };
    const renderedQueryUrl = () => `http://127.0.0.1:${datasourcePort}`;
    const resolution = (block: BlockListing) => block.thanos.downsample?.resolution ?? 0;

    before(async () => {
        await stage.up((stackConfig) => {
            Object.assign(stackConfig[stackKey("thanos")].compactor, { retentionRaw: "2d", retention5m: "30d", retention1h: "30d", deleteDelay: "0s" });
        });
        const { cluster } = stage;
        // Query's endpoints name every instance's sidecar: their pods are scheduled (not started) so the names resolve.
        for (const statefulSet of stage.prometheusStatefulSets()) await cluster.schedule("StatefulSet", statefulSet);
        [compactorPod] = await cluster.schedule("StatefulSet", "thanos-compactor");
        query = await stage.startStoreAndQuery(0);

        // Grafana's Thanos datasource, as provisioned: its URL is the Query Service, whose port is the pod's HTTP port.
        const secret = findManifest(cluster.manifests, "Secret", "grafana-datasource-thanos");
        const file = secret.stringData?.["thanos.yaml"] ?? Buffer.from(secret.data["thanos.yaml"], "base64").toString("utf8");
        const datasourceUrl = new URL((yaml.load(file) as { datasources: { url: string }[] }).datasources[0].url);
        const service = findManifest(cluster.manifests, "Service", "thanos-query");
        assert.equal(datasourceUrl.hostname, `${service.metadata.name}.${service.metadata.namespace}.svc`);
        const servicePort = service.spec.ports.find((port: { port: number }) => port.port === Number(datasourceUrl.port));
        assert.equal(servicePort?.targetPort, "http", `the datasource's port ${datasourceUrl.port} is not Query's HTTP port`);
        datasourcePort = query.localPort(queryHttpPort);
        const renderedArgs = query.args(query.container("query"));
        const controlArgs = renderedArgs.filter((arg) => arg !== "--query.auto-downsampling");
        assert.deepEqual(renderedArgs.filter((arg) => !controlArgs.includes(arg)), ["--query.auto-downsampling"], "the control differs from the rendered Query by one flag");
        const [http, grpc] = [await freePort(), await freePort()];
        const args = controlArgs.map((arg) => arg.startsWith("--http-address=") ? `--http-address=127.0.0.1:${http}` : arg.startsWith("--grpc-address=") ? `--grpc-address=127.0.0.1:${grpc}` : arg);
        control = { process: stage.group.start("query-without-auto-downsampling", toolBinary("thanos"), args, { inheritEnv: false, env: {} }), url: `http://127.0.0.1:${http}` };
        await waitForHttp(`${control.url}/-/ready`, { timeoutMs: 60_000, process: control.process });
        stage.failed = false;
    });

    it("downsampled history: past the raw retention, Query as rendered (Grafana's datasource) returns the 5m blocks the compactor made for a range query with no resolution parameter; a Query without auto-downsampling returns nothing (the control); the edges that never reached 40h are gone", async () => {
        // 60h of an instance's history: a complete 2d range starting on a 14d boundary, 6h on each side. Blocks are
        // compacted within aligned ranges, so the 6h before the boundary stay a block of their own, and so do the
        // 6h after the range (no later block completes its 14d range): neither reaches 40h.
        const window = Math.floor((Date.now() - twoDaysMs - 61 * hourMs) / twoWeeksMs) * twoWeeksMs;
        const data = { start: window - 6 * hourMs, end: window + twoDaysMs + 6 * hourMs };
        const dir = path.join(sandbox.root, "history");
        const blocks = await createBlocks(openMetricsGauge(historyMetric, minuteSeries, data, minuteMs), dir);
        assert.equal(blocks.length, (data.end - data.start) / blockRangeMs, "promtool's 2h blocks");
        const shop = stage.cluster.pod("prometheus-shop-0");
        await upload(dir, stage.expectedExternalLabels(shop));
        await storeInSync();
        const expr = `${historyMetric}{tenant="${stage.instanceOf(shop).name}"}`;
        const hourly = (url: string) => grafanaRangeQuery(url, expr, data, 3600);
        assert.equal((await hourly(renderedQueryUrl())).length, 2, "Query reads the raw blocks");
        assert.equal((await hourly(control.url)).length, 2, "the control reads the raw blocks while they are kept");

        // Compacts the 2d range into one block, downsamples it to 5m (it spans 40h), marks every raw block for deletion.
        await compactorPass();
        const downsampled = (await bucket()).filter((block) => resolution(block) === 5 * minuteMs);
        assert.equal(downsampled.length, 1, `one 5m block: ${JSON.stringify(await bucket())}`);
        assert.equal(downsampled[0].minTime, window);
        assert.ok(downsampled[0].maxTime > window + twoDaysMs - 5 * minuteMs && downsampled[0].maxTime <= window + twoDaysMs, `the 5m block ends at ${new Date(downsampled[0].maxTime).toISOString()}`);
        // A restarted compactor deletes the marked blocks at the start of its pass (delete delay 0s).
        await compactorPass();
        assert.deepEqual((await bucket()).map((block) => [resolution(block), block.ulid]), [[5 * minuteMs, downsampled[0].ulid]], "the raw blocks are still in the bucket");
        await storeInSync();

        assert.deepEqual(await hourly(control.url), [], "the control (no auto-downsampling) read the 5m blocks");
        const history = await hourly(renderedQueryUrl());
        assert.deepEqual(history.map((found) => found.metric.series).sort(), ["a", "b"], JSON.stringify(history.map((found) => found.metric)));
        for (const found of history) {
            const series = minuteSeries.find((candidate) => candidate.labels.series === found.metric.series)!;
            assert.ok(found.values.length >= 47, `${found.metric.series}: ${found.values.length} hourly points of the 48h downsampled`);
            for (const [time, value] of found.values) {
                // Only the 2d range that reached 40h was downsampled: the 6h on each side were deleted raw.
                assert.ok(time * 1000 > window && time * 1000 <= window + twoDaysMs, `${found.metric.series}: a point at ${new Date(time * 1000).toISOString()}, outside the downsampled range`);
                // A 5m point is its window's average: the raw value of the last minutes before the point.
                const raw = series.value((time * 1000 - data.start) / minuteMs);
                assert.ok(Number(value) <= raw && Number(value) >= raw - 5, `${found.metric.series} at ${new Date(time * 1000).toISOString()}: ${value}, raw ${raw}`);
            }
        }
        // A zoomed-in panel (step under 25m, so step/5 under 5m) reads raw blocks only, and there are none.
        assert.deepEqual(await grafanaRangeQuery(renderedQueryUrl(), expr, { start: window + 12 * hourMs, end: window + 14 * hourMs }, 300), []);
    });

    it("deduplicated in the bucket: an HA pair's overlapping blocks (replica 0's 2h block; replica 1 scraping 30 s later, flushed around a restart into two short blocks) become one copy without the replica label after the rendered compactor; Query returns the same series values as before", async () => {
        const range = completedBlockRange(Date.now(), hourMs);
        const [first, second] = ["prometheus-blog-0", "prometheus-blog-1"].map((name) => stage.cluster.pod(name));
        // Both replicas scrape one target, whose value steps every 5 minutes (on whole minutes): a replica scraping
        // 30 s after the other reads the same value, so either replica's samples give the same series values.
        const scraped = (offsetMs: number): KnownSeries[] => [{ labels: { series: "a" }, value: (index) => Math.floor((offsetMs / 1000 + index * 60) / 300) }];
        const parts: [LocalPod, TimeRange][] = [
            [first, range],
            [second, { start: range.start + 30_000, end: range.start + 50 * minuteMs }],
            [second, { start: range.start + 55 * minuteMs + 30_000, end: range.end }],
        ];
        for (const [pod, part] of parts) {
            const dir = path.join(sandbox.root, "pair", pod.name);
            assert.equal((await createBlocks(openMetricsGauge(pairMetric, scraped(part.start - range.start), part, minuteMs), dir)).length, 1);
        }
        for (const pod of [first, second]) await upload(path.join(sandbox.root, "pair", pod.name), stage.expectedExternalLabels(pod));
        await storeInSync();
        const ofPair = async () => (await bucket()).filter((block) => block.thanos.labels.tenant === stage.instanceOf(first).name && block.minTime < range.end && block.maxTime > range.start);
        const uploaded = await ofPair();
        assert.equal(uploaded.length, 3);

        const selector = `${pairMetric}{tenant="${stage.instanceOf(first).name}"}`;
        // Steps 45 s past each minute: after both replicas' samples of that minute.
        const steps = { start: range.start + 45_000, end: range.end - 15_000 };
        const values = (dedup: boolean) => grafanaRangeQuery(renderedQueryUrl(), selector, steps, 60, dedup);
        assert.equal((await values(false)).length, 2, "one series per replica before compaction");
        const before = await values(true);
        assert.equal(before.length, 1);
        assert.equal(before[0].values.length, (steps.end - steps.start) / minuteMs + 1, "a value at every step before compaction");

        await compactorPass();
        const merged = await ofPair();
        assert.equal(merged.length, 1, `one copy of the range: ${JSON.stringify(merged)}`);
        assert.equal(merged[0].thanos.source, "compactor");
        assert.deepEqual([...merged[0].compaction.sources].sort(), uploaded.flatMap((block) => block.compaction.sources).sort());
        assert.ok(!(config.thanos.replicaLabel in merged[0].thanos.labels), `the copy kept the replica label: ${JSON.stringify(merged[0].thanos.labels)}`);
        assert.equal(merged[0].minTime, range.start);

        await storeInSync();
        const after = await values(false);
        assert.equal(after.length, 1, `one series without deduplication: ${JSON.stringify(after.map((found) => found.metric))}`);
        assert.deepEqual(after[0].values, before[0].values, "the series values changed with the compaction");
        // The one copy's samples: replica 1's 5-minute restart gap is filled from replica 0, within the penalty
        // algorithm's bound (it takes the other replica only twice the last interval past its last sample: under
        // three intervals, as for Query's deduplication across a rolling restart).
        const raw = await stage.queryApi<{ result: MatrixSeries[] }>(query, "/api/v1/query", { query: `${selector}[2h]`, time: String(range.end / 1000), dedup: "false" });
        const times = raw.result[0].values.map(([time]) => time);
        const longest = Math.max(...times.slice(1).map((time, index) => time - times[index]));
        assert.ok(longest < 180, `a ${longest} s gap in the deduplicated block, three scrape intervals or more`);
    });

    afterEach(function () {
        if (this.currentTest?.state === "failed") stage.failed = true;
    });

    after(() => stage.stop());
});
