/**
 * Zero-loss planned restarts on the data path (DESIGN.md test layer 5): the local stack's pods run as local
 * processes (test/support/local-pods.ts) and are deleted the way the kubelet deletes a pod: every preStop hook as
 * rendered (the very flush.sh of the flush ConfigMap, in the image's busybox userland), SIGTERM to each container
 * when its own hook returns, SIGKILL at the end of the grace period, the tmpfs wiped. The plans scrape every 5 s
 * here (the shortest interval the config allows) so that a gap of a few seconds can be told from none.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import { flushDeadlineSeconds } from "../../components/prometheus/flush";
import { builtinPlans } from "../../components/plans";
import { prometheusWebPort } from "../../components/prometheus/defaults";
import { DataPathStage, MatrixSeries, stackKey } from "../support/data-path";
import { LocalPod } from "../support/local-pods";
import { waitFor } from "../support/processes";
import { prometheusApi } from "../support/prometheus";

const scrapeSeconds = 5;
/** A gap is more than one and a half scrape intervals without a sample. */
const gapSeconds = 1.5 * scrapeSeconds;
/** Recorded from the scrape of Prometheus itself; only the external labels tell the replicas apart (dedup merges them). */
const heartbeat = "paas_e2e:up";

interface Gap {
    from: number;
    to: number;
}

function gapsOf(timestamps: readonly number[], longerThan = gapSeconds): Gap[] {
    const gaps: Gap[] = [];
    for (let index = 1; index < timestamps.length; index++) {
        if (timestamps[index] - timestamps[index - 1] > longerThan) gaps.push({ from: timestamps[index - 1], to: timestamps[index] });
    }
    return gaps;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const seconds = (ms: number) => ms / 1000;

describe("e2e: zero-loss planned restarts: the shutdown flush as the pod runs it (Prometheus, sidecar, store, Query, compactor, S3 server)", function () {
    this.timeout(10 * 60_000);
    const stage = new DataPathStage("flush");
    const plan = builtinPlans.small;
    let shop: LocalPod;
    let blog: LocalPod[];
    let query: LocalPod;
    /** When each pod's current Prometheus started. */
    const startedAt = new Map<string, number>();

    const startPod = async (pod: LocalPod) => {
        await pod.runInitContainers(60_000);
        startedAt.set(pod.name, Date.now());
        await pod.start("prometheus");
        await pod.start("thanos-sidecar");
        await waitFor(`${pod.name}'s Prometheus to pass its readiness probe as rendered`, async () => (await pod.probe("prometheus", "readinessProbe")) || undefined,
            { timeoutMs: 60_000, intervalMs: 500, process: pod.processes.get("prometheus") });
    };
    /** Raw samples through Query: every series of `selector` over the last `windowSeconds`, as timestamps in seconds. */
    const rawSamples = async (selector: string, windowSeconds: number, dedup: boolean) => {
        const data = await stage.queryApi<{ result: MatrixSeries[] }>(query, "/api/v1/query", { query: `${selector}[${Math.ceil(windowSeconds)}s]`, dedup: String(dedup) });
        return data.result.map((series) => ({ metric: series.metric, timestamps: series.values.map(([time]) => time) }));
    };
    const since = (ms: number) => seconds(Date.now() - ms) + scrapeSeconds;
    const selfScrape = (pod: LocalPod) => `up{job="prometheus",${stage.config.thanos.replicaLabel}="${pod.name}"}`;
    const flushedBlocks = async (pod: LocalPod) => (await stage.listBucket(pod)).filter((block) => block.thanos.source === "bucket.upload" && block.thanos.labels[stage.config.thanos.replicaLabel] === pod.name);
    const preStop = (pod: LocalPod) => pod.container("prometheus").lifecycle!.preStop!.exec!.command;

    before(async () => {
        await stage.up((stackConfig) => {
            stackConfig[stackKey("plans")] = { small: { scrapeInterval: `${scrapeSeconds}s` } };
            for (const instance of stackConfig[stackKey("instances")]) {
                instance.rules = [{ name: "e2e-heartbeat", interval: `${scrapeSeconds}s`, rules: [{ record: heartbeat, expr: 'max without (instance) (up{job="prometheus"})' }] }];
            }
        });
        const { cluster } = stage;
        [shop] = await cluster.schedule("StatefulSet", "prometheus-shop");
        blog = await cluster.schedule("StatefulSet", "prometheus-blog");
        for (const pod of [shop, ...blog]) await startPod(pod);
        query = await stage.startStoreAndQuery(3);
        stage.failed = false;
    });

    afterEach(function () {
        if (this.currentTest?.state === "failed") stage.failed = true;
    });

    after(() => stage.stop());

    it("the grace period is the plan's flush deadline and Prometheus' stop; the hook is Prometheus' (it serves the snapshot), the sidecar has none", () => {
        const spec = shop.spec;
        assert.equal(flushDeadlineSeconds(plan), Number(preStop(shop).find((arg) => arg.startsWith("--deadline="))!.split("=")[1]));
        assert.ok(spec.terminationGracePeriodSeconds! > flushDeadlineSeconds(plan), `grace ${spec.terminationGracePeriodSeconds} s leaves Prometheus no time after a ${flushDeadlineSeconds(plan)} s flush`);
        assert.equal(shop.container("thanos-sidecar").lifecycle, undefined);
    });

    it("flush: a deleted pod's hook uploads its head with the replica's labels; the new pod starts on an empty tmpfs; Query has every sample scraped before the hook, the only gap is the restart", async () => {
        const scrapedFrom = startedAt.get(shop.name)!;
        await sleep(Math.max(0, scrapedFrom + 60_000 - Date.now()));
        const hookAt = Date.now();
        const stops = await shop.delete();
        const hook = stops.prometheus.hook!;
        assert.equal(hook.code, 0, `the flush failed:\n${hook.stdout}${hook.stderr}`);
        assert.match(hook.stdout, /msg="snapshot taken".*\n.*msg="flushed"/);
        assert.equal(stops.prometheus.exitCode, 0, "Prometheus did not stop on SIGTERM after the hook");
        assert.ok(!fs.existsSync(shop.volumeDir("tsdb")), "the tmpfs outlived the pod");
        const flushed = await flushedBlocks(shop);
        assert.equal(flushed.length, 1, `one flushed block of ${shop.name}: ${JSON.stringify(flushed)}`);
        assert.deepEqual(flushed[0].thanos.labels, stage.expectedExternalLabels(shop), "the flushed block's labels are the sidecar's");

        await startPod(shop);
        const restartedAt = startedAt.get(shop.name)!;
        // The flushed samples come from the store gateway once it lists the bucket again (its rendered sync interval).
        const [series] = await waitFor("the flushed head from the store and the new Prometheus' first scrapes through Query", async () => {
            const found = await rawSamples(selfScrape(shop), since(scrapedFrom), false);
            const timestamps = found[0]?.timestamps ?? [];
            return found.length === 1 && timestamps[0] <= seconds(scrapedFrom) + 3 * scrapeSeconds && timestamps[timestamps.length - 1] >= seconds(restartedAt) ? found : undefined;
        }, { timeoutMs: 90_000, intervalMs: 2_000 });
        const gaps = gapsOf(series.timestamps);
        assert.equal(gaps.length, 1, `one gap (the restart) in ${JSON.stringify(series.timestamps)}: ${JSON.stringify(gaps)}`);
        const [restart] = gaps;
        assert.ok(restart.from <= seconds(hookAt) && restart.from > seconds(hookAt) - gapSeconds, `the gap starts at the last scrape before the hook (${seconds(hookAt)}): ${JSON.stringify(restart)}`);
        assert.ok(restart.to >= seconds(restartedAt) && restart.to < seconds(restartedAt) + gapSeconds + 10, `the gap ends at the new Prometheus' first scrape (started ${seconds(restartedAt)}): ${JSON.stringify(restart)}`);
        console.log(`      flush: ${series.timestamps.filter((time) => time <= seconds(hookAt)).length} samples before the hook kept; restart gap ${(restart.to - restart.from).toFixed(1)} s (hook ${hook.seconds.toFixed(2)} s)`);
    });

    it("rolling restart: an HA pair restarted replica 1, then replica 0 (each once the other is ready): the deduplicated series has no gap longer than three scrape intervals", async () => {
        const from = Math.min(...blog.map((pod) => startedAt.get(pod.name)!));
        for (const pod of [...blog].reverse()) {
            const stops = await pod.delete();
            assert.equal(stops.prometheus.hook!.code, 0, `${pod.name}'s flush failed:\n${stops.prometheus.hook!.stdout}`);
            await startPod(pod);
        }
        const lastStart = Math.max(...blog.map((pod) => startedAt.get(pod.name)!));
        const selector = `${heartbeat}{tenant="blog"}`;
        const [deduplicated] = await waitFor("both flushed heads from the store and the restarted pair through Query", async () => {
            const perReplica = await rawSamples(selector, since(from), false);
            const flushedSeen = perReplica.length === 2 && perReplica.every((series) => series.timestamps[0] <= seconds(from) + 3 * scrapeSeconds);
            const found = await rawSamples(selector, since(from), true);
            return flushedSeen && found.length === 1 && found[0].timestamps[found[0].timestamps.length - 1] >= seconds(lastStart) + scrapeSeconds ? found : undefined;
        }, { timeoutMs: 90_000, intervalMs: 2_000 });
        for (const series of await rawSamples(selector, since(from), false)) {
            assert.equal(gapsOf(series.timestamps).length, 1, `${series.metric[stage.config.thanos.replicaLabel]} alone has one gap, its own restart: ${JSON.stringify(gapsOf(series.timestamps))}`);
        }
        // Penalty deduplication (Query's default, pkg/dedup/iter.go) seeks the other replica twice the last interval
        // past the last sample it took, and that replica's next sample comes within one more interval: three at most
        // (reached when both replicas evaluate in phase; the slack is the float seconds of the timestamps).
        const largest = Math.max(...deduplicated.timestamps.slice(1).map((time, index) => time - deduplicated.timestamps[index]));
        assert.ok(largest <= 3 * scrapeSeconds + 0.01, `largest gap of the deduplicated series ${largest.toFixed(2)} s: ${JSON.stringify(gapsOf(deduplicated.timestamps, scrapeSeconds))}`);
        console.log(`      rolling restart: largest gap of the deduplicated series ${largest.toFixed(2)} s`);
    });

    it("the control: a pod lost without its hook (kill -9, tmpfs wiped) loses its whole head, every sample since its Prometheus started", async () => {
        const headFrom = startedAt.get(shop.name)!;
        await sleep(Math.max(0, headFrom + 30_000 - Date.now()));
        const live = await rawSamples(selfScrape(shop), since(headFrom), false);
        const scraped = live[0].timestamps.filter((time) => time >= seconds(headFrom));
        assert.ok(scraped.length >= 5, `the head holds ${scraped.length} scrapes`);
        const killedAt = Date.now();
        await shop.stop("SIGKILL");
        await startPod(shop);
        const inHead = (blockMin: number, blockMax: number) => blockMax > headFrom && blockMin < killedAt;
        assert.deepEqual((await stage.listBucket(shop)).filter((block) => block.thanos.labels[stage.config.thanos.replicaLabel] === shop.name && inHead(block.minTime, block.maxTime)), [], "a block of the lost head reached the bucket");
        await waitFor("the new Prometheus' first scrape", async () => ((await rawSamples(selfScrape(shop), since(killedAt), false))[0]?.timestamps.length ?? 0) > 0 || undefined, { timeoutMs: 60_000, intervalMs: 1_000 });
        const after = (await rawSamples(selfScrape(shop), since(headFrom), false))[0].timestamps;
        assert.deepEqual(after.filter((time) => time >= seconds(headFrom) && time <= seconds(killedAt)), [], "samples of the lost head are still served");
        console.log(`      control: ${scraped.length} samples (${seconds(killedAt - headFrom).toFixed(0)} s, the whole head) lost`);
    });

    it("bucket unreachable: with the S3 server hung, the hook gives up at its deadline, the processes stop within the grace period, the failure is in the container's log and a FailedPreStopHook event", async () => {
        const deadline = flushDeadlineSeconds(plan);
        const grace = shop.spec.terminationGracePeriodSeconds!;
        const prometheus = shop.processes.get("prometheus")!;
        stage.s3.process.kill("SIGSTOP");
        let stopSeconds: number;
        let stops: Awaited<ReturnType<LocalPod["delete"]>>;
        try {
            const deletedAt = Date.now();
            stops = await shop.delete();
            stopSeconds = seconds(Date.now() - deletedAt);
        } finally {
            stage.s3.process.kill("SIGCONT");
        }
        const hook = stops.prometheus.hook!;
        assert.equal(hook.code, 1, `the flush did not report its failure:\n${hook.stdout}${hook.stderr}`);
        assert.ok(hook.seconds <= deadline + 1, `the hook ran ${hook.seconds} s, past its ${deadline} s deadline`);
        assert.ok(stopSeconds < grace, `the pod took ${stopSeconds} s to stop; grace period ${grace} s`);
        assert.ok(Object.values(stops).every((stop) => stop.exitCode !== null), `a container was killed at the end of the grace period: ${JSON.stringify(stops)}`);
        assert.deepEqual(shop.events.map((event) => [event.reason, event.container]), [["FailedPreStopHook", "prometheus"]]);
        const log = fs.readFileSync(prometheus.logFile, "utf8");
        assert.match(log, /caller=flush\.sh level=error msg="flush failed[^"]*" reason="upload-blocks exited \d+ after/, "the container's log does not say the flush failed");
        assert.match(log, /caller=flush\.sh level=error msg="block not confirmed in the bucket" block=\w{26} from=\S+ to=\S+/, "the container's log does not name what was not flushed");
        await startPod(shop);
    });

    it("container restart: a flush, Prometheus restarted on the same TSDB (WAL replay), then the block cut from the same head uploaded: the compactor with the rendered flags merges them without halting, Query returns one series", async () => {
        const headFrom = startedAt.get(shop.name)!;
        await sleep(Math.max(0, headFrom + 30_000 - Date.now()));
        const restartAt = Date.now();
        const restart = await shop.restartContainer("prometheus");
        assert.equal(restart.hook!.code, 0, `the flush failed:\n${restart.hook!.stdout}`);
        await waitFor(`${shop.name}'s Prometheus to be ready again`, async () => (await shop.probe("prometheus", "readinessProbe")) || undefined, { timeoutMs: 60_000, intervalMs: 500, process: shop.processes.get("prometheus") });
        const replayed = await prometheusApi<{ result: MatrixSeries[] }>(shop.url(prometheusWebPort, `/api/v1/query?${new URLSearchParams({ query: `up{job="prometheus"}[${Math.ceil(since(headFrom))}s]` })}`), stage.asTenant(shop));
        assert.ok(replayed.result[0].values.some(([time]) => time < seconds(restartAt)), "the restarted Prometheus lost its head: the WAL was not replayed");

        // Prometheus cuts its 2h block once the head spans 3h; the admin snapshot is the same head-to-block write,
        // and the rendered hook uploads it under the replica's labels as the sidecar ships its blocks.
        await sleep(2 * scrapeSeconds * 1000);
        const cut = await shop.exec("prometheus", preStop(shop), flushDeadlineSeconds(plan) * 1000);
        assert.equal(cut.code, 0, cut.stdout);
        const overlapping = (await flushedBlocks(shop)).filter((block) => block.maxTime > headFrom);
        assert.equal(overlapping.length, 2, `the flushed head and the later cut: ${JSON.stringify(overlapping)}`);
        const [first, second] = overlapping;
        assert.ok(first.minTime < second.maxTime && second.minTime < first.maxTime, `the two blocks do not overlap: ${JSON.stringify(overlapping)}`);

        const [compactorPod] = await stage.cluster.schedule("StatefulSet", "thanos-compactor");
        await stage.compactorPass(compactorPod);
        // The compactor deduplicates on the replica label: the merged block is the tenant's, without it.
        const merged = (await stage.listBucket(shop)).filter((block) => block.thanos.source === "compactor" && block.thanos.labels.tenant === stage.instanceOf(shop).name
            && overlapping.every((source) => source.compaction.sources.every((ulid) => block.compaction.sources.includes(ulid))));
        assert.equal(merged.length, 1, JSON.stringify(merged));
        assert.ok(!(stage.config.thanos.replicaLabel in merged[0].thanos.labels), `the merged block kept the replica label: ${JSON.stringify(merged[0].thanos.labels)}`);

        const window = since(headFrom);
        // The merged block has no replica label, the live head (sidecar) has it: Query's dedup makes them one series.
        const found = await rawSamples(`up{job="prometheus",tenant="${stage.instanceOf(shop).name}"}`, window, true);
        assert.equal(found.length, 1, `one series: ${JSON.stringify(found.map((series) => series.metric))}`);
        const { timestamps } = found[0];
        assert.deepEqual(timestamps, [...new Set(timestamps)].sort((a, b) => a - b), "Query returned a sample twice");
        assert.deepEqual(gapsOf(timestamps.filter((time) => time >= seconds(headFrom) + scrapeSeconds)).filter((gap) => gap.to < seconds(restartAt)), [], "samples before the container restart are missing");
    });
});
