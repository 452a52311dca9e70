/**
 * The shutdown flush script (components/prometheus/flush.sh) on its own, with the real tools: busybox sh and its
 * applets (the images' userland), a real Prometheus, `thanos tools bucket upload-blocks` and an S3 server. The
 * pod-level flows (delete, rolling restart, a hung bucket, a container restart) are in test/e2e/flush.spec.ts.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { envsubstAwkFile } from "../../components/envsubst";
import { flushScriptFile, renderUploadLabels } from "../../components/prometheus/flush";
import { busyboxBin } from "../support/local-pods";
import { freePort, ProcessGroup, runCommand, waitFor, waitForHttp } from "../support/processes";
import { prometheusApi } from "../support/prometheus";
import { listBucket, LocalS3 } from "../support/s3";
import { toolBinary } from "../support/tools";

describe("flush.sh: the snapshot and upload a Prometheus pod runs before it stops", function () {
    this.timeout(120_000);
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "flush-script-"));
    const group = new ProcessGroup(path.join(root, "logs"));
    const tsdb = path.join(root, "tsdb");
    const objstore = path.join(root, "objstore.yml");
    const passwordFile = path.join(root, "password");
    let prometheusUrl: string;
    let bin: string;

    const flush = (labels: Record<string, string>, options: { env?: Record<string, string>; args?: string[]; url?: string } = {}) => {
        const labelsFile = path.join(root, "upload-labels");
        fs.writeFileSync(labelsFile, renderUploadLabels(labels));
        const args = options.args ?? [
            `--url=${options.url ?? prometheusUrl}`, "--user=shop", `--password-file=${passwordFile}`, `--tsdb=${tsdb}`, `--objstore=${objstore}`,
            `--thanos=${toolBinary("thanos")}`, `--labels=${labelsFile}`, `--envsubst=${envsubstAwkFile}`, "--deadline=30",
        ];
        return runCommand(path.join(bin, "sh"), [flushScriptFile, ...args], { env: { PATH: bin, ...options.env }, inheritEnv: false, timeoutMs: 60_000 });
    };
    const bucketMetas = () => listBucket(objstore);

    before(async () => {
        bin = await busyboxBin(path.join(root, "bin"));
        const s3 = new LocalS3(path.join(root, "s3"), group);
        await s3.start("flush-script");
        fs.writeFileSync(objstore, s3.objstoreYml("flush-script"));
        fs.writeFileSync(passwordFile, "unused-without-a-web-config");
        const port = await freePort();
        prometheusUrl = `http://127.0.0.1:${port}`;
        fs.writeFileSync(path.join(root, "prometheus.yml"), `global: {scrape_interval: 1s}\nscrape_configs: [{job_name: self, static_configs: [{targets: ["127.0.0.1:${port}"]}]}]\n`);
        const prometheus = group.start("prometheus", toolBinary("prometheus"), [
            `--config.file=${path.join(root, "prometheus.yml")}`, `--storage.tsdb.path=${tsdb}`, `--web.listen-address=127.0.0.1:${port}`, "--web.enable-admin-api",
            "--storage.tsdb.min-block-duration=2h", "--storage.tsdb.max-block-duration=2h",
        ]);
        await waitForHttp(`${prometheusUrl}/-/ready`, { timeoutMs: 30_000, process: prometheus });
        // A fresh Prometheus scrapes for the first time about 6 s after it starts.
        await waitFor("a first sample in the head", async () => (await prometheusApi<{ result: unknown[] }>(`${prometheusUrl}/api/v1/query?query=up`)).result.length > 0 || undefined, { timeoutMs: 30_000, intervalMs: 500, process: prometheus });
    });

    after(async () => {
        await group.stopAll();
        fs.rmSync(root, { recursive: true, force: true });
    });

    it("uploads the head with label values as written, quotes, backslashes and non-ASCII included, the $(POD_NAME) placeholder filled from the environment; removes its snapshot", async () => {
        const labels = { tenant: "shop", team: 'say "hi" \\ there', region: "são-paulo", prometheus_replica: "$(POD_NAME)" };
        const result = await flush(labels, { env: { POD_NAME: "prometheus-shop-0" } });
        assert.equal(result.code, 0, `${result.stdout}${result.stderr}`);
        const [block] = await bucketMetas();
        assert.ok(block, `no block in the bucket after:\n${result.stdout}`);
        assert.deepEqual(block.thanos.labels, { ...labels, prometheus_replica: "prometheus-shop-0" });
        assert.equal(block.thanos.source, "bucket.upload");
        assert.deepEqual(fs.readdirSync(path.join(tsdb, "snapshots")), [], "the snapshot is left on the tmpfs");
    });

    it("fails before uploading when a placeholder's variable is unset, naming it", async () => {
        const before = (await bucketMetas()).length;
        const result = await flush({ tenant: "shop", prometheus_replica: "$(POD_NAME)" });
        assert.equal(result.code, 1);
        assert.match(result.stdout, /found reference to unset environment variable POD_NAME/);
        assert.equal((await bucketMetas()).length, before, "a block went up without the replica's labels");
    });

    it("fails at once, with the reason, when Prometheus does not answer the snapshot", async () => {
        const result = await flush({ tenant: "shop" }, { url: `http://127.0.0.1:${await freePort()}` });
        assert.equal(result.code, 1);
        assert.match(result.stdout, /level=error msg="flush failed[^"]*" reason="snapshot request to http:\/\/127\.0\.0\.1:\d+ failed after [\d.]+s of \d+s left: wget: can't connect/);
        assert.ok(result.seconds < 5, `took ${result.seconds} s`);
    });

    it("refuses an unknown or missing argument, naming it (exit 2)", async () => {
        const unknown = await flush({}, { args: ["--bucket=x"] });
        assert.equal(unknown.code, 2);
        assert.match(unknown.stderr, /unknown argument" argument="--bucket=x"/);
        const missing = await flush({}, { args: ["--url=http://127.0.0.1:1"] });
        assert.equal(missing.code, 2);
        assert.match(missing.stderr, /missing argument" argument=--user/);
    });
});
