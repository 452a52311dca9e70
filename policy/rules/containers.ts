/** Container hygiene on both platforms: pinned images, memory limits, non-root (Kubernetes). */
import { resourcePolicy } from "../lib/model";
import { isUnknown, num } from "../lib/values";
import { ContainerView, effectiveMemoryLimit, where, workloadOf } from "../lib/workloads";

/** "tag", "digest", or why the reference is not pinned. */
export function imagePinning(image: string): { pinned: true } | { pinned: false; reason: string } {
    if (/@sha256:[0-9a-f]{64}$/.test(image)) return { pinned: true };
    const lastSegment = image.slice(image.lastIndexOf("/") + 1);
    const colon = lastSegment.indexOf(":");
    if (colon < 0) return { pinned: false, reason: "has no tag (it means latest)" };
    const tag = lastSegment.slice(colon + 1);
    if (tag === "" || tag.toLowerCase() === "latest") return { pinned: false, reason: "uses the tag 'latest'" };
    return { pinned: true };
}

export const imagesPinned = resourcePolicy(
    {
        name: "container-images-pinned",
        description: "Every container image is pinned by a version tag or a digest, never latest or untagged.",
        enforcementLevel: "mandatory",
        severity: "medium",
        remediationSteps: "Pin the image version in components/versions.json (the single place images come from) or by digest.",
    },
    (view) => {
        const workload = workloadOf(view);
        if (workload === undefined) return [];
        return workload.containers.flatMap((container) => {
            if (container.image === undefined || container.imageUnknown) return [];
            const result = imagePinning(container.image);
            return result.pinned ? [] : [`${where(workload, container)} image '${container.image}' ${result.reason}: pin a version tag or digest in components/versions.json.`];
        });
    },
);

export const memoryLimits = resourcePolicy(
    {
        name: "container-memory-limits",
        description: "Every container has a memory limit (Kubernetes resources.limits.memory; ECS container memory or task memory).",
        enforcementLevel: "mandatory",
        severity: "medium",
        remediationSteps: "Set resources.limits.memory (Kubernetes) or memory (ECS container definition or task); for Prometheus it comes from prometheus-paas:plans.<plan>.memory + tmpfs, for Thanos store/compactor from prometheus-paas:thanos.store.memory / thanos.compactor.memory.",
    },
    (view) => {
        const workload = workloadOf(view);
        if (workload === undefined) return [];
        return workload.containers
            .filter((container) => effectiveMemoryLimit(workload, container) === undefined)
            .map((container) =>
                workload.platform === "ecs"
                    ? `${where(workload, container)} has no memory limit: set memory on the container definition (or the task's memory).`
                    : `${where(workload, container)} has no memory limit: set resources.limits.memory (Prometheus: prometheus-paas:plans.<plan>.memory; Thanos: prometheus-paas:thanos.store.memory / thanos.compactor.memory).`,
            );
    },
);

function runsAsRoot(container: ContainerView, pod: Record<string, any> | undefined): "no" | "yes" | "unknown" {
    const own = container.securityContext ?? {};
    const pick = (key: string) => (own[key] !== undefined ? own[key] : pod?.[key]);
    const nonRoot = pick("runAsNonRoot");
    const user = pick("runAsUser");
    if (isUnknown(nonRoot) || isUnknown(user)) return "unknown";
    if (num(user) === 0) return "yes";
    if (nonRoot === true || (num(user) ?? 0) > 0) return "no";
    return "yes";
}

export const nonRoot = resourcePolicy(
    {
        name: "kubernetes-containers-non-root",
        description: "Kubernetes containers run as non-root (runAsNonRoot true or a non-zero runAsUser, never runAsUser 0).",
        enforcementLevel: "mandatory",
        severity: "high",
        remediationSteps: "Set securityContext.runAsNonRoot: true and runAsUser: 65534 on the pod (components/kubernetes/workload.ts podSecurityContext).",
    },
    (view) => {
        const workload = workloadOf(view);
        if (workload?.platform !== "kubernetes") return [];
        return workload.containers
            .filter((container) => runsAsRoot(container, workload.podSecurityContext) === "yes")
            .map((container) =>
                `${where(workload, container)} may run as root: set securityContext.runAsNonRoot: true and runAsUser: 65534 (pod or container; see components/kubernetes/workload.ts).`,
            );
    },
);
