/** `kubernetes.network` resolved: the defaults derived from Grafana's namespace, the alertmanagers and the bucket. */
import type { z } from "zod";
import type { endpointSchema } from "./network-schema";
import { projectName } from "./primitives";
import type { NetworkConfig, NetworkEndpoint, NetworkPeer, RawStackConfig } from "./types";

/** Where Tsuru's Helm chart runs its API. */
const tsuruDefault: NetworkPeer = { namespace: "tsuru-system" };
const dnsDefault: NetworkEndpoint = { namespace: "kube-system", pods: { "k8s-app": "kube-dns" }, ports: [53] };
const apiServerPorts = [443, 6443];
/** Public addresses: AWS S3's endpoints (also behind a VPC gateway endpoint), never the private ranges. */
const publicInternet: NetworkPeer = { cidrs: ["0.0.0.0/0"], except: ["10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16"] };

const ipv4 = /^(\d{1,3})(\.\d{1,3}){3}$/;
/** `<service>.<namespace>.svc[.cluster.local]` */
const serviceHost = /^[a-z0-9-]+\.([a-z0-9-]+)\.svc(\.cluster\.local)?$/;

/** The peer a host names by itself: an in-cluster Service's namespace, or an IPv4 address. */
function hostPeer(host: string): NetworkPeer | undefined {
    if (ipv4.test(host)) return { cidrs: [`${host}/32`] };
    const service = serviceHost.exec(host);
    return service ? { namespace: service[1] } : undefined;
}

function withPorts(configured: z.infer<typeof endpointSchema>, ports: readonly number[]): NetworkEndpoint {
    return { ...configured, ports: configured.ports ?? ports };
}

const key = (name: string) => `${projectName}:kubernetes.network.${name}`;

function alertmanagerEndpoints(config: RawStackConfig, problems: string[]): NetworkEndpoint[] {
    const configured = config.kubernetes.network.alertmanager;
    if (configured !== undefined) {
        const ports = [...new Set(config.alertmanagers.map((url) => urlPort(new URL(url))))];
        return [withPorts(configured, ports.length > 0 ? ports : [9093])];
    }
    return config.alertmanagers.flatMap((text) => {
        const url = new URL(text);
        const peer = hostPeer(url.hostname);
        if (peer === undefined) {
            problems.push(`${key("alertmanager")}: is required: alertmanagers entry ${text} names neither an in-cluster Service (<service>.<namespace>.svc) nor an IPv4 address; give Alertmanager's namespace (and pods) or cidrs`);
            return [];
        }
        return [{ ...peer, ports: [urlPort(url)] }];
    });
}

function urlPort(url: URL): number {
    return url.port !== "" ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
}

function bucketEndpoint(config: RawStackConfig, problems: string[]): NetworkEndpoint | undefined {
    const configured = config.kubernetes.network.bucket;
    const { bucket } = config;
    if (bucket.type === "s3") return configured ? withPorts(configured, [443]) : { ...publicInternet, ports: [443] };
    const [host, portText] = bucket.endpoint.split(":");
    const ports = [portText !== undefined ? Number(portText) : bucket.insecure ? 80 : 443];
    if (configured !== undefined) return withPorts(configured, ports);
    const peer = hostPeer(host);
    if (peer === undefined) {
        problems.push(`${key("bucket")}: is required: bucket.endpoint ${bucket.endpoint} names neither an in-cluster Service (<service>.<namespace>.svc) nor an IPv4 address; give the bucket's cidrs (or namespace)`);
        return undefined;
    }
    return { ...peer, ports };
}

/**
 * The network of the Kubernetes half, or undefined for a stack without it (no Kubernetes instance, no broker).
 * `grafanaNamespace` is where Grafana reads its datasources (the default peer).
 */
export function resolveNetwork(config: RawStackConfig, grafanaNamespace: string, usesKubernetes: boolean, problems: string[]): NetworkConfig | undefined {
    if (!usesKubernetes) return undefined;
    const network = config.kubernetes.network;
    if (network.apiServer === undefined) {
        problems.push(`${key("apiServer")}: is required: the API server's endpoint addresses (kubectl get endpointslices -n default -l kubernetes.io/service-name=kubernetes), which Prometheus' discovery and the broker reach, e.g. { cidrs: [10.0.0.10/32], ports: [6443] }`);
    }
    const alertmanagers = alertmanagerEndpoints(config, problems);
    const bucket = bucketEndpoint(config, problems);
    if (network.apiServer === undefined || bucket === undefined) return undefined;
    return {
        grafana: network.grafana ?? { namespace: grafanaNamespace, pods: { "app.kubernetes.io/name": "grafana" } },
        tsuru: network.tsuru ?? tsuruDefault,
        dns: network.dns ? withPorts(network.dns, dnsDefault.ports) : dnsDefault,
        apiServer: withPorts(network.apiServer, apiServerPorts),
        alertmanagers,
        bucket,
    };
}

/** Everything on this machine (the local stack's API server and bucket on loopback): the broker's default settings. */
export function loopbackNetwork(grafanaNamespace: string): NetworkConfig {
    return {
        grafana: { namespace: grafanaNamespace, pods: { "app.kubernetes.io/name": "grafana" } },
        tsuru: tsuruDefault,
        dns: dnsDefault,
        apiServer: { cidrs: ["127.0.0.1/32"], ports: apiServerPorts },
        alertmanagers: [],
        bucket: { cidrs: ["127.0.0.1/32"], ports: [9000] },
    };
}
