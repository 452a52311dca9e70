import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import pino from "pino";
import { instanceFromRecord } from "../../components/broker/record";
import { parseBrokerSettings, poolNamespace } from "../../components/broker/settings";
import type { Stack } from "@pulumi/pulumi/automation";
import { InstanceEngine } from "../../broker/engine";
import { brokerInputsChecksum, Provisioner } from "../../broker/provisioner";
import { InstanceStore } from "../../broker/store";
import { checkInstanceName, credentialsMatch } from "../../broker/server";
import { pinnedImages } from "../../components/images";
import { bindAppRequest, createRequest, namespaceFromInternalHosts, parametersOf } from "../../broker/tsuru";
import { flattenParameters } from "../support/tsuru-broker-client";
import { loopbackNetwork } from "../../components/config/network";

const platform = { thanosNamespace: "prometheus", network: loopbackNetwork("grafana") };

describe("broker: Tsuru's request fields", () => {
    it("unflattens form parameters: nested keys, list items, escaped dots", () => {
        const form = Object.fromEntries(flattenParameters({ retention: { extra: "1d" }, "a.b": ["x", "y"], flag: "true" }));
        assert.deepEqual(form, { "parameters.retention.extra": "1d", "parameters.a\\.b.0": "x", "parameters.a\\.b.1": "y", "parameters.flag": "true" });
        assert.deepEqual(parametersOf(form, false), { retention: { extra: "1d" }, "a.b": ["x", "y"], flag: "true" });
        assert.deepEqual(parametersOf({ parameters: { a: 1 } }, true), { a: 1 });
    });

    it("reads both encodings with Tsuru's field names", () => {
        assert.deepEqual(createRequest({ name: "p", team: "t", eventid: "e", tags: ["a", "b"] }, false), { name: "p", team: "t", plan: undefined, description: "", tags: ["a", "b"], user: undefined, eventId: "e", parameters: {} });
        assert.equal(createRequest({ eventID: "e" }, true).eventId, "e");
        assert.deepEqual(createRequest({ tags: "one" }, false).tags, ["one"]);
        const bind = bindAppRequest({ appName: "web", appInternalHosts: ["tcp://web-web.tsuru-a.svc.cluster.local:8888"] }, true);
        assert.equal(bind.appName, "web");
        assert.deepEqual(bind.appInternalHosts, ["tcp://web-web.tsuru-a.svc.cluster.local:8888"]);
    });

    it("takes the units' namespace from app-internal-hosts, else from the pool rule", () => {
        assert.equal(namespaceFromInternalHosts(["tcp://shop-web.tsuru-shop.svc.cluster.local:8888"]), "tsuru-shop");
        assert.equal(namespaceFromInternalHosts(["nonsense", "tcp://a.b.svc:80"]), "b");
        assert.equal(namespaceFromInternalHosts([]), undefined);
        const rule = parseBrokerSettings({ environment: "e", region: "r", ...platform, poolNamespaces: { pools: { legacy: "default" } } }).poolNamespaces;
        assert.equal(poolNamespace(rule, "Shop"), "tsuru-shop");
        assert.equal(poolNamespace(rule, "legacy"), "default");
    });

    it("allows only DNS-1123 instance names of at most 40 characters, never 'plans'", () => {
        for (const name of ["shop", "a1", "my-prom"]) assert.equal(checkInstanceName(name), name);
        for (const name of ["My_Prom", "x_y", "-a", "a-", "a".repeat(41), "plans", "", "9lives"]) assert.throws(() => checkInstanceName(name), name);
    });

    it("compares credentials in constant time, whatever their lengths", () => {
        const expected = { username: "prometheus", password: "secret" };
        assert.equal(credentialsMatch(expected, "prometheus", "secret"), true);
        assert.equal(credentialsMatch(expected, "prometheus", "secret-but-longer"), false);
        assert.equal(credentialsMatch(expected, "other", "secret"), false);
    });

    it("validates an instance record with the stack's rules: plan catalog with overrides, app fields", () => {
        const settings = parseBrokerSettings({ environment: "e", region: "r", ...platform, plans: { tiny: { description: "t", cpu: "100m", memory: "256Mi", tmpfs: "256Mi", retentionTime: "6h", retentionSize: "128Mi", scrapeInterval: "30s", sampleLimit: 1000, labelLimit: 32, targetLimit: 10 } } });
        assert.equal(instanceFromRecord("p", { plan: "tiny", team: "t", apps: [], jobs: [] }, settings).plan.tmpfsMiB, 256);
        assert.throws(() => instanceFromRecord("p", { plan: "nope", team: "t", apps: [], jobs: [] }, settings), /unknown plan 'nope'/);
        assert.throws(() => instanceFromRecord("p", { plan: "small", team: "t", apps: [{ name: "web", namespace: "ns", port: 99999 } as any], jobs: [] }, settings), /apps/);
        assert.throws(() => parseBrokerSettings({ environment: "e", region: "r", ...platform, poolPlans: { a: ["huge"] } }), /unknown plan 'huge'/);
    });
});

describe("broker: what re-applies every instance", () => {
    const settings = parseBrokerSettings({ environment: "test", region: "us-east-1", ...platform });
    const inputs = { settings, objstoreConfig: "type: S3\nconfig:\n  bucket: a\n", images: pinnedImages() };
    const checksum = brokerInputsChecksum(inputs, "passphrase");

    it("is stable for the same inputs and changes with the settings, objstore.yml and each pinned image", () => {
        assert.equal(brokerInputsChecksum({ ...inputs, images: { ...pinnedImages() } }, "passphrase"), checksum);
        assert.notEqual(brokerInputsChecksum({ ...inputs, settings: parseBrokerSettings({ environment: "test", region: "eu-west-1", ...platform }) }, "passphrase"), checksum);
        assert.notEqual(brokerInputsChecksum({ ...inputs, objstoreConfig: inputs.objstoreConfig.replace("bucket: a", "bucket: b") }, "passphrase"), checksum);
        for (const name of Object.keys(inputs.images)) {
            assert.notEqual(brokerInputsChecksum({ ...inputs, images: { ...inputs.images, [name]: `${inputs.images[name as keyof typeof inputs.images]}-next` } }, "passphrase"), checksum, name);
        }
    });

    it("is keyed: the record holds no plain digest of objstore.yml (which may carry bucket keys)", () => {
        assert.match(checksum, /^[0-9a-f]{64}$/);
        assert.notEqual(brokerInputsChecksum(inputs, "another passphrase"), checksum);
    });
});

describe("broker start-up: the backend's stack list is a cross-check, never a reason to stay down", () => {
    const settings = parseBrokerSettings({ environment: "test", region: "us-east-1", ...platform });

    function startingBroker(listInstances: () => Promise<string[]>) {
        const lines: Record<string, unknown>[] = [];
        const logger = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line)) });
        const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "paas-provisioner-"));
        const engine = { settings: { passphrase: "p" }, listInstances } as unknown as InstanceEngine;
        const provisioner = new Provisioner({
            store: new InstanceStore(workDir), engine, settings, target: { kind: "render", directory: workDir }, objstoreConfig: "", concurrency: 1, logger,
            stackListRetry: { attempts: 3, pauseMs: 1 },
        });
        return { provisioner, lines, cleanup: () => fs.rmSync(workDir, { recursive: true, force: true }) };
    }

    it("retries a failed `stack ls` (a killed broker's engine still writing: error: EOF) and then warns about stacks without a record", async () => {
        let calls = 0;
        const broker = startingBroker(async () => {
            if (++calls < 3) throw new Error("Command failed with exit code 1: pulumi stack ls --json --non-interactive\nerror: EOF");
            return ["ghost"];
        });
        assert.deepEqual(await broker.provisioner.resume(), []);
        assert.equal(calls, 3);
        assert.deepEqual(broker.lines.map((line) => line.msg), [
            "listing the backend's stacks failed; retrying",
            "listing the backend's stacks failed; retrying",
            "stack without a record in the broker's project dir: left alone (remove it with pulumi stack rm)",
        ]);
        broker.cleanup();
    });

    it("starts anyway when the list keeps failing, with a warning that the check was skipped", async () => {
        const broker = startingBroker(async () => {
            throw new Error("error: EOF");
        });
        assert.deepEqual(await broker.provisioner.resume(), []);
        const last = broker.lines[broker.lines.length - 1];
        assert.equal(last.msg, "cannot list the backend's stacks: the check for stacks without a record is skipped");
        assert.equal(last.attempts, 3);
        broker.cleanup();
    });
});

describe("broker: an instance's password never goes on a command line", () => {
    it("writePassword hands the value to `pulumi config set --secret` on stdin; a failure's message does not carry it", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "paas-fake-cli-"));
        // A CLI that records its arguments and stdin, then fails the way a broken backend would.
        const fake = path.join(dir, "pulumi");
        fs.writeFileSync(fake, `#!/bin/sh\necho "$@" > "${dir}/args"\ncat > "${dir}/stdin"\necho "error: could not write the stack file" >&2\nexit 1\n`, { mode: 0o755 });
        const engine = new InstanceEngine({ workDir: dir, backendUrl: `file://${dir}`, passphrase: "p" });
        (engine as unknown as { command: { command: string } }).command = { command: fake };
        const password = "the-password-0123456789abcdef";
        await assert.rejects(engine.writePassword({ name: "instance-shop" } as Stack, password), (error: Error) => {
            assert.match(error.message, /could not write the stack file/);
            assert.ok(!error.message.includes(password), `the error carries the password: ${error.message}`);
            return true;
        });
        assert.equal(fs.readFileSync(path.join(dir, "args"), "utf8").trim(), "config set prometheus-paas-instance:password --secret --non-interactive --stack instance-shop");
        assert.equal(fs.readFileSync(path.join(dir, "stdin"), "utf8"), password);
        fs.rmSync(dir, { recursive: true, force: true });
    });
});
