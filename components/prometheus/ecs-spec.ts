/**
 * Pure builders of one ECS Prometheus instance: its rendered files and the container definitions of its replica
 * task and of its configuration update task. No Pulumi imports; components/prometheus/ecs.ts wires them.
 */
import { createHash } from "crypto";
import { awsLogs, configSyncContainer, configSyncSize, ContainerDefinition, ecsProcess, ecsResources, maxContainersPerTask, maxStopTimeoutSeconds, nobody, TaskDemand, taskDemand } from "../aws/containers";
import type { EcsInstanceConfig } from "../config/types";
import { envsubstScript, shellQuote } from "../envsubst";
import { image } from "../images";
import { historyFrontDefaults, thanosDefaults } from "../thanos/defaults";
import { sidecarArgs } from "../thanos/render";
import { historyFrontCommand } from "../thanos/tenancy";
import type { Plan } from "../plans";
import { ecsFlushResources, initStepResources, prometheusDefaults } from "./defaults";
import { flushCommand, flushDeadlineSeconds, flushFiles } from "./flush";
import {
    dnsExporterScrapeJob,
    ecsAppScrapeJob,
    ExternalLabelContext,
    prometheusArgs,
    promtoolCheckCommand,
    renderInstanceFiles,
    scrapePasswordEnv,
} from "./render";
import { renderClientConfig, webAuthPaths, webClientAuth, WebClientAuth } from "./web-auth";

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
/** Where the published files are, relative to the instance's prefix in the bucket and to the EFS access point. */
const published = { template: "prometheus.yml.tmpl", objstore: "objstore.yml", rules: "rules", flush: "flush" } as const;
const files = {
    template: `${ecsPaths.shared}/${published.template}`,
    configOut: `${ecsPaths.configOut}/prometheus.yml`,
    rules: `${ecsPaths.shared}/${published.rules}`,
    objstore: `${ecsPaths.shared}/${published.objstore}`,
    flush: `${ecsPaths.shared}/${published.flush}`,
};

/** Written at task start from the task's secrets, on task storage: never on EFS or in the config bucket. */
const webFiles = webAuthPaths(ecsPaths.configOut);

/** The instance's credentials as its containers read them. */
export function ecsWebClientAuth(instance: Pick<EcsInstanceConfig, "name">): WebClientAuth {
    return webClientAuth(instance.name, ecsPaths.configOut);
}

/** The JSON keys of an instance's web auth secret in Secrets Manager. */
export const webAuthSecretKeys = { webConfig: "webConfig", password: "password", historyFront: "historyFront" } as const;
/** The task secrets config-render writes into the web auth files. */
const webAuthEnv = { webConfig: "PROMETHEUS_WEB_CONFIG", password: "PROMETHEUS_PASSWORD", historyFront: "PROMETHEUS_HISTORY_FRONT" } as const;

/** The instance's web auth secret, as it reaches a replica task: one version of it, so both keys always match. */
export interface WebAuthSecretVersion {
    readonly arn: string;
    readonly versionId: string;
}

/**
 * Container `secrets` of the web config and password, pinned to one version of the secret: a new password is a new
 * task definition (so new tasks, which write the new files), never a running task whose files disagree.
 */
export function webAuthSecrets(secret: WebAuthSecretVersion): { name: string; valueFrom: string }[] {
    return (Object.keys(webAuthEnv) as (keyof typeof webAuthEnv)[]).map((key) => ({ name: webAuthEnv[key], valueFrom: `${secret.arn}:${webAuthSecretKeys[key]}::${secret.versionId}` }));
}

/** config-render's step that writes the web auth files from its secrets (printf: a shell builtin, no echo escapes). */
function writeWebAuthFiles(instance: EcsInstanceConfig): string {
    return [
        `printf '%s' "$${webAuthEnv.webConfig}" > ${shellQuote(webFiles.webConfig)}`,
        `printf '%s' "$${webAuthEnv.password}" > ${shellQuote(webFiles.password)}`,
        `printf '%s' "$${webAuthEnv.historyFront}" > ${shellQuote(webFiles.historyFront)}`,
        `printf '%s' ${shellQuote(renderClientConfig(ecsWebClientAuth(instance)))} > ${shellQuote(webFiles.client)}`,
        `chmod 0400 ${shellQuote(webFiles.webConfig)} ${shellQuote(webFiles.password)} ${shellQuote(webFiles.historyFront)}`,
    ].join("; ");
}

/** Task volumes: `shared` is the instance's EFS access point, the others task storage. */
export const ecsVolumes = { shared: "shared-config", tsdb: "tsdb", configOut: "config-out", fileSd: "file-sd" } as const;

/** Where the discovery container of one ECS cluster writes its targets. */
export function ecsFileSdFile(cluster: string): string {
    return `${ecsPaths.fileSd}/ecs-${cluster}.yml`;
}

/** An exporter the instance scrapes by its Cloud Map name. */
export interface EcsExporter {
    readonly jobName: string;
    readonly host: string;
    readonly port: number;
}

export interface EcsInstanceFilesInput {
    readonly instance: EcsInstanceConfig;
    readonly labels: ExternalLabelContext;
    readonly alertmanagers: readonly string[];
    readonly exporters: readonly EcsExporter[];
}

/** prometheus.yml template (replica label and scrape passwords as `$(VAR)`) and rule files of an ECS instance. */
export function renderEcsInstanceFiles(input: EcsInstanceFilesInput) {
    const { instance } = input;
    return renderInstanceFiles({
        instance,
        labels: input.labels,
        alertmanagers: input.alertmanagers,
        replicaValue: ecsReplicaPlaceholder,
        webAuth: ecsWebClientAuth(instance),
        scrapeJobs: [
            ...instance.apps.map((app) => ecsAppScrapeJob(app, instance.plan, ecsFileSdFile(app.cluster))),
            ...input.exporters.map((exporter) => dnsExporterScrapeJob(exporter.jobName, exporter.host, exporter.port, instance.plan)),
        ],
        ruleDir: files.rules,
    });
}

/**
 * The files an instance publishes to the configuration bucket, by key under its prefix: what config-sync copies onto
 * EFS. `objstore` is the sidecar's (and the flush's) bucket config, which the component knows only as an Output.
 */
export function ecsPublishedFiles<T>(rendered: ReturnType<typeof renderEcsInstanceFiles>, objstore: T): Record<string, string | T> {
    return {
        [published.template]: rendered.prometheusYml,
        [published.objstore]: objstore,
        ...Object.fromEntries(Object.entries(rendered.ruleFiles).map(([file, content]) => [`${published.rules}/${file}`, content])),
        ...Object.fromEntries(Object.entries(flushFiles(rendered.uploadLabels)).map(([file, content]) => [`${published.flush}/${file}`, content])),
    };
}

/** A replica task holds config-sync, config-render, Prometheus, the sidecar, the history front and the flush, then one discovery per cluster. */
export const maxDiscoveredClusters = maxContainersPerTask - 6;

/** Seconds the flush container gets beyond the flush's own deadline (the shell and the answer of the last request). */
const flushStopMarginSeconds = 5;

/**
 * The flush of a stopping task: the plan's deadline, capped so that the container's stopTimeout stays within
 * Fargate's 120 s. The cap cuts the deadline of the plans with the most tmpfs headroom (large, xlarge), which bounds
 * the head block far above what a 3 h head holds: their full head's flush is projected well under it
 * (`npm run bench:flush`), and a flush that runs out logs the blocks it could not confirm.
 */
export function ecsFlushBudget(plan: Pick<Plan, "tmpfsMiB" | "retentionSizeMiB">): { deadlineSeconds: number; stopTimeout: number } {
    const deadlineSeconds = Math.min(flushDeadlineSeconds(plan), maxStopTimeoutSeconds - flushStopMarginSeconds);
    return { deadlineSeconds, stopTimeout: deadlineSeconds + flushStopMarginSeconds };
}

/** ECS clusters the instance discovers tasks in: its apps' clusters. */
export function discoveredClusters(instance: EcsInstanceConfig): string[] {
    return [...new Set(instance.apps.map((app) => app.cluster))].sort();
}

/** Container `secrets` of the scrape passwords, from Secrets Manager. */
export function scrapeSecrets(instance: EcsInstanceConfig): { name: string; valueFrom: string }[] {
    return instance.apps.flatMap((app) => (app.basicAuth ? [{ name: scrapePasswordEnv(app.family), valueFrom: app.basicAuth.passwordSecretArn }] : []));
}

/** The containers of a replica task, by name. */
const containerNames = { sync: "config-sync", render: "config-render", prometheus: "prometheus", sidecar: "thanos-sidecar", history: "history", flush: "flush" } as const;
const discoveryContainerName = (cluster: string) => `ecs-discovery-${cluster}`;
/** One prometheus-ecs-discovery: a small Go process polling the ECS API once a minute. */
const discoverySize = { cpu: 16, memory: 64 } as const;

/**
 * What a replica task's containers reserve, from the same sizes prometheusContainers gives them (a unit test holds
 * the two together): the config's Fargate check, without building containers.
 */
export function prometheusTaskDemand(instance: EcsInstanceConfig): TaskDemand {
    return taskDemand([
        { name: containerNames.sync, ...configSyncSize },
        { name: containerNames.render, ...ecsResources(initStepResources) },
        { name: containerNames.prometheus, ...ecsResources(prometheusDefaults(instance.plan, "disk")) },
        { name: containerNames.sidecar, ...ecsResources(thanosDefaults.sidecar) },
        { name: containerNames.history, ...ecsResources(historyFrontDefaults) },
        { name: containerNames.flush, ...ecsResources(ecsFlushResources) },
        ...discoveredClusters(instance).map((cluster) => ({ name: discoveryContainerName(cluster), ...discoverySize })),
    ]);
}

/** Replica label value of replica `index`, the same form as the Kubernetes pod names. */
export function ecsReplicaName(instance: EcsInstanceConfig, index: number): string {
    return `prometheus-${instance.name}-${index}`;
}

/** Where an instance's published files are and where its tasks log. */
export interface InstanceConfigLocation {
    readonly region: string;
    readonly logGroup: string;
    readonly configBucket: string;
    readonly configPrefix: string;
}

/** The copy of the instance's published files onto its EFS access point. */
function instanceConfigSync(input: InstanceConfigLocation, name: string): ContainerDefinition {
    return configSyncContainer({
        image: image("awsCli"),
        region: input.region,
        bucket: input.configBucket,
        prefix: input.configPrefix,
        volume: ecsVolumes.shared,
        mountPath: ecsPaths.syncTarget,
        logGroup: input.logGroup,
    }, name);
}

export interface PrometheusContainersInput extends InstanceConfigLocation {
    readonly instance: EcsInstanceConfig;
    readonly replicaName: string;
    readonly webAuthSecret: WebAuthSecretVersion;
}

/**
 * The containers of one Prometheus replica task, in start order:
 * config-sync (S3 -> EFS) -> config-render ($(VAR) substitution onto task storage, ownership) -> prometheus,
 * thanos-sidecar, the tenant's history front, the flush and one ECS discovery per cluster.
 */
export function prometheusContainers(input: PrometheusContainersInput): ContainerDefinition[] {
    const { instance } = input;
    const logs = (prefix: string) => awsLogs(input.logGroup, input.region, prefix);
    const replica = [{ name: replicaEnv, value: input.replicaName }];
    const secrets = scrapeSecrets(instance);
    const clusters = discoveredClusters(instance);
    const localDirs = [ecsPaths.tsdb, ecsPaths.configOut, ecsPaths.fileSd];
    const prometheus = prometheusDefaults(instance.plan, "disk");
    const sidecar = thanosDefaults.sidecar;

    const sync = instanceConfigSync(input, containerNames.sync);
    const render: ContainerDefinition = {
        name: containerNames.render,
        image: image("busybox"),
        essential: false,
        // Root only to hand the task-local volumes to nobody; the EFS access point maps it to nobody anyway.
        user: "0",
        command: ["sh", "-c", `set -eu; ${envsubstScript(files.template, files.configOut)}; ${writeWebAuthFiles(instance)}; chown -R ${nobody.user} ${localDirs.map(shellQuote).join(" ")}`],
        environment: replica,
        secrets: [...secrets, ...webAuthSecrets(input.webAuthSecret)],
        ...ecsResources(initStepResources),
        // COMPLETE, not SUCCESS: if S3 is unreachable the last synced copy on EFS still starts the task.
        dependsOn: [{ containerName: sync.name, condition: "COMPLETE" }],
        mountPoints: [
            { sourceVolume: ecsVolumes.shared, containerPath: ecsPaths.shared, readOnly: true },
            { sourceVolume: ecsVolumes.configOut, containerPath: ecsPaths.configOut, readOnly: false },
            { sourceVolume: ecsVolumes.tsdb, containerPath: ecsPaths.tsdb, readOnly: false },
            { sourceVolume: ecsVolumes.fileSd, containerPath: ecsPaths.fileSd, readOnly: false },
        ],
        logConfiguration: logs(containerNames.render),
    };
    const rendered = { containerName: render.name, condition: "SUCCESS" as const };
    const prometheusContainer: ContainerDefinition = {
        name: containerNames.prometheus,
        image: image("prometheus"),
        essential: true,
        user: nobody.user,
        command: prometheusArgs({ configFile: files.configOut, tsdbPath: ecsPaths.tsdb, plan: instance.plan, webConfigFile: webFiles.webConfig }),
        // The TSDB is on task storage (never EFS): the plan's tmpfs does not count against memory.
        ...ecsResources(prometheus),
        portMappings: [{ containerPort: prometheus.httpPort, protocol: "tcp", name: "web" }],
        dependsOn: [rendered],
        // /-/healthy answers 401 without the instance's credentials: the check authenticates from the client file.
        ...ecsProcess(prometheus, promtoolCheckCommand("healthy", webFiles.client)),
        mountPoints: [
            { sourceVolume: ecsVolumes.tsdb, containerPath: ecsPaths.tsdb, readOnly: false },
            { sourceVolume: ecsVolumes.configOut, containerPath: ecsPaths.configOut, readOnly: true },
            { sourceVolume: ecsVolumes.shared, containerPath: ecsPaths.shared, readOnly: true },
            { sourceVolume: ecsVolumes.fileSd, containerPath: ecsPaths.fileSd, readOnly: true },
        ],
        readonlyRootFilesystem: true,
        logConfiguration: logs(containerNames.prometheus),
    };
    // Started once Prometheus is; at the task's stop, ECS stops them before Prometheus.
    const besidePrometheus = [rendered, { containerName: prometheusContainer.name, condition: "START" as const }];
    const sidecarContainer: ContainerDefinition = {
        name: containerNames.sidecar,
        image: image("thanos"),
        essential: true,
        user: nobody.user,
        command: sidecarArgs({ tsdbPath: ecsPaths.tsdb, objstoreFile: files.objstore, configTemplate: files.template, configOut: files.configOut, ruleDir: files.rules, prometheusHttpClientFile: webFiles.client }),
        environment: replica,
        ...(secrets.length > 0 ? { secrets } : {}),
        ...ecsResources(sidecar),
        portMappings: [
            { containerPort: sidecar.grpcPort!, protocol: "tcp", name: "grpc" },
            { containerPort: sidecar.httpPort, protocol: "tcp", name: "sidecar-http" },
        ],
        dependsOn: besidePrometheus,
        ...ecsProcess(sidecar),
        mountPoints: [
            { sourceVolume: ecsVolumes.tsdb, containerPath: ecsPaths.tsdb, readOnly: false },
            { sourceVolume: ecsVolumes.shared, containerPath: ecsPaths.shared, readOnly: true },
            { sourceVolume: ecsVolumes.configOut, containerPath: ecsPaths.configOut, readOnly: false },
        ],
        readonlyRootFilesystem: true,
        logConfiguration: logs(containerNames.sidecar),
    };
    // The tenant's history (components/thanos/tenancy.ts): not essential, so a crash never stops the task (and its
    // head); ECS restarts it in place. A new password is a new task definition, so its config never changes underneath.
    const history: ContainerDefinition = {
        name: containerNames.history,
        image: image("caddy"),
        essential: false,
        restartPolicy: { enabled: true },
        user: nobody.user,
        command: historyFrontCommand(webFiles.historyFront, { watch: false }),
        ...ecsResources(historyFrontDefaults),
        portMappings: [{ containerPort: historyFrontDefaults.httpPort, protocol: "tcp", name: "history" }],
        dependsOn: [rendered],
        ...ecsProcess(historyFrontDefaults),
        mountPoints: [{ sourceVolume: ecsVolumes.configOut, containerPath: ecsPaths.configOut, readOnly: true }],
        readonlyRootFilesystem: true,
        logConfiguration: logs(containerNames.history),
    };
    // The flush when ECS stops the task (a deployment, a scale-in, StopTask). It depends on Prometheus, and ECS stops a
    // container only after the containers that depend on it have stopped: Prometheus still serves the snapshot while
    // this runs, and gets its SIGTERM when this returns or its stopTimeout kills it. Not essential: its exit never
    // stops the task; a crash is restarted in place.
    const flushBudget = ecsFlushBudget(instance.plan);
    const flush: ContainerDefinition = {
        name: containerNames.flush,
        image: image("thanos"),
        essential: false,
        restartPolicy: { enabled: true },
        user: nobody.user,
        entryPoint: flushCommand({
            dir: files.flush,
            user: instance.name,
            passwordFile: webFiles.password,
            tsdbPath: ecsPaths.tsdb,
            objstoreFile: files.objstore,
            thanosBinary: "/bin/thanos",
            deadlineSeconds: flushBudget.deadlineSeconds,
            waitForTerm: true,
        }),
        // The upload labels name the replica by $(PROMETHEUS_REPLICA), as the sidecar's external labels do.
        environment: replica,
        ...ecsResources(ecsFlushResources),
        stopTimeout: flushBudget.stopTimeout,
        dependsOn: besidePrometheus,
        mountPoints: [
            { sourceVolume: ecsVolumes.tsdb, containerPath: ecsPaths.tsdb, readOnly: false },
            { sourceVolume: ecsVolumes.shared, containerPath: ecsPaths.shared, readOnly: true },
            { sourceVolume: ecsVolumes.configOut, containerPath: ecsPaths.configOut, readOnly: true },
        ],
        readonlyRootFilesystem: true,
        logConfiguration: logs(containerNames.flush),
    };
    const discovery = clusters.map((cluster): ContainerDefinition => ({
        name: discoveryContainerName(cluster),
        image: image("ecsDiscovery"),
        // A crash only leaves targets stale; it must not restart the task and lose the un-uploaded head block.
        essential: false,
        user: nobody.user,
        command: [`-config.cluster=${cluster}`, `-config.write-to=${ecsFileSdFile(cluster)}`, "-config.scrape-interval=1m"],
        environment: [{ name: "AWS_REGION", value: input.region }],
        ...discoverySize,
        dependsOn: [rendered],
        mountPoints: [{ sourceVolume: ecsVolumes.fileSd, containerPath: ecsPaths.fileSd, readOnly: false }],
        readonlyRootFilesystem: true,
        logConfiguration: logs(discoveryContainerName(cluster)),
    }));
    return [sync, render, prometheusContainer, sidecarContainer, history, flush, ...discovery];
}

/** The config update task's startedBy: `config-` and the start of the SHA-256 of the published files (name and content). */
export function configUpdateStartedBy(files: Readonly<Record<string, string>>): string {
    const hash = createHash("sha256");
    for (const name of Object.keys(files).sort()) hash.update(`${name}\0${files[name]}\0`);
    return `config-${hash.digest("hex").slice(0, 16)}`;
}

/** The one-off task run after a configuration change: the same copy as config-sync, as the task's only (essential) container. */
export function configUpdateContainers(input: InstanceConfigLocation): ContainerDefinition[] {
    return [{ ...instanceConfigSync(input, "config-update"), essential: true }];
}
