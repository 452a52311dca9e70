import { strict as assert } from "assert";
import * as http from "http";
import { freePort, ProcessGroup, runToCompletion, startProcess, waitFor, waitForHttp } from "../support/processes";

describe("test processes: start, bounded waits, teardown", () => {
    it("stop() ends a process (and what it forked) and reports the kill", async () => {
        const sleeper = startProcess("sleeper", "sh", ["-c", "sleep 30 & sleep 30"]);
        assert.equal(sleeper.hasExited, false);
        assert.equal(await sleeper.stop("SIGTERM", 2_000), null);
        assert.equal(sleeper.hasExited, true);
    });

    it("kill() also reaches what the process started in a process group of its own (as pulumi starts its plugins)", async () => {
        const parent = startProcess("parent", "sh", ["-c", "setsid sleep 60 & echo $! ; wait"]);
        const grandchild = await waitFor("the grandchild's pid", () => Number(/^(\d+)$/m.exec(parent.logTail())?.[1]) || undefined, { timeoutMs: 5_000, process: parent });
        const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
        assert.ok(alive(grandchild));
        parent.kill("SIGKILL");
        await parent.exited;
        await waitFor("the grandchild to be gone", () => (alive(grandchild) ? undefined : true), { timeoutMs: 5_000 });
    });

    it("a wait fails at once, quoting the log, when its process dies", async () => {
        const crasher = startProcess("crasher", "sh", ["-c", "echo boom: bad flag >&2; exit 3"]);
        const started = Date.now();
        await assert.rejects(waitFor("never", () => undefined, { timeoutMs: 30_000, process: crasher }), /crasher exited \(code 3, signal null\) while waiting for never; its log:\n.*\nboom: bad flag/s);
        assert.ok(Date.now() - started < 5_000);
    });

    it("a wait times out naming what it waited for and the last error", async () => {
        await assert.rejects(waitFor("the answer", () => { throw new Error("not yet"); }, { timeoutMs: 300, intervalMs: 50 }), /timed out after 300 ms waiting for the answer \(last error: not yet\)/);
    });

    it("waitForHttp resolves once the server answers; a group stops everything it started", async () => {
        const port = await freePort();
        const group = new ProcessGroup();
        const server = group.start("server", process.execPath, ["-e", `setTimeout(() => require("http").createServer((q, s) => s.end("ok")).listen(${port}, "127.0.0.1"), 300)`]);
        const response = await waitForHttp(`http://127.0.0.1:${port}/`, { timeoutMs: 10_000, process: server });
        assert.equal(await response.text(), "ok");
        await group.stopAll();
        assert.equal(server.hasExited, true);
        await assert.rejects(new Promise((resolve, reject) => http.get(`http://127.0.0.1:${port}/`, resolve).on("error", reject)));
    });

    it("runToCompletion returns the output, and fails naming the tool with its output, exit code or timeout", async () => {
        const { stdout } = await runToCompletion("echo", "sh", ["-c", "echo out; echo err >&2"], { timeoutMs: 5_000 });
        assert.equal(stdout, "out\n");
        await assert.rejects(runToCompletion("failing", "sh", ["-c", "echo why >&2; exit 4"], { timeoutMs: 5_000 }), /failing failed \(code 4, signal null\).*\nwhy/s);
        const started = Date.now();
        await assert.rejects(runToCompletion("slow", "sh", ["-c", "echo begun; sleep 30"], { timeoutMs: 300 }), /slow did not finish within 300 ms; its output:\nbegun/);
        assert.ok(Date.now() - started < 5_000);
    });

    it("a process started without inheritEnv sees only the environment it is given", async () => {
        process.env.PAAS_LEAK_CHECK = "leaked";
        try {
            const { stdout } = await runToCompletion("env", "/usr/bin/env", [], { timeoutMs: 5_000, inheritEnv: false, env: { ONLY: "this" } });
            assert.equal(stdout, "ONLY=this\n");
        } finally {
            delete process.env.PAAS_LEAK_CHECK;
        }
    });

    it("memory() and cpuSeconds() read the running process from /proc, and nothing once it has exited", async () => {
        const group = new ProcessGroup();
        // Touches 64 MiB and burns CPU for a moment, then idles.
        const busy = group.start("busy", process.execPath, ["-e", "const b = Buffer.alloc(64 * 2 ** 20, 1); const end = Date.now() + 400; while (Date.now() < end); console.log('done'); setInterval(() => b[0]++, 1000)"]);
        try {
            await waitFor("the busy loop to finish", () => (busy.logTail().split("\n").includes("done") ? true : undefined), { timeoutMs: 15_000, process: busy });
            const memory = busy.memory()!;
            assert.ok(memory.rss >= 64 * 2 ** 20 && memory.peakRss >= memory.rss, `rss ${memory.rss}, peak ${memory.peakRss}`);
            assert.ok(memory.anon + memory.file + memory.shmem <= memory.rss + 4096 * 16 && memory.anon >= 64 * 2 ** 20, JSON.stringify(memory));
            assert.ok(busy.cpuSeconds()! >= 0.3, `cpu ${busy.cpuSeconds()}`);
        } finally {
            await group.stopAll();
        }
        assert.equal(busy.memory(), undefined);
        assert.equal(busy.cpuSeconds(), undefined);
    });
});
