import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { defaultDenyPolicyName, defaultDenySpec } from "./network-policy";
import { workloadLabels } from "./workload";

export interface DefaultDenyArgs {
    /** The namespaces to isolate, by a stable key (the resource names derive from it). */
    readonly namespaces: Readonly<Record<string, pulumi.Input<string>>>;
}

/** Every pod of each namespace denied both ways; each component's own NetworkPolicy then admits its peers. */
export class DefaultDeny extends pulumi.ComponentResource {
    constructor(name: string, args: DefaultDenyArgs, opts?: pulumi.ComponentResourceOptions) {
        super("paas:kubernetes:DefaultDeny", name, {}, opts);
        for (const [key, namespace] of Object.entries(args.namespaces)) {
            new k8s.networking.v1.NetworkPolicy(`${name}-${key}`, {
                metadata: { name: defaultDenyPolicyName, namespace, labels: workloadLabels("prometheus-paas", "network", name) },
                spec: defaultDenySpec,
            }, { parent: this });
        }
        this.registerOutputs({});
    }
}
