/** Kubernetes building blocks shared by every workload of this program. */
import * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { HttpProbe, ProcessDefaults, Resources } from "../process";
import { mebibytes } from "../units";

export const partOf = "prometheus-paas";

export function workloadLabels(name: string, component: string, instance: string): Record<string, string> {
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/instance": instance,
        "app.kubernetes.io/part-of": partOf,
    };
}

/** The labels of a component's pods whatever the instance (the stack or broker stack that created them). */
export function anyInstanceLabels(labels: Record<string, string>): Record<string, string> {
    const { "app.kubernetes.io/instance": _instance, ...rest } = labels;
    return rest;
}

/** Non-root pod: nobody:nogroup, the uid the Prometheus and Thanos images run as. */
export const podSecurityContext: k8s.types.input.core.v1.PodSecurityContext = {
    runAsNonRoot: true,
    runAsUser: 65534,
    runAsGroup: 65534,
    fsGroup: 65534,
    seccompProfile: { type: "RuntimeDefault" },
};

export const containerSecurityContext: k8s.types.input.core.v1.SecurityContext = {
    runAsNonRoot: true,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ["ALL"] },
};

type Probe = k8s.types.input.core.v1.Probe;

/** How often a probe runs and how long it may take, whatever it checks. */
export function probeTiming(probe: HttpProbe): Pick<Probe, "periodSeconds" | "failureThreshold" | "timeoutSeconds"> {
    return { periodSeconds: probe.periodSeconds, failureThreshold: probe.failureThreshold, timeoutSeconds: probe.timeoutSeconds };
}

function httpGet(probe: HttpProbe, port: number): Probe {
    return { httpGet: { path: probe.path, port }, ...probeTiming(probe) };
}

/**
 * Requests and limits of a container; no CPU limit (throttling a Prometheus or Thanos process only slows it down).
 * `disk` (an emptyDir's size, a quantity) is requested and limited as ephemeral storage too.
 */
export function containerResources(resources: Resources, disk?: string): k8s.types.input.core.v1.ResourceRequirements {
    const ephemeral: Record<string, string> = disk !== undefined ? { "ephemeral-storage": disk } : {};
    return {
        requests: { cpu: resources.cpu, memory: mebibytes(resources.memory.requestMiB), ...ephemeral },
        limits: { memory: mebibytes(resources.memory.limitMiB), ...ephemeral },
    };
}

/** Readiness and liveness probes of a process; the startup probe holds liveness off while it starts. */
export function containerProbes(process: ProcessDefaults): { readinessProbe: Probe; livenessProbe: Probe; startupProbe: Probe } {
    const liveness = httpGet(process.liveness, process.httpPort);
    return {
        readinessProbe: httpGet(process.readiness, process.httpPort),
        livenessProbe: liveness,
        startupProbe: { ...liveness, failureThreshold: Math.ceil(process.startSeconds / process.liveness.periodSeconds) },
    };
}

export const podNameEnv: k8s.types.input.core.v1.EnvVar = { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } };

/** Spread HA replicas over nodes when the cluster allows it. */
export function spreadOverNodes(labels: Record<string, string>): k8s.types.input.core.v1.Affinity {
    return {
        podAntiAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [
                { weight: 100, podAffinityTerm: { topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: labels } } },
            ],
        },
    };
}

/** The Kubernetes provider's annotation: return once the API server accepted the object, and on delete. */
export const skipAwaitAnnotation = "pulumi.com/skipAwait";

/**
 * Sets skipAwait on every Kubernetes object below the resource it is given to. For an API server with no kubelet
 * (the tests), where no workload ever becomes ready; real clusters keep the provider's readiness checks.
 */
export const skipAwaitTransform: pulumi.ResourceTransform = ({ type, props, opts }) => {
    if (!type.startsWith("kubernetes:")) return undefined;
    const metadata = props.metadata ?? {};
    return { props: { ...props, metadata: { ...metadata, annotations: { ...metadata.annotations, [skipAwaitAnnotation]: "true" } } }, opts };
};
