import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import {
    TSURU_TOKEN_CONFIG_KEY, TSURU_TOKEN_ENV, TsuruService, TsuruServiceProvider, TsuruServiceProviderOptions, TsuruServiceState,
} from "../../components/tsuru";
import { FakeTsuru, startFakeTsuru } from "../support/fake-tsuru";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Struct } = require("google-protobuf/google/protobuf/struct_pb");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const requireFromString: (code: string) => { handler: () => TsuruServiceProvider } = require("require-from-string");

const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const PASSWORD = "s3cret-broker-password-91c2";
const FAST: TsuruServiceProviderOptions = { timeoutMs: 150, maxRetries: 2, backoffMs: 5, maxBackoffMs: 20 };

function config(values: Record<string, string>): pulumi.dynamic.ConfigureRequest {
    return {
        config: {
            get: (key: string) => values[key],
            require: (key: string) => {
                if (values[key] === undefined) throw new Error(`missing ${key}`);
                return values[key];
            },
        },
    };
}

async function configured(token: string | undefined, options: TsuruServiceProviderOptions = FAST): Promise<TsuruServiceProvider> {
    const provider = new TsuruServiceProvider(options);
    await provider.configure(config(token === undefined ? {} : { [TSURU_TOKEN_CONFIG_KEY]: token }));
    return hostChecked(provider);
}

/** The provider host sends every result as a protobuf Struct, which rejects undefined values. */
function asSent<T>(value: T): T {
    if (value !== undefined) Struct.fromJavaScript(value);
    return value;
}

/** A provider whose results are checked the way pulumi-resource-pulumi-nodejs converts them. */
function hostChecked(p: TsuruServiceProvider): TsuruServiceProvider {
    return new Proxy(p, {
        get(target, prop, receiver) {
            const v = Reflect.get(target, prop, receiver);
            if (typeof v !== "function" || prop === "configure" || prop === "diff") return v;
            return async (...args: unknown[]) => {
                const result = await v.apply(target, args);
                const r = (result ?? {}) as Record<string, unknown>;
                asSent(r.inputs);
                asSent(r.outs);
                asSent(r.props);
                return result;
            };
        },
    });
}

async function failure(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
    try {
        await promise;
    } catch (err) {
        return err as Error & Record<string, unknown>;
    }
    assert.fail("expected a rejection");
}

describe("TsuruService dynamic provider", () => {
    let fake: FakeTsuru;
    let provider: TsuruServiceProvider;
    let savedEnv: string | undefined;

    function inputs(overrides: Record<string, unknown> = {}): Record<string, unknown> {
        return {
            apiUrl: fake.url,
            serviceId: "prometheus",
            team: "admin",
            endpoints: "http://broker.example.com",
            password: PASSWORD,
            documentation: "Prometheus as a service",
            ...overrides,
        };
    }

    /** What the engine does: check, then create with the checked inputs. */
    async function create(overrides: Record<string, unknown> = {}, p = provider) {
        const checked = await p.check({}, inputs(overrides));
        assert.deepStrictEqual(checked.failures, []);
        const result = await p.create(checked.inputs!);
        return { id: result.id, outs: result.outs as TsuruServiceState };
    }

    beforeEach(async () => {
        savedEnv = process.env[TSURU_TOKEN_ENV];
        delete process.env[TSURU_TOKEN_ENV];
        fake = await startFakeTsuru({ teams: ["admin"] });
        provider = await configured(fake.token);
    });
    afterEach(async () => {
        if (savedEnv === undefined) delete process.env[TSURU_TOKEN_ENV];
        else process.env[TSURU_TOKEN_ENV] = savedEnv;
        await fake.close();
    });

    describe("check", () => {
        it("normalizes a minimal service: production endpoint, username, encoding, flags, apiUrl", async () => {
            const { inputs: out, failures } = await provider.check({}, inputs({ apiUrl: `${fake.url}//` }));
            assert.deepStrictEqual(failures, []);
            assert.deepStrictEqual(out, {
                ...inputs(),
                endpoints: { production: "http://broker.example.com" },
                username: "prometheus",
                encoding: "form",
                multiCluster: false,
                adopt: false,
            });
        });

        const bad: Array<[string, Record<string, unknown>, string, RegExp]> = [
            ["an id with uppercase", { serviceId: "Prometheus" }, "serviceId", /1-40 characters of lowercase letters, digits and dashes, starting with a letter/],
            ["an id starting with a digit", { serviceId: "1prom" }, "serviceId", /starting with a letter/],
            ["an id of 41 characters", { serviceId: "p".repeat(41) }, "serviceId", /1-40 characters/],
            ["an apiUrl that is not http(s)", { apiUrl: "ftp://tsuru.example.com" }, "apiUrl", /absolute http\(s\) URL/],
            ["an apiUrl with a query", { apiUrl: "https://tsuru.example.com/?x=1" }, "apiUrl", /without credentials, query or fragment/],
            ["an endpoint that is not a URL", { endpoints: "broker:8080" }, "endpoints.production", /absolute http\(s\) URL/],
            ["an empty endpoint map", { endpoints: {} }, "endpoints", /non-empty map of cluster name to broker URL/],
            ["a cluster name with a dot", { endpoints: { production: "http://a", "c.1": "http://b" } }, "endpoints.c.1", /cluster names/],
            ["a single-cluster map without production", { endpoints: { east: "http://a" } }, "endpoints", /"production" entry unless multiCluster/],
            ["an empty team", { team: "" }, "team", /non-empty Tsuru team name/],
            ["an unknown encoding", { encoding: "xml" }, "encoding", /"form" or "json"/],
            ["a username with a colon", { username: "a:b" }, "username", /without ':'/],
            ["an empty password", { password: "" }, "password", /is required/],
        ];
        for (const [what, override, property, reason] of bad) {
            it(`rejects ${what}, naming ${property}`, async () => {
                const { failures } = await provider.check({}, inputs(override));
                assert.strictEqual(failures?.length, 1, JSON.stringify(failures));
                assert.strictEqual(failures![0].property, property);
                assert.match(failures![0].reason, reason);
            });
        }

        it("accepts a multi-cluster map without production, and leaves unknown values to later", async () => {
            const multi = await provider.check({}, inputs({ endpoints: { east: "http://a", west: "http://b" }, multiCluster: true }));
            assert.deepStrictEqual(multi.failures, []);
            const preview = await provider.check({}, inputs({ password: UNKNOWN, endpoints: { production: UNKNOWN }, serviceId: UNKNOWN }));
            assert.deepStrictEqual(preview.failures, []);
        });

        it("reports every missing required property at once", async () => {
            const { failures } = await provider.check({}, {});
            assert.deepStrictEqual(failures!.map((f) => f.property), ["apiUrl", "serviceId", "team", "endpoints", "password"]);
        });

        it("never quotes the password in a failure", async () => {
            const { failures } = await provider.check({}, inputs({ password: 12345678 }));
            assert.strictEqual(failures![0].property, "password");
            assert.ok(!failures![0].reason.includes("12345678"));
        });
    });

    describe("diff", () => {
        async function diff(olds: Record<string, unknown>, news: Record<string, unknown>) {
            const o = (await provider.check({}, inputs(olds))).inputs as TsuruServiceState;
            const n = (await provider.check({}, inputs(news))).inputs as TsuruServiceState;
            return provider.diff("prometheus", o, n);
        }

        it("reports nothing when nothing changed (a string endpoint equals its production map)", async () => {
            const d = await diff({}, { endpoints: { production: "http://broker.example.com" } });
            assert.strictEqual(d.changes, false);
            assert.deepStrictEqual(d.replaces, []);
        });

        for (const [field, value] of [["password", "rotated-password"], ["endpoints", "http://other.example.com"],
            ["team", "admin2"], ["username", "prom-user"], ["encoding", "json"], ["documentation", "new doc"]] as const) {
            it(`updates in place when ${field} changes`, async () => {
                const d = await diff({}, { [field]: value });
                assert.strictEqual(d.changes, true);
                assert.deepStrictEqual(d.replaces, []);
            });
        }

        it("replaces when the id changes, creating the new one first", async () => {
            const d = await diff({}, { serviceId: "prometheus-v2" });
            assert.deepStrictEqual([d.changes, d.replaces, d.deleteBeforeReplace], [true, ["serviceId"], false]);
        });

        it("replaces when multiCluster changes, deleting first since the name is the same", async () => {
            const d = await diff({}, { multiCluster: true });
            assert.deepStrictEqual([d.changes, d.replaces, d.deleteBeforeReplace], [true, ["multiCluster"], true]);
        });

        it("counts a value unknown in preview as a change", async () => {
            const d = await diff({}, { password: UNKNOWN });
            assert.strictEqual(d.changes, true);
            assert.deepStrictEqual(d.replaces, []);
        });

        it("ignores adopt, which only matters on create", async () => {
            const d = await diff({}, { adopt: true });
            assert.strictEqual(d.changes, false);
        });
    });

    describe("lifecycle against the fake Tsuru API", () => {
        it("create registers the whole record and the doc", async () => {
            const { id, outs } = await create({ username: "prom-broker", encoding: "json" });
            assert.strictEqual(id, "prometheus");
            assert.strictEqual(outs.password, PASSWORD);
            const s = fake.services.get("prometheus")!;
            assert.deepStrictEqual(
                [s.username, s.password, s.endpoints, s.ownerTeam, s.multiCluster, s.encoding, s.doc],
                ["prom-broker", PASSWORD, { production: "http://broker.example.com" }, "admin", false, "json", "Prometheus as a service"]);
            assert.deepStrictEqual(fake.requests.map((r) => `${r.method} ${r.path}`), [
                "GET /1.0/services/prometheus/doc", "POST /1.0/services", "PUT /1.0/services/prometheus/doc",
            ]);
        });

        it("update sends the whole record again and the doc; removing the doc clears it", async () => {
            const { outs } = await create();
            const news = (await provider.check(outs, inputs({
                password: "rotated-1", endpoints: { production: "http://new.example.com" }, documentation: "v2",
            }))).inputs!;
            await provider.update("prometheus", outs, news);
            const s = fake.services.get("prometheus")!;
            assert.deepStrictEqual([s.password, s.endpoints, s.doc], ["rotated-1", { production: "http://new.example.com" }, "v2"]);
            const put = fake.requests.find((r) => r.method === "PUT" && r.path === "/1.0/services/prometheus")!;
            assert.deepStrictEqual(Object.keys(put.fields).sort(),
                ["encoding", "endpoints.production", "id", "password", "team", "username"]);

            const noDoc = (await provider.check({}, inputs({ documentation: undefined }))).inputs!;
            await provider.update("prometheus", news as unknown as TsuruServiceState, noDoc);
            assert.strictEqual(fake.services.get("prometheus")!.doc, "");
        });

        it("replace (multiCluster) works as the engine runs it: delete first, then create", async () => {
            const { outs } = await create();
            const news = (await provider.check(outs, inputs({ multiCluster: true, endpoints: { production: "http://a", east: "http://b" } }))).inputs!;
            const d = await provider.diff("prometheus", outs, news as unknown as TsuruServiceState);
            assert.ok(d.deleteBeforeReplace);
            await provider.delete("prometheus", outs);
            await provider.create(news);
            const s = fake.services.get("prometheus")!;
            assert.strictEqual(s.multiCluster, true);
            assert.deepStrictEqual(s.endpoints, { production: "http://a", east: "http://b" });
        });

        it("delete removes it; read afterwards reports it gone; update afterwards says to refresh", async () => {
            const { outs } = await create();
            await provider.delete("prometheus", outs);
            assert.strictEqual(fake.services.size, 0);
            const read = await provider.read("prometheus", outs);
            assert.strictEqual(read.id, "");
            const err = await failure(provider.update("prometheus", outs, { ...outs }));
            assert.match(err.message, /no longer exists: run `pulumi refresh`/);
            await provider.delete("prometheus", outs); // 404 is success
        });

        it("read returns the live doc so refresh sees drift, keeping the other properties", async () => {
            const { outs } = await create();
            fake.services.get("prometheus")!.doc = "edited by hand";
            const read = await provider.read("prometheus", { ...outs, __provider: "serialized" });
            assert.strictEqual(read.id, "prometheus");
            assert.deepStrictEqual(read.props, { ...outs, documentation: "edited by hand" });
            assert.strictEqual(read.inputs, undefined);
            const d = await provider.diff("prometheus", read.props as TsuruServiceState, outs);
            assert.strictEqual(d.changes, true);
        });

        it("fails create with 403 and keeps the service when it has instances", async () => {
            const { outs } = await create();
            fake.services.get("prometheus")!.instances.push("team-a-prom");
            const err = await failure(provider.delete("prometheus", outs));
            assert.match(err.message, /still has service instances\. Remove them first/);
            assert.match(err.message, /tsuru service-instance-remove prometheus <instance>/);
            assert.ok(fake.services.has("prometheus"));
        });

        it("reports a create that registered the service but could not set the doc as an init error", async () => {
            fake.inject({ kind: "status", status: 400, body: "doc too long\n" }, { method: "PUT", path: /\/doc$/ });
            const err = await failure(create());
            assert.strictEqual(err.id, "prometheus");
            assert.deepStrictEqual(err.reasons, [
                `Could not set the documentation of Tsuru service "prometheus" on ${fake.url}: ` +
                "Tsuru API PUT /1.0/services/prometheus/doc failed: 400 doc too long",
            ]);
            assert.strictEqual((err.properties as TsuruServiceState).serviceId, "prometheus");
        });
    });

    describe("an existing service (409, adopt, read by id)", () => {
        beforeEach(() => {
            fake.services.set("prometheus", {
                id: "prometheus", username: "legacy", password: "legacy-password", endpoints: { production: "http://legacy" },
                ownerTeam: "admin", teams: ["admin"], multiCluster: false, encoding: "form", doc: "legacy doc", instances: [],
            });
        });

        it("create fails, says how to adopt, and leaves the existing record alone", async () => {
            const err = await failure(create());
            assert.match(err.message, /"prometheus" on http:\/\/127\.0\.0\.1:\d+ already exists and is not managed by this stack/);
            assert.match(err.message, /set `adopt: true` on the TsuruService and run `pulumi up` again/);
            assert.match(err.message, /pulumi\/pulumi#16175/);
            assert.strictEqual(fake.services.get("prometheus")!.password, "legacy-password");
            assert.ok(!fake.requests.some((r) => r.method !== "GET"));
        });

        it("create fails the same way when Tsuru itself answers 409 (created meanwhile by someone else)", async () => {
            fake.services.clear();
            fake.inject({ kind: "status", status: 409, body: "Service already exists.\n" }, { method: "POST" });
            const err = await failure(create());
            assert.match(err.message, /already exists and is not managed by this stack.*adopt: true/);
        });

        it("adopt: true takes it over with the stack's whole record", async () => {
            const { id } = await create({ adopt: true });
            assert.strictEqual(id, "prometheus");
            const s = fake.services.get("prometheus")!;
            assert.deepStrictEqual([s.username, s.password, s.endpoints, s.doc],
                ["prometheus", PASSWORD, { production: "http://broker.example.com" }, "Prometheus as a service"]);
            assert.ok(!fake.requests.some((r) => r.method === "POST"));
        });

        it("read by id (import, TsuruService.get) returns the id, apiUrl and doc as props and inputs", async () => {
            const read = await provider.read("prometheus", { apiUrl: fake.url });
            assert.strictEqual(read.id, "prometheus");
            assert.deepStrictEqual(read.props, { apiUrl: fake.url, serviceId: "prometheus", documentation: "legacy doc" });
            assert.deepStrictEqual(read.inputs, read.props);
            assert.strictEqual((await provider.read("absent", { apiUrl: fake.url })).id, "");
        });
    });

    describe("token and faults", () => {
        it("fails clearly without a token, sending nothing", async () => {
            const p = await configured(undefined);
            const err = await failure(create({}, p));
            assert.match(err.message, /No Tsuru API token .*pulumi config set --secret tsuru:token <token>.*TSURU_TOKEN/);
            assert.strictEqual(fake.requests.length, 0);
        });

        it("falls back to TSURU_TOKEN, read when the provider runs; stack config wins over it", async () => {
            const p = await configured(undefined);
            process.env[TSURU_TOKEN_ENV] = fake.token;
            await create({}, p);
            assert.strictEqual(fake.requests[0].authorization, `bearer ${fake.token}`);

            process.env[TSURU_TOKEN_ENV] = "env-token-that-is-wrong";
            await (await configured(fake.token)).delete("prometheus", { apiUrl: fake.url } as TsuruServiceState);
            assert.strictEqual(fake.services.size, 0);
        });

        it("explains a rejected token (401) without quoting it", async () => {
            const p = await configured("wrong-token-5d1e");
            const err = await failure(create({}, p));
            assert.match(err.message, /Tsuru rejected the API token while trying to create Tsuru service "prometheus".*401: You must provide a valid Authorization header/);
            assert.match(err.message, /pulumi config set --secret tsuru:token/);
            assert.ok(!err.message.includes("wrong-token-5d1e"));
            assert.strictEqual(fake.requests.length, 1);
        });

        it("retries 5xx and succeeds", async () => {
            fake.inject({ kind: "status", status: 502 }, { method: "POST", times: 2 });
            await create();
            assert.ok(fake.services.has("prometheus"));
            assert.strictEqual(fake.requests.filter((r) => r.method === "POST").length, 3);
        });

        it("gives up on endless 5xx after a bounded number of attempts", async () => {
            fake.inject({ kind: "status", status: 503, body: "Service Unavailable\n" }, { times: Infinity });
            const err = await failure(create());
            assert.match(err.message, /Could not create Tsuru service "prometheus".*503 Service Unavailable \(after 3 attempts\)/);
            assert.strictEqual(fake.requests.length, 3);
        });

        it("times out when Tsuru hangs, bounded", async () => {
            fake.inject({ kind: "hang" }, { times: Infinity });
            const started = Date.now();
            const err = await failure(create());
            assert.match(err.message, /timed out after 150 ms \(after 3 attempts\)/);
            assert.ok(Date.now() - started < 3000);
        });

        it("stack config sets timeout and retries", async () => {
            const p = new TsuruServiceProvider({ ...FAST, maxRetries: 5 });
            await p.configure(config({ [TSURU_TOKEN_CONFIG_KEY]: fake.token, "tsuru:requestTimeoutMs": "60", "tsuru:maxRetries": "0" }));
            fake.inject({ kind: "hang" }, { times: Infinity });
            const err = await failure(create({}, p));
            assert.match(err.message, /timed out after 60 ms$/);
            await assert.rejects(p.configure(config({ "tsuru:maxRetries": "-1" })), /tsuru:maxRetries must be an integer ≥ 0/);
        });

        it("a POST whose answer was lost and then 409s on retry is ours: it converges with a PUT", async () => {
            fake.inject({ kind: "lost", status: 504 }, { method: "POST" });
            await create();
            const s = fake.services.get("prometheus")!;
            assert.strictEqual(s.password, PASSWORD);
            assert.deepStrictEqual(fake.requests.map((r) => `${r.method} ${r.path}`), [
                "GET /1.0/services/prometheus/doc", "POST /1.0/services", "POST /1.0/services",
                "PUT /1.0/services/prometheus", "PUT /1.0/services/prometheus/doc",
            ]);
        });
    });
});

describe("TsuruService resource and provider serialization", () => {
    let fake: FakeTsuru;
    let registered: Array<{ type: string; name: string; inputs: Record<string, unknown> }>;
    let savedEnv: string | undefined;

    before(() => {
        pulumi.runtime.setMocks({
            newResource: (args) => {
                registered.push({ type: args.type, name: args.name, inputs: args.inputs });
                return { id: `${args.name}-id`, state: args.inputs };
            },
            call: () => ({}),
        }, "prometheus-paas", "test", false);
    });
    beforeEach(async () => {
        registered = [];
        savedEnv = process.env[TSURU_TOKEN_ENV];
        fake = await startFakeTsuru();
        // Set in the program's process too: the serialized provider must not pick it up.
        process.env[TSURU_TOKEN_ENV] = fake.token;
    });
    afterEach(async () => {
        if (savedEnv === undefined) delete process.env[TSURU_TOKEN_ENV];
        else process.env[TSURU_TOKEN_ENV] = savedEnv;
        await fake.close();
    });

    function outputOf<T>(o: pulumi.Output<T>): Promise<T> {
        return new Promise((resolve) => o.apply((v) => resolve(v)));
    }

    it("registers pulumi-nodejs:dynamic/paas-tsuru:TsuruService whose serialized provider holds no secret and still works", async () => {
        const svc = new TsuruService("tsuru-service", {
            apiUrl: fake.url,
            serviceId: "prometheus",
            team: "admin",
            endpoints: { production: pulumi.output("http://broker.example.com") },
            password: pulumi.secret(PASSWORD),
            documentation: "Prometheus as a service",
        });
        assert.strictEqual(await outputOf(svc.serviceId), "prometheus");
        assert.strictEqual(await pulumi.isSecret(svc.password), true);
        assert.strictEqual(registered.length, 1);
        const { type, inputs } = registered[0];
        assert.strictEqual(type, "pulumi-nodejs:dynamic/paas-tsuru:TsuruService");

        const text = inputs.__provider;
        assert.strictEqual(typeof text, "string");
        assert.ok((text as string).includes("exports.handler"));
        assert.ok(!(text as string).includes(fake.token), "token captured in the serialized provider");
        assert.ok(!(text as string).includes(PASSWORD), "password captured in the serialized provider");

        // What pulumi-resource-pulumi-nodejs does: load the text, configure, then run CRUD.
        delete process.env[TSURU_TOKEN_ENV];
        const loaded = requireFromString(text as string).handler();
        await loaded.configure!(config({ [TSURU_TOKEN_CONFIG_KEY]: fake.token }));
        const { __provider: _p, ...wrapped } = inputs;
        // The engine hands a provider that does not accept secrets plain values.
        const props = Object.fromEntries(Object.entries(wrapped).map(([k, v]) => [k, pulumi.runtime.unwrapRpcSecret(v)]));
        assert.strictEqual(props.password, PASSWORD);
        assert.notStrictEqual(wrapped.password, PASSWORD, "the password input should be a secret");
        const checked = await loaded.check!({}, props);
        assert.deepStrictEqual(checked.failures, []);
        const created = await loaded.create(checked.inputs);
        assert.strictEqual(created.id, "prometheus");
        assert.strictEqual(fake.services.get("prometheus")?.password, PASSWORD);
        assert.strictEqual(fake.services.get("prometheus")?.doc, "Prometheus as a service");
    });

    it("pulumi.runtime.serializeFunction of a provider configured elsewhere captures no token", async () => {
        const configuredElsewhere = await configured(fake.token);
        await configuredElsewhere.check({}, {});
        const fresh = new TsuruServiceProvider(FAST);
        const sf = await pulumi.runtime.serializeFunction(() => fresh, { allowSecrets: false });
        assert.ok(!sf.text.includes(fake.token));
        assert.ok(!sf.containsSecrets);
        const loaded = requireFromString(sf.text).handler();
        process.env[TSURU_TOKEN_ENV] = fake.token; // the env fallback, read in the provider's process
        const created = await loaded.create({
            apiUrl: fake.url, serviceId: "from-env", team: "admin", endpoints: { production: "http://b" }, password: "pw-12345",
        });
        assert.strictEqual(created.id, "from-env");
        assert.ok(fake.services.has("from-env"));
    });

    it("rejects known-invalid args in the constructor, naming the property", () => {
        assert.throws(() => new TsuruService("bad", {
            apiUrl: "tsuru.example.com", serviceId: "Prom_1", team: "admin", endpoints: "http://b", password: pulumi.secret("x"),
        }), /TsuruService "bad": apiUrl must be an absolute http\(s\) URL.*; serviceId must be 1-40 characters/);
    });
});
