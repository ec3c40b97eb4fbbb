#!/usr/bin/env node
// Builds the native CPU backend's addon (native/*.cc → build/native/esper_native.node)
// with the local C++ compiler, the local Node's N-API headers and the system's
// OpenBLAS. Runs as the root package's `install` script, so `npm ci` builds it
// where a toolchain exists; nothing is downloaded (no node-gyp, no header fetch).
//
// It never fails an install: when something is missing it prints one line saying
// why and that Esper will run on wasm, and exits 0. Environment:
//   ESPER_NATIVE=0          skip the build (prints a line saying so)
//   ESPER_REQUIRE_NATIVE=1  exit 1 instead when the addon cannot be built (CI)
//   CXX                     the compiler to use (default g++, then c++)
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const sourceDir = join(root, 'native');
const outDir = join(root, 'build', 'native');
const outFile = join(outDir, 'esper_native.node');
const required = process.env.ESPER_REQUIRE_NATIVE === '1';

function giveUp(reason) {
  console.log(`esper: native backend not built (${reason}); Esper will run on wasm`);
  process.exit(required ? 1 : 0);
}

function run(command, args, input) {
  const result = spawnSync(command, args, { encoding: 'utf8', input, cwd: root });
  return { ok: result.status === 0 && result.error === undefined, stderr: `${result.stderr ?? ''}${result.error?.message ?? ''}` };
}

/** The first line of compiler output that says what went wrong. */
function firstError(stderr) {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  return (lines.find((l) => /error|cannot find|not found|undefined reference/i.test(l)) ?? lines[0] ?? 'no output').slice(0, 200);
}

if (process.env.ESPER_NATIVE === '0') giveUp('ESPER_NATIVE=0');
if (process.platform === 'win32') giveUp('Windows is not supported by this build script');

// 1. A C++17 compiler.
const compiler = [process.env.CXX, 'g++', 'c++', 'clang++'].find((c) => c !== undefined && c !== '' && run(c, ['--version']).ok);
if (compiler === undefined) giveUp('no C++ compiler: install g++ (Debian: apt-get install build-essential)');

// 2. N-API headers of the Node that runs this script (Debian's nodejs ships them in /usr/include/node).
const headerDirs = [resolve(dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node', '/usr/local/include/node'];
const nodeInclude = headerDirs.find((d) => existsSync(join(d, 'node_api.h')));
if (nodeInclude === undefined) giveUp(`node_api.h not found in ${headerDirs.join(', ')} (Debian: apt-get install libnode-dev)`);

// 3. OpenBLAS: header and library, checked by compiling and linking a probe that calls it.
const blasIncludes = ['/usr/include/openblas', '/usr/local/include/openblas', '/opt/homebrew/opt/openblas/include', '/usr/local/opt/openblas/include']
  .filter((d) => existsSync(d))
  .map((d) => `-I${d}`);
const blasLibs = ['/opt/homebrew/opt/openblas/lib', '/usr/local/opt/openblas/lib'].filter((d) => existsSync(d)).map((d) => `-L${d}`);
const probe = run(compiler, ['-x', 'c++', '-', ...blasIncludes, ...blasLibs, '-lopenblas', '-o', '/dev/null'], '#include <cblas.h>\nint main() { openblas_set_num_threads(1); return 0; }\n');
if (!probe.ok) giveUp(`OpenBLAS not found: ${firstError(probe.stderr)} (Debian: apt-get install libopenblas-dev)`);

// 4. The addon. -O3 with the compiler's portable baseline: the hot loops are in OpenBLAS,
// which picks its kernels for the CPU at run time, so the addon needs no -march. No FMA
// contraction, so an elementwise kernel rounds every operation as the JS kernels do.
const sources = readdirSync(sourceDir).filter((f) => f.endsWith('.cc')).map((f) => join(sourceDir, f));
mkdirSync(outDir, { recursive: true });
// Built beside the target and renamed, so a failed build never leaves a half-written addon; it
// ends in .node because require() picks the loader by extension.
const tmpFile = join(outDir, 'esper_native.tmp.node');
const flags = ['-std=c++17', '-O3', '-ffp-contract=off', '-fno-math-errno', '-fPIC', '-shared', '-Wall', '-Wextra', `-I${nodeInclude}`, ...blasIncludes, ...blasLibs];
if (process.platform === 'darwin') flags.push('-undefined', 'dynamic_lookup');
const build = run(compiler, [...flags, ...sources, '-o', tmpFile, '-lopenblas']);
if (!build.ok) {
  rmSync(tmpFile, { force: true });
  giveUp(`compile failed: ${firstError(build.stderr)}`);
}

// 5. It must load (a library present at link time can still be missing at run time).
const load = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(tmpFile)}).getThreads()`], { encoding: 'utf8' });
if (load.status !== 0) {
  rmSync(tmpFile, { force: true });
  giveUp(`built but does not load: ${firstError(load.stderr)}`);
}
renameSync(tmpFile, outFile);
console.log(`esper: native backend built (${compiler}, OpenBLAS) → ${outFile.slice(root.length + 1)}`);
