/** Prometheus servers: in-memory TSDB sizing and its flush on shutdown, the flags a Thanos sidecar needs, external labels. */
import { describe, resourcePolicy, stackPolicy, View, Violation } from "../lib/model";
import { durationSeconds, formatBytes, isObject, obj, parseYaml, prometheusSizeBytes, str, textOf } from "../lib/values";
import {
    ContainerView,
    effectiveMemoryLimit,
    flagValue,
    flagValues,
    hasFlag,
    isPrometheus,
    isThanos,
    volumeAt,
    VolumeView,
    where,
    WorkloadView,
    workloadOf,
} from "../lib/workloads";

/** The instance a workload belongs to, for config keys in messages. */
function instanceOf(workload: WorkloadView): string | undefined {
    const labels = obj(workload.view.props.metadata?.labels);
    return str(labels["app.kubernetes.io/instance"]) ?? str(workload.view.props.family);
}

function planKey(workload: WorkloadView, field: string): string {
    const instance = instanceOf(workload);
    return `prometheus-paas:plans.<plan>.${field}${instance ? ` (the plan of instance '${instance}', prometheus-paas:instances[].plan)` : ""}`;
}

interface TmpfsTsdb {
    readonly workload: WorkloadView;
    readonly container: ContainerView;
    readonly path: string;
    readonly volume: VolumeView;
}

/** Prometheus containers whose TSDB is on a memory-backed volume. */
function tmpfsTsdbs(view: View): TmpfsTsdb[] {
    const workload = workloadOf(view);
    if (workload === undefined) return [];
    const found: TmpfsTsdb[] = [];
    for (const container of workload.containers.filter(isPrometheus)) {
        const path = flagValue(container.tokens, "--storage.tsdb.path");
        if (path === undefined) continue;
        const volume = volumeAt(workload, container, path);
        if (volume?.kind === "tmpfs") found.push({ workload, container, path, volume });
    }
    return found;
}

export const tmpfsSizeLimit = resourcePolicy(
    {
        name: "prometheus-tmpfs-size-limit",
        description: "A Prometheus TSDB on an in-memory volume (emptyDir medium Memory, ECS tmpfs) has a size limit.",
        enforcementLevel: "mandatory",
        severity: "high",
        remediationSteps: "Set emptyDir.sizeLimit (ECS: linuxParameters.tmpfs[].size) to the plan's tmpfs: stack config prometheus-paas:plans.<plan>.tmpfs.",
    },
    (view) =>
        tmpfsTsdbs(view)
            .filter(({ volume }) => volume.sizeLimit === undefined)
            .map(({ workload, container, volume }) =>
                `${where(workload, container)} keeps its TSDB on the in-memory volume '${volume.name}' without a size limit, so it can take all of the node's memory: ` +
                `set emptyDir.sizeLimit (ECS: linuxParameters.tmpfs size) to the plan's tmpfs, ${planKey(workload, "tmpfs")}.`,
            ),
);

export const memoryCoversTmpfs = resourcePolicy(
    {
        name: "prometheus-memory-covers-tmpfs",
        description: "The Prometheus container's memory limit exceeds its in-memory TSDB size (tmpfs pages count against it).",
        enforcementLevel: "mandatory",
        severity: "high",
        remediationSteps: "Make the memory limit the process budget plus the tmpfs: raise prometheus-paas:plans.<plan>.memory or lower prometheus-paas:plans.<plan>.tmpfs.",
    },
    (view) => {
        const messages: string[] = [];
        for (const { workload, container, volume } of tmpfsTsdbs(view)) {
            const size = volume.sizeLimit;
            const limit = effectiveMemoryLimit(workload, container);
            if (size === undefined || size === "unknown" || limit === "unknown") continue;
            if (limit === undefined) {
                messages.push(
                    `${where(workload, container)} has no memory limit while its TSDB lives in ${formatBytes(size)} of tmpfs: ` +
                        `set resources.limits.memory above the tmpfs (process memory + tmpfs), ${planKey(workload, "memory")}.`,
                );
            } else if (limit <= size) {
                messages.push(
                    `${where(workload, container)} has a memory limit of ${formatBytes(limit)}, not above its ${formatBytes(size)} tmpfs TSDB (volume '${volume.name}'); ` +
                        `tmpfs pages count against the limit, so Prometheus is OOM-killed before the TSDB fills. Raise ${planKey(workload, "memory")} or lower prometheus-paas:plans.<plan>.tmpfs.`,
                );
            }
        }
        return messages;
    },
);

export const retentionBelowTmpfs = resourcePolicy(
    {
        name: "prometheus-retention-below-tmpfs",
        description: "A Prometheus TSDB on tmpfs has --storage.tsdb.retention.size set below the tmpfs size.",
        enforcementLevel: "mandatory",
        severity: "high",
        remediationSteps: "Set prometheus-paas:plans.<plan>.retentionSize below the plan's tmpfs (the config allows at most 75%) so WAL and compaction have room.",
    },
    (view) => {
        const messages: string[] = [];
        for (const { workload, container, volume } of tmpfsTsdbs(view)) {
            const size = volume.sizeLimit;
            if (size === undefined || size === "unknown") continue;
            const flag = flagValue(container.tokens, "--storage.tsdb.retention.size");
            const retention = flag === undefined ? undefined : prometheusSizeBytes(flag);
            if (flag === undefined) {
                messages.push(
                    `${where(workload, container)} has no --storage.tsdb.retention.size while its TSDB is on a ${formatBytes(size)} tmpfs: ` +
                        `when the tmpfs fills, ingestion stops. Set ${planKey(workload, "retentionSize")} below the tmpfs.`,
                );
            } else if (retention === undefined) {
                messages.push(`${where(workload, container)} has an unreadable --storage.tsdb.retention.size=${flag}: use a size such as 384MB (${planKey(workload, "retentionSize")}).`);
            } else if (retention >= size) {
                messages.push(
                    `${where(workload, container)} has --storage.tsdb.retention.size=${flag}, not below its ${formatBytes(size)} tmpfs (volume '${volume.name}'): ` +
                        `the WAL, head chunks and compaction need room too. Lower ${planKey(workload, "retentionSize")} (at most 75% of tmpfs).`,
                );
            }
        }
        return messages;
    },
);

const twoHours = 7200;

export const sidecarFlags = resourcePolicy(
    {
        name: "prometheus-thanos-sidecar-flags",
        description: "A Prometheus running with a Thanos sidecar uses 2h/2h block durations and --web.enable-lifecycle.",
        enforcementLevel: "mandatory",
        severity: "high",
        remediationSteps: "Run Prometheus with --storage.tsdb.min-block-duration=2h --storage.tsdb.max-block-duration=2h --web.enable-lifecycle (components/prometheus/render.ts prometheusArgs).",
    },
    (view) => {
        const workload = workloadOf(view);
        if (workload === undefined || !workload.containers.some((container) => isThanos(container, "sidecar"))) return [];
        const messages: string[] = [];
        for (const container of workload.containers.filter(isPrometheus)) {
            const missing: string[] = [];
            for (const flag of ["--storage.tsdb.min-block-duration", "--storage.tsdb.max-block-duration"]) {
                const value = flagValue(container.tokens, flag);
                if (value === undefined || durationSeconds(value) !== twoHours) missing.push(`${flag}=2h${value === undefined ? "" : ` (is ${value})`}`);
            }
            if (!hasFlag(container.tokens, "--web.enable-lifecycle")) {
                missing.push("--web.enable-lifecycle");
            }
            if (missing.length > 0) {
                messages.push(
                    `${where(workload, container)} runs next to a Thanos sidecar without ${missing.join(", ")}: the sidecar uploads only 2h blocks that Prometheus never compacts further, ` +
                        `and its reloader needs the lifecycle API. Add the flags (components/prometheus/render.ts prometheusArgs).`,
                );
            }
        }
        return messages;
    },
);

/** Fargate stops a container at most this long after its SIGTERM. */
const ecsMaxStopTimeoutSeconds = 120;
const headLoss = "loses its head, up to 3h of samples nobody uploaded";

/** An ECS Prometheus next to a sidecar loses its TSDB with the task: a flush container must hold the stop. */
function ecsFlushProblems(workload: WorkloadView): string[] {
    if (workload.platform !== "ecs" || !workload.containers.some((other) => isThanos(other, "sidecar"))) return [];
    const messages: string[] = [];
    for (const container of workload.containers.filter(isPrometheus)) {
        if (container.tokens === undefined) continue;
        const flush = workload.containers.find((other) => other !== container && other.tokens?.includes("--wait-for-term"));
        if (flush === undefined) {
            messages.push(`${where(workload, container)} keeps its TSDB in the task and no container flushes it at the task's stop (flush.sh --wait-for-term): every task stop (new task definition, scale-in, StopTask) ${headLoss}. Keep the flush container (components/prometheus/ecs-spec.ts).`);
            continue;
        }
        if (!hasFlag(container.tokens, "--web.enable-admin-api")) messages.push(`${where(workload, container)} runs without --web.enable-admin-api: its flush cannot take the snapshot, so every task stop ${headLoss}.`);
        if (!(flush.dependsOn ?? []).includes(container.name)) {
            messages.push(`${where(workload, flush)} does not depend on '${container.name}': ECS stops a container only after those that depend on it, so without it Prometheus may stop before the flush's snapshot.`);
        }
        const deadline = flagValue(flush.tokens, "--deadline");
        const stop = flush.stopTimeout;
        if (typeof stop === "number" && (stop > ecsMaxStopTimeoutSeconds || (deadline !== undefined && stop <= Number(deadline)))) {
            messages.push(`${where(workload, flush)} has a stopTimeout of ${stop}s for a flush deadline of ${deadline ?? "(none)"}s: it must be above the deadline (ECS kills the flush at the stopTimeout) and at most ${ecsMaxStopTimeoutSeconds}s (Fargate's limit).`);
        }
    }
    return messages;
}

export const flushOnShutdown = resourcePolicy(
    {
        name: "prometheus-flush-on-shutdown",
        description: "A Prometheus whose TSDB goes with its pod or task (tmpfs; ECS task storage) next to a Thanos sidecar flushes its head to the bucket before it stops: the admin API its snapshot uses, and a preStop hook with a grace period longer than its deadline (Kubernetes) or a flush container that depends on Prometheus with a stopTimeout above its deadline and within Fargate's 120 s (ECS).",
        enforcementLevel: "mandatory",
        severity: "high",
        remediationSteps: "Keep the Prometheus container's preStop hook (components/prometheus/flush.ts flushCommand), --web.enable-admin-api and terminationGracePeriodSeconds above the hook's --deadline (components/prometheus/kubernetes-spec.ts); on ECS keep the flush container of components/prometheus/ecs-spec.ts.",
    },
    (view) => {
        const workload = workloadOf(view);
        const messages: string[] = workload === undefined ? [] : ecsFlushProblems(workload);
        for (const { workload, container } of tmpfsTsdbs(view)) {
            if (workload.platform !== "kubernetes" || !workload.containers.some((other) => isThanos(other, "sidecar")) || container.preStop === "unknown" || container.tokens === undefined) continue;
            const loses = `every pod deletion (plan change, new image, node drain) ${headLoss}`;
            if (container.preStop === undefined) {
                messages.push(`${where(workload, container)} keeps its TSDB on tmpfs and has no preStop hook: ${loses}. Keep the flush hook (components/prometheus/flush.ts flushCommand).`);
                continue;
            }
            if (!hasFlag(container.tokens, "--web.enable-admin-api")) {
                messages.push(`${where(workload, container)} runs without --web.enable-admin-api: its preStop flush cannot take the snapshot, so ${loses}.`);
            }
            const deadline = flagValue(container.preStop, "--deadline");
            const grace = workload.terminationGracePeriodSeconds;
            if (deadline !== undefined && typeof grace === "number" && grace <= Number(deadline)) {
                messages.push(`${workload.label} gives its pods ${grace}s to stop, not more than the flush's ${deadline}s deadline: the kubelet kills Prometheus mid-flush. Set terminationGracePeriodSeconds above it (flushDeadlineSeconds + Prometheus' stop).`);
            }
        }
        return messages;
    },
);

// ------------------------------------------------------------------------------------------ external labels

export interface RenderedConfig {
    readonly view: View;
    /** Where the file is: "ConfigMap 'prometheus-payments-config' key prometheus.yml.tmpl". */
    readonly location: string;
    readonly text: string;
}

const configName = /prometheus\.ya?ml(\.tmpl)?$/;

/** Rendered prometheus.yml files a resource carries: ConfigMap/Secret keys, S3 objects, SSM parameters. */
export async function renderedConfigs(view: View): Promise<RenderedConfig[]> {
    const found: RenderedConfig[] = [];
    const fromMap = (field: string, values: unknown, base64: boolean) => {
        for (const [key, value] of Object.entries(obj(values))) {
            const text = str(value);
            if (!configName.test(key) || text === undefined) continue;
            found.push({ view, location: `${describe(view)} ${field} key ${key}`, text: base64 ? Buffer.from(text, "base64").toString("utf8") : text });
        }
    };
    switch (view.type) {
        case "kubernetes:core/v1:ConfigMap":
            fromMap("data", view.props.data, false);
            fromMap("binaryData", view.props.binaryData, true);
            break;
        case "kubernetes:core/v1:Secret":
            fromMap("stringData", view.props.stringData, false);
            fromMap("data", view.props.data, true);
            break;
        case "aws:s3/bucketObject:BucketObject":
        case "aws:s3/BucketObject:BucketObject":
        case "aws:s3/bucketObjectv2:BucketObjectv2": {
            const key = str(view.props.key);
            if (key === undefined || !configName.test(key)) break;
            const base64 = str(view.props.contentBase64);
            const text = (await textOf(view.props.content)) ?? (base64 !== undefined ? Buffer.from(base64, "base64").toString("utf8") : await textOf(view.props.source));
            if (text !== undefined) found.push({ view, location: `${describe(view)} key ${key}`, text });
            break;
        }
        case "aws:ssm/parameter:Parameter": {
            const name = str(view.props.name);
            const text = str(view.props.value) ?? str(view.props.insecureValue);
            if (name !== undefined && configName.test(name) && text !== undefined) found.push({ view, location: `${describe(view)} ${name}`, text });
            break;
        }
    }
    return found;
}

type Labels = { kind: "ok"; labels: Record<string, string> } | { kind: "invalid"; reason: string };

export function externalLabels(text: string): Labels {
    const parsed = parseYaml<Record<string, any>>(text);
    if (parsed.kind === "invalid") return { kind: "invalid", reason: `it is not valid YAML (${parsed.error})` };
    if (parsed.kind !== "ok" || !isObject(parsed.value)) return { kind: "invalid", reason: "it is not a YAML mapping" };
    const labels = parsed.value.global?.external_labels;
    if (!isObject(labels)) return { kind: "ok", labels: {} };
    return { kind: "ok", labels: Object.fromEntries(Object.entries(labels).map(([name, value]) => [name, value === null || value === undefined ? "" : String(value)])) };
}

const labelKeys = "prometheus-paas:environment, prometheus-paas:region and prometheus-paas:product (platform labels) and prometheus-paas:instances[].externalLabels";

export const externalLabelsSet = resourcePolicy(
    {
        name: "prometheus-external-labels",
        description: "Every rendered prometheus.yml has non-empty global.external_labels.",
        enforcementLevel: "mandatory",
        severity: "high",
        remediationSteps: `Render external labels for every instance (renderPrometheusConfig does); values come from ${labelKeys}.`,
    },
    async (view) => {
        const messages: string[] = [];
        for (const config of await renderedConfigs(view)) {
            const result = externalLabels(config.text);
            if (result.kind === "invalid") {
                messages.push(`${config.location}: the rendered prometheus.yml cannot be read, ${result.reason}. Fix the renderer (components/prometheus/render.ts).`);
                continue;
            }
            const empty = Object.entries(result.labels).filter(([, value]) => value.trim() === "").map(([name]) => name);
            if (Object.keys(result.labels).length === 0) {
                messages.push(
                    `${config.location}: the rendered prometheus.yml has no global.external_labels; Thanos needs non-empty external labels, unique per Prometheus, to tell blocks apart. ` +
                        `Set ${labelKeys}.`,
                );
            } else if (empty.length > 0) {
                messages.push(`${config.location}: external label(s) ${empty.join(", ")} are empty; give them values (${labelKeys}).`);
            }
        }
        return messages;
    },
);

/** Label names that differ per replica and that Thanos Query deduplicates on. */
function replicaLabelNames(views: readonly View[]): Set<string> {
    const names = new Set<string>();
    for (const view of views) {
        const workload = workloadOf(view);
        for (const container of workload?.containers ?? []) {
            if (isThanos(container, "query") || isThanos(container, "rule") || isThanos(container, "query-frontend")) {
                for (const flag of ["--query.replica-label", "--deduplication.replica-label"]) {
                    for (const value of flagValues(container.tokens, flag)) value.split(",").forEach((name) => names.add(name.trim()));
                }
            }
        }
    }
    return names;
}

const placeholder = /\$\(|\$\{|\{\{/;

export const externalLabelsUnique = stackPolicy(
    {
        name: "prometheus-external-labels-unique",
        description: "External label sets (without replica labels) are unique across the Prometheus instances of a stack.",
        enforcementLevel: "mandatory",
        severity: "critical",
        remediationSteps: "Give every instance a distinct label set: the platform adds tenant=<instance name>; do not reuse instance names or override labels via prometheus-paas:instances[].externalLabels.",
    },
    async (graph) => {
        const replicaLabels = replicaLabelNames(graph.resources);
        // One owner per instance: configs under the same parent component are copies for the same instance.
        const byKey = new Map<string, { owner: string; config: RenderedConfig }[]>();
        for (const view of graph.resources) {
            for (const config of await renderedConfigs(view)) {
                const result = externalLabels(config.text);
                if (result.kind !== "ok") continue;
                const identity = Object.entries(result.labels)
                    .filter(([name, value]) => !replicaLabels.has(name) && !placeholder.test(value))
                    .sort(([a], [b]) => a.localeCompare(b))
                    .map(([name, value]) => `${name}=${JSON.stringify(value)}`)
                    .join(",");
                const entries = byKey.get(identity) ?? [];
                entries.push({ owner: view.parentUrn ?? view.urn, config });
                byKey.set(identity, entries);
            }
        }
        const violations: Violation[] = [];
        for (const [identity, entries] of byKey) {
            const owners = [...new Set(entries.map((entry) => entry.owner))];
            if (owners.length < 2) continue;
            const locations = owners.map((owner) => entries.find((entry) => entry.owner === owner)!.config.location);
            violations.push({
                urn: entries[0].config.view.urn,
                message:
                    `${locations.join(" and ")} render the same external labels {${identity}}${replicaLabels.size ? ` (ignoring replica labels ${[...replicaLabels].join(", ")})` : ""}: ` +
                    `Thanos cannot tell their blocks apart and the compactor halts on overlapping blocks. Make each instance's labels unique (tenant comes from prometheus-paas:instances[].name; add prometheus-paas:instances[].externalLabels).`,
            });
        }
        return violations;
    },
);

// ------------------------------------------------------------------------------------------ web authentication

const webConfigKey = /(^|[-_.])web(-config)?\.ya?ml$/;

/** The users of a web config text; "invalid" when it is not a web config mapping. */
function basicAuthUsers(text: string): Record<string, unknown> | "invalid" {
    const parsed = parseYaml<Record<string, any>>(text);
    if (parsed.kind !== "ok" || !isObject(parsed.value)) return "invalid";
    return isObject(parsed.value.basic_auth_users) ? parsed.value.basic_auth_users : {};
}

/** Web config files a Kubernetes Secret carries (stringData or data), by key. */
function secretWebConfigs(view: View): { key: string; text: string }[] {
    if (view.type !== "kubernetes:core/v1:Secret") return [];
    const found: { key: string; text: string }[] = [];
    for (const [field, base64] of [["stringData", false], ["data", true]] as const) {
        for (const [key, value] of Object.entries(obj(view.props[field]))) {
            const text = str(value);
            if (webConfigKey.test(key) && text !== undefined) found.push({ key, text: base64 ? Buffer.from(text, "base64").toString("utf8") : text });
        }
    }
    return found;
}

export const webAuthRequired = resourcePolicy(
    {
        name: "prometheus-web-auth",
        description: "Every Prometheus container runs with a web config (--web.config.file) from a Secret that requires basic auth users.",
        enforcementLevel: "mandatory",
        severity: "critical",
        remediationSteps:
            "Run Prometheus with --web.config.file on a Secret volume (ECS: task storage written from task secrets), with a non-empty basic_auth_users map " +
            "(components/prometheus/web-auth.ts renderWebConfig); the password comes from prometheus-paas:instancePasswords or is generated.",
    },
    (view) => {
        const messages: string[] = [];
        for (const { key, text } of secretWebConfigs(view)) {
            const users = basicAuthUsers(text);
            if (users === "invalid") messages.push(`${describe(view)} key ${key} is not a web config mapping: Prometheus refuses to start with it (or answers 500 on every path).`);
            else if (Object.keys(users).length === 0) messages.push(`${describe(view)} key ${key} has no basic_auth_users: an empty map turns authentication off, so every pod can read and stop the instance.`);
        }
        const workload = workloadOf(view);
        for (const container of workload?.containers.filter(isPrometheus) ?? []) {
            if (container.tokens === undefined) continue;
            const file = flagValue(container.tokens, "--web.config.file");
            if (file === undefined) {
                messages.push(
                    `${where(workload!, container)} runs without --web.config.file: every endpoint (queries, /federate, /-/reload, /-/quit) answers anyone who reaches the port. ` +
                        "Render the instance's web config (components/prometheus/web-auth.ts) and pass it with --web.config.file.",
                );
                continue;
            }
            const volume = volumeAt(workload!, container, file);
            if (workload!.platform === "kubernetes" && volume?.kind !== "secret") {
                messages.push(`${where(workload!, container)} reads its web config ${file} from ${volume ? `the ${volume.kind} volume '${volume.name}'` : "its image"}, not a Secret: the password hashes must be in a Secret volume.`);
            }
            if (workload!.platform === "ecs" && (volume?.kind === "efs" || volume?.kind === "nfs")) {
                messages.push(`${where(workload!, container)} reads its web config ${file} from the shared ${volume.kind} volume '${volume.name}': write it to task storage from the task's secrets.`);
            }
        }
        return messages;
    },
);
