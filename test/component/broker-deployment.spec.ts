import { strict as assert } from "assert";
import { createHash } from "crypto";
import { settingsChecksumAnnotation } from "../../components/broker/deployment";
import { ConfigError } from "../../components/config/errors";
import { buildPlatform } from "../../components/platform";
import { minimalConfig } from "../support/fixtures";
import { installMocks, isSecret, mockAutoName, Recorder, resolve } from "../support/mocks";

const broker = { image: "registry.example.com/prometheus-paas-broker:0.1.0", cluster: "cluster-a" };

describe("platform with the broker (BrokerDeployment under mocks)", () => {
    let recorder: Recorder;
    let brokerUrl: string | undefined;

    before(async () => {
        recorder = await installMocks();
        const platform = buildPlatform(minimalConfig({
            instances: [],
            broker,
            brokerBackendPassphrase: "passphrase",
            tsuruServicePassword: "service-password",
            tsuru: { apiUrl: "https://tsuru.example.com", team: "platform", endpoints: { production: "https://broker.example.com" } },
        }));
        await recorder.settle();
        brokerUrl = await resolve(platform.brokerUrl!);
    });

    it("isolates the broker's instances' namespace (a default deny there too) and admits only Tsuru's API to the broker, which reaches DNS and the API server", () => {
        const policies = recorder.ofType("kubernetes:networking.k8s.io/v1:NetworkPolicy").map((policy) => `${policy.inputs.metadata.namespace}/${policy.inputs.metadata.name}`).sort();
        assert.deepEqual(policies, [
            "prometheus-tenants/default-deny", "prometheus/default-deny", "prometheus/prometheus-broker",
            "prometheus/thanos-compactor", "prometheus/thanos-query", "prometheus/thanos-query-tenants", "prometheus/thanos-store",
        ]);
        const spec = recorder.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "broker-network").inputs.spec;
        assert.deepEqual(spec.ingress, [{ from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "tsuru-system" } }, podSelector: { matchLabels: {} } }], ports: [{ protocol: "TCP", port: "http" }] }]);
        assert.deepEqual(spec.egress.map((rule: any) => rule.ports.map((port: any) => port.port)), [[53, 53], [6443]]);
        // The Queries read the broker's instances' sidecars there, and their fronts reach the tenants' Query.
        const query = recorder.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "thanos-thanos-query-network").inputs.spec;
        assert.deepEqual(query.egress[1].to[1].namespaceSelector, { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: ["prometheus", "prometheus-tenants"] }] });
    });

    it("runs one replica of the pinned image, ready on /healthz, credentials from its Secret", () => {
        const deployment = recorder.one("kubernetes:apps/v1:Deployment", "broker-deployment").inputs;
        assert.equal(deployment.spec.replicas, 1);
        assert.equal(deployment.spec.strategy.type, "Recreate");
        const container = deployment.spec.template.spec.containers[0];
        assert.equal(container.image, broker.image);
        assert.equal(container.readinessProbe.httpGet.path, "/healthz");
        assert.deepEqual(container.args.slice(container.args.indexOf("--target"), container.args.indexOf("--target") + 2), ["--target", "kubernetes"]);
        for (const name of ["PAAS_BROKER_USERNAME", "PAAS_BROKER_PASSWORD", "PAAS_BROKER_BACKEND_PASSPHRASE", "PAAS_BROKER_OBJSTORE"]) {
            const variable = container.env.find((env: any) => env.name === name);
            assert.equal(variable?.valueFrom?.secretKeyRef?.name, mockAutoName("broker-credentials"), name);
        }
        assert.equal(container.securityContext.runAsNonRoot, true);
        const secret = recorder.one("kubernetes:core/v1:Secret", "broker-credentials").inputs;
        assert.ok(isSecret(secret.stringData), "the broker's credentials must stay secret");
    });

    it("restarts on new credentials (a provider-named Secret: new content, new name in the pod spec) and on new settings (their SHA-256 on the pod template: the ConfigMap changes in place, the broker reads it only at start)", () => {
        assert.equal(recorder.one("kubernetes:core/v1:Secret", "broker-credentials").inputs.metadata.name, undefined);
        const template = recorder.one("kubernetes:apps/v1:Deployment", "broker-deployment").inputs.spec.template;
        const settings = recorder.one("kubernetes:core/v1:ConfigMap", "broker-settings").inputs.data["settings.json"];
        assert.equal(template.metadata.annotations[settingsChecksumAnnotation], createHash("sha256").update(settings).digest("hex"));
    });

    it("limits RBAC to what the instance stacks create, plus the discovery grants", () => {
        const role = recorder.one("kubernetes:rbac.authorization.k8s.io/v1:Role", "broker-instances").inputs;
        assert.equal(role.metadata.namespace, "prometheus-tenants");
        const resources = role.rules.flatMap((rule: any) => rule.resources).sort();
        assert.deepEqual(resources, ["configmaps", "networkpolicies", "poddisruptionbudgets", "secrets", "serviceaccounts", "services", "statefulsets"]);
        const grants = recorder.one("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", "broker-discovery-grants").inputs;
        for (const rule of grants.rules) {
            if (rule.resources.includes("pods")) assert.deepEqual(rule.verbs, ["get", "list", "watch"]);
        }
        assert.ok(!grants.rules.some((rule: any) => rule.resources.includes("secrets")), "cluster-wide secrets access");
    });

    it("lets the instance stacks put their Grafana datasources (Secrets, nothing else) in Grafana's namespace, and tells the broker where the tenants' Query is", () => {
        const role = recorder.one("kubernetes:rbac.authorization.k8s.io/v1:Role", "broker-grafana").inputs;
        const grafanaNamespace = minimalConfig().grafana.namespace;
        assert.equal(role.metadata.namespace, grafanaNamespace);
        assert.deepEqual(role.rules.flatMap((rule: any) => rule.resources), ["secrets"]);
        assert.equal(recorder.one("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "broker-grafana").inputs.roleRef.name, role.metadata.name);
        const settings = JSON.parse(recorder.one("kubernetes:core/v1:ConfigMap", "broker-settings").inputs.data["settings.json"]);
        assert.deepEqual([settings.thanosNamespace, settings.grafanaNamespace], ["prometheus", grafanaNamespace]);
    });

    it("registers its address as the endpoint of its cluster and exposes the instances' sidecars to Thanos query", async () => {
        assert.equal(brokerUrl, "http://prometheus-broker.prometheus.svc:8080");
        const service = recorder.resources.find((resource) => resource.type.endsWith("TsuruService"))!;
        assert.deepEqual(await resolve(service.inputs.endpoints), { production: "https://broker.example.com", "cluster-a": brokerUrl });
        const query = recorder.one("kubernetes:apps/v1:Deployment", "thanos-query").inputs;
        assert.ok(query.spec.template.spec.containers[0].args.includes("--endpoint=dnssrv+_grpc._tcp.prometheus-sidecars.prometheus-tenants.svc.cluster.local"));
        const settings = JSON.parse(recorder.one("kubernetes:core/v1:ConfigMap", "broker-settings").inputs.data["settings.json"]);
        assert.equal(settings.namespace, "prometheus-tenants");
        assert.equal(settings.plans.small.memory, "512Mi");
    });

    it("refuses a broker without a backend passphrase or with an unpinned image", () => {
        assert.throws(() => minimalConfig({ broker }), (error: ConfigError) => error.problems.some((problem) => problem.includes("brokerBackendPassphrase")));
        assert.throws(() => minimalConfig({ broker: { image: "broker:latest" }, brokerBackendPassphrase: "x" }), /pinned/);
    });
});
