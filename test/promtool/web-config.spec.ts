import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import bcrypt from "bcryptjs";
import * as yaml from "js-yaml";
import { generatePassword, minimumPasswordLength, webRateLimit, passwordProblem, renderClientConfig, renderInstanceAuthFiles, renderWebConfig, stablePasswordHash } from "../../components/prometheus/web-auth";
import { prometheusContainers } from "../../components/prometheus/ecs-spec";
import { ecsConfig } from "../support/ecs-fixtures";
import { ecsInstance } from "../support/fixtures";
import { freePort, ProcessGroup, waitFor } from "../support/processes";
import { runPromtool, writeTempFiles } from "../support/promtool";
import { toolBinary } from "../support/tools";

const location = () => ({ region: "us-east-1", logGroup: "/paas/test/prometheus/billing", configBucket: "cfg", configPrefix: "instances/billing/" });
const ecsBilling = () => ecsInstance(ecsConfig(), "billing");

function checkWebConfig(webYml: string) {
    const dir = writeTempFiles({ "web.yml": webYml });
    return runPromtool(["check", "web-config", path.join(dir, "web.yml")]);
}

describe("web auth: the web config and client file an instance's Prometheus runs with", () => {
    const shop = { username: "shop", password: "shop-password-0123456789" };
    const shopWebConfig = (password = shop.password) => renderInstanceAuthFiles({ instanceName: "shop", password, tenantQueryAddress: "thanos-query-tenants.prometheus.svc:9090" }).webConfig;

    it("an unchanged password gives the same web config on every render (a stable bcrypt salt), which matches the password", () => {
        const first = shopWebConfig();
        assert.equal(shopWebConfig(`${shop.password}`), first);
        const hash = (yaml.load(first) as any).basic_auth_users.shop;
        assert.ok(bcrypt.compareSync(shop.password, hash), "the hash verifies the password");
        assert.equal(bcrypt.compareSync("shop-password-wrong", hash), false);
        assert.equal(bcrypt.getRounds(hash), 10);
    });

    it("another password or another instance gets another salt and hash", () => {
        const hash = stablePasswordHash(shop);
        assert.notEqual(stablePasswordHash({ ...shop, password: "shop-password-9876543210" }), hash);
        const otherInstance = stablePasswordHash({ username: "blog", password: shop.password });
        assert.notEqual(bcrypt.getSalt(otherInstance), bcrypt.getSalt(hash), "the salt depends on the instance too");
    });

    it("promtool check web-config accepts the rendered web config, users and rate limit", () => {
        const result = checkWebConfig(shopWebConfig());
        assert.ok(result.ok, result.output);
        assert.deepEqual(Object.keys(yaml.load(shopWebConfig()) as object), ["basic_auth_users", "rate_limit"]);
    });

    it("promtool rejects a broken web config, so its check means something", () => {
        const result = checkWebConfig("basic_auth_users:\n  shop: [not, a, hash]\n");
        assert.equal(result.ok, false, result.output);
    });

    it("never renders an empty users map (that turns authentication off) nor a user without a bcrypt hash", () => {
        assert.throws(() => renderWebConfig({}), /basic_auth_users is empty, which turns authentication off/);
        assert.throws(() => renderWebConfig({ shop: "plaintext" }), /the hash of user 'shop' is not a bcrypt hash/);
        assert.throws(() => renderWebConfig({ "a:b": stablePasswordHash(shop) }), /user 'a:b' is not a basic auth user name/);
    });

    it("the client file names the password file and holds no password", () => {
        const client = renderClientConfig({ username: "shop", passwordFile: "/etc/prometheus/web/password" });
        assert.deepEqual(yaml.load(client), { basic_auth: { username: "shop", password_file: "/etc/prometheus/web/password" } });
    });

    it("generated passwords are long, URL- and shell-safe and differ every time; short explicit ones are refused", () => {
        const passwords = new Set(Array.from({ length: 20 }, () => generatePassword()));
        assert.equal(passwords.size, 20);
        for (const password of passwords) {
            assert.match(password, /^[A-Za-z0-9_-]{32}$/);
            assert.equal(passwordProblem(password), undefined);
        }
        assert.match(passwordProblem("short")!, new RegExp(`give at least ${minimumPasswordLength}`));
        assert.match(passwordProblem("long-enough-password\nsecond-line")!, /line break/);
    });
});

describe("web auth on ECS: config-render's files, the task's health check and the sidecar's client, on the real Prometheus", function () {
    this.timeout(120_000);
    const group = new ProcessGroup();
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "ecs-web-auth-"));
    const credentials = { username: "billing", password: "billing-password-0123456789" };
    const secret = { arn: "arn:aws:secretsmanager:us-east-1:111122223333:secret:prometheus-test-billing-web-auth-AbCdEf", versionId: "v1" };
    /** A container path as this test's directory holds it. */
    const local = (containerPath: string) => path.join(root, containerPath);
    const containers = prometheusContainers({ ...location(), instance: ecsBilling(), replicaName: "prometheus-billing-0", webAuthSecret: secret });
    const container = (name: string) => containers.find((candidate) => candidate.name === name)!;
    const remap = (text: string) => text.replace(/(?<=^|[\s'"=])\/(etc\/prometheus|prometheus)\b/g, `${root}/$1`);
    let port = 0;

    before(async () => {
        fs.mkdirSync(local("/etc/prometheus/shared"), { recursive: true });
        for (const dir of ["/etc/prometheus/config_out", "/etc/prometheus/file_sd", "/prometheus"]) fs.mkdirSync(local(dir), { recursive: true });
        fs.writeFileSync(local("/etc/prometheus/shared/prometheus.yml.tmpl"), "global:\n  external_labels:\n    replica: $(PROMETHEUS_REPLICA)\n");
        // config-render's command as the task runs it, with the values ECS takes from the pinned secret version.
        const render = container("config-render");
        const authFiles = renderInstanceAuthFiles({ instanceName: "billing", password: credentials.password, tenantQueryAddress: "thanos-query-tenants.prometheus-test.internal:9090" });
        const secretValues: Record<string, string> = {
            PROMETHEUS_WEB_CONFIG: authFiles.webConfig,
            PROMETHEUS_PASSWORD: credentials.password,
            PROMETHEUS_HISTORY_FRONT: authFiles.historyFront,
            SCRAPE_PASSWORD_BILLING_API: "scrape",
        };
        assert.deepEqual(render.secrets!.map((entry) => entry.name).sort(), Object.keys(secretValues).sort());
        const env = { PATH: process.env.PATH, PROMETHEUS_REPLICA: "prometheus-billing-0", ...secretValues };
        const result = spawnSync(render.command![0], render.command!.slice(1).map(remap), { env, encoding: "utf8" });
        assert.equal(result.status, 0, result.stderr);

        port = await freePort();
        const args = container("prometheus").command!.map(remap).map((arg) => arg.replace("--web.listen-address=0.0.0.0:9090", `--web.listen-address=127.0.0.1:${port}`));
        group.start("prometheus", toolBinary("prometheus"), args);
        await waitFor("Prometheus to listen", () => new Promise<true | undefined>((resolve) => {
            const socket = net.connect({ host: "127.0.0.1", port }, () => { socket.destroy(); resolve(true); });
            socket.on("error", () => resolve(undefined));
        }), { timeoutMs: 30_000, intervalMs: 250 });
    });

    after(async () => {
        await group.stopAll();
        fs.rmSync(root, { recursive: true, force: true });
    });

    /** The task's health check as rendered, its paths remapped. */
    const healthCheck = () => {
        const [cmd, binary, ...args] = container("prometheus").healthCheck!.command;
        assert.deepEqual([cmd, binary], ["CMD", "promtool"]);
        return runPromtool(args.map(remap).map((arg) => arg.replace("localhost:9090", `127.0.0.1:${port}`)));
    };

    it("config-render writes the web config and the password from the task's secrets (0400), and a client file that names the password file", () => {
        assert.equal(fs.readFileSync(local("/etc/prometheus/config_out/password"), "utf8"), credentials.password);
        assert.equal(fs.statSync(local("/etc/prometheus/config_out/password")).mode & 0o777, 0o400);
        assert.ok(checkWebConfig(fs.readFileSync(local("/etc/prometheus/config_out/web.yml"), "utf8")).ok);
        const client = yaml.load(fs.readFileSync(local("/etc/prometheus/config_out/http-client.yml"), "utf8")) as any;
        // Every container path of the script is remapped here, the one inside the client file too.
        assert.deepEqual(client.basic_auth, { username: "billing", password_file: local("/etc/prometheus/config_out/password") });
    });

    it("config-render writes the history front's config (0400), which the real Caddy accepts as the task's history container runs it", () => {
        const file = local("/etc/prometheus/config_out/history-front.json");
        assert.equal(fs.statSync(file).mode & 0o777, 0o400);
        const command = container("history").command!;
        assert.deepEqual(command, ["caddy", "run", "--config", "/etc/prometheus/config_out/history-front.json"]);
        const result = spawnSync(toolBinary("caddy"), ["validate", "--config", file], { encoding: "utf8", env: { PATH: process.env.PATH, HOME: root } });
        assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
        assert.match(`${result.stdout}${result.stderr}`, /Valid configuration/);
    });

    it("the Prometheus task answers 401 without credentials and passes its own health check (promtool with the client file)", async () => {
        assert.equal((await fetch(`http://127.0.0.1:${port}/-/healthy`)).status, 401);
        const result = healthCheck();
        assert.ok(result.ok, result.output);
        const sidecarArgs = container("thanos-sidecar").command!;
        assert.ok(sidecarArgs.includes("--prometheus.http-client-file=/etc/prometheus/config_out/http-client.yml"), "the sidecar reads the same client file");
    });

    it("the web config's rate limit answers 429 past its burst, before any password check, and lets the instance in again once refilled", async () => {
        const statuses = await Promise.all(Array.from({ length: webRateLimit.burst * 2 }, async () => {
            const response = await fetch(`http://127.0.0.1:${port}/-/healthy`);
            await response.arrayBuffer();
            return response.status;
        }));
        const counts = statuses.reduce<Record<number, number>>((all, status) => ({ ...all, [status]: (all[status] ?? 0) + 1 }), {});
        assert.deepEqual(Object.keys(counts).sort(), ["401", "429"], JSON.stringify(counts));
        assert.ok(counts[401] >= webRateLimit.burst, `only ${counts[401]} requests got through: ${JSON.stringify(counts)}`);
        await new Promise((resolve) => setTimeout(resolve, 1000));
        const authorization = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64")}`;
        assert.equal((await fetch(`http://127.0.0.1:${port}/-/healthy`, { headers: { authorization } })).status, 200);
    });

    it("the health check fails when the password file holds another password", () => {
        const file = local("/etc/prometheus/config_out/password");
        fs.chmodSync(file, 0o600);
        fs.writeFileSync(file, "another-password-0123456789");
        try {
            assert.equal(healthCheck().ok, false);
        } finally {
            fs.writeFileSync(file, credentials.password);
        }
    });
});
