/** The long-term bucket (S3), EFS and where the Prometheus TSDB lives. */
import { describe, resourcePolicy, stackPolicy, StackGraph, View, Violation } from "../lib/model";
import { arr, isObject, isUnknown, obj, parseJson, str } from "../lib/values";
import { ecsTaskDefinitionType, flagValue, isPrometheus, volumeAt, where, workloadOf } from "../lib/workloads";

export const s3Types = {
    buckets: ["aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"],
    encryption: [
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
    ],
    publicAccessBlock: ["aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"],
    policy: ["aws:s3/bucketPolicy:BucketPolicy"],
    lifecycle: ["aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2"],
    acl: ["aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2"],
} as const;

const bucketKey = "prometheus-paas:bucket";

/** Companion resources (encryption, policy, ...) of a bucket: linked through their `bucket` property. */
function companions(graph: StackGraph, bucket: View, types: readonly string[]): View[] {
    return graph.ofType(...types).filter((companion) => graph.refersTo(companion, "bucket", bucket));
}

function bucketLabel(bucket: View): string {
    const name = str(bucket.props.bucket);
    return name ? `${describe(bucket)} (${name})` : describe(bucket);
}

const validAlgorithms = ["AES256", "aws:kms", "aws:kms:dsse"];

function encryptionProblems(rules: unknown): "ok" | "unknown" | string {
    if (isUnknown(rules)) return "unknown";
    const list = Array.isArray(rules) ? rules : isObject(rules) ? [rules] : [];
    const algorithms = list.filter(isObject).map((rule) => rule.applyServerSideEncryptionByDefault?.sseAlgorithm);
    if (algorithms.some(isUnknown)) return "unknown";
    const valid = algorithms.filter((algorithm) => validAlgorithms.includes(str(algorithm) ?? ""));
    return valid.length > 0 ? "ok" : `no rule with applyServerSideEncryptionByDefault.sseAlgorithm one of ${validAlgorithms.join(", ")}`;
}

export const s3BucketEncrypted = stackPolicy(
    {
        name: "s3-bucket-encrypted",
        description: "Every S3 bucket has default server-side encryption configured (SSE-S3 or SSE-KMS).",
        enforcementLevel: "mandatory",
        severity: "high",
        remediationSteps: `Add an aws.s3.BucketServerSideEncryptionConfiguration for the bucket (ThanosBucket does); set ${bucketKey}.kmsKeyArn for SSE-KMS.`,
    },
    (graph) => {
        const violations: Violation[] = [];
        for (const bucket of graph.ofType(...s3Types.buckets)) {
            const configs = companions(graph, bucket, s3Types.encryption);
            const results = [...configs.map((config) => encryptionProblems(config.props.rule ?? config.props.rules)), encryptionProblems(bucket.props.serverSideEncryptionConfiguration?.rule ?? bucket.props.serverSideEncryptionConfiguration?.rules)];
            if (results.includes("ok") || results.includes("unknown")) continue;
            const problem = configs.length > 0 ? `its encryption configuration has ${results[0]}` : "no BucketServerSideEncryptionConfiguration refers to it";
            violations.push({
                urn: bucket.urn,
                message: `${bucketLabel(bucket)} is not encrypted by default: ${problem}. Add a BucketServerSideEncryptionConfiguration with sseAlgorithm AES256 or aws:kms (set ${bucketKey}.kmsKeyArn for SSE-KMS).`,
            });
        }
        for (const config of graph.ofType(...s3Types.encryption)) {
            const result = encryptionProblems(config.props.rule ?? config.props.rules);
            if (result !== "ok" && result !== "unknown") {
                violations.push({ urn: config.urn, message: `${describe(config)} has ${result}; set sseAlgorithm to AES256 or aws:kms.` });
            }
        }
        return violations;
    },
);

const publicAccessFlags = ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"] as const;

export const s3PublicAccessBlocked = stackPolicy(
    {
        name: "s3-bucket-public-access-blocked",
        description: "Every S3 bucket has a public access block with all four settings on, and no public ACL.",
        enforcementLevel: "mandatory",
        severity: "critical",
        remediationSteps: "Add an aws.s3.BucketPublicAccessBlock for the bucket with blockPublicAcls, blockPublicPolicy, ignorePublicAcls and restrictPublicBuckets all true; remove public ACLs.",
    },
    (graph) => {
        const violations: Violation[] = [];
        for (const bucket of graph.ofType(...s3Types.buckets)) {
            const blocks = companions(graph, bucket, s3Types.publicAccessBlock);
            if (blocks.length === 0) {
                violations.push({
                    urn: bucket.urn,
                    message: `${bucketLabel(bucket)} has no BucketPublicAccessBlock: add one with ${publicAccessFlags.join(", ")} all true.`,
                });
            }
            const acl = str(bucket.props.acl);
            if (acl !== undefined && /public/i.test(acl)) {
                violations.push({ urn: bucket.urn, message: `${bucketLabel(bucket)} has the public ACL '${acl}': remove the acl (Thanos needs no ACLs; use BucketOwnerEnforced ownership).` });
            }
        }
        for (const block of graph.ofType(...s3Types.publicAccessBlock)) {
            const off = publicAccessFlags.filter((flag) => !isUnknown(block.props[flag]) && block.props[flag] !== true);
            if (off.length > 0) {
                violations.push({ urn: block.urn, message: `${describe(block)} leaves public access open: set ${off.join(", ")} to true.` });
            }
        }
        for (const acl of graph.ofType(...s3Types.acl)) {
            const value = str(acl.props.acl) ?? str(acl.props.accessControlPolicy?.grant?.[0]?.grantee?.uri);
            if (value !== undefined && /public|AllUsers|AuthenticatedUsers/i.test(value)) {
                violations.push({ urn: acl.urn, message: `${describe(acl)} grants public access ('${value}'): remove it.` });
            }
        }
        return violations;
    },
);

/** A statement that denies every S3 action when aws:SecureTransport is false. */
function deniesInsecureTransport(statement: Record<string, any>, bucketArn: string | undefined): boolean {
    if (statement.Effect !== "Deny") return false;
    const principal = statement.Principal;
    const everyone = principal === "*" || (isObject(principal) && [principal.AWS].flat().includes("*"));
    const actions = [statement.Action].flat();
    const allActions = actions.some((action) => action === "s3:*" || action === "*");
    const secure = obj(obj(statement.Condition).Bool)["aws:SecureTransport"];
    const condition = [secure].flat().some((value) => value === false || value === "false");
    const resources = [statement.Resource].flat().map((r) => str(r) ?? "");
    const coversObjects = resources.some((r) => r.endsWith("/*") && (bucketArn === undefined || r === `${bucketArn}/*`));
    const coversBucket = resources.some((r) => !r.includes("/") && (bucketArn === undefined || r === bucketArn));
    return everyone && allActions && condition && coversObjects && coversBucket;
}

type PolicyCheck = "ok" | "unknown" | "missing";

function policyDeniesInsecure(document: unknown, bucketArn: string | undefined): PolicyCheck {
    const parsed = parseJson<Record<string, any>>(document);
    if (parsed.kind === "unknown") return "unknown";
    if (parsed.kind !== "ok") return "missing";
    const statements = Array.isArray(parsed.value.Statement) ? parsed.value.Statement : [parsed.value.Statement];
    return statements.filter(isObject).some((statement) => deniesInsecureTransport(statement, bucketArn)) ? "ok" : "missing";
}

export const s3TlsOnly = stackPolicy(
    {
        name: "s3-bucket-tls-only",
        description: "Every S3 bucket's policy denies all requests made without TLS (aws:SecureTransport = false).",
        enforcementLevel: "mandatory",
        severity: "high",
        remediationSteps: "Add an aws.s3.BucketPolicy with a Deny statement: Principal \"*\", Action \"s3:*\", Resource [bucket ARN, bucket ARN/*], Condition {Bool: {\"aws:SecureTransport\": \"false\"}} (ThanosBucket does).",
    },
    (graph) => {
        const violations: Violation[] = [];
        for (const bucket of graph.ofType(...s3Types.buckets)) {
            const arn = str(bucket.props.arn);
            const results = [...companions(graph, bucket, s3Types.policy).map((policy) => policyDeniesInsecure(policy.props.policy, arn)), policyDeniesInsecure(bucket.props.policy, arn)];
            if (results.includes("ok") || results.includes("unknown")) continue;
            violations.push({
                urn: bucket.urn,
                message:
                    `${bucketLabel(bucket)} accepts requests without TLS: add a BucketPolicy statement {Effect: Deny, Principal: "*", Action: "s3:*", ` +
                    `Resource: [bucket ARN, bucket ARN + "/*"], Condition: {Bool: {"aws:SecureTransport": "false"}}}.`,
            });
        }
        return violations;
    },
);

/** ThanosBucket tags the long-term bucket with its purpose. */
function isThanosBucket(bucket: View): boolean {
    return obj(bucket.props.tags)["paas.tsuru.io/purpose"] === "thanos-long-term-storage";
}

function hasEnabledRule(rules: unknown): PolicyCheck {
    if (isUnknown(rules)) return "unknown";
    const enabled = arr(rules).filter(isObject).filter((rule) => rule.status === "Enabled" || rule.enabled === true);
    if (enabled.some((rule) => isUnknown(rule.status))) return "unknown";
    return enabled.some((rule) => rule.expiration !== undefined || rule.abortIncompleteMultipartUpload !== undefined || rule.abortIncompleteMultipartUploadDays !== undefined || rule.noncurrentVersionExpiration !== undefined)
        ? "ok"
        : "missing";
}

export const s3Lifecycle = stackPolicy(
    {
        name: "s3-bucket-lifecycle",
        description: "Every S3 bucket has an enabled lifecycle rule (expiry past the Thanos retention, abort of incomplete uploads).",
        enforcementLevel: "advisory",
        severity: "low",
        remediationSteps: `Add an aws.s3.BucketLifecycleConfiguration (ThanosBucket derives the expiry from ${bucketKey}.lifecycleMarginDays and prometheus-paas:thanos.compactor retention).`,
    },
    (graph) => {
        const violations: Violation[] = [];
        for (const bucket of graph.ofType(...s3Types.buckets)) {
            const results = [...companions(graph, bucket, s3Types.lifecycle).map((config) => hasEnabledRule(config.props.rules)), hasEnabledRule(bucket.props.lifecycleRules)];
            if (results.includes("ok") || results.includes("unknown")) continue;
            violations.push({
                urn: bucket.urn,
                message:
                    `${bucketLabel(bucket)} has no enabled lifecycle rule: add a BucketLifecycleConfiguration that aborts incomplete multipart uploads` +
                    (isThanosBucket(bucket) ? ` and expires objects past the Thanos retention (tune with ${bucketKey}.lifecycleMarginDays).` : " and expires what is no longer needed."),
            });
        }
        return violations;
    },
);

export const efsEncrypted = resourcePolicy(
    {
        name: "efs-encrypted-at-rest",
        description: "EFS file systems are encrypted at rest.",
        enforcementLevel: "mandatory",
        severity: "high",
        remediationSteps: "Set encrypted: true on the aws.efs.FileSystem (optionally kmsKeyId); encryption at rest cannot be turned on later, so the file system is replaced.",
    },
    (view) => {
        if (view.type !== "aws:efs/fileSystem:FileSystem" || isUnknown(view.props.encrypted)) return [];
        return view.props.encrypted === true ? [] : [`${describe(view)} is not encrypted at rest: set encrypted: true (and kmsKeyId for a customer-managed key).`];
    },
);

export const ecsEfsTransitEncryption = resourcePolicy(
    {
        name: "ecs-efs-transit-encryption",
        description: "ECS task volumes backed by EFS use TLS in transit.",
        enforcementLevel: "mandatory",
        severity: "high",
        remediationSteps: "Set volumes[].efsVolumeConfiguration.transitEncryption to \"ENABLED\" in the task definition.",
    },
    (view) => {
        if (view.type !== ecsTaskDefinitionType) return [];
        return arr(view.props.volumes)
            .filter(isObject)
            .filter((volume) => isObject(volume.efsVolumeConfiguration))
            .filter((volume) => !isUnknown(volume.efsVolumeConfiguration.transitEncryption) && volume.efsVolumeConfiguration.transitEncryption !== "ENABLED")
            .map((volume) => `${describe(view)} volume '${str(volume.name) ?? "(unnamed)"}' mounts EFS without encryption in transit: set efsVolumeConfiguration.transitEncryption to "ENABLED".`);
    },
);

export const tsdbNotOnNfs = resourcePolicy(
    {
        name: "prometheus-tsdb-not-on-nfs",
        description: "The Prometheus TSDB (--storage.tsdb.path) is never on EFS/NFS, which Prometheus does not support.",
        enforcementLevel: "mandatory",
        severity: "critical",
        remediationSteps: "Keep the TSDB on task-local or in-memory storage (Kubernetes emptyDir medium Memory, ECS ephemeral storage or linuxParameters.tmpfs); use EFS for configuration and rules only.",
    },
    (view) => {
        const workload = workloadOf(view);
        if (workload === undefined) return [];
        const messages: string[] = [];
        for (const container of workload.containers.filter(isPrometheus)) {
            const path = flagValue(container.tokens, "--storage.tsdb.path");
            if (path === undefined) continue;
            const volume = volumeAt(workload, container, path);
            if (volume !== undefined && (volume.kind === "efs" || volume.kind === "nfs")) {
                messages.push(
                    `${where(workload, container)} keeps its TSDB (${path}) on volume '${volume.name}', which is EFS/NFS: Prometheus does not support NFS and corrupts its TSDB there. ` +
                        `Mount task-local storage at ${path} (ECS ephemeral storage or linuxParameters.tmpfs; Kubernetes emptyDir medium Memory) and keep EFS for config and rules.`,
                );
            }
        }
        return messages;
    },
);
