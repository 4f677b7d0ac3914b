// The training CLI as the tests run it: through tsx from src/, on tiny ring-GAN runs (CPU backend),
// optionally with a module preloaded into the process (node --import: a failing file system, a missing
// optional package); and any other TypeScript file run the same way (the docs' and examples' programs).
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { join } from 'node:path';

export const tsx = join(process.cwd(), 'node_modules/.bin/tsx');
export type CliResult = ReturnType<typeof spawnSync> & { stdout: string; stderr: string };

export type TsxOptions = SpawnSyncOptions & { preload?: string };

/** Runs `script args` with tsx, synchronously; `env` adds to the process's own. */
export function runTsx(script: string, args: string[] = [], o: TsxOptions = {}): CliResult {
  const { preload, ...rest } = o;
  return spawnSync(tsx, [...(preload ? ['--import', preload] : []), script, ...args], {
    encoding: 'utf8',
    ...rest,
    env: { ...process.env, XDG_RUNTIME_DIR: '/tmp', ...(rest.env ?? {}) },
  }) as CliResult;
}

/** Runs `src/cli/train.ts args`; `env` adds to the process's own. */
export const runCli = (args: string[], o: TsxOptions = {}): CliResult => runTsx('src/cli/train.ts', args, o);

/** A two-step, one-epoch ring-GAN run into `out`, with more options. */
export const ganArgs = (out: string, ...more: string[]) => [
  'gan',
  '--steps',
  '2',
  '--epochs',
  '1',
  '--backend',
  'cpu',
  '--out',
  out,
  ...more,
];
