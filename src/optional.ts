// Optional packages (Node): the tensor library needs none of them; the datasets, the pictures and the
// CLI load theirs on first use, so `import 'wgpu-gen'` never pulls them and a missing one is an error
// that names the install command.
import { createRequire } from 'node:module';

/** The CommonJS package `name`, needed for `what`; a clear error when it is not installed. */
export function optionalPackage<T>(name: string, what: string): T {
  try {
    return createRequire(import.meta.url)(name) as T;
  } catch (e) {
    throw new Error(
      `${what} needs the npm package '${name}', an optional dependency of wgpu-gen: run npm i ${name} (${(e as Error).message.split('\n')[0]})`,
      { cause: e },
    );
  }
}

/**
 * Checks that every package of `needed` can be loaded, before a long job starts: one error naming all
 * that are missing and the one install command for them (a user fixing them one run at a time would
 * meet each only after the previous was installed).
 */
export function requireOptional(what: string, needed: { name: string; for: string }[]): void {
  const req = createRequire(import.meta.url);
  const missing = needed.filter(({ name }) => {
    try {
      req(name);
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length === 1) optionalPackage(missing[0].name, `${what}'s ${missing[0].for}`);
  if (missing.length > 1) {
    const names = missing.map((m) => `'${m.name}' (${m.for})`);
    throw new Error(
      `${what} needs the npm packages ${names.slice(0, -1).join(', ')} and ${names.at(-1)}, optional dependencies of wgpu-gen: ` +
        `run npm i ${missing.map((m) => m.name).join(' ')}`,
    );
  }
}
