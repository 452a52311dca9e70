/** The Kubernetes provider of every stack that applies this program's objects: the platform stacks and the broker's instance stacks. */
import * as k8s from "@pulumi/kubernetes";

export interface KubernetesProviderTarget {
    readonly kubeconfig?: string;
    readonly context?: string;
    /** Render manifests to this folder instead of applying them. */
    readonly renderYamlToDirectory?: string;
}

export function kubernetesProvider(name: string, target: KubernetesProviderTarget): k8s.Provider {
    return new k8s.Provider(name, {
        kubeconfig: target.kubeconfig,
        context: target.context,
        renderYamlToDirectory: target.renderYamlToDirectory,
        // The Thanos sidecar reloads prometheus.yml and the rules from their ConfigMaps, so a binding must change
        // them in place. By default the provider replaces a ConfigMap whose data changed: with our fixed names that
        // fails on a real API server (server-side apply conflict with the old object's field manager).
        enableConfigMapMutable: true,
        // Secrets, in contrast, are read only when a process starts (objstore.yml by the sidecar, store and
        // compactor; the broker's credentials), so a changed Secret must roll the pods that read it. They are
        // therefore left immutable and auto-named (no metadata.name): a data change makes the provider create a
        // Secret of a new name, update the workloads whose pod template names it (which rolls them), then delete the
        // old one. (Mutable Secrets plus a checksum annotation would need the checksum kept secret, and the Node SDK
        // then marks the whole workload spec secret: previews would show every StatefulSet as `[secret]`.)
    });
}
