import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { envsubstScript } from "../../components/envsubst";
import {
    configReadStatements,
    ecrRepositoryArn,
    ecsDiscoveryStatements,
    efsClientStatements,
    efsFileSystemPolicy,
    executionRoleStatements,
    PermissionStatement,
    secretPolicyResource,
} from "../../components/aws/iam";
import { renderYaceConfig, yaceDocument, yaceScrapingIntervalSeconds, yaceStatements } from "../../components/exporters/yace";
import { configSyncContainer, maxStopTimeoutSeconds } from "../../components/aws/containers";
import { ecsFileSdFile, ecsFlushBudget, ecsPublishedFiles, ecsReplicaPlaceholder, prometheusContainers, renderEcsInstanceFiles } from "../../components/prometheus/ecs-spec";
import { flushDeadlineSeconds, flushScriptFile } from "../../components/prometheus/flush";
import { builtinPlans } from "../../components/plans";
import { ScrapeConfig } from "../../components/prometheus/render";
import { thanosBucketStatements, ThanosComponent } from "../../components/thanos/iam";
import { ecsQueryEndpoints, thanosTaskContainers } from "../../components/thanos/ecs-spec";
import { billingSecretArn, ecsConfig } from "../support/ecs-fixtures";
import { actionsWithoutResourceType } from "../support/iam-rules";
import { yaceServices } from "../support/yace-services";
import { ecsInstance, readStackConfig, stackNames } from "../support/fixtures";

const config = ecsConfig();
const billing = ecsInstance(config, "billing");
const labels = { environment: "test", region: "us-east-1", product: "tsuru", replicaLabel: "prometheus_replica" };
const bucketArn = "arn:aws:s3:::acme-thanos-test";
const kmsKeyArn = "arn:aws:kms:us-east-1:111122223333:key/k";

function containersOf(replicaName = "prometheus-billing-0") {
    return prometheusContainers({ instance: billing, replicaName, region: "us-east-1", logGroup: "/paas/test/prometheus/billing", configBucket: "cfg", configPrefix: "instances/billing/", webAuthSecret: { arn: "arn:aws:secretsmanager:us-east-1:111122223333:secret:prometheus-test-web-auth-AbCdEf", versionId: "00000000-0000-4000-8000-000000000001" } });
}

function byName<T extends { name: string }>(items: T[], name: string): T {
    const found = items.find((item) => item.name === name);
    assert.ok(found, `no ${name} in ${items.map((item) => item.name).join(", ")}`);
    return found;
}

/** Every action and resource of a set of statements, to check least privilege mechanically. */
function allowed(statements: PermissionStatement[]): Map<string, string[]> {
    const result = new Map<string, string[]>();
    for (const statement of statements.filter((candidate) => candidate.Effect === "Allow")) {
        for (const action of statement.Action) {
            result.set(action, [...(result.get(action) ?? []), ...[statement.Resource].flat()]);
        }
    }
    return result;
}

/** No wildcard action anywhere, and Resource "*" only for actions AWS cannot scope. */
function assertNoWildcards(statements: PermissionStatement[]) {
    for (const [action, resources] of allowed(statements)) {
        assert.ok(!action.includes("*"), `wildcard action ${action}`);
        if (resources.includes("*")) assert.ok(actionsWithoutResourceType.has(action), `${action} on Resource "*" although IAM can scope it`);
    }
}

describe("ECS Prometheus files", () => {
    const files = renderEcsInstanceFiles({ instance: billing, labels, alertmanagers: [], exporters: [{ jobName: "yace", host: "yace.prometheus-test.internal", port: 5000 }] });
    const document = yaml.load(files.prometheusYml) as { global: { external_labels: Record<string, string> }; rule_files: string[]; scrape_configs: ScrapeConfig[] };

    it("leaves the replica label as $(PROMETHEUS_REPLICA) for the init container and the reloader", () => {
        assert.equal(document.global.external_labels.prometheus_replica, ecsReplicaPlaceholder);
        assert.equal(ecsReplicaPlaceholder, "$(PROMETHEUS_REPLICA)");
        assert.deepEqual({ ...document.global.external_labels, prometheus_replica: undefined },
            { cost_center: "cc-7", environment: "test", region: "us-east-1", product: "tsuru", tenant: "billing", team: "billing", prometheus_replica: undefined });
    });

    it("reads rules from the EFS directory that the sidecar watches", () => {
        assert.deepEqual(document.rule_files, ["/etc/prometheus/shared/rules/*.yml"]);
        assert.deepEqual(Object.keys(files.ruleFiles).sort(), ["instance-alerts.yml", "tenant-rules.yml"]);
    });

    it("scrapes each app from the file_sd targets its cluster's discovery writes, filtered by task family", () => {
        const job = byName(document.scrape_configs.map((scrape) => ({ ...scrape, name: scrape.job_name })), "ecs-app-billing-worker");
        assert.deepEqual(job.file_sd_configs, [{ files: [ecsFileSdFile("tsuru-ecs")], refresh_interval: "1m" }]);
        assert.equal(ecsFileSdFile("tsuru-ecs"), "/etc/prometheus/file_sd/ecs-tsuru-ecs.yml");
        assert.equal(job.metrics_path, "/internal/metrics");
        assert.equal(job.fallback_scrape_protocol, "PrometheusText0.0.4");
        assert.deepEqual(job.relabel_configs![0], { source_labels: ["task_name"], regex: "billing-worker", action: "keep" });
        assert.deepEqual(job.relabel_configs![1], { source_labels: ["container_name"], regex: "worker", action: "keep" });
        assert.equal(job.sample_limit, billing.plan.sampleLimit);
        const dropped = job.relabel_configs!.find((relabel) => relabel.action === "labeldrop")!;
        for (const label of ["task_arn", "task_name", "cluster_arn", "docker_image"]) assert.ok(new RegExp(`^(${dropped.regex})$`).test(label), label);
        assert.ok(!new RegExp(`^(${dropped.regex})$`).test("app"));
    });

    it("puts the basic-auth password in the template only as a $(VAR) placeholder", () => {
        const job = document.scrape_configs.find((scrape) => scrape.job_name === "ecs-app-billing-api")!;
        assert.deepEqual(job.basic_auth, { username: "prometheus", password: "$(SCRAPE_PASSWORD_BILLING_API)" });
        assert.ok(!files.prometheusYml.includes(billingSecretArn));
    });

    it("scrapes the exporters by their Cloud Map name", () => {
        const job = document.scrape_configs.find((scrape) => scrape.job_name === "yace")!;
        assert.deepEqual(job.dns_sd_configs, [{ names: ["yace.prometheus-test.internal"], type: "A", port: 5000, refresh_interval: "30s" }]);
    });
});

describe("ECS Prometheus task containers", () => {
    const containers = containersOf();

    it("starts config-sync, then config-render, then Prometheus, the sidecar, the history front and the flush", () => {
        assert.deepEqual(containers.map((container) => container.name),
            ["config-sync", "config-render", "prometheus", "thanos-sidecar", "history", "flush", "ecs-discovery-tsuru-batch", "ecs-discovery-tsuru-ecs"]);
        assert.deepEqual(byName(containers, "history").dependsOn, [{ containerName: "config-render", condition: "SUCCESS" }]);
        assert.deepEqual(byName(containers, "config-render").dependsOn, [{ containerName: "config-sync", condition: "COMPLETE" }]);
        assert.deepEqual(byName(containers, "prometheus").dependsOn, [{ containerName: "config-render", condition: "SUCCESS" }]);
        assert.deepEqual(byName(containers, "thanos-sidecar").dependsOn, [{ containerName: "config-render", condition: "SUCCESS" }, { containerName: "prometheus", condition: "START" }]);
    });

    it("flush on stop: the flush container runs flush.sh from EFS waiting for SIGTERM, depends on Prometheus (so ECS stops it first) and gets the plan's deadline within Fargate's stop timeout", () => {
        const flush = byName(containers, "flush");
        const budget = ecsFlushBudget(billing.plan);
        assert.deepEqual(flush.dependsOn, [{ containerName: "config-render", condition: "SUCCESS" }, { containerName: "prometheus", condition: "START" }]);
        assert.deepEqual(flush.entryPoint, ["sh", "/etc/prometheus/shared/flush/flush.sh", "--url=http://localhost:9090", "--user=billing", "--password-file=/etc/prometheus/config_out/password",
            "--tsdb=/prometheus", "--objstore=/etc/prometheus/shared/objstore.yml", "--thanos=/bin/thanos", "--labels=/etc/prometheus/shared/flush/upload-labels",
            "--envsubst=/etc/prometheus/shared/flush/envsubst.awk", `--deadline=${flushDeadlineSeconds(billing.plan)}`, "--wait-for-term"]);
        assert.equal(flush.command, undefined, "the Thanos image's entrypoint is replaced, not given arguments");
        assert.equal(flush.stopTimeout, budget.stopTimeout);
        assert.ok(budget.stopTimeout > budget.deadlineSeconds && budget.stopTimeout <= maxStopTimeoutSeconds, JSON.stringify(budget));
        assert.deepEqual(ecsFlushBudget(builtinPlans.xlarge), { deadlineSeconds: 115, stopTimeout: 120 }, "a deadline past Fargate's limit is capped");
        assert.deepEqual([flush.essential, flush.restartPolicy], [false, { enabled: true }], "its exit never stops the task; a crash restarts it");
        assert.deepEqual(flush.environment, [{ name: "PROMETHEUS_REPLICA", value: "prometheus-billing-0" }], "the upload labels name the replica");
        assert.deepEqual(flush.mountPoints?.map((mount) => [mount.containerPath, mount.readOnly]), [["/prometheus", false], ["/etc/prometheus/shared", true], ["/etc/prometheus/config_out", true]]);
        for (const container of containers) assert.ok((container.stopTimeout ?? 0) <= maxStopTimeoutSeconds, container.name);
    });

    it("publishes the flush's files with the instance's configuration: the script the Kubernetes pods run, and the replica's upload labels", () => {
        const rendered = renderEcsInstanceFiles({ instance: billing, labels, alertmanagers: [], exporters: [] });
        const files = ecsPublishedFiles(rendered, "objstore");
        assert.deepEqual(Object.keys(files).filter((file) => file.startsWith("flush/")), ["flush/flush.sh", "flush/envsubst.awk", "flush/upload-labels"]);
        assert.equal(files["flush/flush.sh"], fs.readFileSync(flushScriptFile, "utf8"));
        assert.match(String(files["flush/upload-labels"]), /^prometheus_replica="\$\(PROMETHEUS_REPLICA\)"$/m);
        assert.equal(files["objstore.yml"], "objstore");
    });

    it("marks only Prometheus and the sidecar essential (ECS forbids COMPLETE/SUCCESS on essential containers)", () => {
        assert.deepEqual(containers.filter((container) => container.essential).map((container) => container.name), ["prometheus", "thanos-sidecar"]);
        const waitedFor = new Set(containers.flatMap((container) => (container.dependsOn ?? []).filter((dependency) => dependency.condition !== "START").map((dependency) => dependency.containerName)));
        for (const name of waitedFor) assert.equal(byName(containers, name).essential, false, name);
    });

    it("keeps the TSDB on task storage and mounts EFS read-only into Prometheus and the sidecar", () => {
        for (const name of ["prometheus", "thanos-sidecar"]) {
            const mounts = byName(containers, name).mountPoints!;
            assert.deepEqual(mounts.find((mount) => mount.containerPath === "/prometheus"), { sourceVolume: "tsdb", containerPath: "/prometheus", readOnly: false }, name);
            assert.deepEqual(mounts.filter((mount) => mount.sourceVolume === "shared-config"), [{ sourceVolume: "shared-config", containerPath: "/etc/prometheus/shared", readOnly: true }], name);
        }
        const writers = containers.filter((container) => container.mountPoints?.some((mount) => mount.sourceVolume === "shared-config" && !mount.readOnly));
        assert.deepEqual(writers.map((container) => container.name), ["config-sync"]);
    });

    it("runs Prometheus with 2h/2h blocks, lifecycle, the plan's retention and the substituted config", () => {
        const command = byName(containers, "prometheus").command!;
        for (const flag of ["--storage.tsdb.min-block-duration=2h", "--storage.tsdb.max-block-duration=2h", "--web.enable-lifecycle", "--storage.tsdb.path=/prometheus",
            "--config.file=/etc/prometheus/config_out/prometheus.yml", `--storage.tsdb.retention.size=${billing.plan.retentionSizeMiB}MB`, `--storage.tsdb.retention.time=${billing.plan.retentionTime}`]) {
            assert.ok(command.includes(flag), flag);
        }
    });

    it("has the sidecar upload, watch the EFS template and rules and write the substituted config", () => {
        const command = byName(containers, "thanos-sidecar").command!;
        for (const flag of ["sidecar", "--objstore.config-file=/etc/prometheus/shared/objstore.yml", "--reloader.config-file=/etc/prometheus/shared/prometheus.yml.tmpl",
            "--reloader.config-envsubst-file=/etc/prometheus/config_out/prometheus.yml", "--reloader.rule-dir=/etc/prometheus/shared/rules", "--grpc-address=0.0.0.0:10901"]) {
            assert.ok(command.includes(flag), flag);
        }
    });

    it("gives the replica name and the scrape passwords (from Secrets Manager) to render and sidecar only, the web auth secret (one pinned version) to render only", () => {
        const scrapeSecret = { name: "SCRAPE_PASSWORD_BILLING_API", valueFrom: `${billingSecretArn}:password::` };
        for (const name of ["config-render", "thanos-sidecar"]) {
            const container = byName(containers, name);
            assert.deepEqual(container.environment, [{ name: "PROMETHEUS_REPLICA", value: "prometheus-billing-0" }], name);
        }
        assert.deepEqual(byName(containers, "thanos-sidecar").secrets, [scrapeSecret]);
        const webAuthArn = "arn:aws:secretsmanager:us-east-1:111122223333:secret:prometheus-test-web-auth-AbCdEf";
        assert.deepEqual(byName(containers, "config-render").secrets, [
            scrapeSecret,
            { name: "PROMETHEUS_WEB_CONFIG", valueFrom: `${webAuthArn}:webConfig::00000000-0000-4000-8000-000000000001` },
            { name: "PROMETHEUS_PASSWORD", valueFrom: `${webAuthArn}:password::00000000-0000-4000-8000-000000000001` },
            { name: "PROMETHEUS_HISTORY_FRONT", valueFrom: `${webAuthArn}:historyFront::00000000-0000-4000-8000-000000000001` },
        ]);
        for (const name of ["prometheus", "config-sync", "history", "ecs-discovery-tsuru-ecs"]) assert.equal(byName(containers, name).secrets, undefined, name);
        assert.ok(!JSON.stringify(containers).includes("password\":\""), "no plain password");
    });

    it("differs between replicas only in the replica name", () => {
        const other = JSON.stringify(containersOf("prometheus-billing-1")).replace(/prometheus-billing-1/g, "prometheus-billing-0");
        assert.equal(other, JSON.stringify(containers));
    });

    it("pins every image, checks health and logs to CloudWatch", () => {
        for (const container of containers) {
            assert.match(container.image, /:[^:@/]+$/, container.name);
            assert.ok(!container.image.endsWith(":latest"), container.name);
            assert.deepEqual(container.logConfiguration.options, { "awslogs-group": "/paas/test/prometheus/billing", "awslogs-region": "us-east-1", "awslogs-stream-prefix": container.name });
        }
        // /-/healthy answers 401 without the instance's credentials: promtool reads them from the client file.
        assert.deepEqual(byName(containers, "prometheus").healthCheck!.command, ["CMD", "promtool", "check", "healthy", "--url=http://localhost:9090", "--http.config.file=/etc/prometheus/config_out/http-client.yml"]);
        assert.deepEqual(byName(containers, "thanos-sidecar").healthCheck!.command, ["CMD", "wget", "-q", "-O", "/dev/null", "http://localhost:10902/-/healthy"]);
    });

    it("runs one discovery per app cluster writing the file Prometheus reads", () => {
        const discovery = byName(containers, "ecs-discovery-tsuru-ecs");
        assert.deepEqual(discovery.command, ["-config.cluster=tsuru-ecs", "-config.write-to=/etc/prometheus/file_sd/ecs-tsuru-ecs.yml", "-config.scrape-interval=1m"]);
        assert.equal(discovery.essential, false);
    });
});

describe("config-render's $(VAR) substitution (run by sh and awk, like busybox in the task)", () => {
    function render(template: string, env: Record<string, string>) {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "envsubst-"));
        const input = path.join(dir, "prometheus.yml.tmpl");
        const output = path.join(dir, "prometheus.yml");
        fs.writeFileSync(input, template);
        fs.writeFileSync(output, "previous\n");
        const result = spawnSync("sh", ["-c", envsubstScript(input, output)], { env: { PATH: process.env.PATH, ...env }, encoding: "utf8" });
        return { status: result.status, stderr: result.stderr, output: fs.readFileSync(output, "utf8") };
    }

    it("substitutes like the Thanos reloader: every $(VAR), once, special characters kept", () => {
        const result = render("a: $(A)-$(B)\nb: '$(B)'\nc: $(not a var) $(C\n", { A: "x&y/\\1 $(B)", B: "q'r" });
        assert.equal(result.status, 0, result.stderr);
        assert.equal(result.output, "a: x&y/\\1 $(B)-q'r\nb: 'q'r'\nc: $(not a var) $(C\n");
    });

    it("fails on an unset variable and keeps the previous file", () => {
        const result = render("a: $(MISSING)\n", {});
        assert.notEqual(result.status, 0);
        assert.match(result.stderr, /unset environment variable MISSING/);
        assert.equal(result.output, "previous\n");
    });
});

describe("configuration sync", () => {
    it("mirrors the component's prefix onto EFS, deleting what is no longer published", () => {
        const sync = configSyncContainer({ image: "i:1", region: "us-east-1", bucket: "cfg", prefix: "instances/billing", volume: "v", mountPath: "/mnt/config", logGroup: "g" });
        assert.deepEqual(sync.command, ["s3", "sync", "s3://cfg/instances/billing/", "/mnt/config", "--delete", "--exact-timestamps", "--only-show-errors"]);
        assert.equal(sync.essential, false);
    });
});

describe("least-privilege IAM", () => {
    const table: Record<ThanosComponent, string[]> = {
        sidecar: ["s3:GetObject", "s3:ListBucket", "s3:PutObject"],
        store: ["s3:GetObject", "s3:ListBucket"],
        compactor: ["s3:DeleteObject", "s3:GetObject", "s3:ListBucket", "s3:PutObject"],
        query: [],
    };

    for (const [component, actions] of Object.entries(table) as [ThanosComponent, string[]][]) {
        it(`${component}: exactly ${actions.join(", ") || "no bucket access"}, on the bucket only`, () => {
            const statements = thanosBucketStatements(component, { bucketArn });
            const granted = allowed(statements);
            assert.deepEqual([...granted.keys()].sort(), actions);
            if (actions.length > 0) {
                assert.deepEqual(granted.get("s3:ListBucket"), [bucketArn]);
                for (const action of actions.filter((candidate) => candidate !== "s3:ListBucket")) assert.deepEqual(granted.get(action), [`${bucketArn}/*`], action);
            }
            assertNoWildcards(statements);
        });
    }

    it("adds the bucket's KMS key: decrypt for readers, data keys for writers", () => {
        assert.deepEqual(allowed(thanosBucketStatements("store", { bucketArn, kmsKeyArn })).get("kms:Decrypt"), [kmsKeyArn]);
        assert.equal(allowed(thanosBucketStatements("store", { bucketArn, kmsKeyArn })).has("kms:GenerateDataKey"), false);
        assert.deepEqual(allowed(thanosBucketStatements("sidecar", { bucketArn, kmsKeyArn })).get("kms:GenerateDataKey"), [kmsKeyArn]);
        assert.deepEqual(thanosBucketStatements("query", { bucketArn, kmsKeyArn }), []);
    });

    it("execution role: logs of its own groups, named secrets without the JSON-key suffix, no ECR for public images", () => {
        const statements = executionRoleStatements({
            logGroupArns: ["arn:aws:logs:us-east-1:1:log-group:/paas/test/prometheus/billing"],
            secretValueFroms: [`${billingSecretArn}:password::`],
            images: ["quay.io/prometheus/prometheus:v3.16.0", "public.ecr.aws/aws-cli/aws-cli:2.27.50"],
        });
        assert.deepEqual(Object.fromEntries(allowed(statements)), {
            "logs:CreateLogStream": ["arn:aws:logs:us-east-1:1:log-group:/paas/test/prometheus/billing:*"],
            "logs:PutLogEvents": ["arn:aws:logs:us-east-1:1:log-group:/paas/test/prometheus/billing:*"],
            "secretsmanager:GetSecretValue": [billingSecretArn],
        });
        assertNoWildcards(statements);
    });

    it("execution role pulls from a private ECR repository only when an image lives there", () => {
        const image = "111122223333.dkr.ecr.us-east-1.amazonaws.com/mirror/prometheus:v3.16.0";
        assert.equal(ecrRepositoryArn(image), "arn:aws:ecr:us-east-1:111122223333:repository/mirror/prometheus");
        const granted = allowed(executionRoleStatements({ logGroupArns: [], secretValueFroms: [], images: [image] }));
        assert.deepEqual(granted.get("ecr:BatchGetImage"), ["arn:aws:ecr:us-east-1:111122223333:repository/mirror/prometheus"]);
        assert.deepEqual(granted.get("ecr:GetAuthorizationToken"), ["*"]);
        assert.equal(secretPolicyResource(billingSecretArn), billingSecretArn);
    });

    it("EFS: mount (and write only if asked) through the component's access point", () => {
        const read = efsClientStatements({ fileSystemArn: "fs", accessPointArn: "ap", write: false });
        assert.deepEqual(read[0].Action, ["elasticfilesystem:ClientMount"]);
        assert.deepEqual(read[0].Condition, { StringEquals: { "elasticfilesystem:AccessPointArn": "ap" } });
        assert.deepEqual(efsClientStatements({ fileSystemArn: "fs", accessPointArn: "ap", write: true })[0].Action, ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]);
        const policy = efsFileSystemPolicy("fs");
        assert.deepEqual(policy.Statement.map((statement) => [statement.Effect, Object.keys(statement.Condition!)[0]]), [["Deny", "Bool"], ["Deny", "Null"]]);
    });

    it("configuration: list and read the component's own prefix only", () => {
        const statements = configReadStatements({ bucketArn: "arn:aws:s3:::cfg", prefix: "instances/billing/" });
        assert.deepEqual(statements[0].Condition, { StringLike: { "s3:prefix": ["instances/billing/", "instances/billing/*"] } });
        assert.deepEqual(statements[1], { Sid: "ReadOwnConfigObjects", Effect: "Allow", Action: ["s3:GetObject"], Resource: "arn:aws:s3:::cfg/instances/billing/*" });
    });

    it("ECS discovery: the named clusters where IAM can scope, nothing else", () => {
        const statements = ecsDiscoveryStatements({ partition: "aws", region: "us-east-1", accountId: "1", clusters: ["tsuru-ecs"] });
        const granted = allowed(statements);
        assert.deepEqual(granted.get("ecs:DescribeClusters"), ["arn:aws:ecs:us-east-1:1:cluster/tsuru-ecs"]);
        assert.deepEqual(granted.get("ecs:DescribeTasks"), ["arn:aws:ecs:us-east-1:1:task/tsuru-ecs/*", "arn:aws:ecs:us-east-1:1:container-instance/tsuru-ecs/*"]);
        assert.deepEqual(statements.find((statement) => statement.Action.includes("ecs:ListTasks"))!.Condition, { ArnEquals: { "ecs:cluster": ["arn:aws:ecs:us-east-1:1:cluster/tsuru-ecs"] } });
        assertNoWildcards(statements);
        assert.deepEqual(ecsDiscoveryStatements({ partition: "aws", region: "us-east-1", accountId: "1", clusters: [] }), []);
    });

    it("YACE: CloudWatch and tagging reads plus the extra permission of its namespaces only", () => {
        const statements = yaceStatements(config.yace!);
        assert.deepEqual([...allowed(statements).keys()].sort(),
            ["cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics", "iam:ListAccountAliases", "tag:GetResources"]);
        assertNoWildcards(statements);
        const withApiGateway = yaceStatements({ ...config.yace!, jobs: [{ namespace: "AWS/ApiGateway", metrics: [{ name: "Count", statistics: ["Sum"] }] }] });
        assert.ok(allowed(withApiGateway).has("apigateway:GET"));
    });
});

describe("Thanos on ECS", () => {
    it("query fans out to the store and every sidecar by Cloud Map name", () => {
        assert.deepEqual(ecsQueryEndpoints("prometheus-test.internal", ["dns+prometheus-billing.prometheus-test.internal:10901"]),
            ["dns+thanos-store.prometheus-test.internal:10901", "dns+prometheus-billing.prometheus-test.internal:10901"]);
    });

    it("passes objstore.yml inline to store and compactor, deduplicates on the replica label in query", () => {
        const tasks = thanosTaskContainers({ thanos: config.thanos, objstoreConfig: "type: S3\nconfig: {bucket: b}\n", queryEndpoints: ["dns+x:10901"], region: "us-east-1", logGroups: { store: "s", query: "q", queryTenants: "t", compactor: "c" } });
        const containers = { store: byName(tasks.store, "thanos-store"), query: byName(tasks.query, "thanos-query"), compactor: byName(tasks.compactor, "thanos-compactor") };
        assert.ok(containers.store.command!.includes("--objstore.config=type: S3\nconfig: {bucket: b}\n"));
        assert.ok(!containers.store.command!.some((arg) => arg.startsWith("--objstore.config-file")));
        assert.ok(containers.compactor.command!.includes("--objstore.config=type: S3\nconfig: {bucket: b}\n"));
        assert.ok(containers.query.command!.includes("--query.replica-label=prometheus_replica"));
        assert.ok(containers.query.command!.includes("--endpoint=dns+x:10901"));
        assert.ok(!containers.query.command!.some((arg) => arg.includes("objstore")));
    });
});

describe("YACE configuration (checked structurally, as YACE's own loader validates it)", () => {
    /** The checks of YACE's ScrapeConf.Validate for discovery jobs, at the pinned version's config format. */
    function yaceValidate(text: string): string[] {
        const document = yaml.load(text) as any;
        const errors: string[] = [];
        if (document.apiVersion !== "v1alpha1") errors.push(`unknown apiVersion ${document.apiVersion}`);
        const jobs: any[] = document.discovery?.jobs ?? [];
        if (jobs.length === 0) errors.push("at least 1 Discovery job");
        jobs.forEach((job, index) => {
            if (!yaceServices.some((service) => service.namespace === job.type)) errors.push(`job ${index}: Service is not in known list: ${job.type}`);
            if (!Array.isArray(job.regions) || job.regions.length === 0) errors.push(`job ${index}: Regions should not be empty`);
            if (!Array.isArray(job.metrics) || job.metrics.length === 0) errors.push(`job ${index}: Metrics should not be empty`);
            for (const metric of job.metrics ?? []) {
                if (!metric.name) errors.push(`job ${index}: metric name empty`);
                if (!(metric.statistics ?? job.statistics)?.length) errors.push(`job ${index}: ${metric.name}: Statistics should not be empty`);
                const period = metric.period || job.period || 300;
                const length = metric.length || job.length || 300;
                if (length < period) errors.push(`job ${index}: ${metric.name}: length(${length}) is smaller than period(${period})`);
            }
            for (const tag of job.searchTags ?? []) {
                try { new RegExp(tag.value); } catch { errors.push(`job ${index}: invalid regex ${tag.value}`); }
            }
        });
        for (const namespace of Object.keys(document.discovery?.exportedTagsOnMetrics ?? {})) {
            if (!jobs.some((job) => job.type === namespace)) errors.push(`exportedTagsOnMetrics key ${namespace} matches no job`);
        }
        return errors;
    }

    it("the validator rejects a broken document, so passing means something", () => {
        assert.ok(yaceValidate("apiVersion: v1alpha1\ndiscovery:\n  jobs:\n    - type: ec2\n      metrics: []\n").length >= 3);
    });

    for (const stack of stackNames()) {
        const stackConfig = readStackConfig(stack);
        if (stackConfig.yace === undefined) continue;
        it(`${stack}: the YACE config passes the loader's checks`, () => {
            assert.deepEqual(yaceValidate(renderYaceConfig(stackConfig.yace!, stackConfig.region)), []);
        });
    }

    it("renders the stack's jobs with regions, period/length defaults, search tags and exported tags", () => {
        const text = renderYaceConfig(config.yace!, "us-east-1");
        assert.deepEqual(yaceValidate(text), []);
        const document = yaceDocument(config.yace!, "us-east-1");
        assert.equal(document["sts-region"], "us-east-1");
        assert.deepEqual(document.discovery.exportedTagsOnMetrics, { "AWS/ApplicationELB": ["Name"] });
        const [alb, sqs] = document.discovery.jobs;
        assert.deepEqual([alb.type, alb.regions, alb.period, alb.length], ["AWS/ApplicationELB", ["us-east-1"], 300, 300]);
        assert.deepEqual([sqs.period, sqs.length, sqs.searchTags], [60, 300, [{ key: "team", value: "^billing$" }]]);
        assert.equal(yaceScrapingIntervalSeconds(config.yace!), 60);
    });
});
