/** Pure renderer for the service documentation Tsuru shows with `tsuru service-doc prometheus`. */
import { Plan } from "../plans";
import { prometheusSize } from "../units";

export function renderServiceDoc(serviceId: string, plans: Readonly<Record<string, Plan>>): string {
    const lines = [
        `Prometheus-as-a-Service: a Prometheus per instance that scrapes every unit of the apps bound to it,`,
        `with long-term storage in S3 through Thanos.`,
        ``,
        `  tsuru service-instance-add ${serviceId} <instance> <plan> -t <team>`,
        `  tsuru service-instance-bind ${serviceId} <instance> -a <app>`,
        ``,
        `Apps expose metrics on their port (default 8888) at /metrics. Plans:`,
        ...Object.values(plans).map((plan) =>
            `  ${plan.name}: ${plan.description} (tmpfs ${prometheusSize(plan.tmpfsMiB)}, local retention ${plan.retentionTime}, ` +
            `${plan.sampleLimit} samples per scrape)`),
        ``,
        `The local TSDB lives in memory: a restart loses up to ~2h not yet uploaded to Thanos (HA plans keep a second copy).`,
    ];
    return lines.join("\n");
}
