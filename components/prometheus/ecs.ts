import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import {
    allowFromGroup,
    cloudMapHost,
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
import {
    awsLogs,
    configSyncContainer,
    ContainerDefinition,
    cpuUnits,
    httpHealthCheck,
    nobody,
    taskSizeFor,
} from "../aws/containers";
import { envsubstScript, shellQuote } from "../envsubst";
import { configReadStatements, ecsDiscoveryStatements, efsClientStatements } from "../aws/iam";
import type { InstanceConfig } from "../config";
import { image } from "../images";
import { thanosBucketStatements } from "../thanos/iam";
import { sidecarArgs, thanosGrpcPort, thanosHttpPort } from "../thanos/render";
import {
    dnsExporterScrapeJob,
    ecsAppScrapeJob,
    ExternalLabelContext,
    prometheusArgs,
    prometheusWebPort,
    renderInstanceFiles,
    scrapePasswordEnv,
} from "./render";

/** Environment variable carrying the replica label value; one ECS service (and task definition) per replica sets it. */
export const replicaEnv = "PROMETHEUS_REPLICA";
export const ecsReplicaPlaceholder = `$(${replicaEnv})`;

/** Container paths of the Prometheus task. Only `shared` is on EFS, and Prometheus mounts it read-only. */
export const ecsPaths = {
    tsdb: "/prometheus",
    shared: "/etc/prometheus/shared",
    configOut: "/etc/prometheus/config_out",
    fileSd: "/etc/prometheus/file_sd",
    syncTarget: "/mnt/config",
} as const;
const files = {
    template: `${ecsPaths.shared}/prometheus.yml.tmpl`,
    configOut: `${ecsPaths.configOut}/prometheus.yml`,
    rules: `${ecsPaths.shared}/rules`,
    objstore: `${ecsPaths.shared}/objstore.yml`,
};
const volumes = { shared: "shared-config", tsdb: "tsdb", configOut: "config-out", fileSd: "file-sd" } as const;

/** Where the discovery container of one ECS cluster writes its targets. */
export function ecsFileSdFile(cluster: string): string {
    return `${ecsPaths.fileSd}/ecs-${cluster}.yml`;
}

/** An exporter the instance scrapes by its Cloud Map name; the instance admits itself to the exporter's security group. */
export interface EcsExporterTarget {
    readonly jobName: string;
    readonly host: string;
    readonly port: number;
    readonly securityGroupId: pulumi.Input<string>;
}

export interface EcsInstanceFilesInput {
    readonly instance: InstanceConfig;
    readonly labels: ExternalLabelContext;
    readonly alertmanagers: readonly string[];
    readonly exporters: readonly Pick<EcsExporterTarget, "jobName" | "host" | "port">[];
}

/** prometheus.yml template (replica label and scrape passwords as `$(VAR)`) and rule files of an ECS instance. */
export function renderEcsInstanceFiles(input: EcsInstanceFilesInput) {
    const { instance } = input;
    return renderInstanceFiles({
        instance,
        labels: input.labels,
        alertmanagers: input.alertmanagers,
        replicaValue: ecsReplicaPlaceholder,
        scrapeJobs: [
            ...instance.apps.map((app) => ecsAppScrapeJob(app, instance.plan, ecsFileSdFile(app.namespace))),
            ...input.exporters.map((exporter) => dnsExporterScrapeJob(exporter.jobName, exporter.host, exporter.port, instance.plan)),
        ],
        ruleDir: files.rules,
    });
}

/** ECS clusters the instance discovers tasks in: its apps' `namespace`. */
export function discoveredClusters(instance: InstanceConfig): string[] {
    return [...new Set(instance.apps.map((app) => app.namespace))].sort();
}

/** Container `secrets` of the scrape passwords, from Secrets Manager. */
export function scrapeSecrets(instance: InstanceConfig): { name: string; valueFrom: string }[] {
    return instance.apps.flatMap((app) => (app.basicAuth ? [{ name: scrapePasswordEnv(app.name), valueFrom: app.basicAuth.passwordSecretArn }] : []));
}

/** Replica label value of replica `index`, the same form as the Kubernetes pod names. */
export function ecsReplicaName(instance: InstanceConfig, index: number): string {
    return `prometheus-${instance.name}-${index}`;
}

export interface PrometheusContainersInput {
    readonly instance: InstanceConfig;
    readonly replicaName: string;
    readonly region: string;
    readonly logGroup: string;
    readonly configBucket: string;
    readonly configPrefix: string;
}

/**
 * The containers of one Prometheus replica task, in start order:
 * config-sync (S3 -> EFS) -> config-render ($(VAR) substitution onto task storage, ownership) -> prometheus,
 * thanos-sidecar and one ECS discovery per cluster.
 */
export function prometheusContainers(input: PrometheusContainersInput): ContainerDefinition[] {
    const { instance } = input;
    const logs = (prefix: string) => awsLogs(input.logGroup, input.region, prefix);
    const replica = [{ name: replicaEnv, value: input.replicaName }];
    const secrets = scrapeSecrets(instance);
    const clusters = discoveredClusters(instance);
    const localDirs = [ecsPaths.tsdb, ecsPaths.configOut, ecsPaths.fileSd];

    const sync = configSyncContainer({
        image: image("awsCli"),
        region: input.region,
        bucket: input.configBucket,
        prefix: input.configPrefix,
        volume: volumes.shared,
        mountPath: ecsPaths.syncTarget,
        logGroup: input.logGroup,
    });
    const render: ContainerDefinition = {
        name: "config-render",
        image: image("busybox"),
        essential: false,
        // Root only to hand the task-local volumes to nobody; the EFS access point maps it to nobody anyway.
        user: "0",
        command: ["sh", "-c", `set -eu; ${envsubstScript(files.template, files.configOut)}; chown -R ${nobody.user} ${localDirs.map(shellQuote).join(" ")}`],
        environment: replica,
        ...(secrets.length > 0 ? { secrets } : {}),
        cpu: 32,
        memory: 64,
        // COMPLETE, not SUCCESS: if S3 is unreachable the last synced copy on EFS still starts the task.
        dependsOn: [{ containerName: sync.name, condition: "COMPLETE" }],
        mountPoints: [
            { sourceVolume: volumes.shared, containerPath: ecsPaths.shared, readOnly: true },
            { sourceVolume: volumes.configOut, containerPath: ecsPaths.configOut, readOnly: false },
            { sourceVolume: volumes.tsdb, containerPath: ecsPaths.tsdb, readOnly: false },
            { sourceVolume: volumes.fileSd, containerPath: ecsPaths.fileSd, readOnly: false },
        ],
        logConfiguration: logs("config-render"),
    };
    const rendered = { containerName: render.name, condition: "SUCCESS" as const };
    const prometheus: ContainerDefinition = {
        name: "prometheus",
        image: image("prometheus"),
        essential: true,
        user: nobody.user,
        command: prometheusArgs({ configFile: files.configOut, tsdbPath: ecsPaths.tsdb, plan: instance.plan }),
        cpu: cpuUnits(instance.plan.cpu),
        // On ECS the TSDB is on task storage, not tmpfs: the plan's tmpfs does not count against memory.
        memory: instance.plan.memoryMiB,
        portMappings: [{ containerPort: prometheusWebPort, protocol: "tcp", name: "web" }],
        dependsOn: [rendered],
        healthCheck: httpHealthCheck(prometheusWebPort, "/-/healthy", 120),
        mountPoints: [
            { sourceVolume: volumes.tsdb, containerPath: ecsPaths.tsdb, readOnly: false },
            { sourceVolume: volumes.configOut, containerPath: ecsPaths.configOut, readOnly: true },
            { sourceVolume: volumes.shared, containerPath: ecsPaths.shared, readOnly: true },
            { sourceVolume: volumes.fileSd, containerPath: ecsPaths.fileSd, readOnly: true },
        ],
        readonlyRootFilesystem: true,
        stopTimeout: 120,
        logConfiguration: logs("prometheus"),
    };
    const sidecar: ContainerDefinition = {
        name: "thanos-sidecar",
        image: image("thanos"),
        essential: true,
        user: nobody.user,
        command: sidecarArgs({ tsdbPath: ecsPaths.tsdb, objstoreFile: files.objstore, configTemplate: files.template, configOut: files.configOut, ruleDir: files.rules }),
        environment: replica,
        ...(secrets.length > 0 ? { secrets } : {}),
        cpu: 64,
        memory: 512,
        portMappings: [
            { containerPort: thanosGrpcPort, protocol: "tcp", name: "grpc" },
            { containerPort: thanosHttpPort, protocol: "tcp", name: "sidecar-http" },
        ],
        dependsOn: [rendered, { containerName: prometheus.name, condition: "START" }],
        healthCheck: httpHealthCheck(thanosHttpPort, "/-/healthy"),
        mountPoints: [
            { sourceVolume: volumes.tsdb, containerPath: ecsPaths.tsdb, readOnly: false },
            { sourceVolume: volumes.shared, containerPath: ecsPaths.shared, readOnly: true },
            { sourceVolume: volumes.configOut, containerPath: ecsPaths.configOut, readOnly: false },
        ],
        readonlyRootFilesystem: true,
        stopTimeout: 60,
        logConfiguration: logs("thanos-sidecar"),
    };
    const discovery = clusters.map((cluster): ContainerDefinition => ({
        name: `ecs-discovery-${cluster}`,
        image: image("ecsDiscovery"),
        // A crash only leaves targets stale; it must not restart the task and lose the un-uploaded head block.
        essential: false,
        user: nobody.user,
        command: [`-config.cluster=${cluster}`, `-config.write-to=${ecsFileSdFile(cluster)}`, "-config.scrape-interval=1m"],
        environment: [{ name: "AWS_REGION", value: input.region }],
        cpu: 16,
        memory: 64,
        dependsOn: [rendered],
        mountPoints: [{ sourceVolume: volumes.fileSd, containerPath: ecsPaths.fileSd, readOnly: false }],
        readonlyRootFilesystem: true,
        logConfiguration: logs(`ecs-discovery-${cluster}`),
    }));
    return [sync, render, prometheus, sidecar, ...discovery];
}

export interface EcsPrometheusArgs {
    /** The validated instance (platform ecs): name, plan, team, apps (ECS families per cluster), replicas, labels, rules. */
    readonly instance: InstanceConfig;
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
}

/**
 * One tenant's Prometheus on ECS Fargate: one service per replica (the replica label must differ and stay stable),
 * TSDB on task storage, configuration published to S3 and copied onto EFS, Thanos sidecar registered in Cloud Map.
 */
export class EcsPrometheus extends pulumi.ComponentResource {
    /** Cloud Map name of the instance's tasks (every replica). */
    readonly host: string;
    /** StoreAPI endpoint of the sidecars for Thanos query (`dns+` resolves every replica). */
    readonly storeEndpoint: string;
    readonly url: string;
    readonly securityGroupId: pulumi.Output<string>;
    readonly configUpdateTaskDefinitionArn: pulumi.Output<string>;
    /** Run after `pulumi up` changed the configuration: copies it onto EFS; the reloader then reloads Prometheus. */
    readonly configUpdateCommand: pulumi.Output<string>;

    constructor(name: string, args: EcsPrometheusArgs, opts?: pulumi.ComponentResourceOptions) {
        const { instance, ecs } = args;
        if (instance.platform !== "ecs") {
            throw new Error(`EcsPrometheus ${name}: instance '${instance.name}' has platform '${instance.platform}'; allowed: ecs`);
        }
        super("paas:prometheus:EcsInstance", name, {}, opts);
        const child = { parent: this };
        const baseName = `prometheus-${instance.name}`;
        const family = `prometheus-${ecs.environment}-${instance.name}`;
        const configPrefix = `instances/${instance.name}/`;
        this.host = cloudMapHost(baseName, ecs.namespaceName);
        this.storeEndpoint = `dns+${this.host}:${thanosGrpcPort}`;
        this.url = `http://${this.host}:${prometheusWebPort}`;

        const rendered = renderEcsInstanceFiles({ instance, labels: args.labels, alertmanagers: args.alertmanagers, exporters: args.exporters });
        const published: Record<string, pulumi.Input<string>> = {
            "prometheus.yml.tmpl": rendered.prometheusYml,
            "objstore.yml": args.objstoreConfig,
            ...Object.fromEntries(Object.entries(rendered.ruleFiles).map(([file, content]) => [`rules/${file}`, content])),
        };
        const objects = Object.entries(published).map(([file, content]) => new aws.s3.BucketObjectv2(`${name}-${file.replace(/[/.]/g, "-")}`, {
            bucket: ecs.configBucket.name,
            key: `${configPrefix}${file}`,
            content,
            contentType: "application/yaml",
        }, child));

        const logs = logGroup(`${name}-logs`, `/paas/${ecs.environment}/prometheus/${instance.name}`, ecs, child);

        const group = securityGroup(`${name}-tasks`, `Prometheus ${instance.name}: StoreAPI to Thanos query only`, ecs, child);
        allowFromGroup(`${name}-nfs`, { securityGroupId: args.efs.securityGroupId, from: group.id, port: 2049, description: `NFS from prometheus ${instance.name}` }, child);
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

        const containersOf = (replicaName: string) => pulumi.all([logs.name, ecs.configBucket.name]).apply(([logGroupName, configBucket]) =>
            prometheusContainers({ instance, replicaName, region: ecs.region, logGroup: logGroupName, configBucket, configPrefix }));
        // Sizes and images do not depend on Outputs: compute them from a placeholder rendering.
        const template = prometheusContainers({ instance, replicaName: "x", region: ecs.region, logGroup: "x", configBucket: "x", configPrefix });
        const execution = executionRole(name, ecs, {
            logGroupArns: [logs.arn],
            secretValueFroms: scrapeSecrets(instance).map((secret) => secret.valueFrom),
            images: template.map((container) => container.image),
        }, child);
        const taskVolumes = [efsVolume(volumes.shared, args.efs.fileSystemId, args.efs.accessPointId), { name: volumes.tsdb }, { name: volumes.configOut }, { name: volumes.fileSd }];

        const registry = cloudMapService(`${name}-discovery`, baseName, ecs, child);
        for (let index = 0; index < instance.replicas; index++) {
            const taskDefinition = fargateTaskDefinition(`${name}-${index}`, {
                family: `${family}-${index}`,
                containers: containersOf(ecsReplicaName(instance, index)),
                size: taskSizeFor(template),
                taskRoleArn: role.arn,
                executionRoleArn: execution.arn,
                volumes: taskVolumes,
                ephemeralStorageGiB: ecs.capacity.prometheusStorageGiB,
            }, { ...child, dependsOn: objects });
            fargateService(`${name}-${index}`, ecs, {
                serviceName: `${baseName}-${index}`,
                taskDefinitionArn: taskDefinition.arn,
                desiredCount: 1,
                securityGroupIds: [group.id],
                // Spot interruptions would lose the un-uploaded head block.
                capacityProvider: "FARGATE",
                minimumHealthyPercent: 0,
                maximumPercent: 100,
                registryArn: registry.arn,
            }, child);
        }

        const updateContainers = pulumi.all([logs.name, ecs.configBucket.name]).apply(([logGroupName, configBucket]) => [configSyncContainer({
            image: image("awsCli"),
            region: ecs.region,
            bucket: configBucket,
            prefix: configPrefix,
            volume: volumes.shared,
            mountPath: ecsPaths.syncTarget,
            logGroup: logGroupName,
        }, "config-update")].map((container) => ({ ...container, essential: true })));
        const update = fargateTaskDefinition(`${name}-config-update`, {
            family: `${family}-config-update`,
            containers: updateContainers,
            size: { cpu: "256", memory: "512" },
            taskRoleArn: updateRole.arn,
            executionRoleArn: execution.arn,
            volumes: [efsVolume(volumes.shared, args.efs.fileSystemId, args.efs.accessPointId)],
        }, child);

        this.securityGroupId = group.id;
        this.configUpdateTaskDefinitionArn = update.arn;
        this.configUpdateCommand = runTaskCommand(ecs, update.arn, group.id);
        this.registerOutputs({ host: this.host, url: this.url, storeEndpoint: this.storeEndpoint, configUpdateCommand: this.configUpdateCommand });
    }
}
