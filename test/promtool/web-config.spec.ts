import { strict as assert } from "assert";
import * as path from "path";
import bcrypt from "bcryptjs";
import * as yaml from "js-yaml";
import { generatePassword, minimumPasswordLength, passwordProblem, renderClientConfig, renderInstanceWebConfig, renderWebConfig, stablePasswordHash } from "../../components/prometheus/web-auth";
import { runPromtool, writeTempFiles } from "../support/promtool";

function checkWebConfig(webYml: string) {
    const dir = writeTempFiles({ "web.yml": webYml });
    return runPromtool(["check", "web-config", path.join(dir, "web.yml")]);
}

describe("web auth: the web config and client file an instance's Prometheus runs with", () => {
    const shop = { username: "shop", password: "shop-password-0123456789" };

    it("an unchanged password gives the same web config on every render (a stable bcrypt salt), which matches the password", () => {
        const first = renderInstanceWebConfig(shop);
        assert.equal(renderInstanceWebConfig({ ...shop }), first);
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
        const result = checkWebConfig(renderInstanceWebConfig(shop));
        assert.ok(result.ok, result.output);
        assert.deepEqual(Object.keys(yaml.load(renderInstanceWebConfig(shop)) as object), ["basic_auth_users", "rate_limit"]);
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
