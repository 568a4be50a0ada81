// Imported by the CLI before `run` (and first by run.ts), for what it does on import: where Node
// cannot start over with sqs2pg's V8 limits (no process.execve: Node 20, 22 before 22.15), it sets
// their growth rules in this process, each unless the operator gave that limit (v8-options.ts).
// Before, because parsing the modules `run` needs (the config schema, the AWS SDK) is what grows
// V8's young generation past the size it starts with, and it does not shrink back under load.
import cluster from 'node:cluster';
import { canRestartInPlace, limitGrowthInPlace, missingV8Options, runV8Options } from './v8-options.js';

// The old generation's start-up limit depends on --max-in-flight-bytes, its growth rule does not.
if (cluster.isPrimary && !canRestartInPlace()) limitGrowthInPlace(missingV8Options(runV8Options(0), process.execArgv, process.env.NODE_OPTIONS));
