/** Thanos: the compactor is a singleton per bucket; the history in the bucket stays readable and one copy; tenancy is sealed. */
import { describe, resourcePolicy, stackPolicy, StackGraph, View, Violation } from "../lib/model";
import { arr, durationSeconds, isObject, isUnknown, num, obj, parseYaml, str } from "../lib/values";
import { ContainerView, ecsTaskDefinitionType, flagValue, flagValues, hasFlag, isCompactor, isThanos, kubernetesWorkloadTypes, volumeAt, where, WorkloadView, workloadOf } from "../lib/workloads";

const ecsServiceType = "aws:ecs/service:Service";
const scalableTargetType = "aws:appautoscaling/target:Target";
const replicasKey = "prometheus-paas:thanos.compactor.replicas";

/** "bucket@endpoint/prefix" from an objstore.yml; undefined when it names no bucket. */
export function objstoreBucket(text: string | undefined): string | undefined {
    if (text === undefined) return undefined;
    const parsed = parseYaml<Record<string, any>>(text);
    if (parsed.kind !== "ok" || !isObject(parsed.value)) return undefined;
    const config = obj(parsed.value.config);
    const bucket = str(config.bucket);
    if (bucket === undefined || bucket === "") return undefined;
    const endpoint = str(config.endpoint);
    const prefix = str(parsed.value.prefix);
    return `${bucket}${endpoint ? `@${endpoint}` : ""}${prefix ? `/${prefix}` : ""}`;
}

function fileFromResource(graph: StackGraph, workload: WorkloadView, kind: "secret" | "configMap", name: string, key: string): string | undefined {
    const type = kind === "secret" ? "kubernetes:core/v1:Secret" : "kubernetes:core/v1:ConfigMap";
    const source = graph.ofType(type).find((view) => {
        const namespace = str(view.props.metadata?.namespace);
        return str(view.props.metadata?.name) === name && (namespace === undefined || workload.namespace === undefined || namespace === workload.namespace);
    });
    if (source === undefined) return undefined;
    const plain = str(obj(source.props.stringData)[key]) ?? (kind === "configMap" ? str(obj(source.props.data)[key]) : undefined);
    if (plain !== undefined) return plain;
    const encoded = kind === "secret" ? str(obj(source.props.data)[key]) : str(obj(source.props.binaryData)[key]);
    return encoded === undefined ? undefined : Buffer.from(encoded, "base64").toString("utf8");
}

/** The bucket a compactor works on, when the stack says: inline config, a mounted Secret/ConfigMap, or an environment variable. */
function compactorBucket(graph: StackGraph, workload: WorkloadView, container: ContainerView): string | undefined {
    const inline = flagValue(container.tokens, "--objstore.config");
    if (inline !== undefined) return objstoreBucket(inline);
    const file = flagValue(container.tokens, "--objstore.config-file");
    if (file !== undefined) {
        const volume = volumeAt(workload, container, file);
        if (volume !== undefined && (volume.kind === "secret" || volume.kind === "configMap") && volume.source !== undefined) {
            const mountPath = container.mounts.find((mount) => mount.volume === volume.name)?.path ?? "";
            const relative = file.slice(mountPath.replace(/\/+$/, "").length + 1);
            const projected = arr((volume.raw.secret ?? volume.raw.configMap)?.items).filter(isObject).find((item) => str(item.path) === relative);
            const key = str(projected?.key) ?? relative;
            const bucket = objstoreBucket(fileFromResource(graph, workload, volume.kind, volume.source, key));
            if (bucket !== undefined) return bucket;
        }
    }
    for (const variable of container.env) {
        const bucket = variable.value !== undefined && /bucket\s*:/.test(variable.value) ? objstoreBucket(variable.value) : undefined;
        if (bucket !== undefined) return bucket;
    }
    return undefined;
}

interface Compactor {
    readonly view: View;
    readonly label: string;
    readonly bucket?: string;
    /** Compactor processes it keeps running; "unknown" during preview. */
    readonly count: number | "unknown";
    readonly problems: string[];
}

function kubernetesCompactors(graph: StackGraph, workload: WorkloadView, container: ContainerView): Compactor {
    const problems: string[] = [];
    const replicas = workload.replicas;
    if (replicas === "per-node") problems.push(`${workload.label} is a DaemonSet, which runs one compactor per node: use a StatefulSet with replicas 0 or 1.`);
    if (workload.view.type === kubernetesWorkloadTypes.deployment && replicas !== 0) {
        const strategy = obj(workload.view.props.spec?.strategy);
        const maxSurge = strategy.rollingUpdate?.maxSurge;
        const noSurge = maxSurge === 0 || maxSurge === "0" || maxSurge === "0%";
        if (strategy.type !== "Recreate" && !isUnknown(strategy.type) && !isUnknown(maxSurge) && !noSurge) {
            problems.push(`${workload.label} rolls out with surge, so two compactors overlap on every update: use a StatefulSet, or strategy {type: Recreate}.`);
        }
    }
    if (workload.view.type === kubernetesWorkloadTypes.cronJob && workload.view.props.spec?.concurrencyPolicy !== "Forbid" && !isUnknown(workload.view.props.spec?.concurrencyPolicy)) {
        problems.push(`${workload.label} may start a compactor while the previous one still runs: set concurrencyPolicy: Forbid.`);
    }
    const count = replicas === "per-node" ? 2 : replicas === undefined ? 1 : replicas;
    return { view: workload.view, label: `${workload.label} (${replicas === "per-node" ? "one per node" : `${count} replica${count === 1 ? "" : "s"}`})`, bucket: compactorBucket(graph, workload, container), count, problems };
}

function ecsCompactors(graph: StackGraph, workload: WorkloadView, container: ContainerView): Compactor[] {
    const bucket = compactorBucket(graph, workload, container);
    const services = graph.ofType(ecsServiceType).filter((service) => graph.refersTo(service, "taskDefinition", workload.view));
    return services.map((service) => {
        const problems: string[] = [];
        const strategy = str(service.props.schedulingStrategy);
        const desired = isUnknown(service.props.desiredCount) ? "unknown" : (num(service.props.desiredCount) ?? 0);
        if (strategy === "DAEMON") problems.push(`${describe(service)} uses the DAEMON scheduling strategy, which runs one compactor per instance: use REPLICA with desiredCount 0 or 1.`);
        if (desired !== "unknown" && desired >= 1) {
            const maximum = service.props.deploymentMaximumPercent;
            const controller = str(service.props.deploymentController?.type) ?? "ECS";
            if (controller !== "ECS") {
                problems.push(`${describe(service)} deploys with ${controller}, which runs the old and new compactor side by side: use the ECS controller with deploymentMaximumPercent 100.`);
            } else if (!isUnknown(maximum) && (num(maximum) ?? 200) > 100) {
                problems.push(
                    `${describe(service)} has deploymentMaximumPercent ${num(maximum) ?? "200 (the default)"}, so a deployment starts the new compactor before stopping the old one: ` +
                        `set deploymentMaximumPercent: 100 and deploymentMinimumHealthyPercent: 0.`,
                );
            }
        }
        for (const target of graph.ofType(scalableTargetType)) {
            const serviceName = str(service.props.name);
            const refers = graph.refersTo(target, "resourceId", service) || (serviceName !== undefined && (str(target.props.resourceId) ?? "").endsWith(`/${serviceName}`));
            const maxCapacity = num(target.props.maxCapacity);
            if (refers && maxCapacity !== undefined && maxCapacity > 1) {
                problems.push(`${describe(target)} lets autoscaling run up to ${maxCapacity} compactors for ${describe(service)}: set maxCapacity to 1 or drop the autoscaling target.`);
            }
        }
        const count = strategy === "DAEMON" ? 2 : desired;
        return { view: service, label: `${describe(service)} running ${workload.label} (desiredCount ${desired === "unknown" ? "unknown" : desired})`, bucket, count, problems };
    });
}

export const compactorSingleton = stackPolicy(
    {
        name: "thanos-compactor-singleton",
        description: "At most one Thanos compactor (replica or task, including during deployments) runs per bucket.",
        enforcementLevel: "mandatory",
        severity: "critical",
        remediationSteps: `Set ${replicasKey} to 0 or 1, run the compactor on one platform only per bucket, and deploy it without surge (StatefulSet; ECS deploymentMaximumPercent 100).`,
    },
    (graph) => {
        const compactors: Compactor[] = [];
        for (const view of graph.resources) {
            const workload = workloadOf(view);
            if (workload === undefined) continue;
            const container = workload.containers.find((candidate) => !candidate.init && isCompactor(candidate));
            if (container === undefined) continue;
            if (view.type === ecsTaskDefinitionType) compactors.push(...ecsCompactors(graph, workload, container));
            else compactors.push(kubernetesCompactors(graph, workload, container));
        }
        const violations: Violation[] = compactors.flatMap((compactor) => compactor.problems.map((message) => ({ urn: compactor.view.urn, message })));

        // A compactor whose bucket the stack does not reveal may share any bucket: count it everywhere.
        const unresolved = compactors.filter((compactor) => compactor.bucket === undefined);
        const buckets = [...new Set(compactors.map((compactor) => compactor.bucket).filter((bucket): bucket is string => bucket !== undefined))];
        const groups = buckets.length === 0 ? [{ bucket: "the stack's bucket", members: unresolved }] : buckets.map((bucket) => ({ bucket, members: [...compactors.filter((c) => c.bucket === bucket), ...unresolved] }));
        for (const { bucket, members } of groups) {
            if (members.some((member) => member.count === "unknown")) continue;
            const total = members.reduce((sum, member) => sum + (member.count as number), 0);
            if (total <= 1) continue;
            violations.push({
                urn: members[0].view.urn,
                message:
                    `${total} Thanos compactors would run against ${bucket}: ${members.filter((m) => m.count !== 0).map((m) => m.label).join(", ")}. ` +
                    `The compactor must be a singleton per bucket (two corrupt or halt on each other's blocks): set ${replicasKey} to 0 or 1 and run it on one platform only.`,
            });
        }
        return violations;
    },
);

// ------------------------------------------------------------------------------------------ history

const fortyHours = 40 * 3600;
const tenDays = 10 * 86400;

/** Seconds a retention flag keeps data: unset or 0 (Thanos: forever) compare as the longest. */
function keptSeconds(tokens: readonly string[], flag: string): number | undefined {
    const value = flagValue(tokens, flag);
    const seconds = value === undefined ? 0 : durationSeconds(value);
    return seconds === undefined ? undefined : seconds === 0 ? Infinity : seconds;
}

function compactorHistoryProblems(label: string, tokens: readonly string[]): string[] {
    const problems: string[] = [];
    if (flagValues(tokens, "--deduplication.replica-label").length === 0) {
        problems.push(`${label} runs without --deduplication.replica-label: the bucket keeps every HA replica's copy of every block for the whole retention, and the store reads them all.`);
    } else if (flagValue(tokens, "--deduplication.func") !== "penalty") {
        problems.push(`${label} deduplicates replicas without --deduplication.func=penalty: the default one-to-one merge interleaves the samples of replicas that scrape at different times.`);
    }
    const raw = keptSeconds(tokens, "--retention.resolution-raw");
    const fiveMinutes = keptSeconds(tokens, "--retention.resolution-5m");
    const oneHour = keptSeconds(tokens, "--retention.resolution-1h");
    if (raw !== undefined && raw < fortyHours) problems.push(`${label} keeps raw blocks under 40h: no block reaches the 40h that 5m downsampling needs (Thanos refuses to start).`);
    if (fiveMinutes !== undefined && fiveMinutes < tenDays) problems.push(`${label} keeps 5m blocks under 10 days: no block reaches the 10 days 1h downsampling needs (Thanos refuses to start).`);
    if (raw !== undefined && fiveMinutes !== undefined && fiveMinutes < raw) problems.push(`${label} keeps 5m blocks for less than raw ones: long-range queries lose their downsampled copy first.`);
    if (fiveMinutes !== undefined && oneHour !== undefined && oneHour < fiveMinutes) problems.push(`${label} keeps 1h blocks for less than 5m ones: long-range queries lose their downsampled copy first.`);
    return problems;
}

export const historyReadable = resourcePolicy(
    {
        name: "thanos-history-readable",
        description: "The bucket's history stays readable and one copy: Query downsamples automatically (without it, history past the raw retention reads as empty), the compactor deduplicates HA replicas with the penalty algorithm, and its retentions let downsampling happen before raw blocks go.",
        enforcementLevel: "mandatory",
        severity: "medium",
        remediationSteps: "Keep --query.auto-downsampling on Query and --deduplication.replica-label with --deduplication.func=penalty on the compactor (components/thanos/render.ts); set prometheus-paas:thanos.compactor.retention* as docs/operating.md#history-in-the-bucket says.",
    },
    (view) => {
        const workload = workloadOf(view);
        if (workload === undefined) return [];
        const messages: string[] = [];
        for (const container of workload.containers) {
            if (container.tokens === undefined) continue;
            if (isThanos(container, "query") && !hasFlag(container.tokens, "--query.auto-downsampling")) {
                messages.push(`${where(workload, container)} runs Query without --query.auto-downsampling: a range query with no max_source_resolution (Grafana's) reads raw blocks only, so history past the raw retention reads as empty.`);
            }
            if (isCompactor(container)) messages.push(...compactorHistoryProblems(where(workload, container), container.tokens));
        }
        return messages;
    },
);

/** A listen address only the pod or task itself reaches. */
function isLoopback(address: string | undefined): boolean {
    return address !== undefined && /^(localhost|127\.0\.0\.1|\[::1\]):\d+$/.test(address);
}

export const tenancySealed = resourcePolicy(
    {
        name: "thanos-tenancy-sealed",
        description: "A Query that enforces tenancy names its tenant label and keeps its gRPC on loopback: its StoreAPI enforces nothing and would serve every tenant to any client, and the default label (tenant_id) matches no external label, so every tenant would read as empty.",
        enforcementLevel: "mandatory",
        severity: "high",
        remediationSteps: "Render the tenants' Query with queryArgs({ audience: \"tenants\" }) (components/thanos/render.ts): --query.tenant-label-name=tenant and --grpc-address=localhost:10901.",
    },
    (view) => {
        const workload = workloadOf(view);
        if (workload === undefined) return [];
        const messages: string[] = [];
        for (const container of workload.containers) {
            if (container.tokens === undefined || !isThanos(container, "query") || !hasFlag(container.tokens, "--query.enforce-tenancy")) continue;
            if (flagValue(container.tokens, "--query.tenant-label-name") === undefined) {
                messages.push(`${where(workload, container)} enforces tenancy without --query.tenant-label-name: the default label tenant_id matches no instance's external label.`);
            }
            const grpc = flagValue(container.tokens, "--grpc-address");
            if (!isLoopback(grpc)) {
                messages.push(`${where(workload, container)} enforces tenancy but serves gRPC on ${grpc ?? "0.0.0.0:10901 (the default)"}: Query's StoreAPI enforces no tenant and would serve every tenant to any client; listen on localhost.`);
            }
        }
        return messages;
    },
);
