/**
 * Pure renderers for Prometheus: prometheus.yml, rule files and command-line flags.
 * Shared by the Kubernetes and ECS implementations; no Pulumi imports.
 */
import * as yaml from "js-yaml";
import type { EcsApp, InstanceConfig, JobTarget, KubernetesApp, RuleGroup } from "../config/types";
import { Plan, scrapeTimeout } from "../plans";
import { thanosPorts } from "../thanos/defaults";
import { prometheusSize } from "../units";
import { prometheusWebPort } from "./defaults";
import { renderUploadLabels } from "./flush";
import type { WebClientAuth } from "./web-auth";

/** One `scrape_configs` entry; only the fields this program emits. */
export interface ScrapeConfig {
    job_name: string;
    scrape_interval?: string;
    metrics_path?: string;
    scheme?: string;
    fallback_scrape_protocol?: "PrometheusText0.0.4";
    sample_limit?: number;
    label_limit?: number;
    target_limit?: number;
    label_name_length_limit?: number;
    label_value_length_limit?: number;
    basic_auth?: { username: string; password?: string; password_file?: string };
    static_configs?: { targets: string[]; labels?: Record<string, string> }[];
    file_sd_configs?: { files: string[]; refresh_interval?: string }[];
    dns_sd_configs?: { names: string[]; type: "A" | "SRV"; port?: number; refresh_interval?: string }[];
    kubernetes_sd_configs?: {
        role: string;
        namespaces?: { names: string[] };
        selectors?: { role: string; label?: string; field?: string }[];
    }[];
    relabel_configs?: RelabelConfig[];
}

export interface RelabelConfig {
    source_labels?: string[];
    regex?: string;
    target_label?: string;
    replacement?: string;
    action?: "replace" | "keep" | "drop" | "labelmap" | "labeldrop";
}

export interface PrometheusConfigInput {
    readonly externalLabels: Readonly<Record<string, string>>;
    readonly scrapeInterval: string;
    /** At most the interval (Prometheus refuses the config otherwise). */
    readonly scrapeTimeout: string;
    /** Platform discovery jobs (Tsuru units on Kubernetes, ECS tasks, exporters) after the self-scrape jobs. */
    readonly scrapeJobs: readonly ScrapeConfig[];
    /** Directory holding the rule files, as seen by Prometheus. */
    readonly ruleDir: string;
    readonly alertmanagers: readonly string[];
    /** The instance's own credentials, for its scrape of itself. */
    readonly webAuth: WebClientAuth;
}

/** Per-target limits from the plan, so one noisy app cannot exhaust the instance's tmpfs. */
export function planLimits(plan: Plan): Pick<ScrapeConfig, "sample_limit" | "label_limit" | "target_limit" | "label_name_length_limit" | "label_value_length_limit"> {
    return {
        sample_limit: plan.sampleLimit,
        label_limit: plan.labelLimit,
        target_limit: plan.targetLimit,
        label_name_length_limit: 128,
        label_value_length_limit: 1024,
    };
}

/** Prometheus itself (behind its own credentials) and its Thanos sidecar, both in the same task/pod. */
export function selfScrapeJobs(auth: WebClientAuth): ScrapeConfig[] {
    return [
        {
            job_name: "prometheus",
            basic_auth: { username: auth.username, password_file: auth.passwordFile },
            static_configs: [{ targets: [`localhost:${prometheusWebPort}`] }],
        },
        { job_name: "thanos-sidecar", static_configs: [{ targets: [`localhost:${thanosPorts.http}`] }] },
    ];
}

/**
 * Apps on a PaaS often serve /metrics with no Content-Type; Prometheus 3 refuses such a target ("non-compliant
 * scrape target sending blank Content-Type") unless the job names the format to assume.
 */
export const appFallbackScrapeProtocol = "PrometheusText0.0.4" as const;

const tsuruLabel = (name: string) => `__meta_kubernetes_pod_label_tsuru_io_${name}`;

/**
 * Every unit of one Tsuru app: pods selected by tsuru.io/app-name in the app's namespace, build and
 * isolated-run pods dropped, scraped on the app's port (Tsuru's default is 8888).
 */
export function tsuruAppScrapeJob(app: KubernetesApp, plan: Plan): ScrapeConfig {
    const relabel: RelabelConfig[] = [
        { source_labels: [tsuruLabel("app_name")], regex: escapeRegex(app.name), action: "keep" },
        { source_labels: [tsuruLabel("is_build")], regex: "true", action: "drop" },
        { source_labels: [tsuruLabel("is_isolated_run")], regex: "true", action: "drop" },
        { source_labels: ["__meta_kubernetes_pod_phase"], regex: "Pending|Succeeded|Failed|Unknown", action: "drop" },
        { source_labels: ["__meta_kubernetes_pod_container_init"], regex: "true", action: "drop" },
    ];
    if (app.processes !== undefined && app.processes.length > 0) {
        relabel.push({ source_labels: [tsuruLabel("app_process")], regex: app.processes.map(escapeRegex).join("|"), action: "keep" });
    }
    relabel.push(
        // One target per pod on the app's port, whatever ports its containers declare.
        { source_labels: ["__meta_kubernetes_pod_ip"], regex: "(.+)", target_label: "__address__", replacement: `$1:${app.port}` },
        { source_labels: [tsuruLabel("app_name")], target_label: "app" },
        { source_labels: [tsuruLabel("app_process")], target_label: "process" },
        { source_labels: [tsuruLabel("app_version")], target_label: "app_version" },
        { source_labels: ["__meta_kubernetes_namespace"], target_label: "namespace" },
        { source_labels: ["__meta_kubernetes_pod_name"], target_label: "pod" },
        { source_labels: ["__meta_kubernetes_pod_node_name"], target_label: "node" },
    );
    return {
        job_name: `tsuru-app-${app.name}`,
        metrics_path: app.path,
        scheme: app.scheme,
        fallback_scrape_protocol: appFallbackScrapeProtocol,
        ...planLimits(plan),
        kubernetes_sd_configs: [
            {
                role: "pod",
                namespaces: { names: [app.namespace] },
                // Server-side filter: Prometheus only watches this app's pods.
                selectors: [{ role: "pod", label: `tsuru.io/app-name=${app.name}` }],
            },
        ],
        relabel_configs: relabel,
    };
}

/**
 * The pods of one Tsuru job (tsuru.io/job-name, Tsuru's JobLabels) in its pool's namespace, while they run:
 * a job's pod lives as long as its run, so only jobs that run for several scrape intervals are seen.
 */
export function tsuruJobScrapeJob(job: JobTarget, plan: Plan): ScrapeConfig {
    return {
        job_name: `tsuru-job-${job.name}`,
        metrics_path: job.path,
        scheme: job.scheme,
        fallback_scrape_protocol: appFallbackScrapeProtocol,
        ...planLimits(plan),
        kubernetes_sd_configs: [{ role: "pod", namespaces: { names: [job.namespace] }, selectors: [{ role: "pod", label: `tsuru.io/job-name=${job.name}` }] }],
        relabel_configs: [
            { source_labels: [tsuruLabel("job_name")], regex: escapeRegex(job.name), action: "keep" },
            { source_labels: ["__meta_kubernetes_pod_phase"], regex: "Running", action: "keep" },
            { source_labels: ["__meta_kubernetes_pod_ip"], regex: "(.+)", target_label: "__address__", replacement: `$1:${job.port}` },
            { source_labels: [tsuruLabel("job_name")], target_label: "tsuru_job" },
            { source_labels: ["__meta_kubernetes_namespace"], target_label: "namespace" },
            { source_labels: ["__meta_kubernetes_pod_name"], target_label: "pod" },
        ],
    };
}

/** Labels prometheus-ecs-discovery writes on each file_sd target (its own names, not __meta_ ones). */
export const ecsDiscoveryLabels = ["task_arn", "task_name", "task_revision", "task_group", "cluster_arn", "container_name", "container_arn", "docker_image"] as const;

/** Environment variable holding an ECS app's scrape password, substituted into `$(VAR)` by the init container and the reloader. */
export function scrapePasswordEnv(family: string): string {
    return `SCRAPE_PASSWORD_${family.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
}

/**
 * Every ECS task of one app, from the file prometheus-ecs-discovery writes for the app's cluster, kept by task
 * definition family (and container names when given). The target port and an optional path come from the task's
 * PROMETHEUS_EXPORTER_PORT/_PATH Docker labels; the app's `path` is the default.
 */
export function ecsAppScrapeJob(app: EcsApp, plan: Plan, fileSdFile: string): ScrapeConfig {
    const relabel: RelabelConfig[] = [{ source_labels: ["task_name"], regex: escapeRegex(app.family), action: "keep" }];
    if (app.containers !== undefined && app.containers.length > 0) {
        relabel.push({ source_labels: ["container_name"], regex: app.containers.map(escapeRegex).join("|"), action: "keep" });
    }
    relabel.push(
        { source_labels: ["task_name"], target_label: "app" },
        { source_labels: ["container_name"], target_label: "process" },
        { source_labels: ["task_revision"], target_label: "app_version" },
        { source_labels: ["cluster_arn"], regex: ".*:cluster/(.+)", target_label: "cluster", replacement: "$1" },
        { source_labels: ["task_arn"], regex: ".*/([^/]+)", target_label: "task", replacement: "$1" },
        // The discovery's own labels would otherwise land on every series.
        { regex: ecsDiscoveryLabels.join("|"), action: "labeldrop" },
    );
    return {
        job_name: `ecs-app-${app.family}`,
        metrics_path: app.path,
        scheme: app.scheme,
        fallback_scrape_protocol: appFallbackScrapeProtocol,
        ...(app.basicAuth ? { basic_auth: { username: app.basicAuth.username, password: `$(${scrapePasswordEnv(app.family)})` } } : {}),
        ...planLimits(plan),
        file_sd_configs: [{ files: [fileSdFile], refresh_interval: "1m" }],
        relabel_configs: relabel,
    };
}

/** An exporter found by DNS (e.g. a Cloud Map name): every A record is a target on the given port. */
export function dnsExporterScrapeJob(jobName: string, host: string, port: number, plan: Plan): ScrapeConfig {
    return {
        job_name: jobName,
        ...planLimits(plan),
        dns_sd_configs: [{ names: [host], type: "A", port, refresh_interval: "30s" }],
    };
}

function escapeRegex(text: string): string {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function alertmanagerConfigs(urls: readonly string[]) {
    return urls.map((address) => {
        const url = new URL(address);
        const pathPrefix = url.pathname.replace(/\/$/, "");
        return {
            scheme: url.protocol.replace(":", ""),
            ...(pathPrefix ? { path_prefix: pathPrefix } : {}),
            static_configs: [{ targets: [url.port ? `${url.hostname}:${url.port}` : url.hostname] }],
        };
    });
}

export function renderPrometheusConfig(input: PrometheusConfigInput): string {
    const document: Record<string, unknown> = {
        global: {
            scrape_interval: input.scrapeInterval,
            scrape_timeout: input.scrapeTimeout,
            evaluation_interval: input.scrapeInterval,
            external_labels: { ...input.externalLabels },
        },
        rule_files: [`${input.ruleDir}/*.yml`],
        scrape_configs: [...selfScrapeJobs(input.webAuth), ...input.scrapeJobs],
    };
    if (input.alertmanagers.length > 0) {
        document.alerting = { alertmanagers: alertmanagerConfigs(input.alertmanagers) };
    }
    return yaml.dump(document, { lineWidth: -1, noRefs: true });
}

export interface ExternalLabelContext {
    readonly environment: string;
    readonly region: string;
    readonly product: string;
    readonly replicaLabel: string;
}

/**
 * External labels: unique per Prometheus across the bucket (tenant + environment), plus a replica label whose
 * value differs per HA replica (e.g. "$(POD_NAME)", substituted by the sidecar's reloader).
 */
export function instanceExternalLabels(context: ExternalLabelContext, instance: InstanceConfig, replicaValue: string): Record<string, string> {
    return {
        ...instance.externalLabels,
        environment: context.environment,
        region: context.region,
        product: context.product,
        tenant: instance.name,
        team: instance.team,
        [context.replicaLabel]: replicaValue,
    };
}

/** Alerts about the instance itself, with thresholds derived from its plan. */
export function instanceAlertRuleGroups(instance: InstanceConfig): RuleGroup[] {
    const tmpfsBytes = instance.plan.tmpfsMiB * 1024 * 1024;
    return [
        {
            name: "prometheus-paas-instance",
            rules: [
                {
                    alert: "PrometheusTargetDown",
                    expr: "up == 0",
                    for: "5m",
                    labels: { severity: "warning" },
                    annotations: {
                        summary: "Target {{ $labels.job }} {{ $labels.instance }} is down",
                        description: "Prometheus of tenant " + instance.name + " has not scraped {{ $labels.instance }} for 5 minutes.",
                    },
                },
                {
                    alert: "PrometheusTSDBNearlyFull",
                    expr:
                        `(prometheus_tsdb_storage_blocks_bytes + prometheus_tsdb_wal_storage_size_bytes + prometheus_tsdb_head_chunks_storage_size_bytes) ` +
                        `/ ${tmpfsBytes} > 0.85`,
                    for: "10m",
                    labels: { severity: "critical" },
                    annotations: {
                        summary: "In-memory TSDB of " + instance.name + " is over 85% of its " + prometheusSize(instance.plan.tmpfsMiB) + " tmpfs",
                        description: "When the tmpfs fills, Prometheus stops ingesting. Reduce series or move tenant " + instance.name + " to a bigger plan.",
                    },
                },
                {
                    alert: "PrometheusConfigReloadFailed",
                    expr: "max_over_time(prometheus_config_last_reload_successful[5m]) == 0",
                    for: "5m",
                    labels: { severity: "warning" },
                    annotations: {
                        summary: "Prometheus of tenant " + instance.name + " failed to reload its configuration",
                        description: "The running configuration is stale; check the sidecar reloader and prometheus logs.",
                    },
                },
                {
                    alert: "ThanosSidecarUploadFailing",
                    expr: "increase(thanos_shipper_upload_failures_total[1h]) > 0",
                    labels: { severity: "critical" },
                    annotations: {
                        summary: "Thanos sidecar of tenant " + instance.name + " fails to upload blocks",
                        description: "Blocks not uploaded are lost when the pod restarts (tmpfs). Check bucket access.",
                    },
                },
            ],
        },
    ];
}

export function renderRuleFile(groups: readonly RuleGroup[]): string {
    return yaml.dump({ groups }, { lineWidth: -1, noRefs: true });
}

/** Rule files of an instance: the platform's own alerts plus the tenant's groups from config. */
export function instanceRuleFiles(instance: InstanceConfig): Record<string, string> {
    const files: Record<string, string> = { "instance-alerts.yml": renderRuleFile(instanceAlertRuleGroups(instance)) };
    if (instance.rules.length > 0) {
        files["tenant-rules.yml"] = renderRuleFile(instance.rules);
    }
    return files;
}

export interface InstanceFilesInput {
    readonly instance: InstanceConfig;
    readonly labels: ExternalLabelContext;
    readonly alertmanagers: readonly string[];
    /** Value of the replica label, usually a `$(VAR)` placeholder substituted per replica. */
    readonly replicaValue: string;
    /** Discovery jobs of the platform (Tsuru pods on Kubernetes, ECS tasks, exporters). */
    readonly scrapeJobs: readonly ScrapeConfig[];
    /** Directory of the rule files as Prometheus sees it. */
    readonly ruleDir: string;
    /** The instance's credentials as its own clients read them. */
    readonly webAuth: WebClientAuth;
}

/**
 * prometheus.yml template and rule files of one instance, whatever the platform, and the flush's upload labels:
 * the same external labels, so flushed blocks join the sidecar's.
 */
export function renderInstanceFiles(input: InstanceFilesInput): { prometheusYml: string; ruleFiles: Record<string, string>; uploadLabels: string } {
    const { instance } = input;
    const externalLabels = instanceExternalLabels(input.labels, instance, input.replicaValue);
    return {
        uploadLabels: renderUploadLabels(externalLabels),
        prometheusYml: renderPrometheusConfig({
            externalLabels,
            scrapeInterval: instance.plan.scrapeInterval,
            scrapeTimeout: scrapeTimeout(instance.plan),
            scrapeJobs: input.scrapeJobs,
            ruleDir: input.ruleDir,
            alertmanagers: input.alertmanagers,
            webAuth: input.webAuth,
        }),
        ruleFiles: instanceRuleFiles(instance),
    };
}

export interface PrometheusArgsInput {
    readonly configFile: string;
    readonly tsdbPath: string;
    readonly plan: Plan;
    /** Prometheus' web config: every endpoint, health and admin included, asks for the instance's credentials. */
    readonly webConfigFile: string;
}

/**
 * Every block write (head compaction) preallocates one chunk segment on the TSDB's filesystem; the default
 * 512MiB does not even fit the small plan's tmpfs (the benchmark's snapshot failed with ENOSPC), so segments are
 * kept small: the waste is at most one segment per block write.
 */
export const blockChunkSegmentMiB = 16;

/**
 * Flags every Prometheus of this platform runs with; 2h/2h blocks and lifecycle are what the sidecar needs, and the
 * web config puts the lifecycle and admin endpoints behind the instance's credentials with everything else.
 */
export function prometheusArgs(input: PrometheusArgsInput): string[] {
    return [
        `--config.file=${input.configFile}`,
        `--storage.tsdb.path=${input.tsdbPath}`,
        `--storage.tsdb.retention.time=${input.plan.retentionTime}`,
        `--storage.tsdb.retention.size=${prometheusSize(input.plan.retentionSizeMiB)}`,
        "--storage.tsdb.min-block-duration=2h",
        "--storage.tsdb.max-block-duration=2h",
        `--storage.tsdb.max-block-chunk-segment-size=${prometheusSize(blockChunkSegmentMiB)}`,
        "--web.enable-lifecycle",
        // The shutdown flush's snapshot (flush.sh); behind the web config like every other endpoint.
        "--web.enable-admin-api",
        `--web.config.file=${input.webConfigFile}`,
        `--web.listen-address=0.0.0.0:${prometheusWebPort}`,
        "--web.route-prefix=/",
    ];
}

/**
 * A probe command of the Prometheus image that authenticates as the instance from its client file, so no
 * credential sits in the pod spec or the task definition (every path, health included, answers 401 without).
 */
export function promtoolCheckCommand(check: "ready" | "healthy", httpClientFile: string): string[] {
    return ["promtool", "check", check, `--url=http://localhost:${prometheusWebPort}`, `--http.config.file=${httpClientFile}`];
}
