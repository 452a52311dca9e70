import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { formerly } from "../aliases";
import { workloadLabels } from "../kubernetes/workload";
import { DatasourceInput, grafanaDatasourceLabel, instanceDatasources, InstanceDatasourcesInput, renderDatasources } from "./datasources";

type Inputs<T> = { readonly [K in keyof T]: pulumi.Input<T[K]> };

/** An instance's datasources once its URLs and password resolve: one entry of GrafanaDatasources. */
export function instanceDatasourcesEntry(input: Inputs<InstanceDatasourcesInput>): pulumi.Output<DatasourceInput[]> {
    return pulumi.output(input).apply((resolved) => instanceDatasources(resolved));
}

export interface GrafanaDatasourcesArgs {
    /** Namespace Grafana's datasource sidecar watches. */
    readonly namespace: pulumi.Input<string>;
    /** One Secret per entry, so a tenant's datasources (and its credentials) come and go with its instance. */
    readonly datasources: Record<string, pulumi.Input<DatasourceInput[]>>;
}

/** Grafana datasources as Secrets (some carry credentials) labelled for Grafana's datasource sidecar. */
export class GrafanaDatasources extends pulumi.ComponentResource {
    constructor(name: string, args: GrafanaDatasourcesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("paas:grafana:GrafanaDatasources", name, {}, formerly("paas:grafana:Datasources", opts));
        for (const [key, datasource] of Object.entries(args.datasources)) {
            new k8s.core.v1.Secret(`${name}-${key}`, {
                metadata: {
                    name: `grafana-datasource-${key}`,
                    namespace: args.namespace,
                    labels: { ...workloadLabels("grafana", "datasource", key), ...grafanaDatasourceLabel },
                },
                stringData: { [`${key}.yaml`]: pulumi.secret(pulumi.output(datasource).apply((sources) => renderDatasources(sources))) },
            // Immutable to the provider: a changed datasource replaces its Secret under the same name.
            }, { parent: this, deleteBeforeReplace: true });
        }
        this.registerOutputs({});
    }
}
