// Entry point of the `sluice` command (bin/sluice imports the compiled dist/cli/main.js).

import { createProgram } from "./program.js";

await createProgram().parseAsync(process.argv);
