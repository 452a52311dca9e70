/** The real tools the tests run (built by scripts/setup-tools.sh); a missing tool throws, tests never skip. */
import { toolBinary } from "../../automation/tools";

export { toolBinary, toolDirs } from "../../automation/tools";

export function promtoolBinary(): string {
    return process.env.PROMTOOL ?? toolBinary("promtool");
}
