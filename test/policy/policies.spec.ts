/**
 * Every policy of the pack: compliant resources pass, violating ones fail with a message that says what to
 * change. Resources are shaped like what components/ registers and like the AWS provider schema.
 */
import * as assert from "assert";
import { policies, policyNamed, unknownString } from "../../policy/policies";
import { evaluate, EvaluateOptions, Finding, fixture, HarnessResource } from "../support/policy-harness";
import {
    bucketSet,
    compactorStatefulSet,
    ecsCompactorTask,
    ecsPrometheusTask,
    ecsService,
    edit,
    editContainers,
    efsFileSystem,
    images,
    ingressRule,
    instanceComponent,
    kubernetesService,
    logGroup,
    objstoreSecret,
    objstoreYml,
    platformLabels,
    prometheusArgs,
    prometheusConfigMap,
    prometheusContainer,
    prometheusStatefulSet,
    queryBehindLoadBalancer,
    queryDeployment,
    renderPrometheusYml,
    role,
    rolePolicy,
    s3PolicyDocument,
    thanosBucketPolicy,
    securityGroup,
    tsdbVolume,
    tsuruService,
    webAuthSecret,
} from "./fixtures";

async function findingsOf(policy: string, resources: HarnessResource[], options: EvaluateOptions = {}): Promise<Finding[]> {
    return evaluate(resources, { ...options, policies: [policyNamed(policy)] });
}

async function passes(policy: string, resources: HarnessResource[], options: EvaluateOptions = {}): Promise<void> {
    const findings = await findingsOf(policy, resources, options);
    assert.deepStrictEqual(findings.map((f) => f.message), [], `${policy} should pass`);
}

/** Exactly one violation per pattern, in order, all at the policy's level. */
async function fails(policy: string, resources: HarnessResource[], patterns: RegExp[], options: EvaluateOptions = {}): Promise<Finding[]> {
    const findings = await findingsOf(policy, resources, options);
    const messages = findings.map((f) => f.message);
    assert.strictEqual(findings.length, patterns.length, `${policy}: expected ${patterns.length} violation(s), got:\n${messages.join("\n")}`);
    patterns.forEach((pattern, index) => assert.match(messages[index], pattern));
    for (const finding of findings) assert.strictEqual(finding.enforcementLevel, policyNamed(policy).enforcementLevel);
    return findings;
}

describe("policy pack: storage and data", () => {
    describe("s3-bucket-encrypted", () => {
        it("passes a bucket with a KMS default-encryption configuration", () => passes("s3-bucket-encrypted", bucketSet().all));
        it("links companions through property dependencies when ids differ (as in preview)", () => passes("s3-bucket-encrypted", bucketSet("thanos-prod", { linkBy: "dependency" }).all));
        it("fails a bucket without encryption configuration", async () => {
            const set = bucketSet();
            const [finding] = await fails("s3-bucket-encrypted", set.all.filter((r) => r !== set.encryption), [
                /Bucket 'thanos-bucket' \(thanos-dev\) is not encrypted by default: no BucketServerSideEncryptionConfiguration refers to it.*sseAlgorithm AES256 or aws:kms.*prometheus-paas:bucket\.kmsKeyArn/,
            ]);
            assert.strictEqual(finding.resource, "thanos-bucket");
        });
        it("fails an encryption configuration without a valid algorithm", () => {
            const set = bucketSet();
            const broken = edit(set.encryption, (inputs) => (inputs.rules = [{ bucketKeyEnabled: true }]));
            return fails("s3-bucket-encrypted", [set.bucket, broken], [/is not encrypted by default: its encryption configuration has no rule with applyServerSideEncryptionByDefault\.sseAlgorithm/, /BucketServerSideEncryptionConfiguration 'thanos-bucket-encryption' has no rule/]);
        });
        it("skips an algorithm still unknown during preview", () => {
            const set = bucketSet();
            const unknown = edit(set.encryption, (inputs) => (inputs.rules[0].applyServerSideEncryptionByDefault.sseAlgorithm = unknownString));
            return passes("s3-bucket-encrypted", [set.bucket, unknown]);
        });
        it("does not link another bucket's encryption", () => {
            const dev = bucketSet("thanos-dev");
            const other = bucketSet("thanos-other");
            return fails("s3-bucket-encrypted", [dev.bucket, other.encryption], [/thanos-dev\) is not encrypted by default/]);
        });
    });

    describe("s3-bucket-public-access-blocked", () => {
        it("passes a bucket whose public access block has all four settings", () => passes("s3-bucket-public-access-blocked", bucketSet().all));
        it("fails a bucket without a public access block", () => {
            const set = bucketSet();
            return fails("s3-bucket-public-access-blocked", [set.bucket, set.policy], [/thanos-dev\) has no BucketPublicAccessBlock: add one with blockPublicAcls, blockPublicPolicy, ignorePublicAcls, restrictPublicBuckets all true/]);
        });
        it("fails a block that leaves a setting off", () => {
            const set = bucketSet();
            const open = edit(set.publicAccessBlock, (inputs) => {
                inputs.restrictPublicBuckets = false;
                delete inputs.ignorePublicAcls;
            });
            return fails("s3-bucket-public-access-blocked", [set.bucket, open], [/BucketPublicAccessBlock 'thanos-bucket-public-access' leaves public access open: set ignorePublicAcls, restrictPublicBuckets to true/]);
        });
        it("fails a public-read bucket ACL", () => {
            const set = bucketSet();
            const bucket = edit(set.bucket, (inputs) => (inputs.acl = "public-read"));
            return fails("s3-bucket-public-access-blocked", [bucket, set.publicAccessBlock], [/has the public ACL 'public-read': remove the acl/]);
        });
    });

    describe("s3-bucket-tls-only", () => {
        it("passes the DenyInsecureTransport bucket policy", () => passes("s3-bucket-tls-only", bucketSet().all));
        it("fails a bucket with no bucket policy", () => {
            const set = bucketSet();
            return fails("s3-bucket-tls-only", [set.bucket, set.encryption], [/thanos-dev\) accepts requests without TLS: add a BucketPolicy statement \{Effect: Deny, Principal: "\*", Action: "s3:\*".*aws:SecureTransport/]);
        });
        it("fails a policy whose deny misses the object ARNs", () => {
            const set = bucketSet();
            const partial = edit(set.policy, (inputs) => {
                const document = JSON.parse(inputs.policy);
                document.Statement[0].Resource = ["arn:aws:s3:::thanos-dev"];
                inputs.policy = JSON.stringify(document);
            });
            return fails("s3-bucket-tls-only", [set.bucket, partial], [/accepts requests without TLS/]);
        });
        it("fails a policy without the SecureTransport condition", () => {
            const set = bucketSet();
            const allow = edit(set.policy, (inputs) => {
                const document = JSON.parse(inputs.policy);
                delete document.Statement[0].Condition;
                inputs.policy = JSON.stringify(document);
            });
            return fails("s3-bucket-tls-only", [set.bucket, allow], [/accepts requests without TLS/]);
        });
        it("skips a policy document still unknown during preview", () => {
            const set = bucketSet("thanos-dev", { linkBy: "dependency" });
            return passes("s3-bucket-tls-only", [set.bucket, edit(set.policy, (inputs) => (inputs.policy = unknownString))]);
        });
    });

    describe("s3-bucket-lifecycle (advisory)", () => {
        it("passes a bucket with enabled lifecycle rules", () => passes("s3-bucket-lifecycle", bucketSet().all));
        it("warns about a bucket without lifecycle rules", async () => {
            const set = bucketSet();
            const disabled = edit(set.lifecycle, (inputs) => inputs.rules.forEach((rule: any) => (rule.status = "Disabled")));
            const [finding] = await fails("s3-bucket-lifecycle", [set.bucket, disabled], [/has no enabled lifecycle rule: add a BucketLifecycleConfiguration.*prometheus-paas:bucket\.lifecycleMarginDays/]);
            assert.strictEqual(finding.enforcementLevel, "advisory");
        });
        it("names the Thanos config key only for the Thanos bucket", () => {
            const config = fixture("aws:s3/bucket:Bucket", "ecs-config", { bucketPrefix: "prometheus-config-prod-" }, { outputs: { bucket: "prometheus-config-prod-1234", arn: "arn:aws:s3:::prometheus-config-prod-1234" } });
            return fails("s3-bucket-lifecycle", [config], [/^Bucket 'ecs-config' \(prometheus-config-prod-1234\) has no enabled lifecycle rule: .* and expires what is no longer needed\.$/]);
        });
    });

    describe("efs-encrypted-at-rest", () => {
        it("passes an encrypted file system", () => passes("efs-encrypted-at-rest", [efsFileSystem()]));
        it("fails encrypted: false", () => fails("efs-encrypted-at-rest", [efsFileSystem({ encrypted: false })], [/FileSystem 'prometheus-config' is not encrypted at rest: set encrypted: true/]));
        it("fails a file system that leaves encryption unset", () => fails("efs-encrypted-at-rest", [efsFileSystem({ encrypted: undefined })], [/is not encrypted at rest/]));
    });

    describe("ecs-efs-transit-encryption", () => {
        it("passes EFS volumes with transitEncryption ENABLED", () => passes("ecs-efs-transit-encryption", [ecsPrometheusTask()]));
        it("fails transitEncryption DISABLED", () => {
            const task = edit(ecsPrometheusTask(), (inputs) => (inputs.volumes[0].efsVolumeConfiguration.transitEncryption = "DISABLED"));
            return fails("ecs-efs-transit-encryption", [task], [/TaskDefinition 'prometheus-payments' volume 'config' mounts EFS without encryption in transit: set efsVolumeConfiguration\.transitEncryption to "ENABLED"/]);
        });
        it("fails transitEncryption left unset", () => {
            const task = edit(ecsPrometheusTask(), (inputs) => delete inputs.volumes[0].efsVolumeConfiguration.transitEncryption);
            return fails("ecs-efs-transit-encryption", [task], [/volume 'config' mounts EFS without encryption in transit/]);
        });
    });

    describe("prometheus-tsdb-not-on-nfs", () => {
        it("passes a TSDB on tmpfs (Kubernetes) and on a task tmpfs (ECS)", () => passes("prometheus-tsdb-not-on-nfs", [prometheusStatefulSet(), ecsPrometheusTask()]));
        it("fails an ECS TSDB mounted from EFS", () => {
            const task = editContainers(ecsPrometheusTask(), (definitions) => {
                delete definitions[0].linuxParameters;
                definitions[0].mountPoints.push({ sourceVolume: "config", containerPath: "/prometheus" });
            });
            return fails("prometheus-tsdb-not-on-nfs", [task], [/TaskDefinition 'prometheus-payments' container 'prometheus' keeps its TSDB \(\/prometheus\) on volume 'config', which is EFS\/NFS.*Mount task-local storage at \/prometheus/]);
        });
        it("fails a TSDB below an EFS mount", () => {
            const task = editContainers(ecsPrometheusTask(), (definitions) => {
                definitions[0].command = prometheusArgs({ tsdbPath: "/etc/prometheus/data" });
            });
            return fails("prometheus-tsdb-not-on-nfs", [task], [/keeps its TSDB \(\/etc\/prometheus\/data\) on volume 'config', which is EFS\/NFS/]);
        });
        it("fails a Kubernetes TSDB on an NFS volume", () => {
            const statefulSet = edit(prometheusStatefulSet(), (inputs) => {
                const volume = tsdbVolume(inputs);
                delete volume.emptyDir;
                volume.nfs = { server: "fs-0123.efs.us-east-1.amazonaws.com", path: "/" };
            });
            return fails("prometheus-tsdb-not-on-nfs", [statefulSet], [/StatefulSet 'prometheus-payments-statefulset' container 'prometheus' keeps its TSDB \(\/prometheus\) on volume 'tsdb', which is EFS\/NFS/]);
        });
        it("fails a StatefulSet claim template on an EFS storage class", () => {
            const statefulSet = edit(prometheusStatefulSet(), (inputs) => {
                inputs.spec.template.spec.volumes = inputs.spec.template.spec.volumes.filter((v: any) => v.name !== "tsdb");
                inputs.spec.volumeClaimTemplates = [{ metadata: { name: "tsdb" }, spec: { storageClassName: "efs-sc", accessModes: ["ReadWriteMany"], resources: { requests: { storage: "10Gi" } } } }];
            });
            return fails("prometheus-tsdb-not-on-nfs", [statefulSet], [/on volume 'tsdb', which is EFS\/NFS/]);
        });
    });
});

describe("policy pack: Prometheus on tmpfs with a Thanos sidecar", () => {
    describe("prometheus-tmpfs-size-limit", () => {
        it("passes the component's StatefulSet and an ECS tmpfs with a size", () => passes("prometheus-tmpfs-size-limit", [prometheusStatefulSet(), ecsPrometheusTask()]));
        it("fails an in-memory emptyDir without sizeLimit", () => {
            const statefulSet = edit(prometheusStatefulSet(), (inputs) => delete tsdbVolume(inputs).emptyDir.sizeLimit);
            return fails("prometheus-tmpfs-size-limit", [statefulSet], [/container 'prometheus' keeps its TSDB on the in-memory volume 'tsdb' without a size limit.*emptyDir\.sizeLimit.*prometheus-paas:plans\.<plan>\.tmpfs \(the plan of instance 'payments'/]);
        });
        it("fails an ECS tmpfs without size", () => {
            const task = editContainers(ecsPrometheusTask(), (definitions) => delete definitions[0].linuxParameters.tmpfs[0].size);
            return fails("prometheus-tmpfs-size-limit", [task], [/TaskDefinition 'prometheus-payments' container 'prometheus' keeps its TSDB on the in-memory volume .* without a size limit/]);
        });
        it("ignores a TSDB on disk", () => passes("prometheus-tmpfs-size-limit", [edit(prometheusStatefulSet(), (inputs) => (tsdbVolume(inputs).emptyDir = {}))]));
    });

    describe("prometheus-memory-covers-tmpfs", () => {
        it("passes a limit of process memory plus tmpfs", () => passes("prometheus-memory-covers-tmpfs", [prometheusStatefulSet(), ecsPrometheusTask()]));
        it("fails a memory limit equal to the tmpfs", () => {
            const statefulSet = edit(prometheusStatefulSet(), (inputs) => (prometheusContainer(inputs).resources.limits.memory = "512Mi"));
            return fails("prometheus-memory-covers-tmpfs", [statefulSet], [/has a memory limit of 512Mi, not above its 512Mi tmpfs TSDB \(volume 'tsdb'\).*Raise prometheus-paas:plans\.<plan>\.memory/]);
        });
        it("compares quantities across units (1Gi limit, 2Gi tmpfs)", () => {
            const statefulSet = edit(prometheusStatefulSet(), (inputs) => {
                prometheusContainer(inputs).resources.limits.memory = "1Gi";
                tsdbVolume(inputs).emptyDir.sizeLimit = "2048Mi";
            });
            return fails("prometheus-memory-covers-tmpfs", [statefulSet], [/memory limit of 1Gi, not above its 2Gi tmpfs/]);
        });
        it("fails a Prometheus without memory limit", () => {
            const statefulSet = edit(prometheusStatefulSet(), (inputs) => delete prometheusContainer(inputs).resources.limits);
            return fails("prometheus-memory-covers-tmpfs", [statefulSet], [/has no memory limit while its TSDB lives in 512Mi of tmpfs/]);
        });
        it("fails an ECS container whose memory does not exceed its tmpfs", () => {
            const task = editContainers(ecsPrometheusTask(), (definitions) => (definitions[0].memory = 512));
            return fails("prometheus-memory-covers-tmpfs", [task], [/TaskDefinition 'prometheus-payments' container 'prometheus' has a memory limit of 512Mi, not above its 512Mi tmpfs/]);
        });
    });

    describe("prometheus-retention-below-tmpfs", () => {
        it("passes 384MB of retention on 512Mi of tmpfs", () => passes("prometheus-retention-below-tmpfs", [prometheusStatefulSet(), ecsPrometheusTask()]));
        it("fails a missing retention size", () => {
            const statefulSet = edit(prometheusStatefulSet(), (inputs) => (prometheusContainer(inputs).args = prometheusArgs({ retentionSize: null })));
            return fails("prometheus-retention-below-tmpfs", [statefulSet], [/has no --storage\.tsdb\.retention\.size while its TSDB is on a 512Mi tmpfs.*prometheus-paas:plans\.<plan>\.retentionSize/]);
        });
        it("fails a retention size equal to the tmpfs (Prometheus MB are MiB)", () => {
            const statefulSet = edit(prometheusStatefulSet(), (inputs) => (prometheusContainer(inputs).args = prometheusArgs({ retentionSize: "512MB" })));
            return fails("prometheus-retention-below-tmpfs", [statefulSet], [/--storage\.tsdb\.retention\.size=512MB, not below its 512Mi tmpfs.*at most 75% of tmpfs/]);
        });
        it("fails a retention size above the tmpfs", () => {
            const statefulSet = edit(prometheusStatefulSet(), (inputs) => (prometheusContainer(inputs).args = prometheusArgs({ retentionSize: "1GB" })));
            return fails("prometheus-retention-below-tmpfs", [statefulSet], [/retention\.size=1GB, not below its 512Mi tmpfs/]);
        });
    });

    describe("prometheus-flush-on-shutdown", () => {
        it("passes the component's hook, flags and grace period, and an ECS task's flush container", () => passes("prometheus-flush-on-shutdown", [prometheusStatefulSet(), ecsPrometheusTask()]));
        it("fails an ECS task without a flush container", () => {
            const task = editContainers(ecsPrometheusTask(), (definitions) => definitions.splice(2, 1));
            return fails("prometheus-flush-on-shutdown", [task], [/TaskDefinition 'prometheus-payments' container 'prometheus' keeps its TSDB in the task and no container flushes it at the task's stop \(flush\.sh --wait-for-term\): every task stop .* loses its head/]);
        });
        it("fails an ECS flush container that does not depend on Prometheus, or whose stopTimeout is not above its deadline or past Fargate's 120 s", () => {
            const unordered = editContainers(ecsPrometheusTask(), (definitions) => delete definitions[2].dependsOn);
            const tooShort = editContainers(ecsPrometheusTask(), (definitions) => (definitions[2].stopTimeout = 28));
            const tooLong = editContainers(ecsPrometheusTask("prometheus-ledger"), (definitions) => (definitions[2].stopTimeout = 150));
            return fails("prometheus-flush-on-shutdown", [unordered, tooShort, tooLong], [
                /container 'flush' does not depend on 'prometheus': ECS stops a container only after those that depend on it/,
                /TaskDefinition 'prometheus-payments' container 'flush' has a stopTimeout of 28s for a flush deadline of 28s: it must be above the deadline/,
                /TaskDefinition 'prometheus-ledger' container 'flush' has a stopTimeout of 150s .* at most 120s \(Fargate's limit\)/,
            ]);
        });
        it("fails a tmpfs Prometheus without a preStop hook", () => {
            const statefulSet = edit(prometheusStatefulSet(), (inputs) => delete prometheusContainer(inputs).lifecycle);
            return fails("prometheus-flush-on-shutdown", [statefulSet], [/StatefulSet 'prometheus-payments-statefulset' container 'prometheus' keeps its TSDB on tmpfs and has no preStop hook: every pod deletion .* loses its head, up to 3h/]);
        });
        it("fails without the admin API the snapshot needs", () => {
            const statefulSet = edit(prometheusStatefulSet(), (inputs) => (prometheusContainer(inputs).args = prometheusArgs({ adminApi: false })));
            return fails("prometheus-flush-on-shutdown", [statefulSet], [/runs without --web\.enable-admin-api: its preStop flush cannot take the snapshot/]);
        });
        it("fails a grace period not longer than the flush's deadline", () => {
            const statefulSet = edit(prometheusStatefulSet(), (inputs) => (inputs.spec.template.spec.terminationGracePeriodSeconds = 20));
            return fails("prometheus-flush-on-shutdown", [statefulSet], [/StatefulSet 'prometheus-payments-statefulset' gives its pods 20s to stop, not more than the flush's 20s deadline: the kubelet kills Prometheus mid-flush/]);
        });
    });

    describe("prometheus-thanos-sidecar-flags", () => {
        it("passes the component's flags", () => passes("prometheus-thanos-sidecar-flags", [prometheusStatefulSet(), ecsPrometheusTask()]));
        it("fails other block durations", () => {
            const statefulSet = edit(prometheusStatefulSet(), (inputs) => (prometheusContainer(inputs).args = prometheusArgs({ blocks: "6h" })));
            return fails("prometheus-thanos-sidecar-flags", [statefulSet], [/runs next to a Thanos sidecar without --storage\.tsdb\.min-block-duration=2h \(is 6h\), --storage\.tsdb\.max-block-duration=2h \(is 6h\)/]);
        });
        it("fails missing block flags and lifecycle on ECS", () => {
            const task = editContainers(ecsPrometheusTask(), (definitions) => (definitions[0].command = prometheusArgs({ blocks: null, lifecycle: false })));
            return fails("prometheus-thanos-sidecar-flags", [task], [/TaskDefinition 'prometheus-payments' container 'prometheus' runs next to a Thanos sidecar without --storage\.tsdb\.min-block-duration=2h, --storage\.tsdb\.max-block-duration=2h, --web\.enable-lifecycle/]);
        });
        it("accepts the space-separated flag form", () => {
            const statefulSet = edit(prometheusStatefulSet(), (inputs) => (prometheusContainer(inputs).args = ["--storage.tsdb.path", "/prometheus", "--storage.tsdb.retention.size", "384MB", "--storage.tsdb.min-block-duration", "2h", "--storage.tsdb.max-block-duration", "120m", "--web.enable-lifecycle"]));
            return passes("prometheus-thanos-sidecar-flags", [statefulSet]);
        });
        it("does not require the flags without a sidecar", () => {
            const statefulSet = edit(prometheusStatefulSet(), (inputs) => {
                inputs.spec.template.spec.containers = [prometheusContainer(inputs)];
                prometheusContainer(inputs).args = prometheusArgs({ blocks: null, lifecycle: false });
            });
            return passes("prometheus-thanos-sidecar-flags", [statefulSet]);
        });
    });

    describe("prometheus-web-auth", () => {
        it("passes the component's web config: a Secret volume (Kubernetes), task storage (ECS), a Secret with one bcrypt user", () =>
            passes("prometheus-web-auth", [prometheusStatefulSet(), webAuthSecret(), ecsPrometheusTask()]));
        it("fails a Prometheus without --web.config.file, on either platform", () => {
            const statefulSet = edit(prometheusStatefulSet(), (inputs) => (prometheusContainer(inputs).args = prometheusArgs({ webConfig: null })));
            const task = editContainers(ecsPrometheusTask(), (definitions) => (definitions[0].command = prometheusArgs({ webConfig: null })));
            return fails("prometheus-web-auth", [statefulSet, task], [
                /StatefulSet 'prometheus-payments-statefulset' container 'prometheus' runs without --web\.config\.file: every endpoint .* answers anyone/,
                /TaskDefinition 'prometheus-payments' container 'prometheus' runs without --web\.config\.file/,
            ]);
        });
        it("fails a web config from a ConfigMap (Kubernetes) or from EFS (ECS)", () => {
            const statefulSet = edit(prometheusStatefulSet(), (inputs) => (prometheusContainer(inputs).args = prometheusArgs({ webConfig: "/etc/prometheus/rules/web.yml" })));
            const task = editContainers(ecsPrometheusTask(), (definitions) => (definitions[0].command = prometheusArgs({ webConfig: "/etc/prometheus/config/web.yml" })));
            return fails("prometheus-web-auth", [statefulSet, task], [
                /reads its web config \/etc\/prometheus\/rules\/web\.yml from the configMap volume 'rules', not a Secret/,
                /reads its web config \/etc\/prometheus\/config\/web\.yml from the shared efs volume 'config'/,
            ]);
        });
        it("fails a web Secret whose users map is empty (authentication off)", () =>
            fails("prometheus-web-auth", [webAuthSecret("payments", "basic_auth_users: {}\n")], [/Secret 'prometheus-payments-web' key web\.yml has no basic_auth_users: an empty map turns authentication off/]));
    });

    describe("prometheus-external-labels", () => {
        it("passes a config with the platform's labels", () => passes("prometheus-external-labels", [prometheusConfigMap()]));
        it("fails a config without external_labels", () =>
            fails("prometheus-external-labels", [prometheusConfigMap("payments", null)], [/ConfigMap 'prometheus-payments-config' data key prometheus\.yml\.tmpl: the rendered prometheus\.yml has no global\.external_labels.*prometheus-paas:instances\[\]\.externalLabels/]));
        it("fails an empty label value", () =>
            fails("prometheus-external-labels", [prometheusConfigMap("payments", { ...platformLabels("payments"), tenant: "" })], [/external label\(s\) tenant are empty/]));
        it("fails an unreadable config", () => {
            const broken = edit(prometheusConfigMap(), (inputs) => (inputs.data["prometheus.yml.tmpl"] = "global: [unclosed"));
            return fails("prometheus-external-labels", [broken], [/cannot be read, it is not valid YAML/]);
        });
        it("reads configs from S3 objects and SSM parameters", async () => {
            const object = fixture("aws:s3/bucketObjectv2:BucketObjectv2", "payments-config", { bucket: "prometheus-config", key: "payments/prometheus.yml", content: renderPrometheusYml(null) });
            const parameter = fixture("aws:ssm/parameter:Parameter", "payments-config", { name: "/prometheus-paas/dev/payments/prometheus.yml", type: "String", value: renderPrometheusYml(platformLabels("payments")) });
            const other = fixture("aws:s3/bucketObjectv2:BucketObjectv2", "payments-rules", { bucket: "prometheus-config", key: "payments/rules.yml", content: "groups: []" });
            await fails("prometheus-external-labels", [object, parameter, other], [/BucketObjectv2 'payments-config' key payments\/prometheus\.yml: the rendered prometheus\.yml has no global\.external_labels/]);
        });
    });

    describe("prometheus-external-labels-unique", () => {
        const query = queryDeployment();
        it("passes two instances with their own tenant label", () => passes("prometheus-external-labels-unique", [query, prometheusConfigMap("payments"), prometheusConfigMap("search")]));
        it("fails two instances that render the same labels", () => {
            const search = prometheusConfigMap("search", platformLabels("payments"));
            return fails("prometheus-external-labels-unique", [query, prometheusConfigMap("payments"), search], [
                /ConfigMap 'prometheus-payments-config' data key prometheus\.yml\.tmpl and ConfigMap 'prometheus-search-config' data key prometheus\.yml\.tmpl render the same external labels \{environment="dev",product="tsuru",region="us-east-1",team="payments",tenant="payments"\} \(ignoring replica labels prometheus_replica\).*prometheus-paas:instances\[\]\.externalLabels/,
            ]);
        });
        it("fails instances that differ only in the replica label Query deduplicates on", () => {
            const a = prometheusConfigMap("payments", { ...platformLabels("payments"), prometheus_replica: "payments-0" });
            const b = prometheusConfigMap("search", { ...platformLabels("payments"), prometheus_replica: "search-0" });
            return fails("prometheus-external-labels-unique", [query, a, b], [/render the same external labels/]);
        });
        it("counts the same instance's config stored twice once", () => {
            const parameter = fixture("aws:ssm/parameter:Parameter", "payments-config-copy", { name: "/prometheus-paas/dev/payments/prometheus.yml", type: "String", value: renderPrometheusYml(platformLabels("payments")) }, { parent: instanceComponent("payments") });
            return passes("prometheus-external-labels-unique", [query, prometheusConfigMap("payments"), parameter]);
        });
    });
});

describe("policy pack: Thanos history (thanos-history-readable)", () => {
    const policy = "thanos-history-readable";
    const compactorWith = (change: (args: string[]) => string[]) => edit(compactorStatefulSet(), (inputs) => {
        inputs.spec.template.spec.containers[0].args = change([...inputs.spec.template.spec.containers[0].args]);
    });
    const without = (prefix: string) => (args: string[]) => args.filter((arg) => !arg.startsWith(prefix));
    const replaced = (prefix: string, value: string) => (args: string[]) => args.map((arg) => (arg.startsWith(prefix) ? `${prefix}=${value}` : arg));

    it("passes Query, the compactor (Kubernetes and ECS) as the components render them", () => passes(policy, [queryDeployment(), objstoreSecret(), compactorStatefulSet(), ecsCompactorTask()]));
    it("fails a Query without auto-downsampling (history past the raw retention reads as empty)", () =>
        fails(policy, [edit(queryDeployment(), (inputs) => {
            inputs.spec.template.spec.containers[0].args = inputs.spec.template.spec.containers[0].args.filter((arg: string) => arg !== "--query.auto-downsampling");
        })], [/Deployment 'thanos-query' container 'query' runs Query without --query\.auto-downsampling: .*history past the raw retention reads as empty/]));
    it("fails a compactor that keeps every replica's copy, or merges them one-to-one", () =>
        fails(policy, [compactorWith(without("--deduplication.replica-label")), compactorWith(without("--deduplication.func"))], [
            /container 'compactor' runs without --deduplication\.replica-label: the bucket keeps every HA replica's copy/,
            /container 'compactor' deduplicates replicas without --deduplication\.func=penalty/,
        ]));
    it("fails retentions that never downsample or drop the downsampled copy first", () =>
        fails(policy, [compactorWith(replaced("--retention.resolution-raw", "36h")), compactorWith(replaced("--retention.resolution-5m", "20d")), compactorWith(replaced("--retention.resolution-1h", "60d"))], [
            /keeps raw blocks under 40h/,
            /keeps 5m blocks for less than raw ones/,
            /keeps 1h blocks for less than 5m ones/,
        ]));
    it("fails an ECS compactor without replica deduplication", () =>
        fails(policy, [editContainers(ecsCompactorTask(), (definitions) => {
            definitions[0].command = definitions[0].command.filter((token: string) => !token.startsWith("--deduplication"));
        })], [/TaskDefinition 'thanos-compactor' container 'compactor' runs without --deduplication\.replica-label/]));
});

describe("policy pack: Thanos tenancy (thanos-tenancy-sealed)", () => {
    const policy = "thanos-tenancy-sealed";
    const tenantsQuery = (change: (args: string[]) => string[] = (args) => args) => edit(queryDeployment(), (inputs) => {
        const args: string[] = inputs.spec.template.spec.containers[0].args;
        inputs.spec.template.spec.containers[0].args = change([...args.map((arg) => (arg.startsWith("--grpc-address=") ? "--grpc-address=localhost:10901" : arg)), "--query.enforce-tenancy", "--query.tenant-label-name=tenant"]);
    });

    it("passes the platform's Query and the tenants' Query as the components render them", () => passes(policy, [queryDeployment(), tenantsQuery()]));
    it("fails a tenants' Query whose gRPC listens beyond its pod, or that enforces the default label", () =>
        fails(policy, [
            tenantsQuery((args) => args.map((arg) => (arg.startsWith("--grpc-address=") ? "--grpc-address=0.0.0.0:10901" : arg))),
            tenantsQuery((args) => args.filter((arg) => !arg.startsWith("--query.tenant-label-name"))),
        ], [
            /Deployment 'thanos-query' container 'query' enforces tenancy but serves gRPC on 0\.0\.0\.0:10901: Query's StoreAPI enforces no tenant/,
            /Deployment 'thanos-query' container 'query' enforces tenancy without --query\.tenant-label-name/,
        ]));
});

describe("policy pack: the instances' namespace denies by default (instances-namespace-default-deny)", () => {
    const policy = "instances-namespace-default-deny";
    const networkPolicy = (name: string, spec: Record<string, any>, namespace: unknown = "prometheus") =>
        fixture("kubernetes:networking.k8s.io/v1:NetworkPolicy", name, { metadata: { name, namespace }, spec });
    const defaultDeny = (namespace: unknown = "prometheus") => networkPolicy("default-deny", { podSelector: {}, policyTypes: ["Ingress", "Egress"] }, namespace);

    it("passes a namespace of Prometheus and Thanos workloads with a default deny both ways", () => passes(policy, [prometheusStatefulSet(), queryDeployment(), defaultDeny()]));
    it("passes while the namespace of the default deny is not yet known (created in the same update)", () => passes(policy, [prometheusStatefulSet(), defaultDeny(unknownString)]));
    it("fails a namespace with none, or whose policies deny only ingress, select only some pods, admit something, or sit in another namespace", () =>
        fails(policy, [
            prometheusStatefulSet(),
            networkPolicy("ingress-only", { podSelector: {}, policyTypes: ["Ingress"] }),
            networkPolicy("some-pods", { podSelector: { matchLabels: { app: "prometheus" } }, policyTypes: ["Ingress", "Egress"] }),
            networkPolicy("admits", { podSelector: {}, policyTypes: ["Ingress", "Egress"], ingress: [{}] }),
            defaultDeny("elsewhere"),
        ], [/namespace 'prometheus' runs StatefulSet 'prometheus-payments-statefulset' but no NetworkPolicy there denies all ingress and egress by default \(podSelector \{\}, policyTypes \[Ingress, Egress\], no rules\): any pod of the cluster reaches the sidecars' StoreAPI/]));
    it("reports each namespace once, at its first Prometheus or Thanos workload", () =>
        fails(policy, [prometheusStatefulSet(), queryDeployment(), compactorStatefulSet()], [/namespace 'prometheus' runs StatefulSet 'prometheus-payments-statefulset'/]));
});

describe("policy pack: Thanos compactor", () => {
    const policy = "thanos-compactor-singleton";
    it("passes one compactor StatefulSet replica", () => passes(policy, [objstoreSecret(), compactorStatefulSet()]));
    it("fails two replicas", () =>
        fails(policy, [objstoreSecret(), compactorStatefulSet("thanos-compactor", "thanos-objstore", 2)], [
            /2 Thanos compactors would run against thanos-dev@s3\.us-east-1\.amazonaws\.com: StatefulSet 'thanos-compactor-statefulset' \(2 replicas\).*set prometheus-paas:thanos\.compactor\.replicas to 0 or 1/,
        ]));
    it("fails a Kubernetes and an ECS compactor on the same bucket", () => {
        const task = ecsCompactorTask();
        return fails(policy, [objstoreSecret(), compactorStatefulSet(), task, ecsService("thanos-compactor", task)], [
            /2 Thanos compactors would run against thanos-dev@s3\.us-east-1\.amazonaws\.com: StatefulSet 'thanos-compactor-statefulset' \(1 replica\), Service 'thanos-compactor' running TaskDefinition 'thanos-compactor' \(desiredCount 1\)/,
        ]);
    });
    it("passes compactors on different buckets", () =>
        passes(policy, [objstoreSecret("thanos-objstore", "thanos-a"), objstoreSecret("thanos-objstore-b", "thanos-b"), compactorStatefulSet(), compactorStatefulSet("thanos-compactor-b", "thanos-objstore-b")]));
    it("counts a compactor whose bucket is unknown against every bucket", () => {
        const unknownBucket = compactorStatefulSet("thanos-compactor-b", "missing-secret");
        return fails(policy, [objstoreSecret(), compactorStatefulSet(), unknownBucket], [/2 Thanos compactors would run against thanos-dev/]);
    });
    it("passes a scaled-down compactor (replicas 0) next to the active one", () => passes(policy, [objstoreSecret(), compactorStatefulSet(), compactorStatefulSet("thanos-compactor-b", "thanos-objstore", 0)]));
    it("fails a DaemonSet", () => {
        const daemonSet = { ...compactorStatefulSet(), type: "kubernetes:apps/v1:DaemonSet", name: "thanos-compactor-ds", urn: "urn:pulumi:test::prometheus-paas::kubernetes:apps/v1:DaemonSet::thanos-compactor-ds" };
        return fails(policy, [objstoreSecret(), daemonSet], [/DaemonSet 'thanos-compactor-ds' is a DaemonSet, which runs one compactor per node/, /2 Thanos compactors would run/]);
    });
    it("fails a Deployment that surges on update", () => {
        const deployment = { ...compactorStatefulSet(), type: "kubernetes:apps/v1:Deployment", name: "thanos-compactor-deploy", urn: "urn:pulumi:test::prometheus-paas::kubernetes:apps/v1:Deployment::thanos-compactor-deploy" };
        return fails(policy, [objstoreSecret(), deployment], [/Deployment 'thanos-compactor-deploy' rolls out with surge, so two compactors overlap on every update: use a StatefulSet, or strategy \{type: Recreate\}/]);
    });
    it("passes a Deployment with the Recreate strategy", () => {
        const deployment = edit({ ...compactorStatefulSet(), type: "kubernetes:apps/v1:Deployment" }, (inputs) => (inputs.spec.strategy = { type: "Recreate" }));
        return passes(policy, [objstoreSecret(), deployment]);
    });
    it("fails an ECS service that deploys with the default 200% maximum", () => {
        const task = ecsCompactorTask();
        return fails(policy, [task, ecsService("thanos-compactor", task, { deploymentMaximumPercent: undefined })], [
            /Service 'thanos-compactor' has deploymentMaximumPercent 200 \(the default\), so a deployment starts the new compactor before stopping the old one: set deploymentMaximumPercent: 100/,
        ]);
    });
    it("fails an ECS service with desiredCount 2", () => {
        const task = ecsCompactorTask();
        return fails(policy, [task, ecsService("thanos-compactor", task, { desiredCount: 2, deploymentMaximumPercent: 100 })], [/2 Thanos compactors would run against thanos-dev.*\(desiredCount 2\)/]);
    });
    it("fails autoscaling of the compactor service", () => {
        const task = ecsCompactorTask();
        const service = ecsService("thanos-compactor", task);
        const target = fixture("aws:appautoscaling/target:Target", "compactor-scaling", { serviceNamespace: "ecs", scalableDimension: "ecs:service:DesiredCount", resourceId: "service/prometheus-paas/thanos-compactor", minCapacity: 1, maxCapacity: 3 });
        return fails(policy, [task, service, target], [/Target 'compactor-scaling' lets autoscaling run up to 3 compactors for Service 'thanos-compactor': set maxCapacity to 1/]);
    });
    it("skips a replica count unknown during preview", () => passes(policy, [objstoreSecret(), compactorStatefulSet(), compactorStatefulSet("thanos-compactor-b", "thanos-objstore", unknownString)]));
    it("does not mistake the store gateway or a non-Thanos 'compact' for a compactor", () => {
        const store = edit(compactorStatefulSet("thanos-store"), (inputs) => (inputs.spec.template.spec.containers[0].args = ["store", "--data-dir=/var/thanos", "--objstore.config-file=/etc/thanos/objstore.yml"]));
        const other = edit(compactorStatefulSet("db-maintenance"), (inputs) => (inputs.spec.template.spec.containers[0].image = "example.com/db-tools:1.2"));
        return passes(policy, [objstoreSecret(), compactorStatefulSet(), edit(store, (i) => (i.spec.replicas = 2)), edit(other, (i) => (i.spec.replicas = 2))]);
    });
});

describe("policy pack: network", () => {
    describe("no-public-ingress-to-monitoring-ports", () => {
        const policy = "no-public-ingress-to-monitoring-ports";
        it("passes ingress from the VPC only", () => passes(policy, [securityGroup("prometheus", [{ protocol: "tcp", fromPort: 9090, toPort: 9090, cidrBlocks: ["10.0.0.0/16"] }]), ingressRule("query-from-vpc", { cidrIpv4: "10.0.0.0/16" })]));
        it("passes a public HTTPS port", () => passes(policy, [securityGroup("broker", [{ protocol: "tcp", fromPort: 443, toPort: 443, cidrBlocks: ["0.0.0.0/0"] }])]));
        it("fails 9090 open to the internet", () =>
            fails(policy, [securityGroup("prometheus", [{ protocol: "tcp", fromPort: 9090, toPort: 9090, cidrBlocks: ["0.0.0.0/0"] }])], [/SecurityGroup 'prometheus' ingress\[0\] opens Prometheus\/Thanos port\(s\) 9090 to 0\.0\.0\.0\/0: allow them only from the security groups that need them/]));
        it("fails all protocols open to the internet", () =>
            fails(policy, [securityGroup("thanos", [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] }])], [/ingress\[0\] opens Prometheus\/Thanos port\(s\) 9090, 10901, .* to 0\.0\.0\.0\/0/]));
        it("fails a standalone IPv6 rule over the gRPC port range", () =>
            fails(policy, [ingressRule("sidecar-grpc", { cidrIpv6: "::/0", fromPort: 10900, toPort: 10902 })], [/SecurityGroupIngressRule 'sidecar-grpc' opens Prometheus\/Thanos port\(s\) 10901, 10902 to ::\/0/]));
        it("fails a legacy SecurityGroupRule", () =>
            fails(policy, [fixture("aws:ec2/securityGroupRule:SecurityGroupRule", "query-http", { type: "ingress", protocol: "tcp", fromPort: 9000, toPort: 9100, cidrBlocks: ["0.0.0.0/0"], securityGroupId: "sg-1" })], [/SecurityGroupRule 'query-http' opens .*9090 to 0\.0\.0\.0\/0/]));
    });

    describe("monitoring-load-balancer-internal", () => {
        const policy = "monitoring-load-balancer-internal";
        it("passes an internal load balancer in front of Thanos Query", () => passes(policy, queryBehindLoadBalancer(true).all));
        it("fails an internet-facing load balancer that reaches Thanos Query (found through listener, target group, service, task)", () =>
            fails(policy, queryBehindLoadBalancer(false).all, [/LoadBalancer 'grafana-backend' fronts Thanos Query\/Prometheus \(Service 'backend-query' serves Prometheus\/Thanos\) but is internet-facing: set internal: true/]));
        it("fails an unset internal flag on a load balancer named for Thanos", () => {
            const lb = fixture("aws:lb/loadBalancer:LoadBalancer", "thanos-query", { loadBalancerType: "application", subnets: ["subnet-1"] });
            return fails(policy, [lb], [/LoadBalancer 'thanos-query' fronts Thanos Query\/Prometheus \(its name\) but is internet-facing/]);
        });
        it("passes a public load balancer serving something else", () => {
            const { lb, listener, targetGroup } = queryBehindLoadBalancer(false, { lb: "broker", group: "broker-http" });
            return passes(policy, [lb, listener, targetGroup]);
        });
        it("fails a public Kubernetes LoadBalancer service for Thanos Query", () =>
            fails(policy, [kubernetesService("thanos-query", { type: "LoadBalancer", selector: { "app.kubernetes.io/component": "query" }, ports: [{ name: "http", port: 9090, targetPort: "http" }] })], [/Service 'thanos-query' exposes Thanos Query\/Prometheus through a public LoadBalancer: annotate it service\.beta\.kubernetes\.io\/aws-load-balancer-scheme: internal/]));
        it("passes an internal Kubernetes LoadBalancer and ClusterIP services", () =>
            passes(policy, [
                kubernetesService("thanos-query-lb", { type: "LoadBalancer", ports: [{ port: 9090 }] }, { "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal" }),
                kubernetesService("thanos-query", { type: "ClusterIP", ports: [{ port: 9090 }] }),
            ]));
    });
});

describe("policy pack: IAM", () => {
    describe("iam-no-wildcard-actions", () => {
        const policy = "iam-no-wildcard-actions";
        it("passes exact S3 actions and the ECS trust policy", () => {
            const sidecar = role("prometheus-payments-task");
            return passes(policy, [sidecar, rolePolicy("sidecar-s3", sidecar, thanosBucketPolicy("sidecar"))]);
        });
        it("fails s3:*", () => {
            const sidecar = role("prometheus-payments-task");
            return fails(policy, [rolePolicy("sidecar-s3", sidecar, JSON.stringify({ Version: "2012-10-17", Statement: [{ Sid: "All", Effect: "Allow", Action: "s3:*", Resource: "arn:aws:s3:::thanos-dev/*" }] }))], [/RolePolicy 'sidecar-s3' allows wildcard action\(s\) "s3:\*" \(statement All\): list the exact actions instead/]);
        });
        it("fails a prefix wildcard in an inline role policy", () =>
            fails(policy, [role("store", { inlinePolicies: [{ name: "s3", policy: JSON.stringify({ Statement: [{ Effect: "Allow", Action: ["s3:ListBucket", "s3:Get*"], Resource: ["arn:aws:s3:::thanos-dev", "arn:aws:s3:::thanos-dev/*"] }] }) }] })], [/Role 'store' inline policy 's3' allows wildcard action\(s\) "s3:Get\*"/]));
        it("fails NotAction with Allow", () =>
            fails(policy, [fixture("aws:iam/policy:Policy", "broad", { policy: { Version: "2012-10-17", Statement: [{ Effect: "Allow", NotAction: "iam:*", Resource: "*" }] } })], [/Policy 'broad' allows everything except iam:\* \(NotAction with Allow\)/]));
        it("ignores wildcards in Deny statements (the TLS-only bucket policy pattern)", () =>
            passes(policy, [fixture("aws:iam/policy:Policy", "guard", { policy: JSON.stringify({ Statement: [{ Effect: "Deny", Action: "s3:*", Resource: "*", Condition: { Bool: { "aws:SecureTransport": "false" } } }] }) })]));
        it("fails attaching AdministratorAccess or a FullAccess managed policy", () =>
            fails(policy, [
                fixture("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "admin", { role: "compactor", policyArn: "arn:aws:iam::aws:policy/AdministratorAccess" }),
                role("store", { managedPolicyArns: ["arn:aws:iam::aws:policy/AmazonS3FullAccess", "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"] }),
            ], [/RolePolicyAttachment 'admin' attaches the managed policy arn:aws:iam::aws:policy\/AdministratorAccess, which grants wildcard actions/, /Role 'store' attaches the managed policy arn:aws:iam::aws:policy\/AmazonS3FullAccess/]));
    });

    describe("iam-s3-scoped-to-bucket", () => {
        const policy = "iam-s3-scoped-to-bucket";
        it("passes the bucket ARN and its objects", () => passes(policy, [rolePolicy("compactor-s3", role("compactor"), thanosBucketPolicy("compactor"))]));
        it("fails Resource \"*\"", () =>
            fails(policy, [rolePolicy("store-s3", role("store"), s3PolicyDocument(["s3:ListBucket", "s3:GetObject"], "thanos-dev", ["*"]))], [
                /RolePolicy 'store-s3' statement Bucket allows s3:ListBucket on "\*": scope it to the Thanos bucket/,
                /RolePolicy 'store-s3' statement Objects allows s3:GetObject on "\*"/,
            ]));
        it("fails a wildcard bucket name", () =>
            fails(policy, [fixture("aws:iam/policy:Policy", "sidecars", { policy: JSON.stringify({ Statement: [{ Effect: "Allow", Action: ["s3:PutObject"], Resource: ["arn:aws:s3:::thanos-*/*"] }] }) })], [/Policy 'sidecars' allows s3:PutObject on "arn:aws:s3:::thanos-\*\/\*"/]));
        it("fails NotResource", () =>
            fails(policy, [fixture("aws:iam/policy:Policy", "sidecars", { policy: JSON.stringify({ Statement: [{ Effect: "Allow", Action: "s3:GetObject", NotResource: "arn:aws:s3:::secrets/*" }] }) })], [/allows s3:GetObject on every resource except a list \(NotResource\)/]));
        it("ignores non-S3 statements with Resource \"*\"", () =>
            passes(policy, [fixture("aws:iam/policy:Policy", "logs", { policy: JSON.stringify({ Statement: [{ Effect: "Allow", Action: ["cloudwatch:GetMetricData", "tag:GetResources"], Resource: "*" }] }) })]));
    });

    describe("iam-s3-delete-only-compactor", () => {
        const policy = "iam-s3-delete-only-compactor";
        const compactorRole = role("thanos-compactor-task");
        const storeRole = role("thanos-store-task");
        const storeTask = () => fixture("aws:ecs/taskDefinition:TaskDefinition", "thanos-store", {
            family: "thanos-store",
            memory: "2048",
            taskRoleArn: storeRole.outputs.arn,
            containerDefinitions: JSON.stringify([{ name: "store", image: images.thanos, command: ["store", "--data-dir=/var/thanos"], memory: 2048 }]),
        }, { propertyDependencies: { taskRoleArn: [storeRole] } });
        it("passes DeleteObject on the compactor's own task role", () =>
            passes(policy, [compactorRole, ecsCompactorTask("thanos-compactor", compactorRole), rolePolicy("compactor-s3", compactorRole, thanosBucketPolicy("compactor")), storeRole, storeTask(), rolePolicy("store-s3", storeRole, thanosBucketPolicy("store"))]));
        it("fails DeleteObject granted to the store's role", () =>
            fails(policy, [storeRole, storeTask(), rolePolicy("store-s3", storeRole, thanosBucketPolicy("compactor"))], [/RolePolicy 'store-s3' allows s3:DeleteObject through Role 'thanos-store-task', which is also used by TaskDefinition 'thanos-store': only the compactor deletes blocks/]));
        it("fails a compactor role shared with another task", () => {
            const shared = fixture("aws:ecs/taskDefinition:TaskDefinition", "thanos-store", { ...storeTask().inputs, taskRoleArn: compactorRole.outputs.arn }, { propertyDependencies: { taskRoleArn: [compactorRole] } });
            return fails(policy, [compactorRole, ecsCompactorTask("thanos-compactor", compactorRole), shared, rolePolicy("compactor-s3", compactorRole, thanosBucketPolicy("compactor"))], [/through Role 'thanos-compactor-task', which is also used by TaskDefinition 'thanos-store'/]);
        });
        it("fails a managed policy with s3:* attached to a sidecar role", () => {
            const sidecarRole = role("prometheus-payments-task");
            const managed = fixture("aws:iam/policy:Policy", "thanos-s3", { policy: JSON.stringify({ Statement: [{ Effect: "Allow", Action: "s3:*", Resource: ["arn:aws:s3:::thanos-dev", "arn:aws:s3:::thanos-dev/*"] }] }) }, { outputs: { arn: "arn:aws:iam::111122223333:policy/thanos-s3" } });
            const attachment = fixture("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "sidecar-thanos-s3", { role: "prometheus-payments-task", policyArn: "arn:aws:iam::111122223333:policy/thanos-s3" }, { propertyDependencies: { role: [sidecarRole], policyArn: [managed] } });
            return fails(policy, [sidecarRole, managed, attachment], [/Policy 'thanos-s3' allows s3:DeleteObject, s3:DeleteObjectVersion through Role 'prometheus-payments-task', which no Thanos compactor task uses/]);
        });
        it("fails a delete policy attached to nothing", () =>
            fails(policy, [fixture("aws:iam/policy:Policy", "compactor-s3", { policy: thanosBucketPolicy("compactor") })], [/Policy 'compactor-s3' allows s3:DeleteObject but is not attached to the compactor's task role in this stack/]));
        it("passes a compactor role reached through an IRSA service account", () => {
            const account = fixture("kubernetes:core/v1:ServiceAccount", "thanos-compactor-sa", { metadata: { name: "thanos", namespace: "prometheus", annotations: { "eks.amazonaws.com/role-arn": compactorRole.outputs.arn } } });
            return passes(policy, [compactorRole, account, compactorStatefulSet(), rolePolicy("compactor-s3", compactorRole, thanosBucketPolicy("compactor"))]);
        });
    });
});

describe("policy pack: containers", () => {
    describe("container-images-pinned", () => {
        const policy = "container-images-pinned";
        it("passes tags and digests", () => {
            const digest = editContainers(ecsCompactorTask(), (definitions) => (definitions[0].image = `quay.io/thanos/thanos@sha256:${"a".repeat(64)}`));
            return passes(policy, [prometheusStatefulSet(), ecsPrometheusTask(), digest]);
        });
        it("fails latest", () => {
            const statefulSet = edit(prometheusStatefulSet(), (inputs) => (prometheusContainer(inputs).image = "quay.io/prometheus/prometheus:latest"));
            return fails(policy, [statefulSet], [/StatefulSet 'prometheus-payments-statefulset' container 'prometheus' image 'quay.io\/prometheus\/prometheus:latest' uses the tag 'latest': pin a version tag or digest in components\/versions\.json/]);
        });
        it("fails an untagged image behind a registry port", () => {
            const task = editContainers(ecsCompactorTask(), (definitions) => (definitions[0].image = "registry.internal:5000/thanos/thanos"));
            return fails(policy, [task], [/TaskDefinition 'thanos-compactor' container 'compactor' image 'registry\.internal:5000\/thanos\/thanos' has no tag \(it means latest\)/]);
        });
        it("checks init containers too", () => {
            const statefulSet = edit(prometheusStatefulSet(), (inputs) => (inputs.spec.template.spec.initContainers[0].image = "busybox"));
            return fails(policy, [statefulSet], [/init container 'config-init' image 'busybox' has no tag/]);
        });
    });

    describe("container-memory-limits", () => {
        const policy = "container-memory-limits";
        it("passes limits on every container (and ECS task memory)", () => {
            const taskLevel = editContainers(ecsCompactorTask(), (definitions) => delete definitions[0].memory);
            return passes(policy, [prometheusStatefulSet(), compactorStatefulSet(), ecsPrometheusTask(), taskLevel]);
        });
        it("fails a Kubernetes container without limits", () => {
            const statefulSet = edit(prometheusStatefulSet(), (inputs) => delete inputs.spec.template.spec.containers[1].resources.limits);
            return fails(policy, [statefulSet], [/container 'thanos-sidecar' has no memory limit: set resources\.limits\.memory \(Prometheus: prometheus-paas:plans\.<plan>\.memory; Thanos: prometheus-paas:thanos\.store\.memory/]);
        });
        it("fails an ECS container with neither container nor task memory", () => {
            const task = editContainers(ecsCompactorTask(), (definitions, inputs) => {
                delete definitions[0].memory;
                definitions[0].memoryReservation = 512;
                delete inputs.memory;
            });
            return fails(policy, [task], [/TaskDefinition 'thanos-compactor' container 'compactor' has no memory limit: set memory on the container definition/]);
        });
    });

    describe("kubernetes-containers-non-root", () => {
        const policy = "kubernetes-containers-non-root";
        it("passes the platform's security contexts", () => passes(policy, [prometheusStatefulSet(), compactorStatefulSet(), queryDeployment()]));
        it("fails a pod without security context", () => {
            const statefulSet = edit(compactorStatefulSet(), (inputs) => {
                delete inputs.spec.template.spec.securityContext;
                delete inputs.spec.template.spec.containers[0].securityContext;
            });
            return fails(policy, [statefulSet], [/StatefulSet 'thanos-compactor-statefulset' container 'compactor' may run as root: set securityContext\.runAsNonRoot: true and runAsUser: 65534/]);
        });
        it("fails a container that overrides runAsUser to 0", () => {
            const statefulSet = edit(prometheusStatefulSet(), (inputs) => (inputs.spec.template.spec.initContainers[0].securityContext = { runAsUser: 0 }));
            return fails(policy, [statefulSet], [/init container 'config-init' may run as root/]);
        });
        it("does not apply to ECS tasks", () => passes(policy, [ecsCompactorTask()]));
    });
});

describe("policy pack: secrets and logs", () => {
    describe("no-credentials-in-configmaps", () => {
        const policy = "no-credentials-in-configmaps";
        const configMap = (data: Record<string, string>) => fixture("kubernetes:core/v1:ConfigMap", "prometheus-payments-config", { metadata: { name: "prometheus-payments-config" }, data });
        it("passes rendered configs, rules and *_file references", () =>
            passes(policy, [prometheusConfigMap(), configMap({ "prometheus.yml": "scrape_configs:\n  - job_name: api\n    authorization:\n      credentials_file: /etc/secrets/token\n    basic_auth:\n      username: prom\n      password_file: /etc/secrets/password\n" })]));
        it("fails objstore.yml with static keys in a ConfigMap", () =>
            fails(policy, [configMap({ "objstore.yml": objstoreYml("thanos-dev", { accessKey: "AKIAIOSFODNN7EXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" }) })], [
                /ConfigMap 'prometheus-payments-config' data key 'objstore\.yml' contains key 'access_key', key 'secret_key', an AWS access key id: .*Move the credential to a Secret/,
            ]));
        it("fails a basic_auth password in prometheus.yml", () =>
            fails(policy, [configMap({ "prometheus.yml": "scrape_configs:\n  - job_name: api\n    basic_auth:\n      username: prom\n      password: hunter2\n" })], [/contains key 'password'.*use \*_file settings/]));
        it("fails a credential-named key", () => fails(policy, [configMap({ "tsuru-token": "b3f1c2d4" })], [/data key 'tsuru-token' looks like a credential: move it to a Secret/]));
        it("fails a URL with an embedded password", () => fails(policy, [configMap({ "datasource.yaml": "url: https://admin:hunter2@grafana.example.com\n" })], [/contains a URL with an embedded password/]));
    });

    describe("no-plaintext-credentials-in-containers", () => {
        const policy = "no-plaintext-credentials-in-containers";
        it("passes fieldRef/secret references and plain settings", () => passes(policy, [prometheusStatefulSet(), ecsPrometheusTask(), compactorStatefulSet()]));
        it("fails a Kubernetes env value holding an AWS secret key", () => {
            const statefulSet = edit(compactorStatefulSet(), (inputs) => (inputs.spec.template.spec.containers[0].env = [{ name: "AWS_SECRET_ACCESS_KEY", value: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" }]));
            return fails(policy, [statefulSet], [/container 'compactor' passes variable 'AWS_SECRET_ACCESS_KEY' as a plain env value: use valueFrom\.secretKeyRef/]);
        });
        it("passes a Kubernetes env var from a secretKeyRef", () => {
            const statefulSet = edit(compactorStatefulSet(), (inputs) => (inputs.spec.template.spec.containers[0].env = [{ name: "AWS_SECRET_ACCESS_KEY", valueFrom: { secretKeyRef: { name: "thanos-objstore", key: "secret_key" } } }]));
            return passes(policy, [statefulSet]);
        });
        it("fails an ECS environment entry with a token", () => {
            const task = editContainers(ecsPrometheusTask(), (definitions) => definitions[1].environment.push({ name: "TSURU_TOKEN", value: "a1b2c3d4e5" }));
            return fails(policy, [task], [/TaskDefinition 'prometheus-payments' container 'thanos-sidecar' passes variable 'TSURU_TOKEN' as a plain environment value: move it to containerDefinitions\[\]\.secrets/]);
        });
        it("fails an inline objstore config with keys on the command line", () => {
            const task = editContainers(ecsCompactorTask(), (definitions) => (definitions[0].command[3] = `--objstore.config=${objstoreYml("thanos-dev", { accessKey: "minio", secretKey: "minio-secret-123" })}`));
            return fails(policy, [task], [/container 'compactor' has key 'access_key', key 'secret_key' on its command line.*--objstore\.config-file/]);
        });
    });

    describe("tsuru-service-password-secret", () => {
        const policy = "tsuru-service-password-secret";
        it("passes a secret password with additionalSecretOutputs", () => passes(policy, [tsuruService()]));
        it("passes under the engine, which does not reveal input secrets", () => passes(policy, [tsuruService("s3cr3t", { additionalSecretOutputs: ["password"] })], { secretsVisible: false }));
        it("fails a plain password", () =>
            fails(policy, [tsuruService("s3cr3t", { additionalSecretOutputs: ["password"] })], [/TsuruService 'tsuru-service' \(Tsuru service 'prometheus'\) receives its password as a plain value: wrap it in pulumi\.secret\(\)/]));
        it("fails a password output not marked secret (seen under the engine too)", () =>
            fails(policy, [tsuruService("s3cr3t", { secretPaths: ["password"] })], [/does not mark its password output secret.*additionalSecretOutputs: \["password"\]/], { secretsVisible: false }));
        it("fails a missing password", () => fails(policy, [tsuruService("")], [/TsuruService 'tsuru-service' \(Tsuru service 'prometheus'\) has no password.*random\.RandomPassword/]));
        it("skips a password unknown during preview and other dynamic resources", () =>
            passes(policy, [tsuruService(unknownString), fixture("pulumi-nodejs:dynamic:Resource", "other", { __provider: "x", password: "plain-but-not-tsuru" })]));
    });

    describe("log-group-retention (advisory)", () => {
        const policy = "log-group-retention";
        it("passes a retention period", () => passes(policy, [logGroup("prometheus-payments", 30)]));
        it("warns about a log group kept forever", async () => {
            const findings = await fails(policy, [logGroup("prometheus-payments"), logGroup("thanos-compactor", 0)], [/LogGroup 'prometheus-payments' keeps logs forever: set retentionInDays \(e\.g\. 30\)/, /LogGroup 'thanos-compactor' keeps logs forever/]);
            assert.ok(findings.every((finding) => finding.enforcementLevel === "advisory"));
        });
    });
});

describe("policy pack: engine compatibility", () => {
    it("has unique names, a level, a description and remediation steps for every policy", () => {
        const names = policies.map((policy) => policy.name);
        assert.deepStrictEqual([...new Set(names)], names);
        for (const policy of policies) {
            assert.ok(["mandatory", "advisory"].includes(policy.enforcementLevel), policy.name);
            assert.ok(policy.description.length > 20 && policy.remediationSteps.length > 20, policy.name);
            assert.ok(/^[a-z0-9-]+$/.test(policy.name), policy.name);
        }
    });

    it("docs/pipeline-and-ci.md lists every policy with its level and scope, and the right counts", () => {
        const doc = require("fs").readFileSync(require("path").resolve(__dirname, "..", "..", "docs", "pipeline-and-ci.md"), "utf8") as string;
        const rows = [...doc.matchAll(/^\| `([a-z0-9-]+)` \| (mandatory|advisory) \| (resource|stack) \|/gm)].map((m) => `${m[1]} ${m[2]} ${m[3]}`);
        assert.deepStrictEqual(rows, policies.map((p) => `${p.name} ${p.enforcementLevel} ${p.scope}`));
        const mandatoryCount = policies.filter((p) => p.enforcementLevel === "mandatory").length;
        assert.match(doc, new RegExp(`${policies.length} policies: ${mandatoryCount} mandatory, ${policies.length - mandatoryCount} advisory`));
    });

    it("recognises exactly the SDK's unknown-value sentinels", () => {
        const proxy = require(require.resolve("@pulumi/policy/proxy", { paths: [require("path").resolve(__dirname, "..", "..", "policy")] }));
        const { isUnknown } = require("../../policy/lib/values");
        const sentinels = Object.entries(proxy).filter(([key]) => /^unknown.*Value$/.test(key)).map(([, value]) => value);
        assert.strictEqual(sentinels.length, 7);
        for (const sentinel of sentinels) assert.ok(isUnknown(sentinel), String(sentinel));
    });

    it("never trips the SDK's unknown-value proxy on a preview full of unknowns", async () => {
        const preview = [
            edit(prometheusStatefulSet(), (inputs) => {
                inputs.metadata.namespace = unknownString;
                tsdbVolume(inputs).emptyDir.sizeLimit = unknownString;
                prometheusContainer(inputs).resources.limits.memory = unknownString;
            }),
            edit(ecsPrometheusTask(), (inputs) => (inputs.containerDefinitions = unknownString)),
            edit(compactorStatefulSet(), (inputs) => (inputs.spec.replicas = unknownString)),
            fixture("kubernetes:networking.k8s.io/v1:NetworkPolicy", "default-deny", { metadata: { name: "default-deny", namespace: unknownString }, spec: unknownString }),
            fixture("aws:iam/rolePolicy:RolePolicy", "compactor-s3", { role: unknownString, policy: unknownString }),
            fixture("aws:efs/fileSystem:FileSystem", "config", { encrypted: unknownString }),
            edit(prometheusConfigMap(), (inputs) => (inputs.data = unknownString)),
            ...bucketSet("thanos-dev", { linkBy: "dependency" }).all.map((resource) => (resource.type === "aws:s3/bucketPolicy:BucketPolicy" ? edit(resource, (inputs) => (inputs.policy = unknownString)) : resource)),
        ];
        const findings = await evaluate(preview);
        assert.deepStrictEqual(findings.map((f) => `${f.policy}: ${f.message}`), []);
    });
});
