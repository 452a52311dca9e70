/**
 * Pure builders of one Kubernetes Prometheus instance: its names, rendered files, discovery RBAC rules and the
 * StatefulSet spec (Prometheus, Thanos sidecar, config init). No Pulumi resources: components/prometheus/kubernetes.ts
 * wires them.
 */
import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { KubernetesInstanceConfig } from "../config/types";
import { envsubstScript } from "../envsubst";
import { image } from "../images";
import {
    anyInstanceLabels,
    containerProbes,
    containerResources,
    probeTiming,
    containerSecurityContext,
    podNameEnv,
    podSecurityContext,
    spreadOverNodes,
    workloadLabels,
} from "../kubernetes/workload";
import { historyFrontDefaults, thanosDefaults, thanosPorts } from "../thanos/defaults";
import { sidecarArgs } from "../thanos/render";
import { historyFrontCommand } from "../thanos/tenancy";
import { mebibytes } from "../units";
import { initStepResources, prometheusDefaults, prometheusWebPort } from "./defaults";
import { flushCommand, flushDeadlineSeconds, flushGracePeriodSeconds } from "./flush";
import { ExternalLabelContext, prometheusArgs, promtoolCheckCommand, renderInstanceFiles, ScrapeConfig, tsuruAppScrapeJob, tsuruJobScrapeJob } from "./render";
import { webAuthPaths, webClientAuth, WebClientAuth } from "./web-auth";

/** Placeholder the sidecar's reloader (and the init container) replace with the pod name. */
export const replicaPlaceholder = "$(POD_NAME)";

const paths = {
    tsdb: "/prometheus",
    configTemplateDir: "/etc/prometheus/config",
    configOutDir: "/etc/prometheus/config_out",
    rules: "/etc/prometheus/rules",
    objstore: "/etc/thanos",
    web: "/etc/prometheus/web",
    flush: "/etc/prometheus/flush",
    /** The Thanos binary, copied from the pinned Thanos image for the flush's upload. */
    thanosBinaryDir: "/opt/thanos",
};
const configTemplate = `${paths.configTemplateDir}/prometheus.yml.tmpl`;
const configOut = `${paths.configOutDir}/prometheus.yml`;

/** Names of an instance's Kubernetes objects. */
export function kubernetesPrometheusNames(instance: Pick<KubernetesInstanceConfig, "name">) {
    const base = `prometheus-${instance.name}`;
    return {
        statefulSet: base,
        serviceAccount: base,
        service: base,
        headlessService: `${base}-headless`,
        discoveryRole: `${base}-discovery`,
        config: `${base}-config`,
        rules: `${base}-rules`,
        webAuth: `${base}-web`,
        flush: `${base}-flush`,
        networkPolicy: base,
    };
}

export function prometheusPodLabels(instance: Pick<KubernetesInstanceConfig, "name">): Record<string, string> {
    return workloadLabels("prometheus", "prometheus", instance.name);
}

/** Every instance's Prometheus pods, whatever the instance (the Queries' peers, the broker's sidecar Service). */
export function anyPrometheusPodLabels(): Record<string, string> {
    return anyInstanceLabels(prometheusPodLabels({ name: "any" }));
}

/** The discovery jobs of an instance: every unit of each bound Tsuru app. */
export function kubernetesScrapeJobs(instance: KubernetesInstanceConfig): ScrapeConfig[] {
    return [
        ...instance.apps.map((app) => tsuruAppScrapeJob(app, instance.plan)),
        ...(instance.jobs ?? []).map((job) => tsuruJobScrapeJob(job, instance.plan)),
    ];
}

/** The instance's credentials as its containers read them from the mounted web Secret. */
export function kubernetesWebClientAuth(instance: Pick<KubernetesInstanceConfig, "name">): WebClientAuth {
    return webClientAuth(instance.name, paths.web);
}
const webFiles = webAuthPaths(paths.web);

/** Renders the files of one instance; the replica label is left as a placeholder for the reloader and the flush. */
export function renderKubernetesInstanceFiles(input: { instance: KubernetesInstanceConfig; labels: ExternalLabelContext; alertmanagers: readonly string[] }) {
    return renderInstanceFiles({
        ...input,
        webAuth: kubernetesWebClientAuth(input.instance),
        replicaValue: replicaPlaceholder,
        scrapeJobs: kubernetesScrapeJobs(input.instance),
        ruleDir: paths.rules,
    });
}

/** What Prometheus' Kubernetes discovery reads for each role (discovery/kubernetes of the pinned Prometheus). */
const discoveredResources: Readonly<Record<string, readonly { apiGroup: string; resource: string }[]>> = {
    pod: [{ apiGroup: "", resource: "pods" }],
    service: [{ apiGroup: "", resource: "services" }],
    endpoints: [{ apiGroup: "", resource: "endpoints" }, { apiGroup: "", resource: "services" }, { apiGroup: "", resource: "pods" }],
    endpointslice: [{ apiGroup: "discovery.k8s.io", resource: "endpointslices" }, { apiGroup: "", resource: "services" }, { apiGroup: "", resource: "pods" }],
    ingress: [{ apiGroup: "networking.k8s.io", resource: "ingresses" }],
};

/** RBAC rules for exactly the discovery roles the jobs use: get, list and watch of what each role reads. */
export function discoveryRules(jobs: readonly ScrapeConfig[]): k8s.types.input.rbac.v1.PolicyRule[] {
    const roles = [...new Set(jobs.flatMap((job) => (job.kubernetes_sd_configs ?? []).map((sd) => sd.role)))];
    const byGroup = new Map<string, Set<string>>();
    for (const role of roles) {
        const reads = discoveredResources[role];
        if (reads === undefined) throw new Error(`no RBAC rule for Kubernetes discovery role '${role}'; known: ${Object.keys(discoveredResources).join(", ")}`);
        for (const { apiGroup, resource } of reads) byGroup.set(apiGroup, new Set([...(byGroup.get(apiGroup) ?? []), resource]));
    }
    return [...byGroup].sort(([a], [b]) => a.localeCompare(b)).map(([apiGroup, resources]) => ({ apiGroups: [apiGroup], resources: [...resources].sort(), verbs: ["get", "list", "watch"] }));
}

/** Ports of the instance's Services: Prometheus' web API, the sidecar's StoreAPI and the tenant's history front. */
export const prometheusServicePorts = [
    { name: "web", port: prometheusWebPort, targetPort: "web" },
    { name: "grpc", port: thanosPorts.grpc, targetPort: "grpc" },
    { name: "history", port: historyFrontDefaults.httpPort, targetPort: "history" },
];

/**
 * Prometheus answers 401 on every path without the instance's credentials, so readiness runs promtool with the
 * mounted client file (no credential in the pod spec). Liveness and startup only check the port: an HTTP liveness
 * would restart the pod, and lose its tmpfs head, over a broken web config (every path then answers 500).
 */
function prometheusProbes(prometheus: ReturnType<typeof prometheusDefaults>) {
    const tcpSocket = { port: prometheus.httpPort };
    return {
        readinessProbe: { exec: { command: promtoolCheckCommand("ready", webFiles.client) }, ...probeTiming(prometheus.readiness) },
        livenessProbe: { tcpSocket, ...probeTiming(prometheus.liveness) },
        startupProbe: { tcpSocket, ...probeTiming(prometheus.liveness), failureThreshold: Math.ceil(prometheus.startSeconds / prometheus.liveness.periodSeconds) },
    };
}

const objstoreFile = `${paths.objstore}/objstore.yml`;

/**
 * Deleting the pod (or the kubelet restarting the container) runs the flush before Prometheus gets SIGTERM, so it
 * still serves the snapshot; the sidecar has no hook and stops at once (the flush uploads without it).
 */
function prometheusLifecycle(instance: KubernetesInstanceConfig): k8s.types.input.core.v1.Lifecycle {
    const auth = kubernetesWebClientAuth(instance);
    return {
        preStop: {
            exec: {
                command: flushCommand({
                    dir: paths.flush,
                    user: auth.username,
                    passwordFile: auth.passwordFile,
                    tsdbPath: paths.tsdb,
                    objstoreFile,
                    thanosBinary: `${paths.thanosBinaryDir}/thanos`,
                    deadlineSeconds: flushDeadlineSeconds(instance.plan),
                    // Prometheus' stdout: the container's log (`kubectl logs`), where the flush's outcome is read.
                    logFile: "/proc/1/fd/1",
                }),
            },
        },
    };
}

/**
 * The StatefulSet of one instance: TSDB on tmpfs sized by the plan, Thanos sidecar, config rendered before start.
 * `objstoreSecret` is the generated name of the Secret holding objstore.yml (a new one for each new content).
 */
export function prometheusStatefulSetSpec(instance: KubernetesInstanceConfig, objstoreSecret: pulumi.Input<string>): k8s.types.input.apps.v1.StatefulSetSpec {
    const names = kubernetesPrometheusNames(instance);
    const labels = prometheusPodLabels(instance);
    const prometheus = prometheusDefaults(instance.plan, "memory");
    const sidecar = thanosDefaults.sidecar;
    return {
        serviceName: names.headlessService,
        replicas: instance.replicas,
        podManagementPolicy: "Parallel",
        selector: { matchLabels: labels },
        template: {
            metadata: { labels, annotations: { "paas.tsuru.io/team": instance.team } },
            spec: {
                serviceAccountName: names.serviceAccount,
                securityContext: podSecurityContext,
                affinity: instance.replicas > 1 ? spreadOverNodes(labels) : undefined,
                terminationGracePeriodSeconds: flushGracePeriodSeconds(instance.plan),
                initContainers: [{
                    // The sidecar writes the substituted config only once running; Prometheus needs it at start.
                    name: "config-init",
                    image: image("busybox"),
                    command: ["sh", "-c", envsubstScript(configTemplate, configOut)],
                    env: [podNameEnv],
                    resources: containerResources(initStepResources),
                    securityContext: containerSecurityContext,
                    volumeMounts: [
                        { name: "config", mountPath: paths.configTemplateDir, readOnly: true },
                        { name: "config-out", mountPath: paths.configOutDir },
                    ],
                }, {
                    // The Prometheus image has busybox but no Thanos: the flush runs this copy of the pinned binary.
                    name: "thanos-binary",
                    image: image("thanos"),
                    command: ["cp", "/bin/thanos", `${paths.thanosBinaryDir}/thanos`],
                    resources: containerResources(initStepResources),
                    securityContext: containerSecurityContext,
                    volumeMounts: [{ name: "thanos-binary", mountPath: paths.thanosBinaryDir }],
                }],
                containers: [
                    {
                        name: "prometheus",
                        image: image("prometheus"),
                        args: prometheusArgs({ configFile: configOut, tsdbPath: paths.tsdb, plan: instance.plan, webConfigFile: webFiles.webConfig }),
                        // The flush's upload labels name the replica by $(POD_NAME).
                        env: [podNameEnv],
                        ports: [{ name: "web", containerPort: prometheus.httpPort }],
                        resources: containerResources(prometheus),
                        ...prometheusProbes(prometheus),
                        lifecycle: prometheusLifecycle(instance),
                        securityContext: containerSecurityContext,
                        volumeMounts: [
                            { name: "tsdb", mountPath: paths.tsdb },
                            { name: "config-out", mountPath: paths.configOutDir, readOnly: true },
                            { name: "rules", mountPath: paths.rules, readOnly: true },
                            { name: "web", mountPath: paths.web, readOnly: true },
                            { name: "objstore", mountPath: paths.objstore, readOnly: true },
                            { name: "flush", mountPath: paths.flush, readOnly: true },
                            { name: "thanos-binary", mountPath: paths.thanosBinaryDir, readOnly: true },
                        ],
                    },
                    {
                        name: "thanos-sidecar",
                        image: image("thanos"),
                        args: sidecarArgs({ tsdbPath: paths.tsdb, objstoreFile, configTemplate, configOut, ruleDir: paths.rules, prometheusHttpClientFile: webFiles.client }),
                        env: [podNameEnv],
                        ports: [
                            { name: "grpc", containerPort: sidecar.grpcPort! },
                            { name: "sidecar-http", containerPort: sidecar.httpPort },
                        ],
                        resources: containerResources(sidecar),
                        ...containerProbes(sidecar),
                        securityContext: containerSecurityContext,
                        volumeMounts: [
                            { name: "tsdb", mountPath: paths.tsdb },
                            { name: "config", mountPath: paths.configTemplateDir, readOnly: true },
                            { name: "config-out", mountPath: paths.configOutDir },
                            { name: "rules", mountPath: paths.rules, readOnly: true },
                            { name: "objstore", mountPath: paths.objstore, readOnly: true },
                            { name: "web", mountPath: paths.web, readOnly: true },
                        ],
                    },
                    {
                        // The tenant's history (components/thanos/tenancy.ts), with the instance's credentials.
                        name: "history",
                        image: image("caddy"),
                        command: historyFrontCommand(webFiles.historyFront, { watch: true }),
                        ports: [{ name: "history", containerPort: historyFrontDefaults.httpPort }],
                        resources: containerResources(historyFrontDefaults),
                        ...containerProbes(historyFrontDefaults),
                        securityContext: containerSecurityContext,
                        volumeMounts: [{ name: "web", mountPath: paths.web, readOnly: true }],
                    },
                ],
                volumes: [
                    // tmpfs: counts against the prometheus container's memory limit, lost on restart.
                    { name: "tsdb", emptyDir: { medium: "Memory", sizeLimit: mebibytes(instance.plan.tmpfsMiB) } },
                    { name: "config", configMap: { name: names.config } },
                    { name: "config-out", emptyDir: { sizeLimit: "8Mi" } },
                    { name: "rules", configMap: { name: names.rules } },
                    { name: "objstore", secret: { secretName: objstoreSecret } },
                    // Fixed name: the web config is re-read on every request, so a new password needs no new pod.
                    { name: "web", secret: { secretName: names.webAuth } },
                    { name: "flush", configMap: { name: names.flush } },
                    // The Thanos binary (about 100MB) on node disk.
                    { name: "thanos-binary", emptyDir: { sizeLimit: "256Mi" } },
                ],
            },
        },
    };
}

/** The Thanos query endpoint of an instance's sidecars: SRV records of its headless Service list every replica. */
export function kubernetesStoreApiEndpoint(headlessService: string, namespace: string): string {
    return `dnssrv+_grpc._tcp.${headlessService}.${namespace}.svc.cluster.local`;
}
