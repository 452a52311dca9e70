/**
 * Pure IAM policy documents for the ECS tasks: execution role, EFS client, configuration read, ECS discovery.
 * No Pulumi imports: the component tests and the least-privilege tests read these objects directly.
 */

export interface PolicyStatement {
    Sid?: string;
    Effect: "Allow" | "Deny";
    Principal?: Record<string, string | string[]> | "*";
    Action: string[];
    Resource: string | string[];
    Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
    Version: "2012-10-17";
    Statement: PolicyStatement[];
}

export function policyDocument(statements: PolicyStatement[]): PolicyDocument {
    return { Version: "2012-10-17", Statement: statements };
}

/**
 * Actions AWS does not authorize per resource: they may (only they may) use Resource "*".
 * https://docs.aws.amazon.com/service-authorization/latest/reference/ lists them without resource types.
 */
export const actionsWithoutResourceScope: ReadonlySet<string> = new Set([
    "ecr:GetAuthorizationToken",
    "ecs:DescribeTaskDefinition",
    "ecs:ListTasks",
    "ec2:DescribeInstances",
    "cloudwatch:GetMetricData",
    "cloudwatch:GetMetricStatistics",
    "cloudwatch:ListMetrics",
    "tag:GetResources",
    "iam:ListAccountAliases",
    "apigateway:GET",
    "autoscaling:DescribeAutoScalingGroups",
    "ec2:DescribeTransitGatewayAttachments",
    "ec2:DescribeSpotFleetRequests",
    "shield:ListProtections",
    "storagegateway:ListGateways",
    "storagegateway:ListTagsForResource",
    "aps:ListWorkspaces",
    "dms:DescribeReplicationInstances",
    "dms:DescribeReplicationTasks",
]);

/** Trust policy of every task role and execution role; the account condition guards against the confused deputy. */
export function ecsTasksAssumeRolePolicy(accountId: string): PolicyDocument {
    return policyDocument([{
        Effect: "Allow",
        Principal: { Service: "ecs-tasks.amazonaws.com" },
        Action: ["sts:AssumeRole"],
        Resource: "*",
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
export function executionRoleStatements(input: ExecutionRoleInput): PolicyStatement[] {
    const statements: PolicyStatement[] = [{
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
export function efsClientStatements(input: EfsClientInput): PolicyStatement[] {
    return [{
        Sid: input.write ? "MountConfigAccessPointReadWrite" : "MountConfigAccessPointReadOnly",
        Effect: "Allow",
        Action: input.write ? ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"] : ["elasticfilesystem:ClientMount"],
        Resource: input.fileSystemArn,
        Condition: { StringEquals: { "elasticfilesystem:AccessPointArn": input.accessPointArn } },
    }];
}

/** File system policy: no access without TLS, and none except through an access point. */
export function efsFileSystemPolicy(fileSystemArn: string): PolicyDocument {
    return policyDocument([
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
export function configReadStatements(input: { bucketArn: string; prefix: string }): PolicyStatement[] {
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
export function ecsDiscoveryStatements(input: EcsDiscoveryInput): PolicyStatement[] {
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
