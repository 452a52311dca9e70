/**
 * The flush of a stopping ECS replica task on the data path: the task's containers as the stack renders them
 * (prometheusContainers) run as local processes (test/support/local-ecs-task.ts): config-render with the task's
 * secrets, Prometheus, and the flush container running the very flush.sh the instance publishes (the Kubernetes
 * pods' script), in the Thanos image's busybox userland, against an S3 server. The EFS volume holds what config-sync
 * copies there (ecsPublishedFiles, with the S3 server's objstore.yml). The task is stopped in the ECS agent's order.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import type { ContainerDefinition } from "../../components/aws/containers";
import { prometheusWebPort } from "../../components/prometheus/defaults";
import { ecsFlushBudget, ecsPublishedFiles, ecsReplicaName, ecsVolumes, prometheusContainers, renderEcsInstanceFiles, webAuthSecrets, webAuthSecretKeys } from "../../components/prometheus/ecs-spec";
import { renderInstanceAuthFiles } from "../../components/prometheus/web-auth";
import { billingSecretArn, ecsConfig } from "../support/ecs-fixtures";
import { ecsInstance } from "../support/fixtures";
import { scheduleEcsTask, stopEcsTask } from "../support/local-ecs-task";
import { LocalCluster, LocalPod } from "../support/local-pods";
import { ManagedProcess, ProcessGroup, waitFor } from "../support/processes";
import { prometheusApi } from "../support/prometheus";
import { listBucket, LocalS3 } from "../support/s3";

const scrapeSeconds = 5;

describe("e2e: ECS flush on stop: a replica task as rendered, stopped in ECS' order (Prometheus, the flush container, S3 server)", function () {
    this.timeout(5 * 60_000);
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "ecs-flush-"));
    const group = new ProcessGroup(path.join(root, "logs"));
    const config = ecsConfig({ plans: { medium: { scrapeInterval: `${scrapeSeconds}s` } } });
    const instance = ecsInstance(config, "billing");
    const replicaName = ecsReplicaName(instance, 0);
    const password = "ecs-flush-e2e-password";
    const objstoreFile = path.join(root, "objstore.yml");
    const webAuthSecret = { arn: "arn:aws:secretsmanager:us-east-1:111122223333:secret:prometheus-test-web-auth-AbCdEf", versionId: "00000000-0000-4000-8000-000000000001" };
    const containers: ContainerDefinition[] = prometheusContainers({ instance, replicaName, region: "us-east-1", logGroup: "/paas/test/prometheus/billing", configBucket: "cfg", configPrefix: "instances/billing/", webAuthSecret });
    let task: LocalPod;
    let prometheus: ManagedProcess;
    let flush: ManagedProcess;
    const auth = { Authorization: `Basic ${Buffer.from(`billing:${password}`).toString("base64")}` };
    const query = <T>(expr: string) => prometheusApi<T>(`${task.url(prometheusWebPort)}/api/v1/query?query=${encodeURIComponent(expr)}`, { headers: auth });
    const uploaded = async () => (await listBucket(objstoreFile)).filter((block) => block.thanos.source === "bucket.upload");

    before(async () => {
        const s3 = new LocalS3(path.join(root, "s3"), group);
        await s3.start("ecs-flush");
        fs.writeFileSync(objstoreFile, s3.objstoreYml("ecs-flush"));
        const authFiles = renderInstanceAuthFiles({ instanceName: instance.name, password, tenantQueryAddress: "127.0.0.1:1" });
        const secretValues: Record<string, string> = { [`${billingSecretArn}:password::`]: "scrape-password" };
        const values: Record<string, string> = { [webAuthSecretKeys.webConfig]: authFiles.webConfig, [webAuthSecretKeys.password]: password, [webAuthSecretKeys.historyFront]: authFiles.historyFront };
        // valueFrom is `<arn>:<JSON key>::<version>`: each secret gets the value of its key.
        for (const secret of webAuthSecrets(webAuthSecret)) secretValues[secret.valueFrom] = values[secret.valueFrom.slice(webAuthSecret.arn.length + 1).split(":")[0]];
        const cluster = new LocalCluster(fs.mkdtempSync(path.join(root, "manifests-")), path.join(root, "cluster"), group);
        task = await scheduleEcsTask(cluster, replicaName, containers, Object.values(ecsVolumes), secretValues);

        // What config-sync leaves on EFS: the published files, at the task's paths.
        const rendered = renderEcsInstanceFiles({ instance, labels: { environment: config.environment, region: config.region, product: config.product, replicaLabel: config.thanos.replicaLabel }, alertmanagers: [], exporters: [] });
        for (const [file, content] of Object.entries(ecsPublishedFiles(rendered, fs.readFileSync(objstoreFile, "utf8")))) {
            const target = path.join(task.volumeDir(ecsVolumes.shared), file);
            fs.mkdirSync(path.dirname(target), { recursive: true });
            fs.writeFileSync(target, task.remap(content));
        }
        const render = await task.start("config-render");
        assert.equal((await render.exited).code, 0, `config-render failed:\n${render.logTail()}`);
        prometheus = await task.start("prometheus");
        flush = await task.start("flush");
        await waitFor("samples of the self-scrape in the head", async () => ((await query<{ result: unknown[] }>('up{job="prometheus"}').catch(() => ({ result: [] }))).result.length > 0 || undefined),
            { timeoutMs: 60_000, intervalMs: 1_000, process: prometheus });
    });

    after(async () => {
        await group.stopAll();
        if (!process.env.KEEP) fs.rmSync(root, { recursive: true, force: true });
    });

    it("the flush container waits for the task's stop: running, nothing uploaded", async () => {
        await new Promise((resolve) => setTimeout(resolve, 3 * scrapeSeconds * 1000));
        assert.equal(flush.hasExited, false, `the flush container exited before the stop:\n${flush.logTail()}`);
        assert.deepEqual(await uploaded(), []);
    });

    it("flush on stop: ECS stops the flush container first, Prometheus serves the snapshot, the head lands in the bucket with the replica's labels, then Prometheus stops", async () => {
        const lastScrape = (await query<{ result: { value: [number, string] }[] }>('timestamp(up{job="prometheus"})')).result[0].value[1];
        const stops = await stopEcsTask(task, containers);
        assert.deepEqual(stops.map((stop) => stop.name), ["flush", "prometheus"], "the flush, which depends on Prometheus, is stopped first");
        const [flushed, prometheusStop] = stops;
        assert.equal(flushed.exitCode, 0, `the flush failed:\n${flush.logTail()}`);
        assert.ok(flushed.exitedAt <= prometheusStop.signalledAt, "Prometheus got SIGTERM only after the flush returned");
        assert.ok((flushed.exitedAt - flushed.signalledAt) / 1000 < ecsFlushBudget(instance.plan).stopTimeout, "the flush ended within its stopTimeout, not killed");
        assert.equal(prometheusStop.exitCode, 0, `Prometheus did not stop cleanly:\n${prometheus.logTail()}`);
        const log = fs.readFileSync(flush.logFile, "utf8");
        assert.match(log, /msg="stop signal received: flushing"[\s\S]*msg="snapshot taken".*head_block=[0-9A-Z]{26}[\s\S]*msg="flushed"/);

        const blocks = await uploaded();
        assert.equal(blocks.length, 1, JSON.stringify(blocks));
        // The external labels Prometheus ran with (config-render substituted the replica), which the sidecar's uploads carry.
        const externalLabels = (yaml.load(fs.readFileSync(path.join(task.volumeDir(ecsVolumes.configOut), "prometheus.yml"), "utf8")) as { global: { external_labels: Record<string, string> } }).global.external_labels;
        assert.equal(externalLabels[config.thanos.replicaLabel], replicaName);
        assert.deepEqual(blocks[0].thanos.labels, externalLabels, "the flushed block carries the replica's external labels");
        assert.ok(blocks[0].maxTime >= Number(lastScrape) * 1000, `the block (to ${blocks[0].maxTime}) holds the last scrape before the stop (${lastScrape})`);
        assert.equal(fs.readdirSync(path.join(task.volumeDir(ecsVolumes.tsdb), "snapshots")).length, 0, "the snapshot is removed");
    });

});
