import { strict as assert } from "assert";
import { fargateSizes, maxStopTimeoutSeconds, taskSizeFor } from "../../components/aws/containers";
import type { PermissionPolicy } from "../../components/aws/iam";
import { configUpdateStartedBy, ecsFlushBudget } from "../../components/prometheus/ecs-spec";
import { EcsThanos } from "../../components/thanos/ecs";
import { billingSecretArn, ecsConfig, ecsRawConfig } from "../support/ecs-fixtures";
import { ecsInstance } from "../support/fixtures";
import { actionsWithoutResourceType } from "../support/iam-rules";
import { installMocks, isSecret, RegisteredResource, resolve, unsecret } from "../support/mocks";
import { recordRegistrations } from "../support/policy-harness";
import { runStackConfig, StackRun } from "../support/stack";

const TASK = "aws:ecs/taskDefinition:TaskDefinition";
const SERVICE = "aws:ecs/service:Service";
const ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy";
const INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule";
const thanosBucketArn = "arn:aws:s3:::acme-thanos-test";

function containers(task: RegisteredResource): any[] {
    return JSON.parse(unsecret(task.inputs.containerDefinitions));
}

function container(task: RegisteredResource, name: string): any {
    const found = containers(task).find((candidate) => candidate.name === name);
    assert.ok(found, `no container ${name} in ${task.name}`);
    return found;
}

function policyOf(run: StackRun, name: string): PermissionPolicy {
    return JSON.parse(unsecret(run.recorder.one(ROLE_POLICY, name).inputs.policy));
}

/** action -> resources of every Allow statement. */
function grants(document: PermissionPolicy): Record<string, string[]> {
    const result: Record<string, string[]> = {};
    for (const statement of document.Statement.filter((candidate) => candidate.Effect === "Allow")) {
        for (const action of statement.Action) result[action] = [...(result[action] ?? []), ...[statement.Resource].flat()];
    }
    return result;
}

function s3Grants(document: PermissionPolicy, bucketArn: string): string[] {
    return Object.entries(grants(document))
        .filter(([action, resources]) => action.startsWith("s3:") && resources.some((resource) => resource === bucketArn || resource.startsWith(`${bucketArn}/`)))
        .map(([action]) => action)
        .sort();
}

describe("ECS platform under mocks (index.ts with a two-platform stack)", () => {
    let run: StackRun;

    before(async () => {
        run = await runStackConfig(ecsRawConfig());
    });

    it("runs one Fargate service per Prometheus replica, never two tasks of one replica at once", () => {
        const services = run.recorder.ofType(SERVICE).filter((service) => service.inputs.name.startsWith("prometheus-billing-"));
        assert.deepEqual(services.map((service) => service.inputs.name).sort(), ["prometheus-billing-0", "prometheus-billing-1"]);
        for (const service of services) {
            assert.equal(service.inputs.desiredCount, 1);
            assert.equal(service.inputs.deploymentMinimumHealthyPercent, 0);
            assert.equal(service.inputs.deploymentMaximumPercent, 100);
            assert.deepEqual(service.inputs.capacityProviderStrategies, [{ capacityProvider: "FARGATE", weight: 1 }]);
            assert.equal(service.inputs.networkConfiguration.assignPublicIp, false);
            assert.deepEqual(service.inputs.networkConfiguration.subnets, ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"]);
        }
        const replicas = ["billing-0", "billing-1"].map((suffix) =>
            container(run.recorder.one(TASK, `ecs-prometheus-billing-${suffix.slice(-1)}`), "thanos-sidecar").environment[0].value);
        assert.deepEqual(replicas, ["prometheus-billing-0", "prometheus-billing-1"]);
    });

    it("sizes every task definition from the containers it registers, to a size Fargate offers", () => {
        for (const task of run.recorder.ofType(TASK)) {
            const registered = containers(task);
            assert.deepEqual({ cpu: task.inputs.cpu, memory: task.inputs.memory }, taskSizeFor(registered), task.name);
            assert.ok(fargateSizes.some((size) => size.cpu === Number(task.inputs.cpu) && size.memory.includes(Number(task.inputs.memory))), task.name);
        }
    });

    it("mounts EFS through the access point with TLS and IAM, and keeps the TSDB on task storage", () => {
        const task = run.recorder.one(TASK, "ecs-prometheus-billing-0");
        const volumes: any[] = task.inputs.volumes;
        const shared = volumes.find((volume) => volume.name === "shared-config");
        assert.equal(shared.efsVolumeConfiguration.transitEncryption, "ENABLED");
        assert.equal(shared.efsVolumeConfiguration.authorizationConfig.iam, "ENABLED");
        assert.equal(shared.efsVolumeConfiguration.authorizationConfig.accessPointId, "ecs-efs-prometheus-billing-id");
        const tsdb = volumes.find((volume) => volume.name === "tsdb");
        assert.deepEqual(tsdb, { name: "tsdb" });
        assert.deepEqual(task.inputs.ephemeralStorage, { sizeInGib: 30 });
        assert.deepEqual(task.inputs.requiresCompatibilities, ["FARGATE"]);
        const prometheus = container(task, "prometheus");
        assert.ok(prometheus.mountPoints.some((mount: any) => mount.sourceVolume === "tsdb" && mount.containerPath === "/prometheus"));
        assert.ok(prometheus.mountPoints.filter((mount: any) => mount.sourceVolume === "shared-config").every((mount: any) => mount.readOnly));
        assert.deepEqual(container(task, "config-sync").command.slice(0, 4), ["s3", "sync", "s3://prometheus-config-test--mock1234/instances/billing/", "/mnt/config"]);
    });

    it("gives the scrape password and the instance's web credentials to the task only through the container secrets field", () => {
        const task = run.recorder.one(TASK, "ecs-prometheus-billing-0");
        assert.deepEqual(container(task, "thanos-sidecar").secrets, [{ name: "SCRAPE_PASSWORD_BILLING_API", valueFrom: `${billingSecretArn}:password::` }]);
        const webAuthArn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prometheus-test-billing-web-auth-mock-AbCdEf";
        assert.deepEqual(container(task, "config-render").secrets.map((secret: { valueFrom: string }) => secret.valueFrom.split("::")[0]), [`${billingSecretArn}:password`, `${webAuthArn}:webConfig`, `${webAuthArn}:password`, `${webAuthArn}:historyFront`]);
        assert.deepEqual(grants(policyOf(run, "ecs-prometheus-billing-execution-role"))["secretsmanager:GetSecretValue"], [billingSecretArn, webAuthArn]);
        assert.ok(!JSON.stringify(task.inputs).includes("mock-password-"), "no password in the task definition");
    });

    it("keeps the web config, the password and the history front's config in one Secrets Manager secret version, as a secret input", () => {
        const version = run.recorder.one("aws:secretsmanager/secretVersion:SecretVersion", "ecs-prometheus-billing-web-auth");
        assert.ok(isSecret(version.inputs.secretString), "secretString is a secret");
        const value = JSON.parse(unsecret(version.inputs.secretString));
        assert.deepEqual(Object.keys(value), ["webConfig", "password", "historyFront"]);
        assert.match(value.webConfig, /^basic_auth_users:\n {2}billing: \$2b\$10\$/);
        const forward = JSON.parse(value.historyFront).apps.http.servers.history.routes.find((route: any) => route.handle[0].handler === "reverse_proxy").handle[0];
        assert.deepEqual([forward.upstreams, forward.headers.request.set], [[{ dial: "thanos-query-tenants.prometheus-test.internal:9090" }], { "THANOS-TENANT": ["billing"] }]);
    });

    it("publishes prometheus.yml, rules and objstore.yml under the instance's prefix of the config bucket", () => {
        const keys = run.recorder.ofType("aws:s3/bucketObjectv2:BucketObjectv2").map((object) => object.inputs.key);
        assert.ok(keys.filter((key) => key.includes("prometheus")).every((key) => key.startsWith("instances/billing/")), keys.join(", "));
        const objstore = run.recorder.ofType("aws:s3/bucketObjectv2:BucketObjectv2").find((object) => object.inputs.key.endsWith("objstore.yml"))!;
        assert.match(unsecret(objstore.inputs.content), /aws_sdk_auth: true/);
        assert.doesNotMatch(unsecret(objstore.inputs.content), /secret_key/);
    });

    it("wires the flush on stop into every replica's task: the flush container as the stack renders it, its files published with the configuration, stop timeouts within Fargate's limit", () => {
        const billing = ecsInstance(ecsConfig(), "billing");
        const keys = run.recorder.ofType("aws:s3/bucketObjectv2:BucketObjectv2").map((object) => object.inputs.key);
        for (const file of ["flush.sh", "envsubst.awk", "upload-labels"]) assert.ok(keys.includes(`instances/billing/flush/${file}`), `flush/${file} is not published`);
        for (const index of [0, 1]) {
            const task = run.recorder.one(TASK, `ecs-prometheus-billing-${index}`);
            const flush = container(task, "flush");
            assert.equal(flush.stopTimeout, ecsFlushBudget(billing.plan).stopTimeout);
            assert.ok(flush.entryPoint.includes("--wait-for-term") && flush.entryPoint.includes(`--deadline=${ecsFlushBudget(billing.plan).deadlineSeconds}`), JSON.stringify(flush.entryPoint));
            assert.deepEqual(flush.environment, [{ name: "PROMETHEUS_REPLICA", value: `prometheus-billing-${index}` }]);
            for (const definition of containers(task)) assert.ok((definition.stopTimeout ?? 0) <= maxStopTimeoutSeconds, `${task.name}/${definition.name}`);
        }
    });

    it("gives each component its own task role with exactly its row of the least-privilege table", () => {
        assert.deepEqual(s3Grants(policyOf(run, "ecs-prometheus-billing-task-role"), thanosBucketArn), ["s3:GetObject", "s3:ListBucket", "s3:PutObject"]);
        assert.deepEqual(s3Grants(policyOf(run, "ecs-thanos-store-task-role"), thanosBucketArn), ["s3:GetObject", "s3:ListBucket"]);
        assert.equal(run.recorder.one(TASK, "ecs-thanos-query").inputs.taskRoleArn, undefined, "query has no task role");
        assert.deepEqual(s3Grants(policyOf(run, "ecs-prometheus-billing-config-update-task-role"), thanosBucketArn), [], "the update task never touches the Thanos bucket");
        assert.deepEqual(s3Grants(policyOf(run, "yace-task-role"), thanosBucketArn), []);
        const store = grants(policyOf(run, "ecs-thanos-store-task-role"));
        assert.deepEqual(store["kms:Decrypt"], ["arn:aws:kms:us-east-1:111122223333:key/11111111-2222-3333-4444-555555555555"]);
    });

    it("registers no wildcard action, and Resource '*' only where IAM cannot scope", () => {
        const policies = run.recorder.ofType(ROLE_POLICY);
        // Task roles: billing, its config update, store, yace (query has none, the parked compactor neither); execution roles: billing, store, query, compactor, yace.
        assert.deepEqual(policies.map((policy) => policy.name).sort(), [
            "ecs-prometheus-billing-config-update-task-role", "ecs-prometheus-billing-execution-role", "ecs-prometheus-billing-task-role",
            "ecs-thanos-compactor-execution-role", "ecs-thanos-query-execution-role", "ecs-thanos-query-tenants-execution-role",
            "ecs-thanos-store-execution-role", "ecs-thanos-store-task-role", "yace-execution-role", "yace-task-role",
        ]);
        for (const policy of policies) {
            for (const [action, resources] of Object.entries(grants(JSON.parse(unsecret(policy.inputs.policy))))) {
                assert.ok(!action.includes("*"), `${policy.name}: ${action}`);
                if (resources.includes("*")) assert.ok(actionsWithoutResourceType.has(action), `${policy.name}: ${action} on "*"`);
            }
        }
        for (const role of run.recorder.ofType("aws:iam/role:Role")) {
            const trust = JSON.parse(unsecret(role.inputs.assumeRolePolicy));
            assert.deepEqual(trust.Statement[0].Principal, { Service: "ecs-tasks.amazonaws.com" }, role.name);
            assert.deepEqual(trust.Statement[0].Condition, { StringEquals: { "aws:SourceAccount": "123456789012" } }, role.name);
        }
    });

    it("limits execution roles to their own log groups and named secrets", () => {
        for (const name of ["ecs-thanos-store", "ecs-thanos-query", "ecs-thanos-compactor", "yace", "ecs-prometheus-billing"]) {
            const actions = Object.keys(grants(policyOf(run, `${name}-execution-role`))).sort();
            assert.ok(actions.every((action) => ["logs:CreateLogStream", "logs:PutLogEvents", "secretsmanager:GetSecretValue"].includes(action)), `${name}: ${actions}`);
        }
        const logs = run.recorder.ofType("aws:cloudwatch/logGroup:LogGroup");
        assert.ok(logs.every((group) => group.inputs.retentionInDays === 30), "retention on every log group");
        assert.ok(logs.some((group) => group.inputs.name === "/paas/test/prometheus/billing"));
    });

    it("encrypts EFS, fixes the access points' uid/gid, and admits NFS only from the tasks' security groups", () => {
        const fileSystem = run.recorder.one("aws:efs/fileSystem:FileSystem", "ecs-efs");
        assert.equal(fileSystem.inputs.encrypted, true);
        const accessPoints = run.recorder.ofType("aws:efs/accessPoint:AccessPoint");
        assert.deepEqual(accessPoints.map((accessPoint) => accessPoint.inputs.rootDirectory.path).sort(), ["/prometheus-billing", "/yace"]);
        for (const accessPoint of accessPoints) assert.deepEqual(accessPoint.inputs.posixUser, { uid: 65534, gid: 65534 });
        const mountTargets = run.recorder.ofType("aws:efs/mountTarget:MountTarget");
        assert.deepEqual(mountTargets.map((target) => target.inputs.subnetId).sort(), ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"]);
        assert.ok(mountTargets.every((target) => target.inputs.securityGroups[0] === "ecs-efs-nfs-id"));
        const nfs = run.recorder.ofType(INGRESS).filter((rule) => rule.inputs.securityGroupId === "ecs-efs-nfs-id");
        assert.deepEqual(nfs.map((rule) => rule.inputs.referencedSecurityGroupId).sort(), ["ecs-prometheus-billing-tasks-id", "yace-tasks-id"]);
        for (const rule of nfs) {
            assert.deepEqual([rule.inputs.fromPort, rule.inputs.toPort, rule.inputs.ipProtocol, rule.inputs.cidrIpv4], [2049, 2049, "tcp", undefined]);
        }
        const policy = JSON.parse(unsecret(run.recorder.one("aws:efs/fileSystemPolicy:FileSystemPolicy", "ecs-efs-policy").inputs.policy));
        assert.deepEqual(policy.Statement.map((statement: any) => statement.Sid), ["DenyInsecureTransport", "DenyWithoutAccessPoint"]);
    });

    it("keeps query internal: an internal load balancer reachable from the configured CIDRs only", () => {
        const loadBalancer = run.recorder.one("aws:lb/loadBalancer:LoadBalancer", "ecs-thanos-query");
        assert.equal(loadBalancer.inputs.internal, true);
        const cidrRules = run.recorder.ofType(INGRESS).filter((rule) => rule.inputs.cidrIpv4 !== undefined);
        assert.deepEqual(cidrRules.map((rule) => [rule.inputs.securityGroupId, rule.inputs.cidrIpv4, rule.inputs.fromPort]),
            [["ecs-thanos-query-lb-id", "10.60.0.0/16", 80], ["ecs-thanos-query-lb-id", "10.61.4.0/24", 80],
                ...["10.60.0.0/16", "10.61.4.0/24"].flatMap((cidr) => [9090, 9091].map((port) => ["ecs-prometheus-billing-tasks-id", cidr, port]))]);
        const queryIngress = run.recorder.ofType(INGRESS).filter((rule) => rule.inputs.securityGroupId === "ecs-thanos-query-id");
        assert.deepEqual(queryIngress.map((rule) => [rule.inputs.referencedSecurityGroupId, rule.inputs.fromPort]), [["ecs-thanos-query-lb-id", 9090]]);
        const sidecarIngress = run.recorder.ofType(INGRESS).filter((rule) => rule.inputs.securityGroupId === "ecs-prometheus-billing-tasks-id");
        assert.deepEqual(sidecarIngress.filter((rule) => rule.inputs.cidrIpv4 === undefined).map((rule) => [rule.inputs.referencedSecurityGroupId, rule.inputs.fromPort]),
            [["ecs-thanos-query-id", 10901], ["ecs-thanos-query-tenants-id", 10901]]);
    });

    it("tenancy: the tenants' Query enforces the tenant, registered in Cloud Map, reachable only from the instances' tasks (their history fronts), no load balancer", () => {
        const command: string[] = container(run.recorder.one(TASK, "ecs-thanos-query-tenants"), "thanos-query-tenants").command;
        for (const flag of ["--query.enforce-tenancy", "--query.tenant-label-name=tenant", "--grpc-address=localhost:10901"]) assert.ok(command.includes(flag), flag);
        const ingress = run.recorder.ofType(INGRESS).filter((rule) => rule.inputs.securityGroupId === "ecs-thanos-query-tenants-id");
        assert.deepEqual(ingress.map((rule) => [rule.inputs.referencedSecurityGroupId, rule.inputs.cidrIpv4, rule.inputs.fromPort]), [["ecs-prometheus-billing-tasks-id", undefined, 9090]]);
        const service = run.recorder.one("aws:ecs/service:Service", "ecs-thanos-query-tenants");
        assert.equal(service.inputs.loadBalancers, undefined);
        assert.ok(service.inputs.serviceRegistries.registryArn);
        const history = container(run.recorder.one(TASK, "ecs-prometheus-billing-0"), "history");
        assert.deepEqual([history.essential, history.restartPolicy, history.portMappings], [false, { enabled: true }, [{ containerPort: 9091, protocol: "tcp", name: "history" }]]);
    });

    it("lets query find the sidecars and the store through Cloud Map names, deduplicating replicas", async () => {
        const command: string[] = container(run.recorder.one(TASK, "ecs-thanos-query"), "thanos-query").command;
        assert.deepEqual(command.filter((arg) => arg.startsWith("--endpoint=")),
            ["--endpoint=dns+thanos-store.prometheus-test.internal:10901", "--endpoint=dns+prometheus-billing.prometheus-test.internal:10901"]);
        assert.ok(command.includes("--query.replica-label=prometheus_replica"));
        const cloudMap = run.recorder.ofType("aws:servicediscovery/service:Service");
        assert.deepEqual(cloudMap.map((service) => service.inputs.name).sort(), ["prometheus-billing", "thanos-query-tenants", "thanos-store", "yace"]);
        assert.ok(cloudMap.every((service) => service.inputs.dnsConfig.namespaceId === "ecs-namespace-id"));
        assert.equal(run.recorder.one("aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace", "ecs-namespace").inputs.name, "prometheus-test.internal");
        const registered = run.recorder.ofType(SERVICE).filter((service) => service.inputs.serviceRegistries?.registryArn === "arn:aws:mock:::ecs-prometheus-billing-discovery");
        assert.equal(registered.length, 2);
        assert.match(await resolve(run.outputs.ecsThanosQueryUrl as string), /^http:\/\/internal-thanos-query-test-[0-9]+\.us-east-1\.elb\.amazonaws\.com$/);
    });

    it("runs the compactor on one platform only: Kubernetes by default in a two-platform stack", () => {
        const kubernetes = run.recorder.one("kubernetes:apps/v1:StatefulSet", "thanos-compactor");
        assert.equal(kubernetes.inputs.spec.replicas, 1);
        const ecs = run.recorder.ofType(SERVICE).find((service) => service.inputs.name === "thanos-compactor")!;
        assert.equal(ecs.inputs.desiredCount, 0);
    });

    it("gives the parked ECS compactor no task role: nothing on that side can delete blocks", () => {
        assert.equal(run.recorder.one(TASK, "ecs-thanos-compactor").inputs.taskRoleArn, undefined);
        assert.deepEqual(run.recorder.ofType("aws:iam/role:Role").filter((role) => role.name === "ecs-thanos-compactor-task-role"), []);
        const deleters = run.recorder.ofType(ROLE_POLICY).filter((policy) => s3Grants(JSON.parse(unsecret(policy.inputs.policy)), thanosBucketArn).includes("s3:DeleteObject"));
        assert.deepEqual(deleters.map((policy) => policy.name), []);
    });

    it("scrapes YACE from the instances that chose it, admitted to YACE's security group", () => {
        const yaceIngress = run.recorder.ofType(INGRESS).filter((rule) => rule.inputs.securityGroupId === "yace-tasks-id");
        assert.deepEqual(yaceIngress.map((rule) => [rule.inputs.referencedSecurityGroupId, rule.inputs.fromPort]), [["ecs-prometheus-billing-tasks-id", 5000]]);
        const yace = container(run.recorder.one(TASK, "yace"), "yace");
        assert.deepEqual(yace.command, ["--config.file=/etc/yace/config.yml", "--listen-address=:5000", "--scraping-interval=60"]);
        assert.deepEqual(yace.dependsOn, [{ containerName: "config-sync", condition: "COMPLETE" }]);
        assert.match(yace.environment[0].value, /^[0-9a-f]{64}$/);
    });

    it("adds the ECS query as a Grafana datasource of the Kubernetes half", () => {
        const datasources = run.recorder.ofType("kubernetes:core/v1:Secret").filter((secret) => secret.inputs.metadata.labels?.grafana_datasource === "1");
        assert.ok(datasources.some((secret) => secret.inputs.metadata.name === "grafana-datasource-thanos-ecs"));
    });

    it("exports the ECS outputs: query URL, Prometheus URLs and the on-demand config update command", async () => {
        assert.deepEqual(run.outputs.ecsPrometheusUrls, { billing: "http://prometheus-billing.prometheus-test.internal:9090" });
        const command = await resolve((run.outputs.ecsConfigUpdateCommands as Record<string, any>).billing as string);
        assert.match(command, /^aws ecs run-task --region us-east-1 --cluster arn:aws:mock:::ecs-cluster --launch-type FARGATE --task-definition arn:aws:mock:::ecs-prometheus-billing-config-update /);
        assert.match(command, /subnets=\[subnet-0aaaaaaaaaaaaaaa1,subnet-0bbbbbbbbbbbbbbb2\],securityGroups=\[ecs-prometheus-billing-tasks-id\]/);
        // The command names the hash of exactly the files published for the instance: it changes when they do.
        const published = Object.fromEntries(run.recorder.ofType("aws:s3/bucketObjectv2:BucketObjectv2")
            .filter((object) => object.inputs.key.startsWith("instances/billing/"))
            .map((object) => [object.inputs.key.slice("instances/billing/".length), unsecret(object.inputs.content)]));
        assert.ok(command.endsWith(` --started-by ${configUpdateStartedBy(published)}`), command);
        assert.notEqual(configUpdateStartedBy({ ...published, "rules/tenant-rules.yml": `${published["rules/tenant-rules.yml"]}# changed\n` }), configUpdateStartedBy(published));
        const update = run.recorder.one(TASK, "ecs-prometheus-billing-config-update");
        assert.deepEqual(containers(update).map((definition) => [definition.name, definition.essential]), [["config-update", true]]);
        assert.equal(update.inputs.taskRoleArn, "arn:aws:mock:::ecs-prometheus-billing-config-update-task-role");
    });
});

describe("ECS platform under mocks: variants", () => {
    it("creates one EFS mount target per known subnet outside any apply, and every EFS-mounting service waits for them", async () => {
        const { resources } = await recordRegistrations(() => runStackConfig(ecsRawConfig()));
        const targets = resources.filter((resource) => resource.type === "aws:efs/mountTarget:MountTarget");
        assert.deepEqual(targets.map((target) => target.name).sort(), ["ecs-efs-subnet-0aaaaaaaaaaaaaaa1", "ecs-efs-subnet-0bbbbbbbbbbbbbbb2"]);
        const mounting = resources.filter((resource) => resource.type === SERVICE && ["prometheus-billing-0", "prometheus-billing-1", "yace"].includes(resource.inputs.name));
        assert.equal(mounting.length, 3);
        for (const service of mounting) {
            for (const target of targets) assert.ok(service.dependencies.includes(target.urn), `${service.inputs.name} does not wait for ${target.name}`);
            assert.ok(service.dependencies.some((urn) => /SecurityGroupIngressRule::(ecs-prometheus-billing|yace)-nfs$/.test(urn)), `${service.inputs.name} does not wait for its NFS rule`);
        }
    });

    it("replicas in turn: each replica's service waits for steady state and depends on the previous replica's, with the circuit breaker rolling back", async () => {
        const raw = ecsRawConfig();
        const instances = (raw.instances as Record<string, unknown>[]).map((instance) => (instance.name === "billing" ? { ...instance, replicas: 3 } : instance));
        const { resources } = await recordRegistrations(() => runStackConfig({ ...raw, instances }));
        const replicas = [0, 1, 2].map((index) => {
            const found = resources.filter((resource) => resource.type === SERVICE && resource.inputs.name === `prometheus-billing-${index}`);
            assert.equal(found.length, 1, `one service prometheus-billing-${index}`);
            return found[0];
        });
        for (const [index, service] of replicas.entries()) {
            assert.equal(service.inputs.waitForSteadyState, true, `${service.inputs.name} does not wait for its deployment`);
            assert.deepEqual(service.inputs.deploymentCircuitBreaker, { enable: true, rollback: true }, service.inputs.name);
            const earlier = replicas.slice(0, index).filter((other) => service.dependencies.includes(other.urn)).map((other) => other.inputs.name);
            assert.deepEqual(earlier, index === 0 ? [] : [`prometheus-billing-${index - 1}`], `${service.inputs.name} depends on exactly the replica before it`);
        }
    });

    it("looks one subnet up per configured zone for the mount targets, the tasks and the load balancer", async () => {
        const raw = ecsRawConfig();
        const run = await runStackConfig({ ...raw, ecs: { ...(raw.ecs as object), subnets: { tags: { tier: "private" }, availabilityZones: ["us-east-1a", "us-east-1c"] } } });
        const looked = ["subnet-0looked0up000000a", "subnet-0looked0up000000c"];
        assert.deepEqual(run.recorder.ofType("aws:efs/mountTarget:MountTarget").map((target) => [target.name, target.inputs.subnetId]).sort(),
            [["ecs-efs-us-east-1a", looked[0]], ["ecs-efs-us-east-1c", looked[1]]]);
        assert.deepEqual(run.recorder.one("aws:lb/loadBalancer:LoadBalancer", "ecs-thanos-query").inputs.subnets, looked);
        for (const service of run.recorder.ofType(SERVICE)) assert.deepEqual(service.inputs.networkConfiguration.subnets, looked, service.name);
    });

    it("an ECS-only stack runs the compactor on ECS as a singleton, with looked-up VPC, subnets and an existing cluster", async () => {
        const raw = ecsRawConfig();
        const run = await runStackConfig({
            ...raw,
            instances: (raw.instances as unknown[]).slice(1),
            ecs: { cluster: { name: "shared", existing: true }, vpc: { tags: { Name: "prod" } }, subnets: { tags: { tier: "private" }, availabilityZones: ["us-east-1a", "us-east-1b"] }, queryAllowedCidrs: ["10.60.0.0/16"] },
        });
        const compactor = run.recorder.ofType(SERVICE).find((service) => service.inputs.name === "thanos-compactor")!;
        assert.equal(compactor.inputs.desiredCount, 1);
        assert.equal(compactor.inputs.deploymentMinimumHealthyPercent, 0);
        assert.equal(compactor.inputs.deploymentMaximumPercent, 100);
        assert.equal(compactor.inputs.cluster, "arn:aws:ecs:us-east-1:123456789012:cluster/shared");
        assert.deepEqual(run.recorder.ofType("aws:ecs/cluster:Cluster"), [], "an existing cluster is looked up, not created");
        assert.deepEqual(run.recorder.ofType("aws:efs/mountTarget:MountTarget").map((target) => target.inputs.subnetId).sort(), ["subnet-0looked0up000000a", "subnet-0looked0up000000b"]);
        assert.equal(run.recorder.one("aws:ec2/securityGroup:SecurityGroup", "ecs-efs-nfs").inputs.vpcId, "vpc-0feedface0000001");
        assert.deepEqual(run.recorder.ofType("kubernetes:apps/v1:StatefulSet"), [], "no Kubernetes resource without Kubernetes instances");
    });

    it("thanos.compactor.platform moves the singleton to ECS in a two-platform stack, with the one role that deletes", async () => {
        const run = await runStackConfig({ ...ecsRawConfig(), thanos: { compactor: { platform: "ecs" } } });
        assert.equal(run.recorder.one("kubernetes:apps/v1:StatefulSet", "thanos-compactor").inputs.spec.replicas, 0);
        assert.equal(run.recorder.ofType(SERVICE).find((service) => service.inputs.name === "thanos-compactor")!.inputs.desiredCount, 1);
        assert.equal(run.recorder.one(TASK, "ecs-thanos-compactor").inputs.taskRoleArn, "arn:aws:mock:::ecs-thanos-compactor-task-role");
        const deleters = run.recorder.ofType(ROLE_POLICY).filter((policy) => s3Grants(JSON.parse(unsecret(policy.inputs.policy)), thanosBucketArn).includes("s3:DeleteObject"));
        assert.deepEqual(deleters.map((policy) => policy.name), ["ecs-thanos-compactor-task-role"]);
        assert.deepEqual(s3Grants(JSON.parse(unsecret(deleters[0].inputs.policy)), thanosBucketArn), ["s3:DeleteObject", "s3:GetObject", "s3:ListBucket", "s3:PutObject"]);
    });

    it("EcsThanos refuses a second compactor before registering anything", async () => {
        const recorder = await installMocks();
        const config = ecsConfig();
        const context = {
            environment: "test", region: "us-east-1", accountId: "1", partition: "aws", clusterArn: "c", clusterName: "c", vpcId: "v", subnetIds: ["s"],
            namespaceId: "n", namespaceName: "x.internal", configBucket: { name: "b", arn: "a" }, logRetentionDays: 30, capacity: config.ecs!.capacity,
        };
        assert.throws(() => new EcsThanos("t", {
            ecs: context, thanos: { ...config.thanos, compactor: { ...config.thanos.compactor, replicas: 2 } },
            objstoreConfig: "x", bucket: { arn: "a" }, sidecars: [], queryAllowedCidrs: ["10.0.0.0/8"],
        }), /singleton per bucket/);
        await recorder.settle();
        assert.deepEqual(recorder.resources, []);
    });
});
