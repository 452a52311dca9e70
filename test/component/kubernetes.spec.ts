import { strict as assert } from "assert";
import bcrypt from "bcryptjs";
import * as yaml from "js-yaml";
import { ConfigError } from "../../components/config/errors";
import type { KubernetesInstanceConfig } from "../../components/config/types";
import { envsubstScript } from "../../components/envsubst";
import { instanceDatasources } from "../../components/grafana/datasources";
import { GrafanaDatasources } from "../../components/grafana/kubernetes";
import { KubernetesPrometheus } from "../../components/prometheus/kubernetes";
import { KubernetesThanos } from "../../components/thanos/kubernetes";
import { minimalConfig } from "../support/fixtures";
import { plainValue } from "../support/mock-runtime";
import { installMocks, isSecret, mockAutoName, Recorder, resolve, unsecret } from "../support/mocks";

const labels = { environment: "test", region: "us-east-1", product: "tsuru", replicaLabel: "prometheus_replica" };
const STATEFULSET = "kubernetes:apps/v1:StatefulSet";

function haInstance() {
    return minimalConfig({
        instances: [{
            name: "payments", plan: "medium", team: "payments", replicas: 2,
            apps: [
                { name: "checkout-api", namespace: "tsuru-pool-a" },
                { name: "ledger", namespace: "tsuru-pool-b" },
                { name: "fraud", namespace: "tsuru-pool-a" },
            ],
        }],
    }).instances[0] as KubernetesInstanceConfig;
}

function container(statefulSet: { inputs: Record<string, any> }, name: string) {
    const found = statefulSet.inputs.spec.template.spec.containers.find((candidate: any) => candidate.name === name);
    assert.ok(found, `no container ${name}`);
    return found;
}

describe("KubernetesPrometheus", () => {
    let recorder: Recorder;
    let component: KubernetesPrometheus;

    before(async () => {
        recorder = await installMocks();
        component = new KubernetesPrometheus("prometheus-payments", {
            instance: haInstance(), namespace: "prometheus", labels, alertmanagers: [], objstoreConfig: "type: S3\nconfig: {bucket: b}\n", password: "component-test-password",
            thanosNamespace: "prometheus", network: minimalConfig().kubernetes.network!,
        });
        await recorder.settle();
    });

    it("admits its bound app's units and Grafana to web and history, only the Queries to the StoreAPI", () => {
        const policy = recorder.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "prometheus-payments-network");
        assert.deepEqual([policy.inputs.metadata.name, policy.inputs.metadata.namespace], ["prometheus-payments", "prometheus"]);
        const [queries, storeApi] = policy.inputs.spec.ingress;
        assert.deepEqual(queries.from.map((peer: any) => [peer.namespaceSelector.matchLabels["kubernetes.io/metadata.name"], peer.podSelector.matchLabels["tsuru.io/app-name"]].join(":")), ["grafana:", "tsuru-pool-a:checkout-api", "tsuru-pool-b:ledger", "tsuru-pool-a:fraud"]);
        assert.deepEqual(storeApi.ports, [{ protocol: "TCP", port: "grpc" }]);
    });

    it("keeps the TSDB on tmpfs sized by the plan, under a memory limit that covers tmpfs and the process", () => {
        const statefulSet = recorder.one(STATEFULSET, "prometheus-payments-statefulset");
        const tsdb = statefulSet.inputs.spec.template.spec.volumes.find((volume: any) => volume.name === "tsdb");
        assert.deepEqual(tsdb.emptyDir, { medium: "Memory", sizeLimit: "1536Mi" });
        const prometheus = container(statefulSet, "prometheus");
        assert.equal(prometheus.resources.limits.memory, "2560Mi");
        assert.ok(prometheus.volumeMounts.some((mount: any) => mount.name === "tsdb" && mount.mountPath === "/prometheus"));
    });

    it("runs Prometheus with the flags the sidecar needs and the plan's retention", () => {
        const args: string[] = container(recorder.one(STATEFULSET, "prometheus-payments-statefulset"), "prometheus").args;
        for (const flag of ["--storage.tsdb.min-block-duration=2h", "--storage.tsdb.max-block-duration=2h", "--web.enable-lifecycle", "--storage.tsdb.retention.size=1152MB", "--config.file=/etc/prometheus/config_out/prometheus.yml"]) {
            assert.ok(args.includes(flag), flag);
        }
    });

    it("adds a Thanos sidecar that uploads, serves gRPC and reloads config with the pod name substituted", () => {
        const statefulSet = recorder.one(STATEFULSET, "prometheus-payments-statefulset");
        const sidecar = container(statefulSet, "thanos-sidecar");
        assert.equal(sidecar.image, "quay.io/thanos/thanos:v0.42.5");
        assert.equal(sidecar.args[0], "sidecar");
        assert.ok(sidecar.args.includes("--reloader.config-envsubst-file=/etc/prometheus/config_out/prometheus.yml"));
        assert.ok(sidecar.args.includes("--objstore.config-file=/etc/thanos/objstore.yml"));
        assert.deepEqual(sidecar.env, [{ name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }]);
        assert.ok(sidecar.ports.some((port: any) => port.name === "grpc" && port.containerPort === 10901));
        const init = statefulSet.inputs.spec.template.spec.initContainers[0];
        assert.equal(init.command[2], envsubstScript("/etc/prometheus/config/prometheus.yml.tmpl", "/etc/prometheus/config_out/prometheus.yml"));
        assert.deepEqual(init.env, [{ name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }]);
        // Kubernetes itself expands $(NAME) in commands: the script must carry none.
        assert.doesNotMatch(init.command[2], /\$\([A-Za-z_][A-Za-z0-9_]*\)/);
    });

    it("tenancy: a history front in the pod reads the instance's web Secret: its user and bcrypt hash, its tenant in the header, the tenants' Query upstream", async () => {
        const statefulSet = recorder.one(STATEFULSET, "prometheus-payments-statefulset");
        const front = container(statefulSet, "history");
        assert.equal(front.image, "docker.io/library/caddy:2.11.9");
        assert.deepEqual(front.command, ["caddy", "run", "--config", "/etc/prometheus/web/history-front.json", "--watch"]);
        assert.deepEqual(front.ports, [{ name: "history", containerPort: 9091 }]);
        assert.deepEqual(front.volumeMounts, [{ name: "web", mountPath: "/etc/prometheus/web", readOnly: true }]);
        const stringData = recorder.one("kubernetes:core/v1:Secret", "prometheus-payments-web").inputs.stringData;
        const frontConfig = (plainValue(stringData) as Record<string, string>)["history-front.json"];
        const config = JSON.parse(frontConfig);
        const routes = config.apps.http.servers.history.routes;
        const account = routes[1].handle[0].providers.http_basic.accounts[0];
        assert.equal(account.username, "payments");
        assert.ok(bcrypt.compareSync("component-test-password", account.password), "the instance's password");
        const forward = routes[2].handle[0];
        assert.deepEqual(forward.upstreams, [{ dial: "thanos-query-tenants.prometheus.svc:9090" }]);
        assert.deepEqual(forward.headers.request.set, { "THANOS-TENANT": ["payments"] });
        assert.ok(!frontConfig.includes("component-test-password"), "no password in the front's config");
    });

    it("pins images, sets probes, memory limits and a non-root security context on every container", () => {
        const spec = recorder.one(STATEFULSET, "prometheus-payments-statefulset").inputs.spec.template.spec;
        assert.equal(spec.securityContext.runAsNonRoot, true);
        for (const c of [...spec.containers, ...spec.initContainers]) {
            assert.match(c.image, /:[^:]+$/);
            assert.doesNotMatch(c.image, /:latest$/);
            assert.ok(c.resources.limits.memory, `${c.name} has no memory limit`);
            assert.equal(c.securityContext.runAsNonRoot, true);
            assert.equal(c.securityContext.allowPrivilegeEscalation, false);
        }
        for (const c of spec.containers) {
            assert.ok(c.readinessProbe && c.livenessProbe, `${c.name} lacks probes`);
        }
    });

    it("runs HA replicas with a PodDisruptionBudget and spreads them over nodes", () => {
        const statefulSet = recorder.one(STATEFULSET, "prometheus-payments-statefulset");
        assert.equal(statefulSet.inputs.spec.replicas, 2);
        assert.ok(statefulSet.inputs.spec.template.spec.affinity.podAntiAffinity);
        const pdb = recorder.one("kubernetes:policy/v1:PodDisruptionBudget", "prometheus-payments-pdb");
        assert.equal(pdb.inputs.spec.maxUnavailable, 1);
    });

    it("grants pod discovery only in the bound apps' namespaces, and only what role: pod reads (pods: get, list, watch)", () => {
        const roles = recorder.ofType("kubernetes:rbac.authorization.k8s.io/v1:Role");
        assert.deepEqual(roles.map((role) => role.inputs.metadata.namespace).sort(), ["tsuru-pool-a", "tsuru-pool-b"]);
        const config = yaml.load(recorder.one("kubernetes:core/v1:ConfigMap", "prometheus-payments-config").inputs.data["prometheus.yml.tmpl"]) as any;
        const discoveryRoles = new Set(config.scrape_configs.flatMap((job: any) => (job.kubernetes_sd_configs ?? []).map((sd: any) => sd.role)));
        // Prometheus' Kubernetes SD reads pods for role pod; endpoints/services only for the roles of those names.
        assert.deepEqual([...discoveryRoles], ["pod"]);
        for (const role of roles) {
            assert.deepEqual(role.inputs.rules, [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] }]);
        }
        assert.equal(recorder.ofType("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole").length, 0);
        const bindings = recorder.ofType("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding");
        assert.equal(bindings.length, 2);
        assert.deepEqual(bindings[0].inputs.subjects, [{ kind: "ServiceAccount", name: "prometheus-payments", namespace: "prometheus" }]);
    });

    it("puts config and rules in ConfigMaps and objstore.yml only in a Secret", async () => {
        const config = recorder.one("kubernetes:core/v1:ConfigMap", "prometheus-payments-config");
        const prometheusYml = yaml.load(config.inputs.data["prometheus.yml.tmpl"]) as any;
        assert.equal(prometheusYml.global.external_labels.prometheus_replica, "$(POD_NAME)");
        assert.deepEqual(prometheusYml.scrape_configs.map((job: any) => job.job_name), ["prometheus", "thanos-sidecar", "tsuru-app-checkout-api", "tsuru-app-ledger", "tsuru-app-fraud"]);
        const rules = recorder.one("kubernetes:core/v1:ConfigMap", "prometheus-payments-rules");
        assert.deepEqual(Object.keys(rules.inputs.data), ["instance-alerts.yml"]);
        for (const configMap of recorder.ofType("kubernetes:core/v1:ConfigMap")) {
            assert.ok(!("objstore.yml" in configMap.inputs.data), `${configMap.name} holds objstore.yml`);
            assert.doesNotMatch(JSON.stringify(configMap.inputs.data), /secret_key|access_key|type: S3/);
        }
        const secret = recorder.one("kubernetes:core/v1:Secret", "prometheus-payments-objstore");
        assert.ok(isSecret(secret.inputs.stringData), "objstore.yml must stay a secret");
        assert.match(unsecret(secret.inputs.stringData)["objstore.yml"], /type: S3/);
        // Named by the provider, so a new objstore.yml is a new Secret and the pods, which read it only at start, roll.
        assert.equal(secret.inputs.metadata.name, undefined);
        const volumes = recorder.one(STATEFULSET, "prometheus-payments-statefulset").inputs.spec.template.spec.volumes;
        assert.deepEqual(volumes.find((volume: any) => volume.name === "objstore"), { name: "objstore", secret: { secretName: mockAutoName("prometheus-payments-objstore") } });
    });

    it("exposes web, gRPC and the history front on a ClusterIP service and a headless service for StoreAPI discovery", async () => {
        const headless = recorder.one("kubernetes:core/v1:Service", "prometheus-payments-headless");
        assert.equal(headless.inputs.spec.clusterIP, "None");
        assert.deepEqual(headless.inputs.spec.ports.map((port: any) => port.name), ["web", "grpc", "history"]);
        assert.equal(await resolve(component.url), "http://prometheus-payments.prometheus.svc:9090");
        assert.equal(await resolve(component.historyUrl), "http://prometheus-payments.prometheus.svc:9091");
        assert.equal(await resolve(component.storeApiEndpoint), "dnssrv+_grpc._tcp.prometheus-payments-headless.prometheus.svc.cluster.local");
    });
});

describe("KubernetesThanos", () => {
    let recorder: Recorder;

    before(async () => {
        recorder = await installMocks();
        const thanos = minimalConfig({ thanos: { store: { replicas: 2 }, query: { replicas: 2 } } }).thanos;
        new KubernetesThanos("thanos", {
            namespace: "prometheus", thanos, objstoreConfig: "type: S3\n", network: minimalConfig().kubernetes.network!, instanceNamespaces: ["prometheus"],
            sidecarStoreApiEndpoints: ["dnssrv+_grpc._tcp.prometheus-a-headless.prometheus.svc.cluster.local", "dnssrv+_grpc._tcp.prometheus-b-headless.prometheus.svc.cluster.local"],
        });
        await recorder.settle();
    });

    it("queries every sidecar and the store gateway, deduplicating on the replica label", () => {
        const query = recorder.one("kubernetes:apps/v1:Deployment", "thanos-query");
        const args: string[] = query.inputs.spec.template.spec.containers[0].args;
        assert.ok(args.includes("--query.replica-label=prometheus_replica"));
        assert.deepEqual(args.filter((arg) => arg.startsWith("--endpoint=")), [
            "--endpoint=dnssrv+_grpc._tcp.thanos-store.prometheus.svc.cluster.local",
            "--endpoint=dnssrv+_grpc._tcp.prometheus-a-headless.prometheus.svc.cluster.local",
            "--endpoint=dnssrv+_grpc._tcp.prometheus-b-headless.prometheus.svc.cluster.local",
        ]);
        assert.equal(query.inputs.spec.replicas, 2);
        assert.equal(query.inputs.spec.template.spec.volumes, undefined, "query must not mount bucket credentials");
    });

    it("keeps query internal", () => {
        const service = recorder.one("kubernetes:core/v1:Service", "thanos-query");
        assert.equal(service.inputs.spec.type, "ClusterIP");
    });

    it("tenancy: a second Query over the same endpoints enforces the tenant label, serves HTTP only (gRPC on loopback); each Query is marked with its audience", () => {
        const platform = recorder.one("kubernetes:apps/v1:Deployment", "thanos-query");
        const tenants = recorder.one("kubernetes:apps/v1:Deployment", "thanos-query-tenants");
        const argsOf = (deployment: any): string[] => deployment.inputs.spec.template.spec.containers[0].args;
        const endpoints = (args: string[]) => args.filter((arg) => arg.startsWith("--endpoint="));
        assert.deepEqual(endpoints(argsOf(tenants)), endpoints(argsOf(platform)));
        for (const flag of ["--query.enforce-tenancy", "--query.tenant-label-name=tenant", "--query.tenant-header=THANOS-TENANT", "--grpc-address=localhost:10901"]) {
            assert.ok(argsOf(tenants).includes(flag), flag);
            assert.ok(!argsOf(platform).includes(flag), `the platform's Query has no ${flag}`);
        }
        assert.deepEqual(recorder.one("kubernetes:core/v1:Service", "thanos-query-tenants").inputs.spec.ports.map((port: any) => port.name), ["http"]);
        assert.deepEqual([platform.inputs.metadata.labels["prometheus-paas.io/audience"], tenants.inputs.metadata.labels["prometheus-paas.io/audience"]], ["platform", "tenants"]);
        assert.notDeepEqual(platform.inputs.spec.selector.matchLabels, tenants.inputs.spec.selector.matchLabels);
    });

    it("runs the compactor as a single-replica StatefulSet with the configured retention", () => {
        const compactor = recorder.one(STATEFULSET, "thanos-compactor");
        assert.equal(compactor.inputs.spec.replicas, 1);
        const args: string[] = compactor.inputs.spec.template.spec.containers[0].args;
        assert.equal(args[0], "compact");
        assert.ok(args.includes("--retention.resolution-raw=30d"));
    });

    it("serves store and compactor from the bucket with the shared objstore Secret, named by the provider (a new objstore.yml is a new Secret: their pods roll)", () => {
        const store = recorder.one(STATEFULSET, "thanos-store");
        assert.equal(store.inputs.spec.replicas, 2);
        assert.equal(recorder.one("kubernetes:core/v1:Secret", "thanos-objstore").inputs.metadata.name, undefined);
        for (const workload of [store, recorder.one(STATEFULSET, "thanos-compactor")]) {
            assert.deepEqual(workload.inputs.spec.template.spec.volumes[0], { name: "objstore", secret: { secretName: mockAutoName("thanos-objstore") } });
        }
    });
});

describe("KubernetesThanos validation", () => {
    it("refuses a second compactor before registering anything", async () => {
        const recorder = await installMocks();
        const thanos = { ...minimalConfig().thanos, compactor: { ...minimalConfig().thanos.compactor, replicas: 2 } };
        assert.throws(
            () => new KubernetesThanos("thanos", { namespace: "prometheus", thanos, objstoreConfig: "", sidecarStoreApiEndpoints: [], network: minimalConfig().kubernetes.network!, instanceNamespaces: ["prometheus"] }),
            (error: unknown) => error instanceof ConfigError && /thanos\.compactor\.replicas: the compactor must be a singleton per bucket; allowed: 0 or 1 \(got 2\)/.test(error.message),
        );
        await recorder.settle();
        assert.equal(recorder.resources.length, 0);
    });
});

describe("GrafanaDatasources", () => {
    it("labels one Secret per datasource for Grafana's sidecar; an instance's carries its credentials in secureJsonData, as a secret", async () => {
        const recorder = await installMocks();
        new GrafanaDatasources("grafana", {
            namespace: "grafana",
            datasources: {
                thanos: [{ name: "Thanos", url: "http://thanos-query.prometheus.svc:9090", flavor: "Thanos", isDefault: true }],
                "prometheus-payments": instanceDatasources({
                    instanceName: "payments", environment: "dev", prometheusUrl: "http://prometheus-payments.prometheus.svc:9090",
                    historyUrl: "http://prometheus-payments.prometheus.svc:9091", password: "payments-password-0123", orgId: 2,
                }),
            },
        });
        await recorder.settle();
        const secrets = recorder.ofType("kubernetes:core/v1:Secret");
        assert.equal(secrets.length, 2);
        assert.equal(recorder.ofType("kubernetes:core/v1:ConfigMap").length, 0);
        for (const secret of secrets) {
            assert.equal(secret.inputs.metadata.labels.grafana_datasource, "1");
            assert.equal(secret.inputs.metadata.namespace, "grafana");
        }
        const thanos = yaml.load(unsecret(recorder.one("kubernetes:core/v1:Secret", "grafana-thanos").inputs.stringData)["thanos.yaml"]) as any;
        assert.equal(thanos.datasources[0].jsonData.prometheusType, "Thanos");
        assert.equal(thanos.datasources[0].basicAuth, undefined);
        const stringData = recorder.one("kubernetes:core/v1:Secret", "grafana-prometheus-payments").inputs.stringData;
        assert.ok(isSecret(stringData), "the datasource file is a secret input");
        const [payments, history] = (yaml.load(unsecret(stringData)["prometheus-payments.yaml"]) as any).datasources;
        for (const source of [payments, history]) {
            assert.deepEqual([source.basicAuth, source.basicAuthUser, source.secureJsonData], [true, "payments", { basicAuthPassword: "payments-password-0123" }]);
            assert.equal(JSON.stringify(source.jsonData).includes("payments-password"), false, "the password only in secureJsonData");
        }
        assert.deepEqual([payments.name, payments.url, payments.jsonData.prometheusType], ["Prometheus payments (dev)", "http://prometheus-payments.prometheus.svc:9090", "Prometheus"]);
        assert.deepEqual([history.name, history.url, history.jsonData.prometheusType], ["Prometheus payments history (dev)", "http://prometheus-payments.prometheus.svc:9091", "Thanos"]);
        assert.deepEqual([payments.orgId, history.orgId, thanos.datasources[0].orgId], [2, 2, undefined], "the team's organization; the platform's datasource in Grafana's default one");
    });
});
