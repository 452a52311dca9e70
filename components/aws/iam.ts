/**
 * Pure IAM policy documents: the tasks' trust policy and permissions (execution role, EFS client, configuration
 * read, ECS discovery) and the resource policies of the file system and the buckets. Three document kinds with
 * three grammars, so a statement cannot carry a field IAM rejects in its kind. No Pulumi imports.
 */

/** Condition operator → condition key → value(s), as IAM's Condition element. */
export type ConditionBlock = Record<string, Record<string, string | string[]>>;

export type Principal = "*" | { readonly AWS?: string | string[]; readonly Service?: string | string[]; readonly Federated?: string | string[] };

/** A statement of an identity-based (permission) policy: what its holder may do, and on which resources. */
export interface PermissionStatement {
    Sid?: string;
    Effect: "Allow" | "Deny";
    Principal?: never;
    Action: string[];
    Resource: string | string[];
    Condition?: ConditionBlock;
}

/** A statement of a role's trust policy: who may assume it. IAM rejects a Resource here (MalformedPolicyDocument). */
export interface TrustStatement {
    Sid?: string;
    Effect: "Allow" | "Deny";
    Principal: Principal;
    Action: string[];
    Resource?: never;
    Condition?: ConditionBlock;
}

/** A statement of a resource-based policy (file system, bucket): who may act on the resource it is attached to. */
export interface ResourcePolicyStatement {
    Sid?: string;
    Effect: "Allow" | "Deny";
    Principal: Principal;
    Action: string[];
    Resource: string | string[];
    Condition?: ConditionBlock;
}

export interface PolicyDocument<S> {
    Version: "2012-10-17";
    Statement: S[];
}

export type PermissionPolicy = PolicyDocument<PermissionStatement>;
export type TrustPolicy = PolicyDocument<TrustStatement>;
export type ResourcePolicy = PolicyDocument<ResourcePolicyStatement>;

export function policyDocument<S extends PermissionStatement | TrustStatement | ResourcePolicyStatement>(statements: S[]): PolicyDocument<S> {
    return { Version: "2012-10-17", Statement: statements };
}

/** Trust policy of every task role and execution role; the account condition guards against the confused deputy. */
export function ecsTasksTrustPolicy(accountId: string): TrustPolicy {
    return policyDocument<TrustStatement>([{
        Effect: "Allow",
        Principal: { Service: "ecs-tasks.amazonaws.com" },
        Action: ["sts:AssumeRole"],
        Condition: { StringEquals: { "aws:SourceAccount": accountId } },
    }]);
}

/**
 * The secret a container `secrets[].valueFrom` names, without the `:json-key:version-stage:version-id`
 * suffix ECS accepts: IAM authorizes the secret itself.
 */
export function secretPolicyResource(valueFrom: string): string {
    return valueFrom.split(":").slice(0, 7).join(":");
}

/** The private ECR repository of an image reference, or undefined for a public registry (quay.io, public.ecr.aws). */
export function ecrRepositoryArn(image: string, partition = "aws"): string | undefined {
    const match = /^([0-9]{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/([^:@]+)/.exec(image);
    return match ? `arn:${partition}:ecr:${match[2]}:${match[1]}:repository/${match[3]}` : undefined;
}

export interface ExecutionRoleInput {
    /** ARNs of the log groups the task's containers write to. */
    readonly logGroupArns: readonly string[];
    /** `valueFrom` of every container secret (Secrets Manager). */
    readonly secretValueFroms: readonly string[];
    /** Every image of the task: only private ECR repositories need pull permissions. */
    readonly images: readonly string[];
}

/** Execution role: pull the task's images, write its logs, read its named secrets; nothing else. */
export function executionRoleStatements(input: ExecutionRoleInput): PermissionStatement[] {
    const statements: PermissionStatement[] = [{
        Sid: "WriteLogs",
        Effect: "Allow",
        Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
        Resource: input.logGroupArns.map((arn) => `${arn}:*`),
    }];
    const repositories = [...new Set(input.images.map((image) => ecrRepositoryArn(image)).filter((arn): arn is string => arn !== undefined))].sort();
    if (repositories.length > 0) {
        statements.push(
            { Sid: "EcrLogin", Effect: "Allow", Action: ["ecr:GetAuthorizationToken"], Resource: "*" },
            { Sid: "PullImages", Effect: "Allow", Action: ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], Resource: repositories },
        );
    }
    const secrets = [...new Set(input.secretValueFroms.map(secretPolicyResource))].sort();
    if (secrets.length > 0) {
        statements.push({ Sid: "ReadNamedSecrets", Effect: "Allow", Action: ["secretsmanager:GetSecretValue"], Resource: secrets });
    }
    return statements;
}

export interface EfsClientInput {
    readonly fileSystemArn: string;
    readonly accessPointArn: string;
    /** Only the tasks that copy configuration onto EFS write. */
    readonly write: boolean;
}

/** Mount (and write) the file system only through the component's own access point. */
export function efsClientStatements(input: EfsClientInput): PermissionStatement[] {
    return [{
        Sid: input.write ? "MountConfigAccessPointReadWrite" : "MountConfigAccessPointReadOnly",
        Effect: "Allow",
        Action: input.write ? ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"] : ["elasticfilesystem:ClientMount"],
        Resource: input.fileSystemArn,
        Condition: { StringEquals: { "elasticfilesystem:AccessPointArn": input.accessPointArn } },
    }];
}

/** File system policy: no access without TLS, and none except through an access point. */
export function efsFileSystemPolicy(fileSystemArn: string): ResourcePolicy {
    return policyDocument<ResourcePolicyStatement>([
        {
            Sid: "DenyInsecureTransport",
            Effect: "Deny",
            Principal: { AWS: "*" },
            Action: ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite", "elasticfilesystem:ClientRootAccess"],
            Resource: fileSystemArn,
            Condition: { Bool: { "aws:SecureTransport": "false" } },
        },
        {
            Sid: "DenyWithoutAccessPoint",
            Effect: "Deny",
            Principal: { AWS: "*" },
            Action: ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite", "elasticfilesystem:ClientRootAccess"],
            Resource: fileSystemArn,
            Condition: { Null: { "elasticfilesystem:AccessPointArn": "true" } },
        },
    ]);
}

/** Read one prefix of the configuration bucket (the component's published files). */
export function configReadStatements(input: { bucketArn: string; prefix: string }): PermissionStatement[] {
    const prefix = input.prefix.replace(/\/?$/, "/");
    return [
        {
            Sid: "ListOwnConfigPrefix",
            Effect: "Allow",
            Action: ["s3:ListBucket"],
            Resource: input.bucketArn,
            Condition: { StringLike: { "s3:prefix": [prefix, `${prefix}*`] } },
        },
        { Sid: "ReadOwnConfigObjects", Effect: "Allow", Action: ["s3:GetObject"], Resource: `${input.bucketArn}/${prefix}*` },
    ];
}

export interface EcsDiscoveryInput {
    readonly partition: string;
    readonly region: string;
    readonly accountId: string;
    /** Clusters whose tasks the discovery container lists. */
    readonly clusters: readonly string[];
}

/** What prometheus-ecs-discovery calls with -config.cluster, limited to the named clusters where IAM allows it. */
export function ecsDiscoveryStatements(input: EcsDiscoveryInput): PermissionStatement[] {
    if (input.clusters.length === 0) return [];
    const arn = (resource: string) => `arn:${input.partition}:ecs:${input.region}:${input.accountId}:${resource}`;
    const clusterArns = input.clusters.map((cluster) => arn(`cluster/${cluster}`));
    return [
        { Sid: "DescribeDiscoveredClusters", Effect: "Allow", Action: ["ecs:DescribeClusters"], Resource: clusterArns },
        {
            Sid: "ListTasksOfDiscoveredClusters",
            Effect: "Allow",
            Action: ["ecs:ListTasks"],
            Resource: "*",
            Condition: { ArnEquals: { "ecs:cluster": clusterArns } },
        },
        {
            Sid: "DescribeTasksOfDiscoveredClusters",
            Effect: "Allow",
            Action: ["ecs:DescribeTasks", "ecs:DescribeContainerInstances"],
            Resource: input.clusters.flatMap((cluster) => [arn(`task/${cluster}/*`), arn(`container-instance/${cluster}/*`)]),
        },
        // Task definitions and EC2 instances carry no cluster: IAM cannot scope these two reads.
        { Sid: "DescribeTaskDefinitionsAndHosts", Effect: "Allow", Action: ["ecs:DescribeTaskDefinition", "ec2:DescribeInstances"], Resource: "*" },
    ];
}

/** Bucket policy: every request without TLS is denied. */
export function tlsOnlyBucketPolicy(bucketArn: string): ResourcePolicy {
    return policyDocument<ResourcePolicyStatement>([{
        Sid: "DenyInsecureTransport",
        Effect: "Deny",
        Principal: "*",
        Action: ["s3:*"],
        Resource: [bucketArn, `${bucketArn}/*`],
        Condition: { Bool: { "aws:SecureTransport": "false" } },
    }]);
}
