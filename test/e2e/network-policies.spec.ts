/**
 * What the NetworkPolicies of the local stack mean, as the engine renders them, checked by a maintained evaluator
 * (tools/netpol-eval: cyclonus' matcher) against a traffic matrix: only the platform's own components reach a
 * tenant's Prometheus and StoreAPI; a bind and an unbind (a stack config change, `up`) move the rules with them.
 */
import { strict as assert } from "assert";
import * as path from "path";
import type { Stack } from "@pulumi/pulumi/automation";
import { stackKey } from "../support/data-path";
import { EngineSandbox } from "../support/engine";
import { Manifest, readManifests } from "../support/manifests";
import { evaluateFlows, Flow, Peer, pod, unexpectedVerdicts, workloadPod } from "../support/network-policies";

describe("e2e: network policies of the local stack, rendered by the engine, evaluated by cyclonus' matcher against a traffic matrix", function () {
    this.timeout(5 * 60_000);
    const sandbox = new EngineSandbox();
    const manifestsDir = path.join(sandbox.root, "manifests");
    let stack: Stack;
    let manifests: Manifest[];
    const policies = () => manifests.filter((manifest) => manifest.kind === "NetworkPolicy");
    const workload = (kind: string, name: string) => workloadPod(manifests, kind, name);

    // Outside the rendered stack: Grafana, Tsuru's app units, DNS, other pods, and addresses beyond the pod network.
    const grafana = pod("grafana", { "app.kubernetes.io/name": "grafana" });
    /** A tenant's own namespace dressed up as Grafana's: labels a tenant can set, but not kubernetes.io/metadata.name. */
    const spoofedGrafana = pod("tenant-own", { "app.kubernetes.io/name": "grafana" }, { namespaceLabels: { name: "grafana", "app.kubernetes.io/name": "grafana" } });
    const unit = (app: string, process: string, namespace = "tsuru-local") => pod(namespace, { "tsuru.io/app-name": app, "tsuru.io/app-process": process });
    const shopWeb = unit("shop-web", "web");
    const shopWorker = unit("shop-worker", "worker");
    const shopWorkerWebProcess = unit("shop-worker", "web");
    const blogUnit = unit("blog", "web");
    const wikiUnit = unit("wiki", "web", "tsuru-wiki");
    const randomPod = pod("default", { run: "curl" });
    const strayPod = pod("prometheus-local", { run: "debug" });
    const kubeDns = pod("kube-system", { "k8s-app": "kube-dns" });
    const loopback = { ip: "127.0.0.1" }; // the local stack's API server and bucket
    const internet = { ip: "93.184.216.34" };

    before(async () => {
        sandbox.copyStackFile("local", (config) => {
            config[stackKey("kubernetes")].renderYamlToDirectory = manifestsDir;
        });
        stack = await sandbox.open("local");
        await stack.up();
        manifests = readManifests(manifestsDir);
    });

    after(() => sandbox.cleanup());

    function matrix() {
        const shop = workload("StatefulSet", "prometheus-shop");
        const blog = workload("StatefulSet", "prometheus-blog");
        const query = workload("Deployment", "thanos-query");
        const tenantsQuery = workload("Deployment", "thanos-query-tenants");
        const store = workload("StatefulSet", "thanos-store");
        const compactor = workload("StatefulSet", "thanos-compactor");
        const flows = (to: Peer, port: string | number, from: Peer): Flow => ({ from, to, port });
        return { shop, blog, query, tenantsQuery, store, compactor, flows };
    }

    it("renders a default deny for the instances' namespace and a policy for each instance and each Thanos component", () => {
        const names = policies().map((policy) => `${policy.metadata.namespace}/${policy.metadata.name}`).sort();
        assert.deepEqual(names, [
            "prometheus-local/default-deny", "prometheus-local/prometheus-blog", "prometheus-local/prometheus-shop",
            "prometheus-local/thanos-compactor", "prometheus-local/thanos-query", "prometheus-local/thanos-query-tenants", "prometheus-local/thanos-store",
        ]);
        const deny = policies().find((policy) => policy.metadata.name === "default-deny")!;
        assert.deepEqual(deny.spec, { podSelector: {}, policyTypes: ["Ingress", "Egress"] });
    });

    it("only the platform's own components reach a tenant's Prometheus and StoreAPI: another tenant's app, a random pod and a spoofed Grafana are denied; Query reaches the sidecars, Grafana and the bound apps reach web and history", () => {
        const { shop, blog, query, tenantsQuery, store, flows } = matrix();
        const traffic = {
            "another tenant's app → shop's web": flows(shop, "web", blogUnit),
            "another tenant's app → shop's history front": flows(shop, "history", blogUnit),
            "another tenant's app → shop's sidecar StoreAPI": flows(shop, "grpc", blogUnit),
            "an app of another namespace → shop's web": flows(shop, "web", wikiUnit),
            "a random pod → shop's web": flows(shop, "web", randomPod),
            "a random pod → shop's sidecar StoreAPI": flows(shop, "grpc", randomPod),
            "a stray pod of the instances' namespace → shop's web": flows(shop, "web", strayPod),
            "a spoofed Grafana (labels on a tenant's namespace) → shop's web": flows(shop, "web", spoofedGrafana),
            "another instance's pod → shop's sidecar StoreAPI": flows(shop, "grpc", blog),
            "another instance's pod → shop's web": flows(shop, "web", blog),
            "shop's bound app → shop's web": flows(shop, "web", shopWeb),
            "shop's bound app → shop's history front": flows(shop, "history", shopWeb),
            "shop's bound app → shop's sidecar StoreAPI": flows(shop, "grpc", shopWeb),
            "Grafana → shop's web": flows(shop, "web", grafana),
            "Grafana → shop's history front": flows(shop, "history", grafana),
            "Grafana → shop's sidecar StoreAPI": flows(shop, "grpc", grafana),
            "Thanos Query → shop's sidecar StoreAPI": flows(shop, "grpc", query),
            "the tenants' Query → shop's sidecar StoreAPI": flows(shop, "grpc", tenantsQuery),
            "Thanos Query → blog's sidecar StoreAPI": flows(blog, "grpc", query),
            "Thanos Query → shop's web": flows(shop, "web", query),
            "Thanos Query → the store's StoreAPI": flows(store, "grpc", query),
            "a random pod → the store's StoreAPI": flows(store, "grpc", randomPod),
            "shop → the store's StoreAPI": flows(store, "grpc", shop),
        };
        const expected = {
            "another tenant's app → shop's web": false,
            "another tenant's app → shop's history front": false,
            "another tenant's app → shop's sidecar StoreAPI": false,
            "an app of another namespace → shop's web": false,
            "a random pod → shop's web": false,
            "a random pod → shop's sidecar StoreAPI": false,
            "a stray pod of the instances' namespace → shop's web": false,
            "a spoofed Grafana (labels on a tenant's namespace) → shop's web": false,
            "another instance's pod → shop's sidecar StoreAPI": false,
            "another instance's pod → shop's web": false,
            "shop's bound app → shop's web": true,
            "shop's bound app → shop's history front": true,
            "shop's bound app → shop's sidecar StoreAPI": false,
            "Grafana → shop's web": true,
            "Grafana → shop's history front": true,
            "Grafana → shop's sidecar StoreAPI": false,
            "Thanos Query → shop's sidecar StoreAPI": true,
            "the tenants' Query → shop's sidecar StoreAPI": true,
            "Thanos Query → blog's sidecar StoreAPI": true,
            "Thanos Query → shop's web": false,
            "Thanos Query → the store's StoreAPI": true,
            "a random pod → the store's StoreAPI": false,
            "shop → the store's StoreAPI": false,
        };
        assert.deepEqual(unexpectedVerdicts(evaluateFlows(policies(), traffic), expected), []);
        // The control: without the policies every flow passes, so each denial above is theirs.
        assert.deepEqual(unexpectedVerdicts(evaluateFlows([], traffic), Object.fromEntries(Object.keys(traffic).map((name) => [name, true]))), []);
    });

    it("Query's HTTP only from Grafana (the platform's) and the history fronts (the tenants'), its gRPC from no one", () => {
        const { shop, query, tenantsQuery, flows } = matrix();
        const traffic = {
            "Grafana → Query's HTTP": flows(query, "http", grafana),
            "Grafana → Query's gRPC": flows(query, "grpc", grafana),
            "a random pod → Query's HTTP": flows(query, "http", randomPod),
            "a bound app → Query's HTTP": flows(query, "http", shopWeb),
            "shop's history front → Query's HTTP (every tenant)": flows(query, "http", shop),
            "shop's history front → Query's gRPC": flows(query, "grpc", shop),
            "shop's history front → the tenants' Query's HTTP": flows(tenantsQuery, "http", shop),
            "shop's history front → the tenants' Query's gRPC": flows(tenantsQuery, "grpc", shop),
            "Grafana → the tenants' Query's HTTP": flows(tenantsQuery, "http", grafana),
            "a random pod → the tenants' Query's HTTP": flows(tenantsQuery, "http", randomPod),
            "a bound app → the tenants' Query's HTTP": flows(tenantsQuery, "http", shopWeb),
        };
        const expected = {
            "Grafana → Query's HTTP": true,
            "Grafana → Query's gRPC": false,
            "a random pod → Query's HTTP": false,
            "a bound app → Query's HTTP": false,
            "shop's history front → Query's HTTP (every tenant)": false,
            "shop's history front → Query's gRPC": false,
            "shop's history front → the tenants' Query's HTTP": true,
            "shop's history front → the tenants' Query's gRPC": false,
            "Grafana → the tenants' Query's HTTP": false,
            "a random pod → the tenants' Query's HTTP": false,
            "a bound app → the tenants' Query's HTTP": false,
        };
        assert.deepEqual(unexpectedVerdicts(evaluateFlows(policies(), traffic), expected), []);
    });

    it("Prometheus reaches its bound apps' units on their scrape ports (only the scraped processes), the API server, DNS and the bucket; not an unbound app, another port, nor the internet", () => {
        const { shop, flows } = matrix();
        const traffic = {
            "shop → its bound app's unit on the scrape port": flows(shopWeb, 8888, shop),
            "shop → its bound worker on its scrape port 9100": flows(shopWorker, 9100, shop),
            "shop → the bound worker app's unscraped web process": flows(shopWorkerWebProcess, 9100, shop),
            "shop → its bound app's unit on another port": flows(shopWeb, 22, shop),
            "shop → an unbound app's unit (blog's)": flows(blogUnit, 8888, shop),
            "shop → the API server": flows(loopback, 6443, shop),
            "shop → DNS (UDP)": { from: shop, to: kubeDns, port: 53, protocol: "UDP" as const },
            "shop → the bucket": flows(loopback, 9000, shop),
            "shop → the internet": flows(internet, 443, shop),
            "a stray pod of the instances' namespace → the internet": flows(internet, 443, strayPod),
        };
        const expected = {
            "shop → its bound app's unit on the scrape port": true,
            "shop → its bound worker on its scrape port 9100": true,
            "shop → the bound worker app's unscraped web process": false,
            "shop → its bound app's unit on another port": false,
            "shop → an unbound app's unit (blog's)": false,
            "shop → the API server": true,
            "shop → DNS (UDP)": true,
            "shop → the bucket": true,
            "shop → the internet": false,
            "a stray pod of the instances' namespace → the internet": false,
        };
        assert.deepEqual(unexpectedVerdicts(evaluateFlows(policies(), traffic), expected), []);
    });

    it("the store and the compactor reach only DNS and the bucket; nothing reaches the compactor", () => {
        const { shop, query, store, compactor, flows } = matrix();
        const traffic = {
            "store → the bucket": flows(loopback, 9000, store),
            "store → DNS (UDP)": { from: store, to: kubeDns, port: 53, protocol: "UDP" as const },
            "store → the internet": flows(internet, 443, store),
            "store → shop's web": flows(shop, "web", store),
            "compactor → the bucket": flows(loopback, 9000, compactor),
            "compactor → Query's HTTP": flows(query, "http", compactor),
            "Query → the compactor's HTTP": flows(compactor, "http", query),
            "a random pod → the compactor's HTTP": flows(compactor, "http", randomPod),
        };
        const expected = {
            "store → the bucket": true,
            "store → DNS (UDP)": true,
            "store → the internet": false,
            "store → shop's web": false,
            "compactor → the bucket": true,
            "compactor → Query's HTTP": false,
            "Query → the compactor's HTTP": false,
            "a random pod → the compactor's HTTP": false,
        };
        assert.deepEqual(unexpectedVerdicts(evaluateFlows(policies(), traffic), expected), []);
    });

    it("unbind and bind through the engine (`up` of the changed stack config): the unbound app's units are denied both ways, the newly bound app's admitted", async () => {
        sandbox.editStackFile("local", (config) => {
            const instances = config[stackKey("instances")] as { name: string; apps: { name: string; namespace: string }[] }[];
            const shopInstance = instances.find((instance) => instance.name === "shop")!;
            shopInstance.apps = shopInstance.apps.filter((app) => app.name !== "shop-worker");
            instances.find((instance) => instance.name === "blog")!.apps.push({ name: "wiki", namespace: "tsuru-wiki" });
        });
        const { summary } = await stack.up();
        assert.ok((summary.resourceChanges?.update ?? 0) >= 2, JSON.stringify(summary.resourceChanges));
        manifests = readManifests(manifestsDir);
        const { shop, blog, flows } = matrix();
        const traffic = {
            "shop → the unbound worker's unit": flows(shopWorker, 9100, shop),
            "the unbound worker's unit → shop's web": flows(shop, "web", shopWorker),
            "shop → its still bound app's unit": flows(shopWeb, 8888, shop),
            "blog → the newly bound app's unit": flows(wikiUnit, 8888, blog),
            "the newly bound app's unit → blog's web": flows(blog, "web", wikiUnit),
            "the newly bound app's unit → shop's web": flows(shop, "web", wikiUnit),
        };
        const expected = {
            "shop → the unbound worker's unit": false,
            "the unbound worker's unit → shop's web": false,
            "shop → its still bound app's unit": true,
            "blog → the newly bound app's unit": true,
            "the newly bound app's unit → blog's web": true,
            "the newly bound app's unit → shop's web": false,
        };
        assert.deepEqual(unexpectedVerdicts(evaluateFlows(policies(), traffic), expected), []);
    });
});
