/**
 * A real tmpfs of a plan's size for the TSDB (`mount -t tmpfs -o size=...`, needs root), unmounted by
 * unmount() and, whatever happens (failure, SIGINT), when this Node process exits.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const mounted = new Set<Tmpfs>();

// Registered after test/support/processes.ts (imported first by the benchmark), whose exit handler kills the
// processes; a lazy unmount detaches even while a killed Prometheus still holds files open.
process.on("exit", () => {
    for (const tmpfs of mounted) tmpfs.unmount(true);
});

export class Tmpfs {
    private constructor(readonly dir: string, readonly sizeMiB: number) {}

    /** Mounts a fresh tmpfs of `sizeMiB` on a new temp directory. */
    static mount(sizeMiB: number, prefix = "paas-tsdb-"): Tmpfs {
        if (process.getuid?.() !== 0) throw new Error("mounting a tmpfs needs root: run the benchmark as root (or with sudo)");
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
        try {
            execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeMiB}m,mode=0755`, "tmpfs", dir], { stdio: "pipe" });
        } catch (error) {
            fs.rmdirSync(dir);
            throw new Error(`mount -t tmpfs -o size=${sizeMiB}m on ${dir} failed: ${(error as { stderr?: Buffer }).stderr?.toString().trim() ?? error}`);
        }
        const tmpfs = new Tmpfs(dir, sizeMiB);
        mounted.add(tmpfs);
        return tmpfs;
    }

    /** Bytes in use on the filesystem (statfs), which is what counts against the container's memory. */
    usedBytes(): number {
        const stats = fs.statfsSync(this.dir);
        return (stats.blocks - stats.bfree) * stats.bsize;
    }

    /** Unmounts and removes the directory; `lazy` detaches even when files are still open. */
    unmount(lazy = false): void {
        if (!mounted.delete(this)) return;
        try {
            execFileSync("umount", lazy ? ["-l", this.dir] : [this.dir], { stdio: "pipe" });
        } catch {
            execFileSync("umount", ["-l", this.dir], { stdio: "pipe" });
        }
        fs.rmdirSync(this.dir);
    }
}
