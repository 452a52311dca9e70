import * as assert from "assert";
import { TsuruApiError, TsuruClient, TsuruClientOptions, TsuruRetryEvent, TsuruServiceRecord } from "../../components/tsuru/client";
import { FakeTsuru, startFakeTsuru } from "../support/fake-tsuru";

const PASSWORD = "broker-pass-7f3a9c";

function record(overrides: Partial<TsuruServiceRecord> = {}): TsuruServiceRecord {
    return {
        id: "prometheus",
        team: "admin",
        endpoints: { production: "http://broker.example.com" },
        username: "prometheus",
        password: PASSWORD,
        multiCluster: false,
        encoding: "form",
        ...overrides,
    };
}

async function rejection(promise: Promise<unknown>): Promise<TsuruApiError> {
    try {
        await promise;
    } catch (err) {
        assert.ok(err instanceof TsuruApiError, `expected TsuruApiError, got ${err}`);
        return err;
    }
    assert.fail("expected a rejection");
}

describe("Tsuru API client", () => {
    let fake: FakeTsuru;
    let retries: TsuruRetryEvent[];

    function client(options: Partial<TsuruClientOptions> = {}): TsuruClient {
        return new TsuruClient({
            apiUrl: `${fake.url}/`,
            token: fake.token,
            timeoutMs: 300,
            maxRetries: 3,
            backoffMs: 5,
            maxBackoffMs: 20,
            onRetry: (e) => retries.push(e),
            ...options,
        });
    }

    beforeEach(async () => {
        fake = await startFakeTsuru({ teams: ["admin"] });
        retries = [];
    });
    afterEach(() => fake.close());

    describe("requests", () => {
        it("creates a service with a bearer token and a form-encoded body of the whole record", async () => {
            await client().createService(record({ endpoints: { production: "http://a.example", "cluster-b": "http://b.example" }, multiCluster: true }));
            const req = fake.requests[0];
            assert.strictEqual(req.method, "POST");
            assert.strictEqual(req.path, "/1.0/services");
            assert.strictEqual(req.authorization, `bearer ${fake.token}`);
            assert.match(req.contentType ?? "", /^application\/x-www-form-urlencoded/);
            assert.deepStrictEqual(req.fields, {
                id: "prometheus", username: "prometheus", password: PASSWORD, team: "admin", encoding: "form",
                "endpoints.cluster-b": "http://b.example", "endpoints.production": "http://a.example",
                "multi-cluster": "true",
            });
            const stored = fake.services.get("prometheus");
            assert.ok(stored);
            assert.deepStrictEqual(stored.endpoints, { production: "http://a.example", "cluster-b": "http://b.example" });
            assert.strictEqual(stored.multiCluster, true);
            assert.strictEqual(stored.ownerTeam, "admin");
        });

        it("updates with PUT and the whole record, without multi-cluster", async () => {
            const c = client();
            await c.createService(record());
            await c.updateService(record({ password: "new-password-1", endpoints: { production: "http://new.example" }, encoding: "json" }));
            const req = fake.requests[1];
            assert.strictEqual(req.method, "PUT");
            assert.strictEqual(req.path, "/1.0/services/prometheus");
            assert.strictEqual(req.fields["multi-cluster"], undefined);
            assert.strictEqual(req.fields.password, "new-password-1");
            const stored = fake.services.get("prometheus")!;
            assert.strictEqual(stored.password, "new-password-1");
            assert.deepStrictEqual(stored.endpoints, { production: "http://new.example" });
            assert.strictEqual(stored.encoding, "json");
        });

        it("reads and writes the doc; a missing service reads as undefined", async () => {
            const c = client();
            assert.strictEqual(await c.getServiceDoc("prometheus"), undefined);
            await c.createService(record());
            assert.strictEqual(await c.getServiceDoc("prometheus"), "");
            await c.setServiceDoc("prometheus", "Prometheus as a service.\nPlans: small, large.");
            assert.strictEqual(await c.getServiceDoc("prometheus"), "Prometheus as a service.\nPlans: small, large.");
            assert.deepStrictEqual(fake.requests.find((r) => r.method === "PUT")?.fields,
                { doc: "Prometheus as a service.\nPlans: small, large." });
        });

        it("deletes; a second delete is a 404 error carrying method, path, status and Tsuru's message", async () => {
            const c = client();
            await c.createService(record());
            await c.deleteService("prometheus");
            assert.strictEqual(fake.services.size, 0);
            const err = await rejection(c.deleteService("prometheus"));
            assert.strictEqual(err.method, "DELETE");
            assert.strictEqual(err.path, "/1.0/services/prometheus");
            assert.strictEqual(err.status, 404);
            assert.strictEqual(err.tsuruMessage, "Service not found");
            assert.strictEqual(err.message, "Tsuru API DELETE /1.0/services/prometheus failed: 404 Service not found");
        });
    });

    describe("errors without retry", () => {
        it("a wrong token gets 401 once, and neither token appears in the error", async () => {
            const err = await rejection(client({ token: "wrong-token-123" }).createService(record()));
            assert.strictEqual(err.status, 401);
            assert.strictEqual(err.kind, "http");
            assert.match(err.message, /POST \/1\.0\/services failed: 401 You must provide a valid Authorization header/);
            assert.ok(!err.message.includes("wrong-token-123"));
            assert.ok(!err.message.includes(fake.token));
            assert.strictEqual(fake.requests.length, 1);
            assert.deepStrictEqual(retries, []);
        });

        it("does not retry 400, 403 or 409", async () => {
            const c = client();
            assert.strictEqual((await rejection(c.createService(record({ id: "Bad_Name" })))).status, 400);
            assert.strictEqual((await rejection(c.createService(record({ team: "other-team" })))).status, 403);
            await c.createService(record());
            const conflict = await rejection(c.createService(record()));
            assert.strictEqual(conflict.status, 409);
            assert.strictEqual(conflict.tsuruMessage, "Service already exists.");
            assert.strictEqual(fake.requests.length, 4);
            assert.deepStrictEqual(retries, []);
        });

        it("never puts the token or the password in an error, even when Tsuru echoes them", async () => {
            fake.inject({ kind: "status", status: 400, body: `bad request: token ${fake.token} password=${PASSWORD}\n` });
            const err = await rejection(client().createService(record()));
            assert.strictEqual(err.status, 400);
            assert.ok(!err.message.includes(fake.token), err.message);
            assert.ok(!err.message.includes(PASSWORD), err.message);
            assert.match(err.message, /token \[redacted\] password=\[redacted\]/);
        });
    });

    describe("retries", () => {
        it("retries 503 then succeeds", async () => {
            fake.inject({ kind: "status", status: 503 }, { method: "POST", times: 2 });
            await client().createService(record());
            assert.ok(fake.services.has("prometheus"));
            assert.strictEqual(fake.requests.length, 3);
            assert.deepStrictEqual(retries.map((r) => [r.attempt, r.method, r.path]),
                [[1, "POST", "/1.0/services"], [2, "POST", "/1.0/services"]]);
        });

        for (const status of [502, 504]) {
            it(`retries ${status}`, async () => {
                fake.inject({ kind: "status", status });
                assert.strictEqual(await client().getServiceDoc("nothing"), undefined);
                assert.strictEqual(fake.requests.length, 2);
            });
        }

        it("gives up after maxRetries on endless 5xx, with the last status", async () => {
            fake.inject({ kind: "status", status: 503, body: "upstream unavailable\n" }, { times: Infinity });
            const err = await rejection(client({ maxRetries: 2 }).createService(record()));
            assert.strictEqual(err.status, 503);
            assert.strictEqual(err.attempts, 3);
            assert.strictEqual(fake.requests.length, 3);
            assert.match(err.message, /503 upstream unavailable \(after 3 attempts\)/);
        });

        it("keeps each backoff delay between half the ceiling and maxBackoffMs", async () => {
            fake.inject({ kind: "status", status: 503 }, { times: Infinity });
            await rejection(client({ maxRetries: 4, backoffMs: 8, maxBackoffMs: 20 }).deleteService("x"));
            const ceilings = [8, 16, 20, 20];
            assert.strictEqual(retries.length, 4);
            retries.forEach((r, i) => {
                assert.ok(r.delayMs >= ceilings[i] / 2 && r.delayMs <= ceilings[i], `delay ${i}: ${r.delayMs}`);
            });
        });

        it("times out a hung request and retries it", async () => {
            fake.inject({ kind: "hang" });
            const started = Date.now();
            await client({ timeoutMs: 150 }).createService(record());
            assert.ok(Date.now() - started >= 150);
            assert.strictEqual(retries[0].reason, "timed out after 150 ms");
            assert.ok(fake.services.has("prometheus"));
        });

        it("fails with a timeout error, bounded, when Tsuru never answers", async () => {
            fake.inject({ kind: "hang" }, { times: Infinity });
            const started = Date.now();
            const err = await rejection(client({ timeoutMs: 100, maxRetries: 1 }).createService(record()));
            const elapsed = Date.now() - started;
            assert.strictEqual(err.kind, "timeout");
            assert.strictEqual(err.status, undefined);
            assert.strictEqual(err.attempts, 2);
            assert.match(err.message, /POST \/1\.0\/services failed: timed out after 100 ms \(after 2 attempts\)/);
            assert.ok(elapsed < 2000, `took ${elapsed} ms`);
        });

        it("retries a reset connection", async () => {
            fake.inject({ kind: "reset" });
            await client().createService(record());
            assert.strictEqual(retries.length, 1);
            assert.match(retries[0].reason, /^network error/);
            assert.ok(fake.services.has("prometheus"));
        });

        it("reports a network error when nothing listens", async () => {
            const url = fake.url;
            await fake.close();
            const err = await rejection(new TsuruClient({ apiUrl: url, token: "t0ken-x", maxRetries: 1, backoffMs: 1 })
                .getServiceDoc("prometheus"));
            assert.strictEqual(err.kind, "network");
            assert.strictEqual(err.attempts, 2);
            assert.match(err.message, /GET \/1\.0\/services\/prometheus\/doc failed: network error: ECONNREFUSED/);
            fake = await startFakeTsuru(); // for afterEach
        });
    });

    describe("fake Tsuru strictness", () => {
        async function call(method: string, path: string, init: { token?: string | null; body?: string; type?: string } = {}) {
            const headers: Record<string, string> = {};
            if (init.token !== null) headers.Authorization = `Bearer ${init.token ?? fake.token}`;
            if (init.type) headers["Content-Type"] = init.type;
            const res = await fetch(fake.url + path, { method, headers, body: init.body });
            return { status: res.status, text: await res.text(), auth: res.headers.get("www-authenticate") };
        }
        const form = "application/x-www-form-urlencoded";

        it("answers 401 with WWW-Authenticate when no token is sent", async () => {
            const res = await call("GET", "/1.0/services/prometheus/doc", { token: null });
            assert.strictEqual(res.status, 401);
            assert.match(res.auth ?? "", /^Bearer realm="tsuru"/);
        });

        it("serves routes unprefixed and under /1.0, accepts JSON bodies, rejects other versions", async () => {
            const body = JSON.stringify({ id: "json-svc", password: "p4ss", team: "admin", endpoints: { production: "http://x" } });
            assert.strictEqual((await call("POST", "/services", { body, type: "application/json" })).status, 201);
            assert.deepStrictEqual(fake.services.get("json-svc")?.endpoints, { production: "http://x" });
            assert.strictEqual((await call("GET", "/1.0/services/json-svc/doc")).status, 200);
            assert.strictEqual((await call("GET", "/1.1/services/json-svc/doc")).status, 404);
            assert.strictEqual((await call("POST", "/services", { body: "id=x", type: "text/plain" })).status, 400);
        });

        it("validates create fields and rejects an update without endpoints or password", async () => {
            const create = (b: string) => call("POST", "/1.0/services", { body: b, type: form });
            assert.strictEqual((await create("id=a&team=admin&endpoint=http://x")).text, "Service password is required\n");
            assert.strictEqual((await create("id=a&team=admin&password=p")).text, "At least one endpoint is required\n");
            assert.strictEqual((await create(`id=${"a".repeat(41)}&team=admin&password=p&endpoint=http://x`)).status, 400);
            assert.strictEqual((await create("id=a&team=admin&password=p&endpoint=http://x&encoding=xml")).status, 400);
            assert.strictEqual((await create("id=a&password=p&endpoint=http://x")).status, 201); // the user's only team
            assert.strictEqual(fake.services.get("a")?.ownerTeam, "admin");
            assert.strictEqual((await call("PUT", "/1.0/services/a", { body: "endpoint=http://y", type: form })).status, 400);
            assert.strictEqual((await call("PUT", "/1.0/services/a", { body: "password=p2", type: form })).status, 400);
            assert.strictEqual((await call("PUT", "/1.0/services/zz", { body: "password=p&endpoint=http://y", type: form })).text,
                "Service not found\n");
        });

        it("refuses to delete a service with instances (403)", async () => {
            await client().createService(record());
            fake.services.get("prometheus")!.instances.push("my-prom");
            const res = await call("DELETE", "/1.0/services/prometheus");
            assert.strictEqual(res.status, 403);
            assert.match(res.text, /has instances/);
            assert.ok(fake.services.has("prometheus"));
        });
    });
});
