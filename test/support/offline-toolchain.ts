/**
 * The tests run the engine with this project's own build (scripts/setup.sh), chosen explicitly: PAAS_TOOLCHAIN=offline
 * unless the caller chose another. Tests of the user's toolchain unset it for the processes they start.
 */
import { toolchainVariable } from "../../automation/toolchain";

process.env[toolchainVariable] ??= "offline";
