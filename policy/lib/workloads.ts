/**
 * Kubernetes pod specs and ECS task definitions seen as one thing: containers (image, command line, memory
 * limit, environment, mounts) and volumes. Prometheus and Thanos rules apply to both platforms through this.
 */
import { describe, View } from "./model";
import { arr, isObject, isUnknown, num, obj, parseJson, quantityBytes, str } from "./values";

export type Amount = number | "unknown" | undefined;

export interface EnvVar {
    readonly name: string;
    /** Plain value; undefined when it comes from a secret/field reference or is unknown. */
    readonly value?: string;
    readonly fromReference: boolean;
}

export interface Mount {
    readonly path: string;
    readonly volume: string;
}

export interface ContainerView {
    readonly name: string;
    readonly image?: string;
    readonly imageUnknown: boolean;
    /** command + args (Kubernetes) or entryPoint + command (ECS); undefined when any part is unknown. */
    readonly tokens?: readonly string[];
    readonly memoryLimit: Amount;
    readonly env: readonly EnvVar[];
    readonly mounts: readonly Mount[];
    readonly init: boolean;
    readonly securityContext?: Record<string, any>;
    /** Kubernetes: the preStop exec hook's command; "unknown" when not yet known, undefined when there is none. */
    readonly preStop?: readonly string[] | "unknown";
    /** ECS: the containers this one depends on (ECS stops it before them). */
    readonly dependsOn?: readonly string[];
    /** ECS: seconds between SIGTERM and SIGKILL at the task's stop (ECS' 30 when unset); "unknown" when not yet known. */
    readonly stopTimeout?: number | "unknown";
}

export type VolumeKind = "tmpfs" | "disk" | "efs" | "nfs" | "secret" | "configMap" | "other" | "unknown";

export interface VolumeView {
    readonly name: string;
    readonly kind: VolumeKind;
    /** tmpfs size (emptyDir.sizeLimit, ECS linuxParameters.tmpfs size). */
    readonly sizeLimit: Amount;
    /** Name of the Secret / ConfigMap a Kubernetes volume projects. */
    readonly source?: string;
    readonly raw: Record<string, any>;
}

export interface WorkloadView {
    readonly platform: "kubernetes" | "ecs";
    readonly view: View;
    /** "StatefulSet 'prometheus-payments'" or "TaskDefinition 'thanos-compactor'". */
    readonly label: string;
    readonly namespace?: string;
    readonly containers: readonly ContainerView[];
    readonly volumes: ReadonlyMap<string, VolumeView>;
    readonly podSecurityContext?: Record<string, any>;
    /** Kubernetes: pods the controller keeps; "per-node" for DaemonSets. ECS task definitions: undefined. */
    readonly replicas?: number | "unknown" | "per-node";
    /** ECS: task-level memory (bytes), the hard limit when containers set none. */
    readonly taskMemory?: Amount;
    readonly serviceAccountName?: string;
    /** Kubernetes: the pods' grace period in seconds (Kubernetes' 30 when unset); "unknown" when not yet known. */
    readonly terminationGracePeriodSeconds?: number | "unknown";
}

export const kubernetesWorkloadTypes = {
    pod: "kubernetes:core/v1:Pod",
    deployment: "kubernetes:apps/v1:Deployment",
    statefulSet: "kubernetes:apps/v1:StatefulSet",
    daemonSet: "kubernetes:apps/v1:DaemonSet",
    replicaSet: "kubernetes:apps/v1:ReplicaSet",
    job: "kubernetes:batch/v1:Job",
    cronJob: "kubernetes:batch/v1:CronJob",
} as const;

export const ecsTaskDefinitionType = "aws:ecs/taskDefinition:TaskDefinition";

const podSpecPaths: Record<string, (props: Record<string, any>) => unknown> = {
    [kubernetesWorkloadTypes.pod]: (props) => props.spec,
    [kubernetesWorkloadTypes.deployment]: (props) => props.spec?.template?.spec,
    [kubernetesWorkloadTypes.statefulSet]: (props) => props.spec?.template?.spec,
    [kubernetesWorkloadTypes.daemonSet]: (props) => props.spec?.template?.spec,
    [kubernetesWorkloadTypes.replicaSet]: (props) => props.spec?.template?.spec,
    [kubernetesWorkloadTypes.job]: (props) => props.spec?.template?.spec,
    [kubernetesWorkloadTypes.cronJob]: (props) => props.spec?.jobTemplate?.spec?.template?.spec,
};

/** The workload a resource defines, or undefined (not a workload, or its definition is unknown). */
export function workloadOf(view: View): WorkloadView | undefined {
    if (view.type in podSpecPaths) return kubernetesWorkload(view);
    if (view.type === ecsTaskDefinitionType) return ecsWorkload(view);
    return undefined;
}

function amountOf(value: unknown, toBytes: (v: unknown) => number | undefined): Amount {
    if (value === undefined || value === null || value === "") return undefined;
    if (isUnknown(value)) return "unknown";
    return toBytes(value);
}

function stringList(value: unknown): string[] | undefined {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) return undefined;
    if (value.some((item) => typeof item !== "string" || isUnknown(item))) return undefined;
    return value as string[];
}

function kubernetesReplicas(view: View): WorkloadView["replicas"] {
    const spec = obj(view.props.spec);
    switch (view.type) {
        case kubernetesWorkloadTypes.daemonSet:
            return "per-node";
        case kubernetesWorkloadTypes.pod:
        case kubernetesWorkloadTypes.cronJob:
            return 1;
        case kubernetesWorkloadTypes.job:
            return spec.parallelism === undefined ? 1 : (num(spec.parallelism) ?? "unknown");
        default:
            return spec.replicas === undefined || spec.replicas === null ? 1 : (num(spec.replicas) ?? "unknown");
    }
}

function kubernetesContainer(container: Record<string, any>, init: boolean): ContainerView {
    const command = stringList(container.command);
    const args = stringList(container.args);
    const limits = obj(obj(container.resources).limits);
    const env: EnvVar[] = arr(container.env).filter(isObject).map((entry) => ({
        name: str(entry.name) ?? "",
        value: entry.valueFrom === undefined ? str(entry.value) : undefined,
        fromReference: entry.valueFrom !== undefined,
    }));
    return {
        name: str(container.name) ?? "(unnamed)",
        image: str(container.image),
        imageUnknown: isUnknown(container.image),
        tokens: command !== undefined && args !== undefined ? [...command, ...args] : undefined,
        memoryLimit: isUnknown(container.resources) || isUnknown(container.resources?.limits) ? "unknown" : amountOf(limits.memory, quantityBytes),
        env,
        mounts: arr(container.volumeMounts).filter(isObject).map((mount) => ({ path: str(mount.mountPath) ?? "", volume: str(mount.name) ?? "" })),
        init,
        securityContext: isObject(container.securityContext) ? container.securityContext : undefined,
        preStop: preStopOf(container),
    };
}

function preStopOf(container: Record<string, any>): readonly string[] | "unknown" | undefined {
    if (isUnknown(container.lifecycle) || isUnknown(container.lifecycle?.preStop) || isUnknown(container.lifecycle?.preStop?.exec)) return "unknown";
    const exec = container.lifecycle?.preStop?.exec;
    if (!isObject(exec)) return undefined;
    return stringList(exec.command) ?? "unknown";
}

function kubernetesVolume(volume: Record<string, any>, claimTemplates: Record<string, any>[]): VolumeView {
    const name = str(volume.name) ?? "";
    if (isObject(volume.emptyDir)) {
        const memory = volume.emptyDir.medium === "Memory";
        return { name, kind: memory ? "tmpfs" : "disk", sizeLimit: amountOf(volume.emptyDir.sizeLimit, quantityBytes), raw: volume };
    }
    if (isUnknown(volume.emptyDir)) return { name, kind: "unknown", sizeLimit: undefined, raw: volume };
    if (isObject(volume.nfs)) return { name, kind: "nfs", sizeLimit: undefined, raw: volume };
    if (isObject(volume.csi)) {
        const driver = str(volume.csi.driver) ?? "";
        return { name, kind: /efs|nfs/i.test(driver) ? "efs" : "other", sizeLimit: undefined, raw: volume };
    }
    if (isObject(volume.secret)) return { name, kind: "secret", sizeLimit: undefined, source: str(volume.secret.secretName), raw: volume };
    if (isObject(volume.configMap)) return { name, kind: "configMap", sizeLimit: undefined, source: str(volume.configMap.name), raw: volume };
    if (isObject(volume.persistentVolumeClaim)) {
        const template = claimTemplates.find((claim) => str(claim.metadata?.name) === str(volume.persistentVolumeClaim.claimName));
        return { name, kind: nfsStorageClass(template) ? "efs" : "disk", sizeLimit: undefined, raw: volume };
    }
    return { name, kind: "other", sizeLimit: undefined, raw: volume };
}

function nfsStorageClass(claim: Record<string, any> | undefined): boolean {
    return /efs|nfs/i.test(str(claim?.spec?.storageClassName) ?? "");
}

function kubernetesWorkload(view: View): WorkloadView | undefined {
    const spec = podSpecPaths[view.type](view.props);
    if (!isObject(spec)) return undefined;
    const containers = [
        ...arr(spec.initContainers).filter(isObject).map((container) => kubernetesContainer(container, true)),
        ...arr(spec.containers).filter(isObject).map((container) => kubernetesContainer(container, false)),
    ];
    const claimTemplates = arr(view.props.spec?.volumeClaimTemplates).filter(isObject);
    const volumes = new Map<string, VolumeView>();
    for (const volume of arr(spec.volumes).filter(isObject)) {
        const parsed = kubernetesVolume(volume, claimTemplates);
        volumes.set(parsed.name, parsed);
    }
    // StatefulSet claim templates are mounted by name without a pod volume entry.
    for (const claim of claimTemplates) {
        const name = str(claim.metadata?.name);
        if (name !== undefined && !volumes.has(name)) {
            volumes.set(name, { name, kind: nfsStorageClass(claim) ? "efs" : "disk", sizeLimit: undefined, raw: claim });
        }
    }
    return {
        platform: "kubernetes",
        view,
        label: describe(view),
        namespace: str(view.props.metadata?.namespace),
        containers,
        volumes,
        podSecurityContext: isObject(spec.securityContext) ? spec.securityContext : undefined,
        replicas: kubernetesReplicas(view),
        serviceAccountName: str(spec.serviceAccountName) ?? str(spec.serviceAccount),
        terminationGracePeriodSeconds: spec.terminationGracePeriodSeconds === undefined || spec.terminationGracePeriodSeconds === null ? 30 : (num(spec.terminationGracePeriodSeconds) ?? "unknown"),
    };
}

const mebibyte = 2 ** 20;

/** ECS' stop timeout of a container that sets none. */
const ecsDefaultStopTimeoutSeconds = 30;

function ecsContainer(definition: Record<string, any>): { container: ContainerView; tmpfs: VolumeView[] } {
    const entryPoint = stringList(definition.entryPoint);
    const command = stringList(definition.command);
    const tmpfs: VolumeView[] = [];
    const mounts: Mount[] = arr(definition.mountPoints).filter(isObject).map((mount) => ({ path: str(mount.containerPath) ?? "", volume: str(mount.sourceVolume) ?? "" }));
    for (const entry of arr(definition.linuxParameters?.tmpfs).filter(isObject)) {
        const path = str(entry.containerPath) ?? "";
        const name = `tmpfs:${str(definition.name) ?? ""}:${path}`;
        tmpfs.push({ name, kind: "tmpfs", sizeLimit: amountOf(entry.size, (v) => (num(v) === undefined ? undefined : num(v)! * mebibyte)), raw: entry });
        mounts.push({ path, volume: name });
    }
    const env: EnvVar[] = [
        ...arr(definition.environment).filter(isObject).map((entry) => ({ name: str(entry.name) ?? "", value: str(entry.value), fromReference: false })),
        ...arr(definition.secrets).filter(isObject).map((entry) => ({ name: str(entry.name) ?? "", fromReference: true })),
    ];
    return {
        container: {
            name: str(definition.name) ?? "(unnamed)",
            image: str(definition.image),
            imageUnknown: isUnknown(definition.image),
            tokens: entryPoint !== undefined && command !== undefined ? [...entryPoint, ...command] : undefined,
            memoryLimit: amountOf(definition.memory, (v) => (num(v) === undefined ? undefined : num(v)! * mebibyte)),
            env,
            mounts,
            init: false,
            dependsOn: arr(definition.dependsOn).filter(isObject).map((dependency) => str(dependency.containerName) ?? ""),
            stopTimeout: isUnknown(definition.stopTimeout) ? "unknown" : (num(definition.stopTimeout) ?? ecsDefaultStopTimeoutSeconds),
        },
        tmpfs,
    };
}

function ecsVolume(volume: Record<string, any>): VolumeView {
    const name = str(volume.name) ?? "";
    if (isObject(volume.efsVolumeConfiguration) || isUnknown(volume.efsVolumeConfiguration)) {
        return { name, kind: "efs", sizeLimit: undefined, raw: volume };
    }
    if (isObject(volume.dockerVolumeConfiguration)) {
        const docker = volume.dockerVolumeConfiguration;
        const options = Object.values(obj(docker.driverOpts)).map((v) => str(v) ?? "").join(" ");
        const nfs = /efs|nfs/i.test(`${str(docker.driver) ?? ""} ${options}`);
        return { name, kind: nfs ? "nfs" : "disk", sizeLimit: undefined, raw: volume };
    }
    return { name, kind: "disk", sizeLimit: undefined, raw: volume };
}

/** Container definitions of an ECS task definition (a JSON string in the AWS schema). */
export function ecsContainerDefinitions(view: View): Record<string, any>[] | undefined {
    const parsed = parseJson<unknown>(view.props.containerDefinitions);
    if (parsed.kind !== "ok" || !Array.isArray(parsed.value)) return undefined;
    return parsed.value.filter(isObject);
}

function ecsWorkload(view: View): WorkloadView | undefined {
    const definitions = ecsContainerDefinitions(view);
    if (definitions === undefined) return undefined;
    const volumes = new Map<string, VolumeView>();
    for (const volume of arr(view.props.volumes).filter(isObject)) {
        const parsed = ecsVolume(volume);
        volumes.set(parsed.name, parsed);
    }
    const containers = definitions.map((definition) => {
        const { container, tmpfs } = ecsContainer(definition);
        for (const volume of tmpfs) volumes.set(volume.name, volume);
        return container;
    });
    return {
        platform: "ecs",
        view,
        label: describe(view),
        containers,
        volumes,
        taskMemory: amountOf(view.props.memory, (v) => (num(v) === undefined ? undefined : num(v)! * mebibyte)),
    };
}

// ----------------------------------------------------------------------------------------- command lines

/** Tokens plus the words of shell-form tokens ("sh -c 'prometheus --flag=x'"). */
export function words(tokens: readonly string[]): string[] {
    return tokens.flatMap((token) => (/\s/.test(token) && !token.includes("\n") ? token.split(/\s+/).map((w) => w.replace(/^['"]|['"]$/g, "")).filter(Boolean) : [token]));
}

/** Value of `--flag=value` or `--flag value`; undefined when absent. */
export function flagValue(tokens: readonly string[] | undefined, flag: string): string | undefined {
    if (tokens === undefined) return undefined;
    for (const list of [tokens, words(tokens)]) {
        for (let index = 0; index < list.length; index++) {
            const token = list[index];
            if (token.startsWith(`${flag}=`)) return token.slice(flag.length + 1);
            if (token === flag && index + 1 < list.length && !list[index + 1].startsWith("--")) return list[index + 1];
        }
    }
    return undefined;
}

export function hasFlag(tokens: readonly string[] | undefined, flag: string): boolean {
    if (tokens === undefined) return false;
    return words(tokens).some((token) => token === flag || token.startsWith(`${flag}=`));
}

export function flagValues(tokens: readonly string[] | undefined, flag: string): string[] {
    if (tokens === undefined) return [];
    const values: string[] = [];
    const list = words(tokens);
    list.forEach((token, index) => {
        if (token.startsWith(`${flag}=`)) values.push(token.slice(flag.length + 1));
        else if (token === flag && index + 1 < list.length) values.push(list[index + 1]);
    });
    return values;
}

// ------------------------------------------------------------------------------------- what runs where

/** The Prometheus server: the container started with --storage.tsdb.path. */
export function isPrometheus(container: ContainerView): boolean {
    return hasFlag(container.tokens, "--storage.tsdb.path");
}

/** Thanos images: quay.io/thanos/thanos, thanosio/thanos, bitnami/thanos, a mirror ending in /thanos. */
export function isThanosImage(image: string | undefined): boolean {
    return image !== undefined && /(^|\/)thanos([:@]|$)/.test(image);
}

export function isThanos(container: ContainerView, subcommand: string): boolean {
    return isThanosImage(container.image) && container.tokens !== undefined && words(container.tokens).includes(subcommand);
}

export function isCompactor(container: ContainerView): boolean {
    return isThanos(container, "compact");
}

/** The volume a container has mounted at `path` or at a directory above it (the deepest such mount). */
export function volumeAt(workload: WorkloadView, container: ContainerView, path: string): VolumeView | undefined {
    const normalized = path.replace(/\/+$/, "");
    const mount = container.mounts
        .filter((m) => {
            const mountPath = m.path.replace(/\/+$/, "");
            return normalized === mountPath || normalized.startsWith(`${mountPath}/`) || mountPath === "";
        })
        .sort((a, b) => b.path.length - a.path.length)[0];
    return mount === undefined ? undefined : workload.volumes.get(mount.volume);
}

/** The memory limit that applies to a container: its own, else (ECS) the task's. */
export function effectiveMemoryLimit(workload: WorkloadView, container: ContainerView): Amount {
    if (container.memoryLimit !== undefined) return container.memoryLimit;
    return workload.platform === "ecs" ? workload.taskMemory : undefined;
}

/** "TaskDefinition 'x' container 'prometheus'" for messages. */
export function where(workload: WorkloadView, container: ContainerView): string {
    return `${workload.label} ${container.init ? "init container" : "container"} '${container.name}'`;
}
