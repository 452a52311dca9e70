// Entry point of `pulumi up -s <stack>` with a Pulumi install that has the Node.js language host.
import { stackProgram } from "./components/program";

export = stackProgram();
