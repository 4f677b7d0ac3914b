// Optional packages (Node): the tensor library needs none of them; the datasets, the pictures and the
// CLI load theirs on first use, so `import 'wgpu-gen'` never pulls them and a missing one is an error
// that names the install command.
import { createRequire } from 'node:module';

/** The CommonJS package `name`, needed for `what`; a clear error when it is not installed. */
export function optionalPackage<T>(name: string, what: string): T {
  try {
    return createRequire(import.meta.url)(name) as T;
  } catch (e) {
    throw new Error(`${what} needs the npm package '${name}', an optional dependency of wgpu-gen: run npm i ${name} (${(e as Error).message.split('\n')[0]})`);
  }
}
