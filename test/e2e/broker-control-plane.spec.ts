import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { skipAwaitAnnotation } from "../../components/kubernetes/workload";
import { kubernetesPrometheusNames, prometheusPodLabels } from "../../components/prometheus/kubernetes-spec";
import { renderObjstoreConfig } from "../../components/thanos/render";
import { brokerDirs, RunningBroker, startBroker, waitStatus } from "../support/broker-process";
import { ControlPlane, startControlPlane } from "../support/control-plane";
import { kubernetesStateObjects, StateObject } from "../support/engine";
import { ProcessGroup, waitFor } from "../support/processes";
import { appTargets, inClusterPrometheusYml, RunningPrometheus, startPrometheus, waitForAppTargets } from "../support/prometheus";
import { TsuruBrokerClient } from "../support/tsuru-broker-client";
import { LoopbackUnits, TsuruUnit } from "../support/tsuru-units";
import { loopbackNetwork } from "../../components/config/network";
import { boundAppTraffic, pod } from "../support/network-policies";

/** The Kubernetes objects an instance stack's checkpoint (file backend) says it manages. */
function checkpointObjects(backendDir: string, instance: string): StateObject[] {
    const file = path.join(backendDir, ".pulumi", "stacks", "prometheus-paas-instance", `instance-${instance}.json`);
    return kubernetesStateObjects(JSON.parse(fs.readFileSync(file, "utf8")).checkpoint.latest.resources);
}

const describeObject = (object: StateObject) => `${object.kind}/${object.namespace ?? ""}/${object.name}`;

describe("e2e: the broker provisions an instance on a real Kubernetes API server; Tsuru's bind and unbind reach its Prometheus", function () {
    this.timeout(10 * 60 * 1000);
    const group = new ProcessGroup();
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "paas-broker-cp-"));
    const namespace = "prometheus-tenants";
    const appNamespace = "tsuru-shop";
    const instance = "shop";
    const app = "shop-web";
    const names = kubernetesPrometheusNames({ name: instance });
    // 5 s scrapes: short waits, and the plan whose global scrape_timeout must follow the interval.
    const dirs = brokerDirs(root, { environment: "test", region: "us-east-1", namespace, thanosNamespace: "prometheus", network: loopbackNetwork("grafana"), grafanaNamespace: "grafana", skipAwait: true, plans: { small: { scrapeInterval: "5s" } } });
    const objstoreFile = (endpoint: string) => {
        const file = path.join(root, `objstore-${endpoint}.yml`);
        fs.writeFileSync(file, renderObjstoreConfig({ bucket: "thanos", endpoint, region: "us-east-1", pathStyle: true, insecure: true }));
        return file;
    };
    const appUnits: TsuruUnit[] = [
        { name: "shop-web-web-6d4f9-abcde", namespace: appNamespace, app, process: "web", node: "node-a" },
        { name: "shop-web-worker-7c8b5-fghij", namespace: appNamespace, app, process: "worker", node: "node-b" },
    ];
    let controlPlane: ControlPlane;
    let units: LoopbackUnits;
    let broker: RunningBroker;
    let client: TsuruBrokerClient;
    let prometheus: RunningPrometheus;
    let token: string;
    let created: StateObject[] = [];

    const liveObject = async (object: StateObject) => controlPlane.admin.request("GET", await controlPlane.admin.objectPath(object.apiVersion, object.kind, object.name, object.namespace));
    const instanceConfig = () => inClusterPrometheusYml(controlPlane, { namespace, configMap: names.config, podName: `${names.statefulSet}-0`, token, dir: group.logDir });
    const listPods = async () => (await controlPlane.client(token).request("GET", `/api/v1/namespaces/${appNamespace}/pods`)).status;
    const startKubernetesBroker = (name: string, objstoreEndpoint: string) => startBroker(group, dirs, {
        name, target: "kubernetes", args: ["--kubeconfig", controlPlane.kubeconfigPath, "--objstore", objstoreFile(objstoreEndpoint)],
    });
    const liveStatefulSet = () => controlPlane.admin.expect("GET", `/apis/apps/v1/namespaces/${namespace}/statefulsets/${names.statefulSet}`);
    /** The Secret the StatefulSet's pods mount as objstore.yml (the provider names it), and its content. */
    const mountedObjstore = async (statefulSet: any) => {
        const secretName: string = statefulSet.spec.template.spec.volumes.find((volume: { name: string }) => volume.name === "objstore").secret.secretName;
        const secret = await controlPlane.admin.expect("GET", `/api/v1/namespaces/${namespace}/secrets/${secretName}`);
        return { secretName, objstoreYml: Buffer.from(secret.data["objstore.yml"], "base64").toString("utf8") };
    };

    before(async () => {
        controlPlane = await startControlPlane();
        // Grafana's namespace exists where Grafana runs: the instances' datasources go there.
        for (const name of [namespace, appNamespace, "grafana"]) await controlPlane.createNamespace(name);
        units = new LoopbackUnits(controlPlane.admin);
        for (const unit of appUnits) await units.run(unit, "text/plain; version=0.0.4");
        broker = await startKubernetesBroker("broker", "s3-a.example.internal:9000");
        client = broker.client;
    });

    after(async () => {
        await units?.close();
        await group.stopAll();
        await controlPlane?.stop();
        fs.rmSync(root, { recursive: true, force: true });
    });

    it("create → 201; the run applies the instance's objects to the API server (server-side, skipAwait from the broker's settings), its shutdown flush and its Grafana datasources included → 204", async () => {
        const response = await client.create({ name: instance, team: "shop", plan: "small" });
        assert.equal(response.status, 201, response.text);
        await waitStatus(client, instance, 204);
        created = checkpointObjects(dirs.backend, instance);
        const { secretName } = await mountedObjstore(await liveStatefulSet());
        assert.match(secretName, new RegExp(`^${names.statefulSet}-objstore-[a-z0-9]+$`));
        assert.deepEqual(created.map(describeObject).sort(), [
            `ConfigMap/${namespace}/${names.config}`, `ConfigMap/${namespace}/${names.flush}`, `ConfigMap/${namespace}/${names.rules}`, `Secret/${namespace}/${secretName}`, `Secret/${namespace}/${names.webAuth}`,
            `Service/${namespace}/${names.service}`, `Service/${namespace}/${names.headlessService}`,
            `ServiceAccount/${namespace}/${names.serviceAccount}`, `StatefulSet/${namespace}/${names.statefulSet}`, `Secret/grafana/grafana-datasource-tsuru-${instance}`,
            `NetworkPolicy/${namespace}/${names.networkPolicy}`,
        ].sort());
        for (const object of created) {
            const live = await liveObject(object);
            assert.equal(live.status, 200, `${describeObject(object)}: ${JSON.stringify(live.body)}`);
            assert.equal(live.body.metadata.annotations?.[skipAwaitAnnotation], "true", describeObject(object));
            assert.ok(live.body.metadata.managedFields.some((entry: { operation: string }) => entry.operation === "Apply"), `${describeObject(object)} was not server-side applied`);
        }
        // The broker's instances flush like the stacks' (the hook runs the script of the flush ConfigMap).
        const pod = (await liveStatefulSet()).spec.template.spec;
        const prometheus = pod.containers.find((container: { name: string }) => container.name === "prometheus");
        assert.deepEqual(prometheus.lifecycle.preStop.exec.command.slice(0, 2), ["sh", "/etc/prometheus/flush/flush.sh"]);
        assert.deepEqual(pod.volumes.find((volume: { name: string }) => volume.name === "flush").configMap, { name: names.flush, defaultMode: 420 });
    });

    it("the instance's Prometheus, started with the config from the API server and its ServiceAccount's token, has no app targets and no discovery rights yet", async () => {
        token = await controlPlane.serviceAccountToken(namespace, names.serviceAccount);
        prometheus = await startPrometheus(group, "prometheus-shop", await instanceConfig());
        assert.deepEqual(await appTargets(prometheus), []);
        assert.equal(await listPods(), 403);
    });

    /** The instance's NetworkPolicy as the API server holds it, evaluated (cyclonus' matcher) for A's units both ways. */
    const appTraffic = async () => {
        const policy = await controlPlane.admin.expect("GET", `/apis/networking.k8s.io/v1/namespaces/${namespace}/networkpolicies/${names.networkPolicy}`);
        return boundAppTraffic([policy], pod(namespace, prometheusPodLabels({ name: instance }), { ports: { web: 9090, grpc: 10901 } }), { name: app, namespace: appNamespace, port: 8888 });
    };

    it("bind of app A through Tsuru's client (app-internal-hosts naming A's namespace) → 201; the run creates the discovery Role and admits A's units in the live NetworkPolicy; reloaded, the config makes A's running units targets, scraped", async () => {
        const bound = await client.bindApp(instance, { name: app, namespace: appNamespace });
        assert.equal(bound.status, 201, bound.text);
        assert.equal((bound.json as Record<string, string>).PROMETHEUS_URL, `http://${names.service}.${namespace}.svc:9090`);
        assert.equal((bound.json as Record<string, string>).PROMETHEUS_USERNAME, instance);
        await waitStatus(client, instance, 204);
        const role = await controlPlane.admin.request("GET", `/apis/rbac.authorization.k8s.io/v1/namespaces/${appNamespace}/roles/${names.discoveryRole}`);
        assert.equal(role.status, 200, JSON.stringify(role.body));
        assert.equal(await listPods(), 200);
        assert.deepEqual(await appTraffic(), { scrape: true, query: true, storeApi: false });
        await prometheus.reload(await instanceConfig());
        const targets = await waitForAppTargets(prometheus, appUnits.map((unit) => unit.name), "up");
        assert.deepEqual(targets.map((target) => [target.labels.job, target.labels.app, target.labels.namespace, target.labels.process]).sort(), [
            [`tsuru-app-${app}`, app, appNamespace, "web"],
            [`tsuru-app-${app}`, app, appNamespace, "worker"],
        ]);
    });

    it("a broker restarted with another objstore.yml (the shared bucket moved) re-applies the instance: its pods move to a new objstore Secret holding the new file (so they would roll), the old one deleted", async () => {
        const before = await liveStatefulSet();
        const objstoreBefore = await mountedObjstore(before);
        await broker.process.stop();
        broker = await startKubernetesBroker("broker-moved-bucket", "s3-b.example.internal:9000");
        client = broker.client;
        await waitStatus(client, instance, 204);
        const after = await liveStatefulSet();
        const objstoreAfter = await mountedObjstore(after);
        assert.match(objstoreAfter.objstoreYml, /endpoint: s3-b\.example\.internal:9000/);
        assert.notEqual(objstoreAfter.secretName, objstoreBefore.secretName);
        assert.equal(after.metadata.generation, before.metadata.generation + 1, "the pod template did not change: the sidecar would keep the old objstore.yml");
        assert.equal((await controlPlane.admin.request("GET", `/api/v1/namespaces/${namespace}/secrets/${objstoreBefore.secretName}`)).status, 404, "the old Secret remains");
        created = checkpointObjects(dirs.backend, instance);
        // Still bound: the re-applied config keeps A's job.
        await prometheus.reload(await instanceConfig());
        await waitForAppTargets(prometheus, appUnits.map((unit) => unit.name));
    });

    it("unbind → 200; the run deletes the Role and the live NetworkPolicy denies A's units; reloaded, A's units are no longer targets", async () => {
        const unbound = await client.unbindApp(instance, app);
        assert.equal(unbound.status, 200, unbound.text);
        await waitStatus(client, instance, 204);
        const role = await controlPlane.admin.request("GET", `/apis/rbac.authorization.k8s.io/v1/namespaces/${appNamespace}/roles/${names.discoveryRole}`);
        assert.equal(role.status, 404, JSON.stringify(role.body));
        assert.equal(await listPods(), 403);
        assert.deepEqual(await appTraffic(), { scrape: false, query: false, storeApi: false });
        await prometheus.reload(await instanceConfig());
        await waitForAppTargets(prometheus, []);
    });

    it("remove → 200; the run deletes every object from the API server, then the stack and its record", async () => {
        const removed = await client.remove(instance);
        assert.equal(removed.status, 200, removed.text);
        await waitFor(`${instance} to be gone`, async () => ((await client.status(instance)).status === 404 ? true : undefined), { timeoutMs: 120_000, intervalMs: 250, process: broker.process });
        for (const object of created) {
            const live = await liveObject(object);
            assert.equal(live.status, 404, `${describeObject(object)} is still there: ${JSON.stringify(live.body.metadata)}`);
        }
        const stacks = path.join(dirs.backend, ".pulumi", "stacks", "prometheus-paas-instance");
        assert.deepEqual(fs.readdirSync(stacks).filter((file) => file.startsWith(`instance-${instance}.`)), [], "the stack remains in the backend");
        assert.equal(fs.existsSync(path.join(dirs.backend, "workspace", `Pulumi.instance-${instance}.yaml`)), false, "the record remains");
    });
});
