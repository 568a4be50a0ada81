// sqs2pg migrate [--config FILE [--pipeline NAME]]: apply the numbered SQL migrations and say which
// ones ran; with a pipeline file, then bring each declared table to its declaration and say what it did.
import { renderHelp } from '../config/help.js';
import { builtinLogins } from '../config/builtin-pipelines.js';
import { loadConfig } from '../config/load.js';
import { choosePipeline } from '../config/choose-pipeline.js';
import { loadPipelineFile } from '../config/pipeline-file.js';
import { applyDeclaredTables, type TablePlan } from '../db/declared-tables.js';
import { migrate as applyMigrations } from '../db/migrate.js';
import { assertReachable, createPool, describeDatabase } from '../db/pool.js';
import type { PipelineSpec } from '../model/pipeline.js';

export async function migrate(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { config, help } = loadConfig('migrate', args, env);
  if (help) {
    console.log(renderHelp('migrate', help === 'all'));
    return 0;
  }
  // The file is read (and refused, with every fault) before the database is touched.
  const pipelines = declaredPipelines(config, env);
  const pool = createPool(config.databaseUrl, 1);
  try {
    await assertReachable(pool, config.databaseUrl);
    const applied = await applyMigrations(pool);
    const where = describeDatabase(config.databaseUrl);
    console.log(applied.length > 0 ? `applied to ${where}: ${applied.join(', ')}` : `${where} is up to date`);
    if (pipelines === undefined) return 0;
    // After the migrations, which make user_logins: the builtin pipeline's table is then found, not made.
    // A refusal throws db_schema (exit 5) naming every one, and no table is changed.
    for (const plan of await applyDeclaredTables(pool, pipelines)) console.log(describeApplied(plan));
    return 0;
  } finally {
    await pool.end();
  }
}

function declaredPipelines(config: { config?: string | undefined; pipeline?: string | undefined }, env: NodeJS.ProcessEnv): PipelineSpec[] | undefined {
  if (config.config === undefined) {
    // Without a file the one pipeline is the builtin, whose table the migrations make: --pipeline
    // may name it, and a typo is refused rather than ignored.
    if (config.pipeline !== undefined) choosePipeline([builtinLogins('')], config.pipeline, undefined);
    return undefined;
  }
  return choosePipeline(loadPipelineFile(config.config, env).pipelines, config.pipeline, config.config);
}

/** "pipeline page_views: created table "public"."page_views"; created a unique index on …" */
export function describeApplied(plan: TablePlan): string {
  if (plan.actions.length === 0) return `pipeline ${plan.pipeline}: ${plan.table ?? 'its table'} is up to date`;
  return `pipeline ${plan.pipeline}: ${plan.actions.map((action) => pastTense(action.what)).join('; ')}`;
}

function pastTense(what: string): string {
  return what.replace(/^create /, 'created ').replace(/^add /, 'added ');
}
