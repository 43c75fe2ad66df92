// `npm run lint`'s import check: no import cycles (type imports count: a cycle of types is still
// two modules that cannot be read apart), and lib/'s layers only import downwards:
//   platform (runtime, CloudEvents encoding, errors, logging) <- domain (the Issue, the
//   Alertmanager and Kubernetes mappings, diagnoses, configuration, the ports adapters
//   implement) <- adapters (Slack, Kubernetes, the state store, the terminal) <- stages
//   (ingest, enrich, dispatch); functions/ wire them. lib/ never imports functions/, scripts/
//   or test/. Within lib/, folders must not form a cycle either.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';

export const LAYERS = ['platform', 'domain', 'adapters', 'stages'] as const;
const ROOTS = ['lib', 'functions', 'scripts', 'test'];
// `import ... from './x'`, `export ... from './x'` (type or not), and `import('./x')`.
const SPECIFIER =
  /(?:^|\n)\s*(?:import|export)\s[^;]*?\sfrom\s+'(\.{1,2}\/[^']+)'|import\(\s*'(\.{1,2}\/[^']+)'\s*\)/g;

export type Graph = Map<string, Set<string>>;

function sources(root: string, dir: string, out: string[] = []): string[] {
  let names: string[];
  try {
    names = readdirSync(join(root, dir));
  } catch {
    return out;
  }
  for (const name of names) {
    const path = join(dir, name);
    if (name === 'node_modules') continue;
    if (statSync(join(root, path)).isDirectory()) sources(root, path, out);
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

/** Every .ts file under lib, functions, scripts and test, with the files it imports (relative). */
export function importGraph(root: string): Graph {
  const graph: Graph = new Map();
  for (const file of ROOTS.flatMap((r) => sources(root, r))) {
    const deps = new Set<string>();
    for (const m of readFileSync(join(root, file), 'utf8').matchAll(SPECIFIER)) {
      deps.add(normalize(join(dirname(file), (m[1] ?? m[2]) as string)));
    }
    graph.set(file, deps);
  }
  return graph;
}

/** Strongly connected groups of more than one node: each is at least one cycle. */
export function cycles(graph: Graph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
    }
    if (low.get(v) !== index.get(v)) return;
    const group: string[] = [];
    let w: string;
    do {
      w = stack.pop() as string;
      onStack.delete(w);
      group.push(w);
    } while (w !== v);
    if (group.length > 1) found.push(group.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

const parts = (file: string) => file.split(sep);
const layerOf = (file: string) => {
  const [top, layer] = parts(file);
  return top === 'lib' ? (LAYERS as readonly string[]).indexOf(layer ?? '') : -1;
};
/** lib/<layer>/<folder> for files in a folder of a layer, else the file itself. */
const folderOf = (file: string) => {
  const p = parts(file);
  return p.length > 3 ? p.slice(0, 3).join(sep) : file;
};

/** What the check refuses, one line each; empty when the tree is sound. */
export function checkImports(root: string): string[] {
  const graph = importGraph(root);
  const problems: string[] = [];
  for (const group of cycles(graph)) problems.push(`import cycle: ${group.join(' -> ')}`);
  const folders: Graph = new Map();
  for (const [file, deps] of graph) {
    if (parts(file)[0] !== 'lib') continue;
    if (parts(file).length === 2)
      problems.push(`${file}: lib/ files belong in a layer (${LAYERS.join(', ')})`);
    for (const dep of deps) {
      const top = parts(dep)[0];
      if (top !== 'lib') problems.push(`${file} imports ${dep}: lib/ imports only lib/`);
      else if (layerOf(dep) > layerOf(file))
        problems.push(`${file} imports ${dep}: a layer imports only the layers below it`);
      const [a, b] = [folderOf(file), folderOf(dep)];
      if (a !== b) folders.set(a, (folders.get(a) ?? new Set()).add(b));
    }
  }
  for (const group of cycles(folders)) problems.push(`folder cycle in lib/: ${group.join(' -> ')}`);
  return problems;
}

if (import.meta.main) {
  const root = relative(process.cwd(), join(import.meta.dirname, '..')) || '.';
  const problems = checkImports(root);
  for (const p of problems) process.stderr.write(`${p}\n`);
  if (problems.length > 0) process.exit(1);
  process.stdout.write(`imports: no cycles, lib/ layered (${LAYERS.join(' <- ')})\n`);
}
