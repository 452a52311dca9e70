/** `kubernetes.network` resolved: the defaults derived from Grafana's namespace, the alertmanagers and the bucket. */
import type { z } from "zod";
import type { endpointSchema } from "./network-schema";
import { ipv4CidrPrefix, projectName } from "./primitives";
import type { NetworkConfig, NetworkEndpoint, NetworkPeer, RawStackConfig } from "./types";

/** Where Tsuru's Helm chart runs its API. */
const tsuruDefault: NetworkPeer = { namespace: "tsuru-system" };
const dnsDefault: NetworkEndpoint = { namespace: "kube-system", pods: { "k8s-app": "kube-dns" }, ports: [53] };
const apiServerPorts = [443, 6443];
/** Public addresses: AWS S3's endpoints (also behind a VPC gateway endpoint), never the private ranges. */
const publicInternet: NetworkPeer = { cidrs: ["0.0.0.0/0"], except: ["10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16"] };

/** `<service>.<namespace>.svc[.cluster.local]` */
const serviceHost = /^[a-z0-9-]+\.([a-z0-9-]+)\.svc(\.cluster\.local)?$/;

/** The peer a host names by itself: an in-cluster Service's namespace, or an IPv4 address. */
function hostPeer(host: string): NetworkPeer | undefined {
    if (ipv4CidrPrefix(`${host}/32`) !== undefined) return { cidrs: [`${host}/32`] };
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

/** Where Grafana runs unless said: the namespace of its datasources when set, else its chart's usual one. */
const grafanaDefaultNamespace = "grafana";
/** Grafana's pods as its Helm chart labels them. */
const grafanaPods = (namespace: string): NetworkPeer => ({ namespace, pods: { "app.kubernetes.io/name": "grafana" } });

/** A peer in a namespace the default deny closes would be cut off from everything. */
function peersInInstancesNamespaces(network: NetworkConfig, instanceNamespaces: readonly string[]): string[] {
    const peers: [string, NetworkPeer][] = [["grafana", network.grafana], ["tsuru", network.tsuru], ["dns", network.dns], ["bucket", network.bucket], ...network.alertmanagers.map((endpoint): [string, NetworkPeer] => ["alertmanager", endpoint])];
    return peers
        .filter(([, peer]) => peer.namespace !== undefined && instanceNamespaces.includes(peer.namespace))
        .map(([name, peer]) => `${key(name)}: namespace '${peer.namespace}' is an instances' namespace, whose default-deny NetworkPolicy cuts off every pod there but the platform's own; run it in another namespace (and say which here)`);
}

/** The network of the Kubernetes half, or undefined for a stack without it (no Kubernetes instance, no broker). */
export function resolveNetwork(config: RawStackConfig, usesKubernetes: boolean, problems: string[]): NetworkConfig | undefined {
    if (!usesKubernetes) return undefined;
    const network = config.kubernetes.network;
    if (network.apiServer === undefined) {
        problems.push(`${key("apiServer")}: is required: the API server's endpoint addresses (kubectl get endpointslices -n default -l kubernetes.io/service-name=kubernetes), which Prometheus' discovery and the broker reach, e.g. { cidrs: [10.0.0.10/32], ports: [6443] }`);
    }
    const alertmanagers = alertmanagerEndpoints(config, problems);
    const bucket = bucketEndpoint(config, problems);
    if (network.apiServer === undefined || bucket === undefined) return undefined;
    const resolved: NetworkConfig = {
        grafana: network.grafana ?? grafanaPods(config.grafana.namespace ?? grafanaDefaultNamespace),
        tsuru: network.tsuru ?? tsuruDefault,
        dns: network.dns ? withPorts(network.dns, dnsDefault.ports) : dnsDefault,
        apiServer: withPorts(network.apiServer, apiServerPorts),
        alertmanagers,
        bucket,
    };
    problems.push(...peersInInstancesNamespaces(resolved, [config.kubernetes.namespace, ...(config.broker ? [config.broker.instanceNamespace] : [])]));
    return resolved;
}

/** Everything on this machine (the local stack's API server and bucket on loopback): the broker's default settings. */
export function loopbackNetwork(grafanaNamespace: string): NetworkConfig {
    return {
        grafana: grafanaPods(grafanaNamespace),
        tsuru: tsuruDefault,
        dns: dnsDefault,
        apiServer: { cidrs: ["127.0.0.1/32"], ports: apiServerPorts },
        alertmanagers: [],
        bucket: { cidrs: ["127.0.0.1/32"], ports: [9000] },
    };
}
