/** Pure renderer for Grafana datasource provisioning files (read by Grafana's datasource sidecar). */
import * as yaml from "js-yaml";
import { webUsername } from "../prometheus/web-auth";

export interface DatasourceInput {
    readonly name: string;
    readonly url: string;
    readonly flavor: "Prometheus" | "Thanos";
    readonly isDefault?: boolean;
    /** Grafana organization the datasource belongs to; Grafana's default (1) when absent. */
    readonly orgId?: number;
    /** Basic auth of the datasource; the password goes into secureJsonData (encrypted in Grafana's database). */
    readonly basicAuth?: { readonly username: string; readonly password: string };
}

/** The names of an instance's two datasources, as Grafana lists them (and `service-instance-info` shows them). */
export function instanceDatasourceNames(instanceName: string, environment: string): { prometheus: string; history: string } {
    return { prometheus: `Prometheus ${instanceName} (${environment})`, history: `Prometheus ${instanceName} history (${environment})` };
}

export interface InstanceDatasourcesInput {
    readonly instanceName: string;
    readonly environment: string;
    readonly prometheusUrl: string;
    /** The instance's history front: its tenant's data, recent and past, through the tenants' Query. */
    readonly historyUrl: string;
    /** The instance's password; its user is the instance's web user. */
    readonly password: string;
    /** The instance's team's Grafana organization (`grafana.orgs`), so only that team's users see them. */
    readonly orgId?: number;
}

/** An instance's datasources: its own Prometheus, and its history; both with the instance's credentials. */
export function instanceDatasources(input: InstanceDatasourcesInput): DatasourceInput[] {
    const names = instanceDatasourceNames(input.instanceName, input.environment);
    const basicAuth = { username: webUsername(input.instanceName), password: input.password };
    return [
        { name: names.prometheus, url: input.prometheusUrl, flavor: "Prometheus", basicAuth, orgId: input.orgId },
        { name: names.history, url: input.historyUrl, flavor: "Thanos", basicAuth, orgId: input.orgId },
    ];
}

/** Label Grafana's k8s-sidecar watches for datasource ConfigMaps and Secrets. */
export const grafanaDatasourceLabel = { grafana_datasource: "1" } as const;

export function renderDatasources(datasources: readonly DatasourceInput[]): string {
    return yaml.dump(
        {
            apiVersion: 1,
            datasources: datasources.map((source) => ({
                name: source.name,
                ...(source.orgId !== undefined ? { orgId: source.orgId } : {}),
                type: "prometheus",
                access: "proxy",
                url: source.url,
                isDefault: source.isDefault ?? false,
                editable: false,
                jsonData: { prometheusType: source.flavor, timeInterval: "30s" },
                ...(source.basicAuth ? { basicAuth: true, basicAuthUser: source.basicAuth.username, secureJsonData: { basicAuthPassword: source.basicAuth.password } } : {}),
            })),
        },
        { lineWidth: -1 },
    );
}
