import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { formerly } from "../aliases";
import { cloudMapHost } from "../aws/containers";
import {
    allowFromCidr,
    allowFromGroup,
    cloudMapService,
    EcsContext,
    EfsMount,
    executionRole,
    fargateService,
    fargateTaskDefinition,
    logGroup,
    runTaskCommand,
    securityGroup,
    taskRole,
} from "../aws/ecs";
import { efsVolume } from "../aws/efs";
import { configReadStatements, ecsDiscoveryStatements, efsClientStatements } from "../aws/iam";
import type { EcsInstanceConfig } from "../config/types";
import { thanosBucketStatements } from "../thanos/iam";
import { historyFrontDefaults, thanosPorts } from "../thanos/defaults";
import {
    configUpdateContainers,
    configUpdateStartedBy,
    discoveredClusters,
    EcsExporter,
    ecsPublishedFiles,
    ecsReplicaName,
    ecsVolumes,
    prometheusContainers,
    renderEcsInstanceFiles,
    webAuthSecretKeys,
} from "./ecs-spec";
import { prometheusWebPort } from "./defaults";
import type { ExternalLabelContext } from "./render";
import { renderInstanceAuthFiles } from "./web-auth";

/** An exporter the instance scrapes; the instance admits itself to the exporter's security group. */
export interface EcsExporterTarget extends EcsExporter {
    readonly securityGroupId: pulumi.Input<string>;
}

export interface EcsPrometheusArgs {
    /** The validated instance (platform ecs): name, plan, team, apps (ECS families per cluster), replicas, labels, rules. */
    readonly instance: EcsInstanceConfig;
    /** Stack-wide external label values and the replica label name. */
    readonly labels: ExternalLabelContext;
    /** Alertmanager URLs the instance sends alerts to. */
    readonly alertmanagers: readonly string[];
    /** Cluster, network, Cloud Map namespace and configuration bucket shared by the ECS components. */
    readonly ecs: EcsContext;
    /** The instance's access point on the configuration file system. */
    readonly efs: EfsMount;
    /** objstore.yml of the sidecar (task-role authentication, no static key). */
    readonly objstoreConfig: pulumi.Input<string>;
    /** The Thanos bucket the sidecar uploads to, for its task role. */
    readonly thanosBucket: { readonly arn: pulumi.Input<string>; readonly kmsKeyArn?: string };
    /** Exporters (e.g. YACE) this instance scrapes. */
    readonly exporters: readonly EcsExporterTarget[];
    /** The instance's password (its user is the instance's name): every endpoint of its Prometheus asks for it. */
    readonly password: pulumi.Input<string>;
    /** host:port of the tenants' Query (Cloud Map), which the instance's history front forwards to. */
    readonly tenantQueryAddress: string;
    /** Where Grafana runs (VPC peering): admitted to the instance's Prometheus and history front, for its datasources. */
    readonly grafanaCidrs: readonly string[];
}

/**
 * One tenant's Prometheus on ECS Fargate: one service per replica (the replica label must differ and stay stable),
 * TSDB on task storage, configuration published to S3 and copied onto EFS, Thanos sidecar registered in Cloud Map.
 */
export class EcsPrometheus extends pulumi.ComponentResource {
    /** Cloud Map name of the instance's tasks (every replica). */
    readonly host: string;
    /** StoreAPI endpoint of the sidecars for Thanos query (`dns+` resolves every replica). */
    readonly storeApiEndpoint: string;
    readonly url: string;
    /** The instance's history front: its tenant's data through the tenants' Query, with the instance's credentials. */
    readonly historyUrl: string;
    readonly securityGroupId: pulumi.Output<string>;
    /** Run after `pulumi up` changed the configuration: copies it onto EFS; the reloader then reloads Prometheus. */
    readonly configUpdateCommand: pulumi.Output<string>;

    constructor(name: string, args: EcsPrometheusArgs, opts?: pulumi.ComponentResourceOptions) {
        const { instance, ecs } = args;
        if (instance.platform !== "ecs") {
            throw new Error(`EcsPrometheus ${name}: instance '${instance.name}' has platform '${instance.platform}'; allowed: ecs`);
        }
        super("paas:prometheus:EcsPrometheus", name, {}, formerly("paas:prometheus:EcsInstance", opts));
        const child = { parent: this };
        const baseName = `prometheus-${instance.name}`;
        const family = `prometheus-${ecs.environment}-${instance.name}`;
        const configPrefix = `instances/${instance.name}/`;
        this.host = cloudMapHost(baseName, ecs.namespaceName);
        this.storeApiEndpoint = `dns+${this.host}:${thanosPorts.grpc}`;
        this.url = `http://${this.host}:${prometheusWebPort}`;
        this.historyUrl = `http://${this.host}:${historyFrontDefaults.httpPort}`;

        const rendered = renderEcsInstanceFiles({ instance, labels: args.labels, alertmanagers: args.alertmanagers, exporters: args.exporters });
        const published = ecsPublishedFiles(rendered, args.objstoreConfig);
        const objects = Object.entries(published).map(([file, content]) => new aws.s3.BucketObjectv2(`${name}-${file.replace(/[/.]/g, "-")}`, {
            bucket: ecs.configBucket.name,
            key: `${configPrefix}${file}`,
            content,
            contentType: "application/yaml",
        }, child));

        const logs = logGroup(`${name}-logs`, `/paas/${ecs.environment}/prometheus/${instance.name}`, ecs, child);

        const group = securityGroup(`${name}-tasks`, `Prometheus ${instance.name}: StoreAPI to Thanos query only`, ecs, child);
        const nfs = allowFromGroup(`${name}-nfs`, { securityGroupId: args.efs.securityGroupId, from: group.id, port: 2049, description: `NFS from prometheus ${instance.name}` }, child);
        args.grafanaCidrs.forEach((cidr, index) => {
            for (const [port, what] of [[prometheusWebPort, "Prometheus"], [historyFrontDefaults.httpPort, "history front"]] as const) {
                allowFromCidr(`${name}-grafana-${port}-${index}`, { securityGroupId: group.id, cidr, port, description: `${what} of ${instance.name} from Grafana (${cidr})` }, child);
            }
        });
        for (const exporter of args.exporters) {
            allowFromGroup(`${name}-scrapes-${exporter.jobName}`, { securityGroupId: exporter.securityGroupId, from: group.id, port: exporter.port, description: `scrape from prometheus ${instance.name}` }, child);
        }

        const bucketStatements = pulumi.output(args.thanosBucket.arn).apply((bucketArn) => thanosBucketStatements("sidecar", { bucketArn, kmsKeyArn: args.thanosBucket.kmsKeyArn }));
        const configStatements = pulumi.output(ecs.configBucket.arn).apply((bucketArn) => configReadStatements({ bucketArn, prefix: configPrefix }));
        const efsWrite = pulumi.all([args.efs.fileSystemArn, args.efs.accessPointArn]).apply(([fileSystemArn, accessPointArn]) => efsClientStatements({ fileSystemArn, accessPointArn, write: true }));
        const discovery = pulumi.all([ecs.partition, ecs.accountId]).apply(([partition, accountId]) =>
            ecsDiscoveryStatements({ partition, region: ecs.region, accountId, clusters: discoveredClusters(instance) }));
        const role = taskRole(name, ecs, pulumi.all([bucketStatements, configStatements, efsWrite, discovery]).apply((parts) => parts.flat()), child);
        const updateRole = taskRole(`${name}-config-update`, ecs, pulumi.all([configStatements, efsWrite]).apply((parts) => parts.flat()), child);

        // The web config (bcrypt hash) and the password, read by config-render as task secrets, never plain environment.
        const password = pulumi.secret(args.password);
        const webAuthSecret = new aws.secretsmanager.Secret(`${name}-web-auth`, {
            // A prefix, not a name: a deleted secret's name stays taken for its recovery window.
            namePrefix: `${family}-web-auth-`,
            description: `Web credentials of Prometheus ${instance.name} (${ecs.environment})`,
            recoveryWindowInDays: 7,
        }, child);
        const webAuthVersion = new aws.secretsmanager.SecretVersion(`${name}-web-auth`, {
            secretId: webAuthSecret.id,
            secretString: password.apply((value) => {
                const files = renderInstanceAuthFiles({ instanceName: instance.name, password: value, tenantQueryAddress: args.tenantQueryAddress });
                return JSON.stringify({ [webAuthSecretKeys.webConfig]: files.webConfig, [webAuthSecretKeys.password]: value, [webAuthSecretKeys.historyFront]: files.historyFront });
            }),
        }, child);

        const replicaContainers = Array.from({ length: instance.replicas }, (_, index) =>
            pulumi.all([logs.name, ecs.configBucket.name, webAuthSecret.arn, webAuthVersion.versionId]).apply(([logGroupName, configBucket, arn, versionId]) =>
                prometheusContainers({ instance, replicaName: ecsReplicaName(instance, index), region: ecs.region, logGroup: logGroupName, configBucket, configPrefix, webAuthSecret: { arn, versionId } })));
        const execution = executionRole(name, ecs, { logGroupArns: [logs.arn], containers: replicaContainers[0] }, child);
        const sharedVolume = efsVolume(ecsVolumes.shared, args.efs.fileSystemId, args.efs.accessPointId);
        const taskVolumes = [sharedVolume, { name: ecsVolumes.tsdb }, { name: ecsVolumes.configOut }, { name: ecsVolumes.fileSd }];

        const registry = cloudMapService(`${name}-discovery`, baseName, ecs, child);
        // Replicas in turn: each service waits for its deployment to complete, and the next replica's service depends
        // on it, so the engine updates replica N+1 only once replica N runs the new task (a failed or rolled-back
        // deployment stops the update there). The instance is never down, and at most one head is being flushed.
        let previousReplica: aws.ecs.Service | undefined;
        for (let index = 0; index < instance.replicas; index++) {
            const taskDefinition = fargateTaskDefinition(`${name}-${index}`, {
                family: `${family}-${index}`,
                containers: replicaContainers[index],
                taskRoleArn: role.arn,
                executionRoleArn: execution.arn,
                volumes: taskVolumes,
                ephemeralStorageGiB: ecs.capacity.prometheusStorageGiB,
            }, { ...child, dependsOn: objects });
            previousReplica = fargateService(`${name}-${index}`, ecs, {
                serviceName: `${baseName}-${index}`,
                taskDefinitionArn: taskDefinition.arn,
                desiredCount: 1,
                securityGroupIds: [group.id],
                // Spot interruptions would lose the un-uploaded head block.
                capacityProvider: "FARGATE",
                minimumHealthyPercent: 0,
                maximumPercent: 100,
                registryArn: registry.arn,
                waitForSteadyState: true,
            }, { ...child, dependsOn: [...args.efs.mountTargets, nfs, ...(previousReplica !== undefined ? [previousReplica] : [])] });
        }

        const update = fargateTaskDefinition(`${name}-config-update`, {
            family: `${family}-config-update`,
            containers: pulumi.all([logs.name, ecs.configBucket.name]).apply(([logGroupName, configBucket]) =>
                configUpdateContainers({ region: ecs.region, logGroup: logGroupName, configBucket, configPrefix })),
            taskRoleArn: updateRole.arn,
            executionRoleArn: execution.arn,
            volumes: [sharedVolume],
        }, child);

        this.securityGroupId = group.id;
        // The command names the published files' hash: it changes exactly when the files (or the task) change, which is
        // how the pipeline knows which instances to update after an `up`.
        const startedBy = pulumi.all(published).apply((files) => configUpdateStartedBy(files));
        this.configUpdateCommand = runTaskCommand(ecs, update.arn, group.id, startedBy);
        this.registerOutputs({ host: this.host, url: this.url, historyUrl: this.historyUrl, storeApiEndpoint: this.storeApiEndpoint, configUpdateCommand: this.configUpdateCommand });
    }
}
