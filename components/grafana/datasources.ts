/** Pure renderer for Grafana datasource provisioning files (read by Grafana's datasource sidecar). */
import * as yaml from "js-yaml";

export interface DatasourceInput {
    readonly name: string;
    readonly url: string;
    readonly flavor: "Prometheus" | "Thanos";
    readonly isDefault?: boolean;
    /** Basic auth of the datasource; the password goes into secureJsonData (encrypted in Grafana's database). */
    readonly basicAuth?: { readonly username: string; readonly password: string };
}

/** Label Grafana's k8s-sidecar watches for datasource ConfigMaps and Secrets. */
export const grafanaDatasourceLabel = { grafana_datasource: "1" } as const;

export function renderDatasources(datasources: readonly DatasourceInput[]): string {
    return yaml.dump(
        {
            apiVersion: 1,
            datasources: datasources.map((source) => ({
                name: source.name,
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
